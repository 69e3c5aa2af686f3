"""The archive's catalog: a machine-readable index of every archived article.

SQLite from the standard library, in ``<ARCHIVE_DIR>/_catalog/catalog.sqlite``
(Jekyll never publishes folders whose names start with ``_``). It is a cache of
what the Markdown files say, plus their revision history: :func:`rebuild` recreates
it from the files alone, so losing it loses nothing but the history.

WAL mode lets readers (the incremental-crawl filter, exports) work while a crawl
writes, and lets several crawler processes share one archive.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from crawler.atomic import replaced_atomically

CATALOG_DIR = "_catalog"
DATABASE = "catalog.sqlite"
JSONL_EXPORT = "articles.jsonl"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    site TEXT NOT NULL,
    article_id TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    published TEXT NOT NULL,
    source TEXT,
    category TEXT NOT NULL,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    first_archived TEXT NOT NULL,
    last_changed TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (site, article_id)
);
CREATE TABLE IF NOT EXISTS revisions (
    site TEXT NOT NULL,
    article_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    archived_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS revisions_by_article ON revisions (site, article_id);
"""


@dataclass(slots=True)
class CatalogEntry:
    site: str
    article_id: str
    url: str
    title: str
    published: str  # ISO 8601 with +08:00
    source: str | None
    category: str
    path: str  # relative to the archive folder, POSIX separators
    content_hash: str  # sha256 of the file's bytes
    first_archived: str = ""
    last_changed: str = ""
    complete: bool = True  # False: archived without continuation pages that failed


_ENTRY_ORDER = "a.published, a.site, a.article_id"  # the catalog's order, and its export's


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Catalog:
    """One connection to an archive's catalog; each method commits its own change."""

    def __init__(self, archive_dir: Path):
        self.archive_dir = archive_dir
        folder = archive_dir / CATALOG_DIR
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / DATABASE
        # Used by one thread at a time (the archive's writer thread during a crawl), but not
        # always the thread that opened it.
        self.connection = sqlite3.connect(
            self.path, timeout=60, isolation_level=None, check_same_thread=False
        )
        self.connection.row_factory = sqlite3.Row
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.executescript(_SCHEMA)
        columns = {row[1] for row in self.connection.execute("PRAGMA table_info(articles)")}
        if "complete" not in columns:  # catalogs written before the column existed
            self.connection.execute(
                "ALTER TABLE articles ADD COLUMN complete INTEGER NOT NULL DEFAULT 1"
            )

    def close(self) -> None:
        self.connection.close()

    def get(self, site: str, article_id: str) -> CatalogEntry | None:
        row = self.connection.execute(
            "SELECT * FROM articles WHERE site = ? AND article_id = ?", (site, article_id)
        ).fetchone()
        return CatalogEntry(**dict(row)) if row else None

    def published(self, site: str, article_id: str) -> datetime | None:
        """When an archived article was published, or None if it is not archived completely
        (a multi-page article with pages missing is to be fetched again)."""
        row = self.connection.execute(
            "SELECT published FROM articles WHERE site = ? AND article_id = ? AND complete = 1",
            (site, article_id),
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def record(self, entry: CatalogEntry, now: datetime) -> str:
        """Store an archived article; returns ``new``, ``updated`` or ``unchanged``.

        A changed content hash adds a revision; the first archive time is kept.
        """
        stamp = now.isoformat(timespec="seconds")
        with self.connection:  # one transaction
            self.connection.execute("BEGIN IMMEDIATE")
            old = self.get(entry.site, entry.article_id)
            if (
                old is not None
                and old.content_hash == entry.content_hash
                and old.path == entry.path
                and bool(old.complete) == entry.complete
            ):
                return "unchanged"
            entry.first_archived = old.first_archived if old else stamp
            entry.last_changed = stamp
            self.connection.execute(
                "INSERT OR REPLACE INTO articles VALUES "
                "(:site, :article_id, :url, :title, :published, :source, :category, :path, "
                ":content_hash, :first_archived, :last_changed, :complete)",
                asdict(entry),
            )
            if old is None or old.content_hash != entry.content_hash:
                self.connection.execute(
                    "INSERT INTO revisions VALUES (?, ?, ?, ?)",
                    (entry.site, entry.article_id, entry.content_hash, stamp),
                )
            return "new" if old is None else "updated"

    def revisions(self, site: str, article_id: str) -> list[tuple[str, str]]:
        """``(content_hash, archived_at)`` of every version, oldest first."""
        rows = self.connection.execute(
            "SELECT content_hash, archived_at FROM revisions WHERE site = ? AND article_id = ? "
            "ORDER BY rowid",
            (site, article_id),
        )
        return [(row[0], row[1]) for row in rows]

    def entries(self) -> Iterator[CatalogEntry]:
        for row in self.connection.execute(f"SELECT * FROM articles a ORDER BY {_ENTRY_ORDER}"):
            yield CatalogEntry(**dict(row))

    def count(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM articles").fetchone()[0])

    def export_jsonl(self, out: IO[str]) -> int:
        """Write one JSON object per article (with its revision history); returns the count.

        Streams: articles and their revisions are read in the same order, side by side,
        so memory stays flat however large the archive."""
        revisions = self.connection.execute(
            "SELECT r.site, r.article_id, r.content_hash, r.archived_at FROM revisions r "
            f"JOIN articles a USING (site, article_id) ORDER BY {_ENTRY_ORDER}, r.rowid"
        )
        revision = revisions.fetchone()
        count = 0
        for entry in self.entries():
            history = []
            while revision is not None and (revision[0], revision[1]) == (
                entry.site,
                entry.article_id,
            ):
                history.append({"content_hash": revision[2], "archived_at": revision[3]})
                revision = revisions.fetchone()
            record: dict[str, Any] = asdict(entry)
            record["revisions"] = history
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count

    def export_jsonl_file(self, path: Path) -> int:
        """:meth:`export_jsonl` into ``path``, replaced atomically; returns the count."""
        with replaced_atomically(path) as file:
            text = io.TextIOWrapper(file, encoding="utf-8", newline="\n")
            count = self.export_jsonl(text)
            text.flush()
            text.detach()  # the file is the context manager's to close
        return count

    def clear(self) -> None:
        with self.connection:
            self.connection.execute("DELETE FROM articles")
            self.connection.execute("DELETE FROM revisions")


def rebuild(
    catalog: Catalog, site_for_url: Callable[[str], str], now: datetime
) -> tuple[int, list[str]]:
    """Recreate the catalog from the archive's Markdown files alone.

    Returns the number of articles indexed and the posts that could not be read (with
    the reason). Revision history starts again from the files as they are.
    """
    from crawler.exporter import read_front_matter  # the file format lives with the exporter

    problems: list[str] = []
    entries: list[CatalogEntry] = []
    for path in sorted((catalog.archive_dir / "_posts").rglob("*.md")):
        if path.name.startswith("."):
            continue
        data = path.read_bytes()
        try:
            meta = read_front_matter(data)
            published = datetime.strptime(str(meta["date"]), "%Y-%m-%d %H:%M:%S %z")
            entries.append(
                CatalogEntry(
                    site=site_for_url(str(meta["source_url"])),
                    article_id=str(meta["article_id"]),
                    url=str(meta["source_url"]),
                    title=str(meta["title"]),
                    published=published.isoformat(),
                    source=str(meta["source"]) if meta.get("source") else None,
                    category=str(meta["categories"]),
                    path=path.relative_to(catalog.archive_dir).as_posix(),
                    content_hash=content_hash(data),
                )
            )
        except (ValueError, KeyError) as exc:
            problems.append(f"{path}: {exc}")
    catalog.clear()
    for entry in entries:
        catalog.record(entry, now)
    return len(entries), problems
