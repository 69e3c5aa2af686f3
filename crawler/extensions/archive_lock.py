"""One writer per archive: overlapping runs wait for the lock or stop at once.

Cron does not know whether the previous run finished. :class:`ArchiveLock` takes the
archive's lock (crawler/archive/lock.py: an exclusive ``flock`` on ``<ARCHIVE_DIR>/.lock``)
when the spider opens; the kernel drops it when the process ends, however it ends, so a
killed run leaves no stale lock. When the lock is taken, the run waits up to
``ARCHIVE_LOCK_WAIT`` seconds (0: not at all), then closes with the finish reason
``archive_locked`` and a clear message, and the ``crawl`` command exits non-zero.
"""

from __future__ import annotations

import logging
from typing import IO

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawler import statskeys as keys
from crawler.archive.folder import Archive
from crawler.archive.lock import ArchiveBusy

logger = logging.getLogger(__name__)


class ArchiveLock:
    """Takes the archive's lock when the spider opens and gives it back when it closes; a run
    that cannot take it stops (finish reason ``archive_locked`` or ``archive_unwritable``)."""

    def __init__(self, crawler: Crawler, archive: Archive, wait: float, *, shared: bool = False):
        self.crawler = crawler
        self.archive = archive
        self.wait = wait
        self.shared = shared
        self.handle: IO[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveLock:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_LOCK") or settings.getbool("ARCHIVE_TO_STDOUT"):
            raise NotConfigured("ARCHIVE_LOCK is off (or nothing is written)")
        lock = cls(
            crawler,
            Archive.from_settings(settings),
            settings.getfloat("ARCHIVE_LOCK_WAIT"),
            shared=settings.getbool("ARCHIVE_LOCK_SHARED"),
        )
        crawler.signals.connect(lock.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(lock.spider_closed, signal=signals.spider_closed)
        return lock

    def spider_opened(self, spider: Spider) -> None:
        try:
            self.handle = self.archive.lock(self.wait, shared=self.shared)
        except OSError as exc:
            # Not crawling unlocked; an unwritable archive is also reported by the pipeline.
            logger.error("Archive %s cannot be locked: %s", self.archive.root, exc.strerror or exc)
            self._close_spider("archive_unwritable")
            return
        except ArchiveBusy as busy:
            assert self.crawler.stats is not None
            self.crawler.stats.set_value(keys.LOCK_HOLDER, str(busy))  # for scrape's report
            logger.error(
                "Archive %s is in use by %s; not crawling. Set ARCHIVE_LOCK_WAIT=<seconds> to "
                "wait for it instead.",
                self.archive.root,
                busy,
            )
            self._close_spider("archive_locked")

    def _close_spider(self, reason: str) -> None:
        assert self.crawler.engine is not None
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))

    def spider_closed(self) -> None:
        if self.handle is not None:
            self.handle.close()
