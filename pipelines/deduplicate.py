"""Stage 4: one article, one file: the same article ID reached twice in a run is dropped."""

from __future__ import annotations

from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.distributed import article_set_key, run_name
from crawler.drops import DuplicateArticle
from crawler.items import Article


class DeduplicatePipeline:
    """Drops an article whose site and ID this run already archived or is archiving.

    Article pages are often linked under several URLs (a column path and the bare
    ``/YYYYMMDD/<id>/c.html`` form, http and https); Scrapy's request filter cannot
    tell that they are one article, the ID can.

    With ``REDIS_URL`` the run's workers share a Redis set (``<run>:archived``) of the
    articles *written*: an article is added once its file is archived, not when a worker
    starts on it, so a worker that dies half-way never makes the others skip its
    article. Two workers racing on one article both write the same bytes to the same
    file, which the atomic rename makes harmless.
    """

    def __init__(self, redis_url: str | None = None, run: str = ""):
        self.seen: set[tuple[str, str]] = set()
        self.redis: Any = None
        self.key = article_set_key(run)
        if redis_url:
            import redis  # installed with the distributed extra (scrapy-redis)

            self.redis = redis.Redis.from_url(redis_url)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DeduplicatePipeline:
        pipeline = cls(crawler.settings.get("REDIS_URL"), run_name(crawler))
        if pipeline.redis is not None:
            crawler.signals.connect(pipeline.item_scraped, signal=signals.item_scraped)
        return pipeline

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        key = (item.site, item.article_id)
        if key in self.seen or (
            self.redis is not None and self.redis.sismember(self.key, _member(item))
        ):
            raise DuplicateArticle(f"article {item.article_id} already archived in this run")
        self.seen.add(key)
        return item

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, Article):
            self.redis.sadd(self.key, _member(item))


def _member(item: Article) -> str:
    return f"{item.site}:{item.article_id}"
