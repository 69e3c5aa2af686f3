"""Discovery of articles through a site profile's list pages."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from lxml.etree import XPath
from parsel.csstranslator import HTMLTranslator
from scrapy import Request
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler import statskeys as keys
from crawler.reading.profiles import SiteProfile
from crawler.requestmeta import ARTICLE_IDENTITY
from crawler.urls import canonical_url
from spiders.base import ArticleSpider, fetch_failure_reason, uncached_selector

# css("a::attr(href)").getall() without a Selector object per link: a fifth of the time
_LINKS = XPath(HTMLTranslator().css_to_xpath("a::attr(href)"), smart_strings=False)


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
        # Start pages go through the duplicate filter like the list pages that link them
        # (Scrapy's default, dont_filter=True, would leave them out of it, and each would be
        # fetched again from the first column page that links it). In one process they are
        # the first requests the filter sees: all fetched. Several workers sharing a
        # frontier: the first worker's start pages are the run's, the others' are seen.
        for url in self.start_url_override or self.profile.start_urls:
            yield self._route(url, depth=0) or self.list_request(url, 0)

    def list_request(self, url: str, depth: int, **kwargs: Any) -> Request:
        return Request(
            url,
            callback=self.parse_list,
            errback=self.list_failed,
            cb_kwargs={"depth": depth},
            **kwargs,
        )

    def list_failed(self, failure: Failure) -> None:
        """A list page that could not be fetched: one warning with the reason, counted as an
        error of the run (``fetch/list_failed/<exception>``), not Scrapy's traceback."""
        request = failure.request  # type: ignore[attr-defined]
        self._count(f"{keys.LIST_PAGE_NOT_FETCHED}{failure.type.__name__}")
        reason = fetch_failure_reason(failure, request, self.settings)
        self.logger.warning("List page not fetched: %s (%s)", request.url, reason)

    def parse_list(self, response: Response, depth: int) -> Iterator[Request]:
        if not isinstance(response, TextResponse):
            self._count("fetch/not_text")
            return
        self._count("discovery/list_pages")
        articles = 0
        for request in self._list_links(response, depth):
            articles += request.callback == self.parse_article
            yield request
        next_page = self._next_list_page(response.url)
        if articles and next_page:  # numbered list pages go on while they list articles
            yield self.list_request(next_page, depth)

    def _list_links(self, response: TextResponse, depth: int) -> Iterator[Request]:
        if _looks_like_json(response):
            yield from self._json_list_links(response)
            return
        selector = uncached_selector(response)
        for href in _LINKS(selector.root):
            try:
                url = response.urljoin(href.strip())
            except ValueError:  # "http://[::1/" and the like: one bad link, not a bad page
                self._count("discovery/malformed_link")
                continue
            request = self._route(url, depth + 1)
            if request is not None:
                yield request
        for source in self.profile.datasources:
            for value in selector.css(source.selector).getall():
                match = source.pattern.search(value)
                if match and depth < self.settings.getint("DISCOVERY_LIST_DEPTH"):
                    url = response.urljoin(source.url.format(id=match.group("id")))
                    yield self.list_request(url, depth + 1)

    def _route(self, url: str, depth: int) -> Request | None:
        """The request a discovered URL deserves: article, list page, or none."""
        canonical = canonical_url(url)
        if canonical is None:
            self._count("discovery/malformed_link")
            return None
        url = canonical
        if not url.startswith(("http://", "https://")) or not self.profile.claims(url):
            return None
        article = self._article_request(url)
        if article is not None:
            return article
        if self.profile.is_list_page(url) and depth <= self.settings.getint("DISCOVERY_LIST_DEPTH"):
            return self.list_request(url, depth)
        return None

    def _article_request(self, url: str) -> Request | None:
        """The request for ``url`` if it is an article URL of the site (``url`` is claimed)."""
        article_id = self.profile.article_id(url)
        if article_id is None:
            return None
        return self.article_request(
            url, self.profile, meta={ARTICLE_IDENTITY: (self.site, article_id)}
        )

    def _json_list_links(self, response: TextResponse) -> Iterator[Request]:
        """Article URLs anywhere in a JSON(P) list: every string that resolves to one."""
        try:
            data = json.loads(_strip_jsonp(response.text))
        except ValueError:
            self._count("discovery/bad_json")
            self.logger.warning("List page is not valid JSON(P): %s", response.url)
            return
        for value in _strings(data):
            if value.startswith(("http://", "https://", "/")) or value.endswith((".htm", ".html")):
                url = canonical_url(response.urljoin(value))
                request = self._article_request(url) if url and self.profile.claims(url) else None
                if request is not None:
                    yield request

    def _next_list_page(self, url: str) -> str | None:
        """The following numbered list page (``pgnum=N+1``, ``news_N+1.jsonp``), keeping the
        number's zero padding, within ``max_list_pages``."""
        pattern = self.profile.page_number
        match = pattern.search(url) if pattern else None
        if match is None:
            return None
        number = match.group("page")
        page = int(number) + 1
        if page > self.profile.max_list_pages:
            return None
        start, end = match.span("page")
        return url[:start] + str(page).zfill(len(number)) + url[end:]


def _looks_like_json(response: TextResponse) -> bool:
    """JSON or JSONP (``callback({...})``), whatever the server calls it."""
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
    if "json" in content_type or "javascript" in content_type:
        return True
    return bool(_JSON_START.match(response.text[:200]))


_JSON_START = re.compile(r"\s*(?:[A-Za-z_$][\w$.]*\s*)?\(?\s*[\[{]")


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
