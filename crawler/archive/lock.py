"""One writer per archive: overlapping runs wait for the lock or stop at once.

Cron does not know whether the previous run finished. :class:`ArchiveLock` takes an
exclusive ``flock`` on ``<ARCHIVE_DIR>/.lock`` when the spider opens; the kernel drops
it when the process ends, however it ends, so a killed run leaves no stale lock.
When the lock is taken, the run waits up to ``ARCHIVE_LOCK_WAIT`` seconds (0: not at
all), then closes with the finish reason ``archive_locked`` and a clear message, and
the ``crawl`` command exits non-zero.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import time
from datetime import datetime
from pathlib import Path
from typing import IO

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawler import statskeys as keys
from crawler.archive.atomic import OutsideArchive
from crawler.archive.paths import LOCK_FILE
from crawler.reading.dates import BEIJING

logger = logging.getLogger(__name__)


class ArchiveBusy(Exception):
    """Another process holds the archive's lock."""


def acquire(archive_dir: Path, wait: float, *, shared: bool = False) -> IO[str]:
    """Lock ``archive_dir`` for this process (waiting up to ``wait`` seconds); returns the
    open lock file, which holds the lock until it is closed or the process ends.

    ``shared``: the workers of one distributed crawl hold the lock together; a
    single-process run, which takes it exclusively, waits for all of them (or they for it).
    """
    archive_dir.mkdir(parents=True, exist_ok=True)
    handle = _open_lock_file(archive_dir / LOCK_FILE)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise ArchiveBusy(holder) from None
            time.sleep(0.2)
    if not shared:  # the holder's name, for the message a blocked run prints
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} since {datetime.now(BEIJING).isoformat(timespec='seconds')}\n"
        )
        handle.flush()
    return handle


def _open_lock_file(path: Path) -> IO[str]:
    """The lock file, created if missing. A symbolic link, or a file with other hard links,
    is refused (:class:`OutsideArchive`): the holder's name is written into the lock file,
    and a planted ``.lock`` must not make a run overwrite the file it leads to."""
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutsideArchive(f"{path} is a symbolic link: refused") from None
        raise
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(descriptor)
        raise OutsideArchive(f"{path} is not a file of the archive's own: refused")
    return os.fdopen(descriptor, "a+", encoding="utf-8")


class ArchiveLock:
    """Takes the archive's lock when the spider opens and gives it back when it closes; a run
    that cannot take it stops (finish reason ``archive_locked`` or ``archive_unwritable``)."""

    def __init__(self, crawler: Crawler, archive_dir: Path, wait: float, *, shared: bool = False):
        self.crawler = crawler
        self.archive_dir = archive_dir
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
            Path(settings["ARCHIVE_DIR"]),
            settings.getfloat("ARCHIVE_LOCK_WAIT"),
            shared=settings.getbool("ARCHIVE_LOCK_SHARED"),
        )
        crawler.signals.connect(lock.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(lock.spider_closed, signal=signals.spider_closed)
        return lock

    def spider_opened(self, spider: Spider) -> None:
        try:
            self.handle = acquire(self.archive_dir, self.wait, shared=self.shared)
        except OSError as exc:
            # Not crawling unlocked; an unwritable archive is also reported by the pipeline.
            logger.error("Archive %s cannot be locked: %s", self.archive_dir, exc.strerror or exc)
            self._close_spider("archive_unwritable")
            return
        except ArchiveBusy as busy:
            assert self.crawler.stats is not None
            self.crawler.stats.set_value(keys.LOCK_HOLDER, str(busy))  # for scrape's report
            logger.error(
                "Archive %s is in use by %s; not crawling. Set ARCHIVE_LOCK_WAIT=<seconds> to "
                "wait for it instead.",
                self.archive_dir,
                busy,
            )
            self._close_spider("archive_locked")

    def _close_spider(self, reason: str) -> None:
        assert self.crawler.engine is not None
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))

    def spider_closed(self) -> None:
        if self.handle is not None:
            self.handle.close()
