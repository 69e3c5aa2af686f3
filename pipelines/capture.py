"""Stage 6: keep what the server sent for each article, as WARC records in ``_warc/``."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from crawler import __version__
from crawler.archive.catalog import Catalog
from crawler.archive.folder import Archive
from crawler.archive.warc import WarcWriter, capture_digest
from crawler.items import Article, Capture

logger = logging.getLogger(__name__)


class CapturePipeline:
    """Writes each article's pages (continuation pages included), request and response with
    their headers, into the archive's WARC files (:mod:`crawler.archive.warc`) and puts the
    capture's place on the article, for the archive stage to record in the catalog.

    An article whose pages are byte for byte those of its recorded capture keeps that
    capture (``warc/unchanged``): the revisits of a scheduled crawl add nothing. An article the
    catalog did not hold when it was requested (``CATALOGED_BEFORE`` in the request's meta,
    set by the incremental middleware) has none to compare with: the catalog is not asked.
    An article read from the archive's own captures (``scrapy reextract``) is not captured
    again. A capture that cannot be written is logged and counted (``warc/failed``); the
    article is still archived, and ``scrapy verify`` names it.

    The records are written in the crawl's event loop, not in a thread of their own: a
    capture is a hash and a compression of each page, and handing every article to a
    thread and back cost the crawl more than that work (the threads take turns holding the
    interpreter; benchmarks/README.md).
    """

    def __init__(
        self, archive: Archive, stats: StatsCollector, *, max_bytes: int, use_catalog: bool
    ):
        self.archive = archive
        self.stats = stats
        self.writer = WarcWriter(
            archive.root, max_bytes=max_bytes, software=f"xinhua-archiver/{__version__}"
        )
        self.use_catalog = use_catalog
        self._catalog: Catalog | None = None
        self._error: OSError | None = None  # the last failed write's
        self._reported = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CapturePipeline:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_WARC") or settings.getbool("ARCHIVE_TO_STDOUT"):
            raise NotConfigured("ARCHIVE_WARC is off (or nothing is archived)")
        assert crawler.stats is not None
        return cls(
            Archive.from_settings(settings),
            crawler.stats,
            max_bytes=settings.getint("ARCHIVE_WARC_MAX_BYTES"),
            use_catalog=settings.getbool("ARCHIVE_CATALOG"),
        )

    def close_spider(self) -> None:
        try:
            self.writer.close()
        except OSError as exc:
            logger.error("WARC file not closed cleanly: %s", exc.strerror or exc)
        if self._catalog is not None:
            self._catalog.close()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article) or item.capture is not None or not item.exchanges:
            return item
        item.capture, outcome = self._capture(item)
        self.stats.inc_value(f"warc/{outcome}")
        if outcome == "failed":
            self._report_failure(item)
        item.exchanges = []  # kept in the WARC file now, or lost: not carried further
        return item

    def _capture(self, item: Article) -> tuple[Capture | None, str]:
        """The article's capture and the outcome: ``captured``, ``unchanged`` (the recorded
        capture holds these very pages) or ``failed``."""
        recorded = self._recorded_capture(item)
        if recorded is not None and recorded.digest == capture_digest(item.exchanges):
            return recorded, "unchanged"
        try:
            return self.writer.write_article(item.exchanges, item.missing_pages), "captured"
        except OSError as exc:
            self._error = exc
            return None, "failed"

    def _recorded_capture(self, item: Article) -> Capture | None:
        """The article's capture as the catalog records it, if its file is still there."""
        if not self.use_catalog or item.cataloged_before is False:  # a new article: none
            return None
        try:
            if self._catalog is None:
                self._catalog = self.archive.catalog()
            entry = self._catalog.get(item.site, item.article_id)
        except sqlite3.Error:  # the archive stage reports a damaged catalog
            return None
        if entry is None or not entry.warc_file:
            return None
        if not (self.archive.warc / entry.warc_file).is_file():
            return None
        return Capture(entry.warc_file, entry.warc_offset, entry.warc_digest)

    def _report_failure(self, item: Article) -> None:
        if self._reported:  # one line, not one per article of a full disk
            return
        self._reported = True
        error = self._error
        logger.error(
            "Capture of %s not written to %s: %s (further failures are counted: warc/failed)",
            item.url,
            self.archive.warc,
            (error.strerror or error) if error else "unknown error",
        )
