"""Restore eval/unseen/pages/ from local git mirrors of the source repositories.

The pages are third-party HTML and stay out of git; MANIFEST.tsv records where each one lives
(repo, path, commit) and its sha256. Each page is read with `git --git-dir DIR show COMMIT:PATH`
from a mirror folder laid out like /work/.mirror/<owner>+<name>/... and kept only if its sha256
matches the manifest, so a restored corpus is byte-identical to the one the truth was written for.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Entry:
    """One MANIFEST.tsv row: where a page comes from and what its bytes must hash to."""

    id: str
    repo: str
    path: str
    commit: str
    sha256: str


def read_manifest(manifest: Path) -> list[Entry]:
    with manifest.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return [Entry(r["id"], r["repo"], r["path"], r["commit"], r["sha256"]) for r in rows]


def git_dirs(mirrors: Path, repo: str) -> list[Path]:
    """Candidate git directories for owner/name: a bare mirror, a repo/ checkout, or its .git."""
    root = mirrors / repo.replace("/", "+")
    return [d for d in (root / "repo" / ".git", root / "repo", root / ".git", root) if d.is_dir()]


def git_show(git_dir: Path, commit: str, path: str) -> bytes | None:
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"],
        capture_output=True,
        check=False,
    )
    return proc.stdout if proc.returncode == 0 else None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def restore(entry: Entry, mirrors: Path, pages: Path) -> str:
    """Restore one page; return a status word for the report."""
    target = pages / f"{entry.id}.html"
    if target.exists() and sha256(target.read_bytes()) == entry.sha256:
        return "present"
    dirs = git_dirs(mirrors, entry.repo)
    if not dirs:
        return "no-mirror"
    for git_dir in dirs:
        data = git_show(git_dir, entry.commit, entry.path)
        if data is None:
            continue
        if sha256(data) != entry.sha256:
            return "sha-mismatch"
        target.write_bytes(data)
        return "restored"
    return "no-object"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mirrors",
        type=Path,
        default=Path("/work/.mirror"),
        help="folder holding <owner>+<name>/ git mirrors (default: %(default)s)",
    )
    parser.add_argument("--manifest", type=Path, default=HERE / "MANIFEST.tsv")
    parser.add_argument("--pages", type=Path, default=HERE / "pages")
    args = parser.parse_args()

    args.pages.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for entry in read_manifest(args.manifest):
        status = restore(entry, args.mirrors, args.pages)
        counts[status] = counts.get(status, 0) + 1
        if status not in ("present", "restored"):
            print(f"{status:12} {entry.id}  ({entry.repo} {entry.commit[:12]}:{entry.path})")
    print(" ".join(f"{status}={n}" for status, n in sorted(counts.items())))
    missing = sum(n for status, n in counts.items() if status not in ("present", "restored"))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
