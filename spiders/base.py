"""What every spider of the project shares: fetching article pages into raw page items."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import Request, Selector, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.response import response_status_message
from twisted.python.failure import Failure

from crawler.items import HttpExchange, PageSnapshot, RawPage
from crawler.reading.encoding import page_text
from crawler.reading.profiles import GENERIC, SiteProfile, SiteProfiles, profiles_of
from crawler.requestmeta import CATALOGED_BEFORE, CONTINUATION_OF


class ArticleSpider(Spider):
    """Base spider: fetches an article page, follows its continuation pages in order and
    yields one :class:`RawPage` holding them all. It never parses fields.
    """

    profiles: SiteProfiles

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.profiles = profiles_of(crawler)
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        return spider

    def article_request(self, url: str, profile: SiteProfile, **kwargs: Any) -> Request:
        return Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            cb_kwargs={"site": profile.name},
            priority=1,  # finish articles before wandering deeper into lists
            **kwargs,
        )

    def parse_article(self, response: Response, site: str) -> Iterator[RawPage | Request]:
        redirects = response.meta.get("redirect_urls") or [response.url]
        if not isinstance(response, TextResponse):
            self._count("fetch/not_text")
            content_type = response.headers.get(b"Content-Type", b"none").decode("latin-1")
            self.article_lost(redirects[0], f"not an HTML page: Content-Type {content_type}")
            return
        if not self.profiles[site].claims(response.url) and site != GENERIC:
            landed = self.site_after_redirect(response.url)
            if landed is None:
                self._count("fetch/article_failed/OffsiteRedirect")
                self.logger.warning(
                    "Article %s redirected off the site, to %s: not archived",
                    redirects[0],
                    response.url,
                )
                return
            site = landed
        page = raw_page(response, site, redirects[0])
        page.cataloged_before = response.meta.get(CATALOGED_BEFORE)
        yield self._next_page_or_item(page, self._continuation_urls(response, page))

    def site_after_redirect(self, url: str) -> str | None:
        """The site profile for an article that redirected off its site; None: do not
        archive it (a site crawl archives its own site only)."""
        return None

    def request_dropped(self, request: Request) -> None:
        """An article redirected to a URL already requested (a redirect loop) is filtered
        by Scrapy without a word; here it is counted and logged as the failure it is."""
        if request.callback == self.parse_article and request.meta.get("redirect_urls"):
            self._count("fetch/article_failed/RedirectLoop")
            self.logger.warning(
                "Article %s redirected to %s, already requested: not archived",
                request.meta["redirect_urls"][0],
                request.url,
            )

    def parse_continuation(
        self, response: Response, page: RawPage, remaining: list[str]
    ) -> Iterator[RawPage | Request]:
        if isinstance(response, TextResponse):
            page.continuation_pages.append(
                PageSnapshot(response.url, page_text(response), http_exchange(response))
            )
            # Pagers often show a window of pages: later pages may reveal more.
            known = {page.url, *remaining, *page.missing_pages}
            known.update(snapshot.url for snapshot in page.continuation_pages)
            remaining += [
                url for url in self._continuation_urls(response, page) if url not in known
            ]
        else:
            page.missing_pages.append(response.url)
        yield self._next_page_or_item(page, remaining)

    def continuation_failed(self, failure: Failure) -> Iterator[RawPage | Request]:
        request = failure.request  # type: ignore[attr-defined]
        page: RawPage = request.cb_kwargs["page"]
        page.missing_pages.append(request.url)
        self._count("fetch/continuation_failed")
        yield self._next_page_or_item(page, request.cb_kwargs["remaining"])

    def article_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        self._count(f"fetch/article_failed/{failure.type.__name__}")
        reason = fetch_failure_reason(failure, request, self.settings)
        self.article_lost((request.meta.get("redirect_urls") or [request.url])[0], reason)

    def article_lost(self, url: str, reason: str) -> None:
        """An article requested as ``url`` gave no page to archive, for ``reason``."""
        self.logger.warning("Article not fetched: %s (%s)", url, reason)

    def _next_page_or_item(self, page: RawPage, remaining: list[str]) -> RawPage | Request:
        profile = self.profiles[page.site]
        fetched = 1 + len(page.continuation_pages) + len(page.missing_pages)
        limit = profile.continuation.max_pages if profile.continuation else 1
        if not remaining or fetched >= limit:
            return page
        return Request(
            remaining[0],
            callback=self.parse_continuation,
            errback=self.continuation_failed,
            cb_kwargs={"page": page, "remaining": remaining[1:]},
            meta={CONTINUATION_OF: page.url},
            dont_filter=True,  # a continuation page belongs to this article alone
            priority=2,
        )

    def _continuation_urls(self, response: TextResponse, page: RawPage) -> list[str]:
        rule = self.profiles[page.site].continuation
        if rule is None or not self._may_continue(response, page):
            return []
        urls: list[str] = []
        selector = uncached_selector(response)
        for query in rule.links:
            for href in selector.css(query).getall():
                url = response.urljoin(href.strip()).split("#")[0]
                if rule.pattern.search(url) and _same_article(url, page.url) and url not in urls:
                    urls.append(url)
        return [url for url in urls if url != page.url]

    @staticmethod
    def _may_continue(response: TextResponse, page: RawPage) -> bool:
        """Whether the page may link a continuation page, by plain substring search, so
        that single-page articles (nearly all) are not parsed here: parsing is the
        extract stage's job, done once. A continuation of ``c.html`` / ``c_123.htm`` is
        ``c.html?…`` / ``c_123_2.htm`` / ``c_123-2.htm`` (see ``_same_article``)."""
        name = urlsplit(page.url).path.rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0]
        text = response.text
        if not name:
            return False
        # A stem as short as "c" (c.html) occurs everywhere; those pages continue with "?".
        if len(stem) <= 2:
            return name + "?" in text
        # One pass over the stem's occurrences, not one search per form (~30 µs each).
        extension_query = name[len(stem) :] + "?"
        found = text.find(stem)
        while found != -1:
            after = found + len(stem)
            if text[after : after + 1] in {"_", "-"} or text.startswith(extension_query, after):
                return True
            found = text.find(stem, after)
        return False

    def _count(self, key: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key)


def uncached_selector(response: TextResponse) -> Selector:
    """The page's selector, as ``response.selector`` makes it, but not cached on the response.

    The cached one and the response refer to each other: a reference cycle that keeps the
    page's parsed tree (~0.5 MB of libxml2 memory, unseen by Python's collector) alive
    until a full collection. Every list page and every page that may continue made one.
    """
    return Selector(response)


def _same_article(url: str, article_url: str) -> bool:
    """``c.html?page=2`` continues ``c.html``; ``c_123_2.htm`` continues ``c_123.htm``;
    ``c1013-31153719-2.html`` continues ``c1013-31153719.html``: on the same scheme and
    host, so a pager can never send the crawler elsewhere."""
    page, article = urlsplit(url), urlsplit(article_url)
    if (page.scheme, page.netloc.lower()) != (article.scheme, article.netloc.lower()):
        return False
    stem = article.path.rsplit(".", 1)[0]
    return page.path == article.path or page.path.startswith((stem + "_", stem + "-"))


def fetch_failure_reason(failure: Failure, request: Request, settings: BaseSettings) -> str:
    """What a person needs to know of why ``request`` failed, in a few words: ``HTTP 404 Not
    Found``, ``timed out after 30 s (tried 4 times)``, ``larger than DOWNLOAD_MAXSIZE (…)``,
    ``refused: loopback address 127.0.0.1 (redirected to http://127.0.0.1/x)``."""
    error = failure.value
    if isinstance(error, HttpError):
        reason = f"HTTP {response_status_message(error.response.status)}"
    elif isinstance(error, DownloadCancelledError):  # a body without Content-Length says ""
        maxsize = request.meta.get("download_maxsize", settings.getint("DOWNLOAD_MAXSIZE"))
        reason = f"larger than DOWNLOAD_MAXSIZE ({maxsize} bytes)"
    elif isinstance(error, DownloadTimeoutError):
        timeout = request.meta.get("download_timeout", settings.getfloat("DOWNLOAD_TIMEOUT"))
        reason = f"timed out after {timeout:g} s"
    elif isinstance(error, CannotResolveHostError):
        reason = f"DNS lookup failed for {urlsplit(request.url).hostname}"
    elif isinstance(error, DownloadConnectionRefusedError):
        reason = "connection refused"
    elif isinstance(error, ResponseDataLossError):
        reason = "the connection closed before the whole page arrived"
    else:
        reason = failure.getErrorMessage() or failure.type.__name__
    if tries := request.meta.get("retry_times", 0):
        reason += f" (tried {tries + 1} times)"
    if request.meta.get("redirect_urls"):
        reason += f" (redirected to {request.url})"
    return reason


def raw_page(response: TextResponse, site: str, request_url: str) -> RawPage:
    """The raw page item of an article page, read with the rules of ``site``."""
    return RawPage(
        url=response.url,
        html=page_text(response),
        site=site,
        headers=_headers(response),
        request_url=request_url,
        exchange=http_exchange(response),
    )


def http_exchange(response: Response) -> HttpExchange:
    """What the page's WARC capture records, taken now, when it arrived. Credentials the
    crawler sent (a proxy's, a site's) stay out of it: WARC files are meant to be shared."""
    request = response.request
    request_headers = (
        [
            (key.decode("latin-1"), value.decode("latin-1"))
            for key, values in request.headers.items()
            if key.lower() not in _SECRET_HEADERS
            for value in values
        ]
        if request is not None
        else []
    )
    return HttpExchange(
        url=response.url,
        status=response.status,
        headers=[
            (key.decode("latin-1"), value.decode("latin-1"))
            for key, values in response.headers.items()
            for value in values
        ],
        body=response.body,
        date=datetime.now(UTC),
        method=request.method if request is not None else "GET",
        request_headers=request_headers,
        protocol=response.protocol or "HTTP/1.1",
    )


_SECRET_HEADERS = {b"authorization", b"proxy-authorization", b"cookie"}


def _headers(response: Response) -> dict[str, list[str]]:
    return {
        key.decode("latin-1"): [value.decode("latin-1") for value in values]
        for key, values in response.headers.items()
    }
