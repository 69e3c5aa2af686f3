"""Stage 3: drop articles that cannot make a complete archive file, each with its reason."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from crawler.archive.paths import is_safe_article_id
from crawler.drops import ImplausibleDate, MissingBody, MissingDate, MissingTitle, UnsafeArticleId
from crawler.items import Article
from crawler.reading.dates import BEIJING

logger = logging.getLogger(__name__)
EARLIEST = datetime(1990, 1, 1, tzinfo=BEIJING)


class ValidatePipeline:
    """Requires a title, a plausible publication date, body text and a safe article ID."""

    def __init__(self, max_future: timedelta, stats: StatsCollector):
        self.max_future = max_future
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        assert crawler.stats is not None
        hours = crawler.settings.getfloat("VALIDATE_MAX_FUTURE_HOURS")
        return cls(timedelta(hours=hours), crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        article = ItemAdapter(item)
        published = article["published"]
        if not article["title"]:
            raise MissingTitle("no headline found")
        if published is None:
            raise MissingDate("no publication date found")
        if not EARLIEST <= published <= datetime.now(BEIJING) + self.max_future:
            raise ImplausibleDate(f"publication date {published.isoformat()} is implausible")
        if not article["paragraphs"]:
            raise MissingBody("no body text found")
        if not is_safe_article_id(article["article_id"]):
            raise UnsafeArticleId(
                f"article ID {article['article_id'][:100]!r} is not a safe file name"
            )
        if missing := article["missing_pages"]:
            # Kept: a partial multi-page article beats none, but the operator must know.
            self.stats.inc_value("article/missing_pages")
            logger.warning(
                "Archiving %s without %d continuation page(s) that failed: %s",
                article["url"],
                len(missing),
                ", ".join(missing),
            )
        return item
