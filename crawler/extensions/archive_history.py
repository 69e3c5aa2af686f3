"""With ``ARCHIVE_GIT``, a run that changed the archive commits it (crawler/archive/history.py)."""

from __future__ import annotations

import logging

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from crawler.archive.folder import Archive
from crawler.archive.history import GitError, commit_archive
from crawler.extensions.summary import run_summary

logger = logging.getLogger(__name__)


class ArchiveHistory:
    """Commits the archive at the end of each run that changed it, with a one-line message
    from the run's summary.

    Runs before :class:`crawler.extensions.archive_lock.ArchiveLock` lets the archive go (a
    lower priority in ``EXTENSIONS``), so that no other run writes while git reads the files.
    """

    def __init__(self, archive: Archive, stats: StatsCollector):
        self.archive = archive
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveHistory:
        settings = crawler.settings
        # Off by default: no message, as for Scrapy's own extensions that are off unless asked.
        if not settings.getbool("ARCHIVE_GIT") or settings.getbool("ARCHIVE_TO_STDOUT"):
            raise NotConfigured
        assert crawler.stats is not None
        extension = cls(Archive.from_settings(settings), crawler.stats)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if not self.archive.root.is_dir():
            return
        summary = run_summary({"finish_reason": reason, **self.stats.get_stats()})
        message = (
            f"{spider.name}: {summary['new']} new, {summary['updated']} updated, "
            f"{summary['moved']} moved ({reason})"
        )
        try:
            committed = commit_archive(self.archive, message)
        except (GitError, OSError) as exc:
            logger.error("Archive %s not committed to git: %s", self.archive.root, exc)
            return
        self.stats.set_value("git/committed", committed)
        if committed:
            logger.info("Committed to the archive's git repository: %s", message)
