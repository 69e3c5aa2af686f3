"""Checks shared by the reliability tests (faults, hostile input, crashes): is an archive
sound, what did a run count, and did a run write anything outside its archive folder."""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import yaml
from conftest import read_post

from crawler.archive.catalog import Catalog

REQUIRED_KEYS = ("layout", "title", "date", "categories", "tags", "source_url", "article_id")
BACK_LINKS = re.compile(
    r"\n\n<[^\n<>]+>\n\n\[返回[^\n]*\]\(/category/[a-z0-9_-]+\.html\)｜\[返回首页\]\(/\)\n\Z"
)
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800")
_STAT_LINE = re.compile(r"""^\s*\{?\s*(?P<key>'[^']*'|"[^"]*"):\s*(?P<value>.*?),?\}?\s*$""")


def posts(archive: Path) -> list[Path]:
    """The archived posts (temporary dot-files excluded)."""
    return sorted(p for p in (archive / "_posts").rglob("*.md") if not p.name.startswith("."))


def exported_lines(archive: Path) -> list[str]:
    """The lines of the catalog's JSON Lines export, its day files read in date order."""
    days = sorted((archive / "_catalog" / "articles").glob("*/*/*.jsonl"))
    return [line for day in days for line in day.read_text(encoding="utf-8").splitlines()]


def temporaries(archive: Path) -> list[Path]:
    return sorted((archive / "_posts").rglob(".*")) if (archive / "_posts").exists() else []


def check_post(archive: Path, path: Path) -> dict[str, Any]:
    """One post is complete and well formed, in the folder its front matter says."""
    raw = path.read_bytes()
    text = raw.decode("utf-8")  # UTF-8, or this raises
    assert not text.startswith("\ufeff") and "\r" not in text, path
    meta, body = read_post(path)
    assert isinstance(meta, dict), f"front matter of {path} is not a mapping"
    for key in REQUIRED_KEYS:
        assert meta.get(key) not in (None, ""), f"{path}: no {key}"
    assert isinstance(meta["title"], str) and "\n" not in meta["title"], path
    assert DATE.fullmatch(str(meta["date"])), f"{path}: date {meta['date']!r}"
    day = str(meta["date"])[:10]
    assert path.name == f"{day}-{meta['article_id']}.md", path
    assert path.parent == archive / "_posts" / day[:4] / day[5:7] / day[8:10], path
    assert BACK_LINKS.search(body), f"{path}: body does not end with the back links"
    return meta


@dataclass
class Soundness:
    files: list[Path]
    orphans: list[Path]  # files without a catalog row


def check_archive(
    archive: Path, *, max_orphans: int = 0, temporaries_ok: bool = False
) -> Soundness:
    """Every post parses and is complete; every catalog row names a file with the same bytes;
    at most ``max_orphans`` files lack a row (the last instant before a kill)."""
    files = posts(archive)
    if not temporaries_ok:
        assert temporaries(archive) == [], "temporary files left behind"
    for path in files:
        check_post(archive, path)
    relative = {p.relative_to(archive).as_posix(): p for p in files}
    if not (archive / "_catalog").exists():
        assert max_orphans >= len(files)
        return Soundness(files, files)
    catalog = Catalog(archive)
    try:
        entries = list(catalog.entries())
    finally:
        catalog.close()
    for entry in entries:
        assert entry.path in relative, f"catalog row without a file: {entry.path}"
        data = relative[entry.path].read_bytes()
        assert entry.content_hash == hashlib.sha256(data).hexdigest(), entry.path
    orphans = [relative[p] for p in sorted(set(relative) - {e.path for e in entries})]
    assert len(orphans) <= max_orphans, f"files without a catalog row: {orphans}"
    return Soundness(files, orphans)


def stats_of(stderr: str) -> dict[str, Any]:
    """The end-of-crawl stats that Scrapy dumps into the log (numbers and strings)."""
    start = stderr.rfind("Dumping Scrapy stats:")
    assert start != -1, "no stats in the log:\n" + stderr[-3000:]
    stats: dict[str, Any] = {}
    for line in stderr[start:].splitlines()[1:]:
        match = _STAT_LINE.match(line)
        if match is None:
            if line.startswith("20"):  # the next log line
                break
            continue
        key = ast.literal_eval(match["key"])
        try:
            stats[key] = ast.literal_eval(match["value"])
        except (ValueError, SyntaxError):
            stats[key] = match["value"]
        if line.rstrip().endswith("}"):
            break
    return stats


def summary_of(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def tree(root: Path) -> set[str]:
    """Every file and folder under ``root``, relative."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def created_outside(before: set[str], after: set[str], *allowed: str) -> set[str]:
    """Paths that appeared between two :func:`tree` listings outside the ``allowed`` prefixes."""
    return {p for p in after - before if not any(p == a or p.startswith(a + "/") for a in allowed)}


def front_matter_loads(path: Path) -> dict[str, Any]:
    """The front matter of a post, loaded with ``yaml.safe_load``."""
    text = path.read_text(encoding="utf-8")
    head = text[4:].partition("\n---\n")[0]
    return yaml.safe_load(head)


def describe(result: CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-6000:]}"
