"""Stage 4: one article, one file: the same article ID reached twice in a run is dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.distributed import article_set_key, run_name
from crawler.drops import DuplicateArticle
from crawler.items import Article

if TYPE_CHECKING:
    from crawler.redislink import RedisLink


class DeduplicatePipeline:
    """Drops an article whose site and ID this run already archived or is archiving.

    Article pages are often linked under several URLs (a column path and the bare
    ``/YYYYMMDD/<id>/c.html`` form, http and https); Scrapy's request filter cannot
    tell that they are one article, the ID can.

    With ``REDIS_URL`` the run's workers share a Redis set (``<run>:archived``) of the
    articles *written*: an article is added once its file is archived, not when a worker
    starts on it, so a worker that dies half-way never makes the others skip its
    article. Two workers racing on one article both write the same bytes to the same
    file, which the atomic rename makes harmless. Once Redis is given up on (the run is
    stopping, :mod:`crawler.redislink`), articles still in the pipelines are archived on
    this worker's own count.
    """

    def __init__(self, link: RedisLink | None = None, run: str = ""):
        self.seen: set[tuple[str, str]] = set()
        self.link = link
        self.redis: Any = link.client() if link is not None else None
        self.key = article_set_key(run)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DeduplicatePipeline:
        if not crawler.settings.get("REDIS_URL"):
            return cls()
        from crawler.redislink import RedisLink  # the distributed extra

        pipeline = cls(RedisLink(crawler), run_name(crawler))
        crawler.signals.connect(pipeline.item_scraped, signal=signals.item_scraped)
        return pipeline

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        key = (item.site, item.article_id)
        if key in self.seen or self._archived_by_a_peer(item):
            raise DuplicateArticle(f"article {item.article_id} already archived in this run")
        self.seen.add(key)
        return item

    def _archived_by_a_peer(self, item: Article) -> bool:
        if self.link is None:
            return False
        return self.link.call(lambda: bool(self.redis.sismember(self.key, _member(item))), False)

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, Article) and self.link is not None:
            self.link.call(lambda: self.redis.sadd(self.key, _member(item)), None)


def _member(item: Article) -> str:
    return f"{item.site}:{item.article_id}"
