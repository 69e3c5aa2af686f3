"""Stage 1: read the article's fields from the fetched page(s) with the site's rules."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from crawler.drops import UnknownSite
from crawler.items import Article, RawPage
from crawler.reading.extraction import ArticleExtractor, PageLimits
from crawler.reading.profiles import FIELDS, SiteProfiles, profiles_of


class ExtractPipeline:
    """Turns each :class:`RawPage` into an :class:`Article`.

    Counts, per site and field, whether the site's own rules (``primary``), the generic
    fallbacks (``fallback``) or nothing (``missing``) gave the value, so a layout change
    shows in the stats the day it happens.
    """

    def __init__(self, profiles: SiteProfiles, stats: StatsCollector, limits: PageLimits):
        self.profiles = profiles
        self.stats = stats
        self.limits = limits
        self._extractors: dict[str, ArticleExtractor] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        assert crawler.stats is not None
        settings = crawler.settings
        limits = PageLimits(
            settings.getint("EXTRACT_MAX_ELEMENTS"), settings.getint("EXTRACT_MAX_DEPTH")
        )
        return cls(profiles_of(crawler), crawler.stats, limits)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, RawPage):
            return item
        article = self._extractor(item.site).extract(item)
        self._count_field_health(article)
        # For the capture stage (pipelines/capture.py): the pages as fetched, or their capture.
        article.exchanges, article.capture = item.exchanges(), item.capture
        article.cataloged_before = item.cataloged_before
        return article

    def _extractor(self, site: str) -> ArticleExtractor:
        if site not in self._extractors:
            try:
                self._extractors[site] = ArticleExtractor(self.profiles[site], self.limits)
            except KeyError as exc:
                raise UnknownSite(str(exc)) from None
        return self._extractors[site]

    def _count_field_health(self, article: Article) -> None:
        for name in FIELDS:
            rule = article.provenance.get(name)
            if rule is None:
                outcome = "missing"
            elif rule.startswith(article.site + ":"):
                outcome = "primary"
            else:
                outcome = "fallback"
            self.stats.inc_value(f"extract/{article.site}/{name}/{outcome}")
