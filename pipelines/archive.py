"""Stage 5: write each article to its dated file in the archive, atomically, and catalog it."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from crawler import statskeys as keys
from crawler.archive.atomic import OutsideArchive
from crawler.archive.folder import Archive
from crawler.archive.lock import ArchiveBusy
from crawler.archive.writer import ArchiveWriter
from crawler.drops import ArchiveWriteError
from crawler.items import Article
from crawler.reading.profiles import profiles_of

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
    """Archives each article with an :class:`ArchiveWriter` (crawler/archive/writer.py: the
    post, its catalog row, the Jekyll site files) into the archive ``ARCHIVE_DIR`` names.

    The writes run in one thread of their own, beside the crawl's event loop. Outcomes are
    counted as ``archive/new``, ``archive/updated``, ``archive/unchanged`` and
    ``archive/moved``. An archive that cannot take files (full, read-only, missing, or a
    symbolic link leading out of it) stops the run. With ``ARCHIVE_TO_STDOUT`` the Markdown
    goes to standard output instead.
    """

    def __init__(
        self,
        writer: ArchiveWriter,
        stats: StatsCollector,
        *,
        to_stdout: bool = False,
        crawler: Crawler | None = None,
    ):
        self.writer = writer
        self.archive_dir = writer.archive.root
        self.stats = stats
        self.to_stdout = to_stdout
        self.unwritable = False
        self.reader_gone = False  # scrape --stdout: standard output's reader stopped reading
        self.crawler = crawler  # whose run stops when the archive cannot take files

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        assert crawler.stats is not None
        settings = crawler.settings
        to_stdout = settings.getbool("ARCHIVE_TO_STDOUT")
        writer = ArchiveWriter(
            Archive.from_settings(settings),
            site_url=settings["ARCHIVE_SITE_URL"],
            layout=settings["ARCHIVE_LAYOUT"],
            use_catalog=settings.getbool("ARCHIVE_CATALOG") and not to_stdout,
            jekyll_site=settings.getbool("ARCHIVE_JEKYLL_SITE") and not to_stdout,
            shared=settings.getbool("ARCHIVE_LOCK_SHARED"),
            profiles=profiles_of(crawler),
            lock_wait=settings.getfloat("ARCHIVE_LOCK_WAIT"),
        )
        return cls(writer, crawler.stats, to_stdout=to_stdout, crawler=crawler)

    def open_spider(self) -> None:
        if self.to_stdout:
            return
        # One writer thread: file and SQLite work (mostly system calls that release the
        # GIL) runs beside the crawl's event loop instead of in it. One thread keeps the
        # writes in order and the SQLite connection on the thread that opened it.
        self._thread = ThreadPool(minthreads=1, maxthreads=1, name="archive-writer")
        self._thread.start()
        try:
            self._call_in_writer_blocking(self.writer.open)
        except (OSError, sqlite3.Error) as exc:
            self._stop_unwritable(exc)
        except ArchiveBusy as busy:
            self._stop_unwritable(f"its catalog is damaged and it is in use by {busy}")

    def close_spider(self) -> None:
        if self.to_stdout:
            return
        try:
            self._call_in_writer_blocking(self.writer.close)
        except (OSError, sqlite3.Error) as exc:
            logger.error(
                "Archive %s: the catalog export was not written: %s", self.archive_dir, exc
            )
        finally:
            self._thread.stop()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self.to_stdout:
            return self._print(item)
        if self.unwritable:
            raise ArchiveWriteError(f"archive {self.archive_dir} is not writable")
        deferred = deferToThreadPool(reactor, self._thread, self.write_article, item)
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
        logger.debug("%s %s", outcome.capitalize(), path)
        return item

    def _print(self, item: Article) -> Article:
        """Write the post to standard output. When its reader stops reading (``scrape
        --stdout … | head``), the run stops quietly, as a Unix tool does on SIGPIPE."""
        if self.reader_gone:
            return item
        try:
            sys.stdout.buffer.write(self.writer.serialize(item) + b"\n")
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            self.reader_gone = True
            # Python would fail again flushing stdout at exit, with a message: point it away.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            self._stop_run(keys.STDOUT_CLOSED)
            return item
        self.stats.inc_value(keys.PRINTED)
        return item

    def write_article(self, item: Article) -> tuple[Path, str, bool]:
        """:meth:`ArchiveWriter.write`. Runs in the writer thread during a crawl; call it
        directly only while no crawl uses this pipeline."""
        return self.writer.write(item)

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
        self._stop_run("archive_unwritable")

    def _stop_run(self, reason: str) -> None:
        engine = self.crawler.engine if self.crawler else None
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=reason))

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

        self._thread.callInThread(run)
        done.result()


def _stops_the_run(exc: BaseException | None) -> bool:
    """Whether a failed write means that no later article could be written either."""
    return isinstance(exc, OutsideArchive) or (
        isinstance(exc, OSError) and exc.errno in _ARCHIVE_GONE
    )
