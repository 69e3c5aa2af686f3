"""Stage 4: one article, one file: the same article ID reached twice in a run is dropped."""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter

from crawler.drops import DuplicateArticle
from crawler.items import Article


class DeduplicatePipeline:
    """Drops an article whose site and ID this run already archived or is archiving.

    Article pages are often linked under several URLs (a column path and the bare
    ``/YYYYMMDD/<id>/c.html`` form, http and https); Scrapy's request filter cannot
    tell that they are one article, the ID can. Workers sharing a frontier also share
    what they archived: the distributed add-on puts its own stage right after this one
    (:class:`crawler.addons.distributed.SharedArticleSet`).
    """

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        article = ItemAdapter(item)
        key = (article["site"], article["article_id"])
        if key in self.seen:
            raise DuplicateArticle(f"article {key[1]} already archived in this run")
        self.seen.add(key)
        return item
