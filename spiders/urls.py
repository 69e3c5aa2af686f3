"""Fetches given article URLs with the site profile each belongs to (``scrapy scrape``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request

from spiders.base import ArticleSpider


class UrlsSpider(ArticleSpider):
    """``-a urls=URL,URL``: archive exactly these article pages, discovering nothing.

    URLs that no site profile claims are read with the generic rules. Fetch failures
    are kept in :attr:`failures` (URL → reason) for the command that started the run.
    """

    name = "urls"
    listed = False  # run by ``scrapy scrape``, not by ``scrapy crawl``

    def __init__(self, *args: Any, urls: str | list[str] = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        given = urls.split(",") if isinstance(urls, str) else urls
        self.urls = [url.strip() for url in given if url.strip()]
        self.failures: dict[str, str] = {}

    @property
    def expected_articles(self) -> int:
        """Each URL ends as one article, archived or not: the progress line's total."""
        return len(self.urls)

    async def start(self) -> AsyncIterator[Request]:
        for url in self.urls:
            # The requested URL as given: the report to the user is keyed by it.
            yield self.article_request(url, self.profiles.for_url(url), dont_filter=True)

    def site_after_redirect(self, url: str) -> str | None:
        # The user asked for this page: read it with the rules of wherever it landed.
        return self.profiles.for_url(url).name

    def article_lost(self, url: str, reason: str) -> None:
        super().article_lost(url, reason)
        self.failures[url] = reason
