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
import itertools
import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from crawler.archive.atomic import inside, replaced_atomically, write_atomically
from crawler.archive.catalogsearch import (
    ArticleFilter,
    clear_text,
    create_text_index,
    index_waiting_texts,
    searchable_text,
    store_text,
)
from crawler.archive.exporter import read_front_matter, read_post, yaml_scalar
from crawler.archive.lock import acquire
from crawler.archive.paths import CATALOG_DIR, POSTS_DIR, article_id_from_url, article_path
from crawler.reading.dates import BEIJING, parse_front_matter_date
from crawler.reading.profiles import SiteProfiles

logger = logging.getLogger(__name__)

DATABASE = "catalog.sqlite"
JSONL_EXPORT = "articles.jsonl"  # the export of earlier versions, one file
JSONL_EXPORT_DIR = "articles"  # the export, one file per publication day: YYYY/MM/DD.jsonl
SOUND_RECORD = "catalog.sqlite.sound"  # the database file as the last run left it (mark_sound)

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
    warc_file TEXT NOT NULL DEFAULT '',
    warc_offset INTEGER NOT NULL DEFAULT 0,
    warc_digest TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site, article_id)
);
CREATE TABLE IF NOT EXISTS revisions (
    site TEXT NOT NULL,
    article_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    archived_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS revisions_by_article ON revisions (site, article_id);
CREATE INDEX IF NOT EXISTS articles_by_path ON articles (path);
CREATE INDEX IF NOT EXISTS articles_by_published ON articles (published, site, article_id);
-- scrapy catalog's filters (crawler/archive/catalogsearch.py): a site's day in a large catalog
CREATE INDEX IF NOT EXISTS articles_by_site ON articles (site, published);
CREATE INDEX IF NOT EXISTS articles_by_source ON articles (source, published);
CREATE INDEX IF NOT EXISTS articles_by_category ON articles (category, published);
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
    # Its capture (crawler/archive/warc.py): the WARC file under _warc/ ("": none recorded), the
    # offset of its first page's response record, its pages' payload digests.
    warc_file: str = ""
    warc_offset: int = 0
    warc_digest: str = ""


_COLUMNS = tuple(CatalogEntry.__dataclass_fields__)
# Columns added since the first catalogs, with their declarations in _SCHEMA.
_ADDED_COLUMNS = {
    "complete": "INTEGER NOT NULL DEFAULT 1",
    "warc_file": "TEXT NOT NULL DEFAULT ''",
    "warc_offset": "INTEGER NOT NULL DEFAULT 0",
    "warc_digest": "TEXT NOT NULL DEFAULT ''",
}
# Texts indexed together for search: FTS5 writes a segment of its index per transaction,
# and a crawl commits each article in its own (crawler/archive/catalogsearch.py).
_INDEX_BATCH = 500
_ENTRY_ORDER = "a.published, a.site, a.article_id"  # the catalog's order, and its export's
_AFTER_ALL = "~"  # sorts after every publication time (ISO 8601)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Catalog:
    """One connection to an archive's catalog; each method commits its own change."""

    def __init__(self, archive_dir: Path):
        self.archive_dir = archive_dir
        folder = inside(archive_dir, archive_dir / CATALOG_DIR)
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
        # The search index makes each article's transaction write some ten pages: fold the
        # write-ahead log into the database every 1 MiB (SQLite's default: 4 MiB) and cut it
        # back to that, so that a crawl's log does not take the disk it needs for posts.
        self.connection.execute("PRAGMA wal_autocheckpoint=256")
        self.connection.execute(f"PRAGMA journal_size_limit={1024 * 1024}")
        self.connection.executescript(_SCHEMA)
        columns = {row[1] for row in self.connection.execute("PRAGMA table_info(articles)")}
        for column, declaration in _ADDED_COLUMNS.items():
            if column not in columns:  # catalogs written before the column existed
                self.connection.execute(f"ALTER TABLE articles ADD COLUMN {column} {declaration}")
        # Articles' text for full-text search (crawler/archive/catalogsearch.py); False: not indexed
        self.text_indexed = create_text_index(self.connection)
        self._texts_waiting = 0  # stored by this connection since the last batch

    def close(self) -> None:
        self.connection.close()

    def mark_sound(self) -> None:
        """Record the database file as a run that used it without an error leaves it, the
        write-ahead log folded in: while the file is exactly this one, :meth:`damage` need
        not read it whole again (a second at 300,000 articles, at the start of every run)."""
        busy = self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if not busy:  # another connection still reads: the next run checks
            write_atomically(self.path.with_name(SOUND_RECORD), _identity(self.path), fsync=False)

    def damage(self) -> str | None:
        """What SQLite's ``PRAGMA quick_check`` finds wrong with the database, or None; None
        at once for the file :meth:`mark_sound` recorded, unchanged since."""
        wal = self.path.with_name(f"{DATABASE}-wal")
        try:
            recorded = self.path.with_name(SOUND_RECORD).read_bytes()
            if recorded == _identity(self.path) and (not wal.exists() or not wal.stat().st_size):
                return None
        except OSError:
            pass  # no record: checked
        try:
            findings = [row[0] for row in self.connection.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return None if findings == ["ok"] else "; ".join(findings[:3])

    def at_path(self, path: str) -> list[CatalogEntry]:
        """The articles whose row names ``path`` (relative to the archive): one, normally."""
        rows = self.connection.execute("SELECT * FROM articles WHERE path = ?", (path,))
        return [CatalogEntry(**dict(row)) for row in rows]

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

    def record(
        self, entry: CatalogEntry, now: datetime, text: str | None = None
    ) -> CatalogEntry | None:
        """Store an archived article; returns its entry as recorded before, None when new (read
        in the same transaction: other workers of a shared archive may write meanwhile).

        A changed content hash adds a revision; the first archive time is kept. An entry
        without a capture keeps the one recorded; a new capture of an unchanged post is
        recorded without making the post ``updated``. ``text`` is what search reads of the
        post (:func:`crawler.archive.catalogsearch.searchable_text`); None keeps the one recorded.
        """
        stamp = now.isoformat(timespec="seconds")
        with self.connection:  # one transaction
            self.connection.execute("BEGIN IMMEDIATE")
            if text is not None:
                self._keep_text(entry, text)
            old = self.get(entry.site, entry.article_id)
            if old is not None and not entry.warc_file:
                entry.warc_file, entry.warc_offset = old.warc_file, old.warc_offset
                entry.warc_digest = old.warc_digest
            same_post = (
                old is not None
                and old.content_hash == entry.content_hash
                and old.path == entry.path
                and bool(old.complete) == entry.complete
            )
            if same_post and (old.warc_file, old.warc_offset) == (
                entry.warc_file,
                entry.warc_offset,
            ):
                return old
            entry.first_archived = old.first_archived if old else stamp
            entry.last_changed = old.last_changed if old and same_post else stamp
            self.connection.execute(
                f"INSERT OR REPLACE INTO articles ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join(':' + column for column in _COLUMNS)})",
                asdict(entry),
            )
            if old is None or old.content_hash != entry.content_hash:
                self.connection.execute(
                    "INSERT INTO revisions VALUES (?, ?, ?, ?)",
                    (entry.site, entry.article_id, entry.content_hash, stamp),
                )
            return old

    def index_texts(self) -> None:
        """Index the texts that wait for the search index (a run's writer does at its end)."""
        if self.text_indexed:
            with self.connection:
                self.connection.execute("BEGIN IMMEDIATE")
                self._index_waiting_texts()

    def _keep_text(self, entry: CatalogEntry, text: str) -> None:
        """Store the article's text; index the texts waiting for it once they make a batch."""
        indexed = self.text_indexed
        if store_text(self.connection, entry.site, entry.article_id, text, indexed) and indexed:
            self._texts_waiting += 1
            if self._texts_waiting >= _INDEX_BATCH:
                self._index_waiting_texts()

    def _index_waiting_texts(self) -> None:
        index_waiting_texts(self.connection)
        self._texts_waiting = 0

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

    def find(self, wanted: ArticleFilter) -> Iterator[CatalogEntry]:
        """The articles ``wanted`` describes, in the catalog's order."""
        where, params = wanted.sql(self.connection, self.text_indexed)
        query = f"SELECT * FROM articles a WHERE {where} ORDER BY {_ENTRY_ORDER}"
        for row in self.connection.execute(query, params):
            yield CatalogEntry(**dict(row))

    def text(self, site: str, article_id: str) -> str | None:
        """What search reads of an article, or None when it is not recorded."""
        row = self.connection.execute(
            "SELECT text FROM article_text WHERE site = ? AND article_id = ?", (site, article_id)
        ).fetchone()
        return row[0] if row else None

    def count_without_text(self) -> int:
        """Articles whose text search cannot read yet (cataloged by an earlier version)."""
        texts = self.connection.execute("SELECT count(*) FROM article_text").fetchone()[0]
        return self.count() - int(texts)

    def export_jsonl(self, out: IO[str], wanted: ArticleFilter | None = None) -> int:
        """Write one JSON object per article (with its revision history), of the articles
        ``wanted`` describes (all by default); returns the count. Streams: memory stays flat
        however large the archive."""
        count = 0
        where = (wanted or ArticleFilter()).sql(self.connection, self.text_indexed)
        for _published, line in self._export_lines(*where):
            out.write(line)
            count += 1
        return count

    def export_jsonl_file(self, path: Path, wanted: ArticleFilter | None = None) -> int:
        """:meth:`export_jsonl` into ``path``, replaced atomically; returns the count."""
        with replaced_atomically(path) as file:
            text = io.TextIOWrapper(file, encoding="utf-8", newline="\n")
            count = self.export_jsonl(text, wanted)
            text.flush()
            text.detach()  # the file is the context manager's to close
        return count

    def export_days(self, folder: Path, days: Iterable[str] | None = None) -> None:
        """The export as one file per publication day (Beijing time), ``YYYY/MM/DD.jsonl``
        under ``folder``, each replaced atomically: the files of ``days`` (``YYYY-MM-DD``),
        or all of them (``None``; files of days without articles any more are removed).
        A run rewrites the days it archived into, not the whole archive's export."""
        folder.mkdir(parents=True, exist_ok=True)
        if days is None:
            kept = self._export_range(folder, "", _AFTER_ALL)
            stale = {path for path in folder.glob("*/*/*.jsonl") if path not in kept}
        else:
            kept, stale = set(), set()
            for day in sorted(set(days)):
                following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
                written = self._export_range(folder, day, following)
                kept |= written
                stale |= {_day_file(folder, day)} - written
        for path in stale:
            path.unlink(missing_ok=True)

    def _export_range(self, folder: Path, since: str, until: str) -> set[Path]:
        """Write the day files of the articles published in [since, until); returns them."""
        written = set()
        lines = self._export_lines("a.published >= ? AND a.published < ?", [since, until])
        for day, group in itertools.groupby(lines, key=lambda pair: pair[0][:10]):
            path = _day_file(folder, day)
            with replaced_atomically(path) as file:
                file.write("".join(line for _published, line in group).encode("utf-8"))
            written.add(path)
        return written

    def _export_lines(self, where: str, params: list[Any]) -> Iterator[tuple[str, str]]:
        """``(published, JSON line)`` of the articles ``a`` for which ``where`` holds (its
        first terms bound their publication time), in the catalog's order. Articles and
        their revisions are read side by side, in one order."""
        # CROSS JOIN: articles in their index's order on the outside, no sort of the whole.
        revisions = self.connection.execute(
            "SELECT r.site, r.article_id, r.content_hash, r.archived_at FROM articles a "
            f"CROSS JOIN revisions r USING (site, article_id) WHERE {where} "
            f"ORDER BY {_ENTRY_ORDER}, r.rowid",
            params,
        )
        revision = revisions.fetchone()
        rows = self.connection.execute(
            f"SELECT * FROM articles a WHERE {where} ORDER BY {_ENTRY_ORDER}", params
        )
        for row in rows:
            history = []
            while revision is not None and (revision[0], revision[1]) == (
                row["site"],
                row["article_id"],
            ):
                history.append({"content_hash": revision[2], "archived_at": revision[3]})
                revision = revisions.fetchone()
            record: dict[str, Any] = {name: row[name] for name in _COLUMNS}
            record["revisions"] = history
            yield row["published"], json.dumps(record, ensure_ascii=False) + "\n"

    def clear(self) -> None:
        with self.connection:
            self.connection.execute("DELETE FROM articles")
            self.connection.execute("DELETE FROM revisions")
            clear_text(self.connection, self.text_indexed)


def open_catalog(archive_dir: Path, profiles: SiteProfiles, lock_wait: float) -> Catalog:
    """The archive's catalog, checked with ``PRAGMA quick_check``. A damaged one is set
    aside and rebuilt from the posts, holding the archive's lock (waiting up to
    ``lock_wait`` seconds for it; :class:`ArchiveBusy` when another run keeps it)."""
    catalog, problem = _checked(archive_dir)
    if catalog is not None and problem is None:
        return catalog
    if catalog is not None:
        catalog.close()
    with acquire(archive_dir, lock_wait):
        damaged = set_aside_if_damaged(archive_dir)  # None: another run repaired it meanwhile
        catalog = Catalog(archive_dir)
        if damaged is not None:
            _count, problems = rebuild(catalog, profiles, datetime.now(BEIJING))
            if problems:
                logger.warning(
                    "%d posts could not be read; scrapy reindex lists them", len(problems)
                )
    return catalog


def _day_file(folder: Path, day: str) -> Path:
    return folder / day[:4] / day[5:7] / f"{day[8:10]}.jsonl"


def _identity(path: Path) -> bytes:
    """What changes with every write to a file (its change time cannot be set back)."""
    stat = path.stat()
    return f"{stat.st_ino} {stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns}".encode()


def _checked(archive_dir: Path) -> tuple[Catalog | None, str | None]:
    """The catalog, open, and what is wrong with it (None: nothing); no catalog when the
    file is not a database at all."""
    try:
        catalog = Catalog(archive_dir)
    except sqlite3.DatabaseError as exc:
        return None, str(exc)
    return catalog, catalog.damage()


def set_aside_if_damaged(archive_dir: Path) -> Path | None:
    """Rename a damaged catalog database to ``catalog.sqlite.damaged-<time>`` (its WAL file
    beside it, as ``…-wal``), saying so in one warning; returns the new name, or None when
    the catalog is sound or missing. The caller holds the archive's lock."""
    database = archive_dir / CATALOG_DIR / DATABASE
    if not database.exists():
        return None
    catalog, problem = _checked(archive_dir)
    if catalog is not None:
        catalog.close()
    if problem is None:
        return None
    stamp = datetime.now(BEIJING).strftime("%Y%m%dT%H%M%S")
    aside = database.with_name(f"{DATABASE}.damaged-{stamp}")
    for n in itertools.count(2):  # never over an earlier damaged copy
        if not aside.exists():
            break
        aside = database.with_name(f"{DATABASE}.damaged-{stamp}-{n}")
    database.rename(aside)
    wal = database.with_name(f"{DATABASE}-wal")
    if wal.exists():
        wal.rename(aside.with_name(f"{aside.name}-wal"))
    database.with_name(f"{DATABASE}-shm").unlink(missing_ok=True)
    logger.warning(
        "Catalog %s is damaged (%s): moved aside to %s; rebuilding it from the posts",
        database,
        problem,
        aside.name,
    )
    return aside


def rebuild(catalog: Catalog, profiles: SiteProfiles, now: datetime) -> tuple[int, list[str]]:
    """Recreate the catalog, and the text that search reads, from the archive's Markdown
    files alone.

    Returns the number of articles indexed and the posts that could not be read (with
    the reason). Revision history starts again from the files as they are; the captures
    that the catalog recorded (its rows' ``warc_*`` fields) are kept.
    """
    problems: list[str] = []
    count = 0
    # Rows are written as the posts are read and the captures wait in SQLite, not in lists:
    # memory stays flat however large the archive.
    catalog.connection.executescript(
        "CREATE TEMP TABLE captures AS SELECT site, article_id, warc_file, warc_offset, "
        "warc_digest FROM articles WHERE warc_file != '';"
        "CREATE INDEX temp.captures_by_article ON captures (site, article_id);"
    )
    catalog.clear()
    for path in _posts(catalog.archive_dir):
        data = path.read_bytes()
        try:
            meta, body = read_post(data)
            published = _post_date(meta)
            entry = CatalogEntry(
                site=profiles.for_url(str(meta["source_url"])).name,
                article_id=str(meta["article_id"]),
                url=str(meta["source_url"]),
                title=str(meta["title"]),
                published=published.isoformat(),
                source=str(meta["source"]) if meta.get("source") else None,
                category=str(meta["categories"]),
                path=path.relative_to(catalog.archive_dir).as_posix(),
                content_hash=content_hash(data),
            )
        except (ValueError, KeyError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        recorded = catalog.connection.execute(
            "SELECT warc_file, warc_offset, warc_digest FROM captures "
            "WHERE site = ? AND article_id = ?",
            (entry.site, entry.article_id),
        ).fetchone()
        if recorded is not None:
            entry.warc_file, entry.warc_offset, entry.warc_digest = recorded
        catalog.record(entry, now, searchable_text(entry.title, body))
        count += 1
    catalog.connection.execute("DROP TABLE temp.captures")
    catalog.index_texts()
    return count, problems


def rename_to_current_names(archive_dir: Path, profiles: SiteProfiles) -> tuple[int, list[str]]:
    """Give the posts that an earlier version named otherwise their current name: articles
    of the portals gained their site's ``post_prefix``, those of sites without a profile the
    host in their ID (``host_in_article_id``; the front matter's ``article_id`` follows).

    Each post's site comes from its ``source_url``. A post is renamed, never copied and
    lost, and never over another file: when its new name is taken, it stays where it is.
    Returns how many posts moved and the ones left in place, with why. The caller holds
    the archive's lock.
    """
    moved, kept = 0, []
    for path in _posts(archive_dir):
        data = path.read_bytes()
        try:
            meta = read_front_matter(data)
            url, recorded_id = str(meta["source_url"]), str(meta["article_id"])
            published = _post_date(meta)
        except (ValueError, KeyError):
            continue  # left for rebuild() to report
        profile = profiles.for_url(url)
        article_id = recorded_id
        if recorded_id == (profile.article_id(url) or article_id_from_url(url)):
            article_id = profile.page_article_id(url)  # the ID may now carry the host
        try:
            target = article_path(archive_dir, published, article_id, profile.post_prefix)
        except ValueError:
            continue  # an ID no run would write: the post stays as it is
        if target == path:
            continue
        renamed = data if article_id == recorded_id else _with_article_id(data, article_id)
        if target.exists():
            if target.read_bytes() != renamed:
                kept.append(f"{path}: its new name {target.name} is taken")
                continue
            path.unlink()  # the move was interrupted after the new file was complete
        else:
            inside(archive_dir, target).parent.mkdir(parents=True, exist_ok=True)
            if renamed is data:
                path.rename(target)
            else:
                write_atomically(target, renamed, make_parents=False)
                path.unlink()
        moved += 1
    return moved, kept


def _with_article_id(post: bytes, article_id: str) -> bytes:
    """The post with another ``article_id`` in its front matter (the line is replaced)."""
    end = post.index(b"\n---\n") + 1  # the front matter, up to its closing fence
    head = re.sub(
        rb"^article_id: .*$",
        f"article_id: {yaml_scalar(article_id)}".encode(),
        post[:end],
        count=1,
        flags=re.M,
    )
    return head + post[end:]


def _posts(archive_dir: Path) -> Iterator[Path]:
    """The archive's posts, in name order (dot-files are writes in progress), one folder
    listed at a time: a post moved meanwhile into a folder not yet listed is met there."""
    folders = [archive_dir / POSTS_DIR]
    while folders:
        folder = folders.pop()
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
        subfolders = [entry for entry in entries if entry.is_dir() and not entry.is_symlink()]
        folders.extend(reversed(subfolders))
        yield from (
            entry
            for entry in entries
            if entry.suffix == ".md" and not entry.name.startswith(".") and entry.is_file()
        )


def _post_date(meta: dict[str, Any]) -> datetime:
    return parse_front_matter_date(meta["date"])
