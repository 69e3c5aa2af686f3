"""Spider middleware of incremental crawls: skip articles the archive already holds."""

from __future__ import annotations

from datetime import datetime, timedelta

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from crawler.archive.catalog import Catalog
from crawler.archive.folder import Archive
from crawler.reading.dates import BEIJING
from crawler.requestmeta import ARTICLE_IDENTITY, CATALOGED_BEFORE


class SkipArchivedMiddleware(BaseSpiderMiddleware):
    """Drops requests for articles already in the catalog and older than the revisit window.

    Scheduled crawls then fetch list pages and new articles only. Articles published
    within ``INCREMENTAL_REVISIT_DAYS`` are fetched again so corrections are caught.
    Only requests that a discovery spider marks (``meta[ARTICLE_IDENTITY]``) are
    considered: a one-off ``scrapy scrape`` always fetches what it is given.

    Further links to an article this run has fetched (a later list page, another URL of
    it) are dropped once it is archived, whatever its age, and counted apart
    (``incremental/archived_this_run``): they are not articles the archive held before.
    """

    def __init__(self, crawler: Crawler, archive: Archive, window: timedelta):
        super().__init__(crawler)
        self.archive = archive
        self.window = window
        self._catalog: Catalog | None = None
        self._skipped: set[tuple[str, str]] = set()
        self._fetched: set[tuple[str, str]] = set()  # let through by this run
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SkipArchivedMiddleware:
        settings = crawler.settings
        if not settings.getbool("INCREMENTAL_ENABLED"):
            raise NotConfigured("INCREMENTAL_ENABLED is off: every article is fetched")
        window = timedelta(days=settings.getfloat("INCREMENTAL_REVISIT_DAYS"))
        return cls(crawler, Archive.from_settings(settings), window)

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        key = request.meta.get(ARTICLE_IDENTITY)
        if not key:
            return request
        key = tuple(key)
        published = self.catalog.published(*key)
        if published is not None and key in self._fetched:
            self._count(key, "incremental/archived_this_run")
            return None
        if published is None or published >= datetime.now(BEIJING) - self.window:
            self._fetched.add(key)
            request.meta[CATALOGED_BEFORE] = published is not None
            return request
        self._count(key, "incremental/skipped_archived")
        return None

    def _count(self, key: tuple[str, str], stat: str) -> None:
        if key not in self._skipped:  # count articles, not the links to them
            self._skipped.add(key)
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value(stat)

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = self.archive.catalog()
        return self._catalog

    def spider_closed(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
