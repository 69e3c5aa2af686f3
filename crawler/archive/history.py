"""History in git: with ``ARCHIVE_GIT``, a run that changed the archive commits it.

The archive folder is a git repository of its own (``git init`` when it has none, with a
``.gitignore`` that keeps the crawler's own files out: ``_warc/``, ``_catalog/``, Jekyll's
``_site/`` and ``_build/`` and dot-files: the lock, bookkeeping, temporary files).
At the end of a run, still holding the archive's lock, the extension
crawler/extensions/archive_history.py calls :func:`commit_archive`, which stages what git sees
changed under ``_posts/``, ``assets/`` and the Jekyll site files, removals included, and
commits it with a one-line message from the run's summary. So a run that changed nothing
makes no commit, and what a crashed run wrote is committed by the next run. Git runs as a
subprocess, with the author given on its command line: the user's git configuration is never
written.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from crawler.archive.folder import Archive
from crawler.archive.jekyll import CATEGORY_TEMPLATES, TEMPLATE_DIR
from crawler.archive.paths import (
    ASSETS_DIR,
    BUILD_DIR,
    CATALOG_DIR,
    CATEGORY_DIR,
    POSTS_DIR,
    SITE_DIR,
    WARC_DIR,
)

# The crawler's own files stay out; dot-files are its lock, bookkeeping and writes in progress.
GITIGNORE = f"{WARC_DIR}/\n{CATALOG_DIR}/\n{SITE_DIR}/\n{BUILD_DIR}/\n.*\n!.gitignore\n"
AUTHOR = ["-c", "user.name=xinhua-archiver", "-c", "user.email=xinhua-archiver@localhost"]
# No prompt for a signing key in a cron job.
_QUIET = ["-c", "commit.gpgsign=false"]


def published_paths() -> list[str]:
    """What the archive publishes, relative to its folder: the posts, the images and every
    Jekyll site file the crawler creates (crawler/site_template/, one page per category)."""
    site = {entry.name for entry in TEMPLATE_DIR.iterdir()} - set(CATEGORY_TEMPLATES.values())
    return [POSTS_DIR, ASSETS_DIR, CATEGORY_DIR, *sorted(site)]


class GitError(Exception):
    """A git command failed; the message holds its output."""


def commit_archive(archive: Archive, message: str) -> bool:
    """Commit every change under :func:`published_paths` in the archive folder's repository
    (created when missing); False when there was nothing to commit."""
    archive_dir = archive.root
    if not (archive_dir / ".git").exists():
        _git(archive_dir, "init", "--quiet")
    archive.create(archive_dir / ".gitignore", GITIGNORE.encode())
    published = published_paths()
    listed = _git(archive_dir, "ls-files", "--", *published)
    tracked = {line.split("/", 1)[0] for line in listed.splitlines()}
    # Only names that are there or were: git refuses a path that matches nothing.
    names = [name for name in published if (archive_dir / name).exists() or name in tracked]
    # -A: new, changed and deleted files alike (a post moved to its corrected date).
    _git(archive_dir, "add", "-A", "--", *names, ".gitignore")
    staged = subprocess.run(
        ["git", "-C", str(archive_dir), "diff", "--cached", "--quiet"], check=False
    )
    if staged.returncode == 0:
        return False
    _git(archive_dir, *_QUIET, *AUTHOR, "commit", "--quiet", "--no-verify", "-m", message)
    return True


def _git(archive_dir: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(archive_dir), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        command = next(arg for arg in args if not arg.startswith("-") and "=" not in arg)
        raise GitError(f"git {command}: {(result.stderr or result.stdout).strip()}")
    return result.stdout
