"""Stage 5: write each article to its dated file in the archive, atomically, and catalog it."""

from __future__ import annotations

import errno
import io
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from crawler.archive.atomic import (
    OutsideArchive,
    create_atomically,
    inside,
    remove_stale_temporaries,
    write_atomically,
)
from crawler.archive.catalog import (
    CATALOG_DIR,
    JSONL_EXPORT,
    JSONL_EXPORT_DIR,
    Catalog,
    CatalogEntry,
    content_hash,
    open_catalog,
)
from crawler.archive.catalogsearch import searchable_text
from crawler.archive.exporter import MarkdownPostExporter, read_front_matter, split_post
from crawler.archive.jekyll import SiteScaffold
from crawler.archive.lock import ArchiveBusy
from crawler.archive.paths import article_path
from crawler.drops import ArchiveWriteError, IdentityConflict
from crawler.items import Article
from crawler.reading.dates import BEIJING
from crawler.reading.profiles import SiteProfiles

logger = logging.getLogger(__name__)
# Errors after which no later article could be written either: a full, read-only, missing or
# forbidden archive (permissions: EACCES, EPERM for an immutable folder).
_ARCHIVE_GONE = {
    errno.ENOSPC,
    errno.EROFS,
    errno.EDQUOT,
    errno.ENOTDIR,
    errno.ENOENT,
    errno.EACCES,
    errno.EPERM,
}


class ArchivePipeline:
    """Serialises articles with :class:`MarkdownPostExporter` into ``ARCHIVE_DIR``.

    A file is rewritten only when its bytes change, so re-archiving an unchanged
    article leaves the file (and its mtime) alone. An article reached under another
    URL than the one its file records (a column path and the bare form, say) keeps
    the recorded ``source_url``, so files do not flip between URLs from run to run.
    An article whose date was corrected moves to its new dated path.

    No article replaces another's file: a post that the catalog gives to another article,
    whose ``article_id`` differs, or (for IDs unique only on their host) whose
    ``source_url`` is on another host, is kept and the newcomer dropped
    (``IdentityConflict``). Every write, move and delete stays inside the archive's real
    folder: a symbolic link leading out of it stops the run, like a full disk.

    With ``ARCHIVE_JEKYLL_SITE`` the folder also gets the Jekyll site files its posts
    link to (config, layouts, home page, one page per category), created when missing.
    With ``ARCHIVE_CATALOG`` every written article is recorded in the catalog
    (``_catalog/catalog.sqlite``), with its text for full-text search
    (crawler/archive/catalogsearch.py); at the end of a run its JSON Lines export is rewritten
    for the days the run archived into (``_catalog/articles/YYYY/MM/DD.jsonl``), not for
    the whole archive. Outcomes are counted as ``archive/new``,
    ``archive/updated``, ``archive/unchanged`` and ``archive/moved``. With
    ``ARCHIVE_TO_STDOUT`` the Markdown goes to standard output instead.
    """

    def __init__(
        self,
        archive_dir: Path,
        stats: StatsCollector,
        *,
        site_url: str = "",
        layout: str = "post",
        to_stdout: bool = False,
        use_catalog: bool = True,
        jekyll_site: bool = True,
        shared: bool = False,
        profiles: SiteProfiles | None = None,
        lock_wait: float = 0,
    ):
        self.archive_dir = archive_dir
        self.stats = stats
        self.site_url = site_url
        self.layout = layout
        self.to_stdout = to_stdout
        self.use_catalog = use_catalog and not to_stdout
        self.catalog: Catalog | None = None
        self.scaffold = SiteScaffold(archive_dir) if jekyll_site and not to_stdout else None
        self.shared = shared  # other workers write to the archive at the same time
        self.profiles = profiles  # to rebuild a damaged catalog from the posts
        self.lock_wait = lock_wait
        self.changed = 0
        self.unwritable = False
        self.catalog_failed = False  # an SQLite error this run: the next one checks the file
        self.days: set[str] = set()  # publication days of the articles cataloged: re-exported
        self.crawler: Crawler | None = None
        self._folders: set[Path] = set()  # day folders known to exist, to spare a mkdir per file

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        assert crawler.stats is not None
        settings = crawler.settings
        pipeline = cls(
            Path(settings["ARCHIVE_DIR"]),
            crawler.stats,
            site_url=settings["ARCHIVE_SITE_URL"],
            layout=settings["ARCHIVE_LAYOUT"],
            to_stdout=settings.getbool("ARCHIVE_TO_STDOUT"),
            use_catalog=settings.getbool("ARCHIVE_CATALOG"),
            jekyll_site=settings.getbool("ARCHIVE_JEKYLL_SITE"),
            shared=settings.getbool("ARCHIVE_LOCK_SHARED"),
            profiles=SiteProfiles.from_folder(settings["SITE_PROFILES_DIR"]),
            lock_wait=settings.getfloat("ARCHIVE_LOCK_WAIT"),
        )
        pipeline.crawler = crawler
        return pipeline

    def open_spider(self) -> None:
        if self.to_stdout:
            return
        # One writer thread: file and SQLite work (mostly system calls that release the
        # GIL) runs beside the crawl's event loop instead of in it. One thread keeps the
        # writes in order and the SQLite connection on the thread that opened it.
        self._writer = ThreadPool(minthreads=1, maxthreads=1, name="archive-writer")
        self._writer.start()
        try:
            self._call_in_writer_blocking(self._open_archive)
        except (OSError, sqlite3.Error) as exc:
            self._stop_unwritable(exc)
        except ArchiveBusy as busy:
            self._stop_unwritable(f"its catalog is damaged and it is in use by {busy}")

    def _open_archive(self) -> None:
        # Try a real write first: a full, read-only or missing archive is reported as such,
        # not as whatever SQLite makes of it.
        probe = self.archive_dir / f".write-probe.{os.getpid()}"
        self.archive_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(probe, b"\0" * 4096)
        probe.unlink()
        self._remove_stale_temporaries()
        if self.use_catalog:
            assert self.profiles is not None, "the catalog needs the site profiles"
            self.catalog = open_catalog(self.archive_dir, self.profiles, self.lock_wait)

    def _remove_stale_temporaries(self) -> None:
        for path in remove_stale_temporaries(self.archive_dir):
            logger.warning("Removed %s, left by a writer that was killed", path)

    def close_spider(self) -> None:
        if self.to_stdout:
            return
        try:
            self._call_in_writer_blocking(self._close_archive)
        except (OSError, sqlite3.Error) as exc:
            logger.error(
                "Archive %s: the catalog export was not written: %s", self.archive_dir, exc
            )
        finally:
            self._writer.stop()

    def _close_archive(self) -> None:
        if self.shared:  # a fellow worker killed since this one opened left its temporary
            self._remove_stale_temporaries()
        if self.catalog is None:
            return
        export = self.archive_dir / CATALOG_DIR / JSONL_EXPORT_DIR
        if not export.exists():  # a new archive, or one of a version that exported one file
            self.catalog.export_days(export)
            (self.archive_dir / CATALOG_DIR / JSONL_EXPORT).unlink(missing_ok=True)
        elif self.days:
            self.catalog.export_days(export, self.days)
        if not self.catalog_failed:
            self.catalog.mark_sound()
        self.catalog.close()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self.to_stdout:
            sys.stdout.buffer.write(self.serialize(item) + b"\n")
            sys.stdout.buffer.flush()
            self.stats.inc_value("archive/printed")
            return item
        if self.unwritable:
            raise ArchiveWriteError(f"archive {self.archive_dir} is not writable")
        deferred = deferToThreadPool(reactor, self._writer, self.write_article, item)
        try:
            path, outcome, moved = await maybe_deferred_to_future(deferred)
        except ArchiveWriteError as exc:
            if _stops_the_run(exc.__cause__):
                self._stop_unwritable(exc.__cause__)
            raise
        item.path = str(path)
        self.stats.inc_value(f"archive/{outcome}")
        if moved:
            self.stats.inc_value("archive/moved")
        if outcome != "unchanged":
            self.changed += 1
        logger.debug("%s %s", outcome.capitalize(), path)
        return item

    def write_article(self, item: Article) -> tuple[Path, str, bool]:
        """The file, its catalog entry and the site files it links to; returns the path, the
        outcome (new, updated, unchanged) and whether it moved. Runs in the writer thread
        during a crawl; call it directly only while no crawl uses this pipeline."""
        assert item.published is not None
        path = article_path(self.archive_dir, item.published, item.article_id, item.post_prefix)
        try:
            if path.parent not in self._folders:
                inside(self.archive_dir, path.parent).mkdir(parents=True, exist_ok=True)
                self._folders.add(path.parent)
            data, outcome = self._store(path, item)
            moved = self._catalog(item, path, data)
            if self.scaffold is not None:
                self.scaffold.ensure_site()
                self.scaffold.ensure_category(item.category, item.tag)
        except OSError as exc:
            raise ArchiveWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
        except sqlite3.Error as exc:  # the catalog shares the archive's disk
            self.catalog_failed = True
            raise ArchiveWriteError(f"cannot catalog {path}: {exc}") from exc
        return path, outcome, moved

    def _stop_unwritable(self, exc: BaseException | str) -> None:
        """The archive cannot take files (full, read-only, missing): say so once, stop the
        run (finish reason ``archive_unwritable``, exit status 1) instead of fetching pages
        that could only be dropped."""
        if self.unwritable:
            return
        self.unwritable = True
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        logger.error(
            "Archive %s is not writable: %s; stopping the crawl.", self.archive_dir, reason
        )
        engine = self.crawler.engine if self.crawler else None
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason="archive_unwritable"))

    def _call_in_writer_blocking(self, function: Callable[[], None]) -> None:
        """Run ``function`` in the writer thread and wait (start and end of a run only)."""
        done: Future[None] = Future()

        def run() -> None:
            try:
                function()
            except BaseException as exc:
                done.set_exception(exc)
            else:
                done.set_result(None)

        self._writer.callInThread(run)
        done.result()

    def serialize(self, article: Article) -> bytes:
        buffer = io.BytesIO()
        MarkdownPostExporter(buffer, site_url=self.site_url, layout=self.layout).export_item(
            article
        )
        return buffer.getvalue()

    def _store(self, path: Path, article: Article) -> tuple[bytes, str]:
        try:
            existing = path.read_bytes()
        except FileNotFoundError:
            data = self.serialize(article)
            if not self.shared:
                write_atomically(path, data, make_parents=False)
                return data, "new"
            # Workers of one run may race on an article that two list pages link to: the
            # first to create the file archived it; the others compare with its bytes.
            if create_atomically(path, data, root=self.archive_dir, fsync=True):
                return data, "new"
            existing = path.read_bytes()
        recorded = _front_matter(existing)
        self._refuse_another_article(path, recorded, article)
        recorded_url = recorded.get("source_url")
        if isinstance(recorded_url, str) and recorded_url != article.url:
            article.url = recorded_url  # the same article under another of its URLs
        data = self.serialize(article)
        if data == existing:
            return data, "unchanged"
        write_atomically(path, data, make_parents=False)
        return data, "updated"

    def _refuse_another_article(
        self, path: Path, recorded: dict[str, Any], article: Article
    ) -> None:
        """Raise :class:`IdentityConflict` when the post at ``path`` is another article's."""
        if self.catalog is not None:
            relative = path.relative_to(self.archive_dir).as_posix()
            for owner in self.catalog.at_path(relative):
                if (owner.site, owner.article_id) != (article.site, article.article_id):
                    raise IdentityConflict(
                        f"{path} holds {owner.site} article {owner.article_id} ({owner.url}); "
                        f"not replaced by {article.site} article {article.article_id}"
                    )
        if not _is_post_of(recorded, article):
            raise IdentityConflict(
                f"{path} holds article {recorded.get('article_id')} "
                f"({recorded.get('source_url')}); not replaced by {article.url}"
            )

    def _catalog(self, article: Article, path: Path, data: bytes) -> bool:
        """Record the article; True when it moved (its date was corrected)."""
        if self.catalog is None:
            return False
        relative = path.relative_to(self.archive_dir).as_posix()
        previous = self.catalog.get(article.site, article.article_id)
        moved = previous is not None and previous.path != relative
        if moved:
            # The publication date was corrected, or the file renamed: it lives elsewhere now.
            self._remove_old_post(previous, article)
        assert article.published is not None and article.title
        entry = CatalogEntry(
            site=article.site,
            article_id=article.article_id,
            url=article.url,
            title=article.title,
            published=article.published.isoformat(),
            source=article.source,
            category=article.category,
            path=relative,
            content_hash=content_hash(data),
            complete=not article.missing_pages,
        )
        if article.capture is not None:
            entry.warc_file, entry.warc_offset = article.capture.file, article.capture.offset
            entry.warc_digest = article.capture.digest
        text = searchable_text(article.title, split_post(data.decode("utf-8"))[1])
        self.catalog.record(entry, datetime.now(BEIJING), text)
        self.days.add(entry.published[:10])
        if moved and previous is not None:
            self.days.add(previous.published[:10])
        return moved

    def _remove_old_post(self, previous: CatalogEntry, article: Article) -> None:
        """Delete the article's file at its earlier path when it is this article's own: not
        outside the archive (a forged row), nor a file that another row or another article
        claims (archives written before names carried the site)."""
        assert self.catalog is not None
        old = self.archive_dir / previous.path
        try:
            existing = inside(self.archive_dir, old).read_bytes()
        except FileNotFoundError:
            return
        except OutsideArchive as exc:
            logger.error("Not deleted: the catalog's earlier path of %s: %s", article.url, exc)
            return
        if len(self.catalog.at_path(previous.path)) > 1 or not _is_post_of(
            _front_matter(existing), article
        ):
            logger.warning("Kept %s: it may hold another article than %s", old, article.url)
            return
        old.unlink()


def _front_matter(post: bytes) -> dict[str, Any]:
    """An archived post's front matter; empty when it is unreadable."""
    try:
        return read_front_matter(post)
    except ValueError:  # a damaged file is rewritten whole
        return {}


def _is_post_of(recorded: dict[str, Any], article: Article) -> bool:
    """Whether a post's front matter (``recorded``) may be ``article``'s: the same ID and,
    for IDs unique only on their host, the same host. A damaged post (nothing readable)
    is anyone's, to be rewritten whole."""
    recorded_id = recorded.get("article_id")
    if recorded_id is not None and str(recorded_id) != article.article_id:
        return False
    recorded_url = recorded.get("source_url")
    if article.identity_host and isinstance(recorded_url, str):
        return (urlsplit(recorded_url).hostname or "").lower() == article.identity_host
    return True


def _stops_the_run(exc: BaseException | None) -> bool:
    """Whether a failed write means that no later article could be written either."""
    return isinstance(exc, OutsideArchive) or (
        isinstance(exc, OSError) and exc.errno in _ARCHIVE_GONE
    )
