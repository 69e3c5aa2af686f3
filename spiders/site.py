"""Discovery of articles through a site profile's list pages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy import Request
from scrapy.http import Response, TextResponse

from crawler.middlewares import ARTICLE_META
from crawler.profiles import SiteProfile
from crawler.urls import canonical_url
from spiders.base import ArticleSpider


class SiteSpider(ArticleSpider):
    """Crawls one site profile: its start (column) pages, the list pages and datasource
    JSON files they lead to, and every article they link.

    ``-a start_urls=URL,URL`` replaces the profile's start URLs. List pages are followed
    ``DISCOVERY_LIST_DEPTH`` links deep; numbered JSON list pages up to the profile's
    ``max_list_pages``.
    """

    site: str  # the profile this spider crawls

    def __init__(self, *args: Any, start_urls: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.start_url_override = [
            url.strip() for url in (start_urls or "").split(",") if url.strip()
        ]

    @property
    def profile(self) -> SiteProfile:
        return self.profiles[self.site]

    async def start(self) -> AsyncIterator[Request]:
        for url in self.start_url_override or self.profile.start_urls:
            request = self._route(url, depth=0)
            yield request.replace(dont_filter=True) if request else self.list_request(url, 0)

    def list_request(self, url: str, depth: int, **kwargs: Any) -> Request:
        return Request(url, callback=self.parse_list, cb_kwargs={"depth": depth}, **kwargs)

    def parse_list(self, response: Response, depth: int) -> Iterator[Request]:
        if not isinstance(response, TextResponse):
            self._count("fetch/not_text")
            return
        self._count("discovery/list_pages")
        if _looks_like_json(response):
            yield from self._parse_json_list(response, depth)
            return
        for href in response.css("a::attr(href)").getall():
            request = self._route(response.urljoin(href.strip()), depth + 1)
            if request is not None:
                yield request
        for source in self.profile.datasources:
            for value in response.css(source.selector).getall():
                match = source.pattern.search(value)
                if match:
                    url = response.urljoin(source.url.format(id=match.group("id")))
                    yield self.list_request(url, depth)

    def _route(self, url: str, depth: int) -> Request | None:
        """The request a discovered URL deserves: article, list page, or none."""
        url = canonical_url(url)
        if not url.startswith(("http://", "https://")) or not self.profile.claims(url):
            return None
        article_id = self.profile.article_id(url)
        if article_id:
            return self.article_request(
                url, self.profile, meta={ARTICLE_META: (self.site, article_id)}
            )
        if self.profile.is_list_page(url) and depth <= self.settings.getint("DISCOVERY_LIST_DEPTH"):
            return self.list_request(url, depth)
        return None

    def _parse_json_list(self, response: TextResponse, depth: int) -> Iterator[Request]:
        try:
            data = json.loads(_strip_jsonp(response.text))
        except ValueError:
            self._count("discovery/bad_json")
            self.logger.warning("List page is not valid JSON(P): %s", response.url)
            return
        found = 0
        for value in _strings(data):
            if value.startswith(("http://", "https://", "/")) or value.endswith((".htm", ".html")):
                url = canonical_url(response.urljoin(value))
                article_id = self.profile.article_id(url)
                if article_id and self.profile.claims(url):
                    found += 1
                    meta = {ARTICLE_META: (self.site, article_id)}
                    yield self.article_request(url, self.profile, meta=meta)
        next_page = self._next_json_page(response.url)
        if found and next_page:
            yield self.list_request(next_page, depth)

    def _next_json_page(self, url: str) -> str | None:
        """The following numbered page (``pgnum=N+1``) within ``max_list_pages``."""
        param = self.profile.json_page_param
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        numbers = [value for key, value in query if key == param]
        if not param or not numbers or not numbers[0].isdigit():
            return None
        page = int(numbers[0]) + 1
        if page > self.profile.max_list_pages:
            return None
        query = [(key, str(page) if key == param else value) for key, value in query]
        return urlunsplit(parts._replace(query=urlencode(query)))


def _looks_like_json(response: TextResponse) -> bool:
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
    if "json" in content_type or "javascript" in content_type:
        return True
    return response.text.lstrip()[:1] in {"{", "[", "("}


def _strip_jsonp(text: str) -> str:
    """``callback({...});`` or ``({...})`` → ``{...}``."""
    starts = [i for i in (text.find("{"), text.find("[")) if i != -1]
    if not starts:
        return text
    start = min(starts)
    end = max(text.rfind("}"), text.rfind("]"))
    return text[start : end + 1]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value.strip()
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
