"""Articles read from WARC files instead of the web (``scrapy reextract``, ``scrapy import``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Headers, TextResponse
from scrapy.responsetypes import responsetypes
from scrapy.settings import BaseSettings

from crawler.archive.catalog import CatalogEntry
from crawler.archive.folder import Archive
from crawler.archive.warc import (
    CapturedPage,
    DamagedCapture,
    WarcSource,
    iter_source_records,
    read_article_pages,
    sources,
)
from crawler.items import Capture, PageSnapshot, RawPage
from crawler.reading.dates import BEIJING
from crawler.reading.encoding import page_text
from crawler.reading.profiles import GENERIC
from spiders.base import ArticleSpider, raw_page

HTML_TYPES = {"text/html", "application/xhtml+xml"}
# Pages handed to the pipelines and not yet archived or dropped: reading a capture is much
# faster than archiving it, and the pages waiting would fill the memory.
IN_FLIGHT = 32


class WarcSpider(ArticleSpider):
    """Yields article pages read from WARC files as the items of its ``start()``, routed by
    the site profiles like a crawl's, so the same stages extract, check and archive them.
    It sends no request: :class:`NoNetworkMiddleware` refuses any that a stage makes (an
    image not in the archive keeps its original URL).

    ``-a reextract=1`` reads the archive's own captures, the one each catalog row names
    (``since``: articles published that day or later; ``site``: that site profile's only);
    they are not captured again. ``files`` (a list) reads other tools' ``.warc``,
    ``.warc.gz`` and ``.wacz`` files: their ``text/html`` responses of status 200 at article
    URLs (any URL no site profile claims is read with the generic rules); the rest is counted
    (``import/skipped/<why>``). Those pages are captured into the archive like a crawl's.
    """

    name = "warc"
    listed = False  # run by ``scrapy reextract`` and ``scrapy import``

    def __init__(
        self,
        *args: Any,
        files: list[str] | None = None,
        reextract: str = "",
        since: str = "",
        site: str = "",
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.files = [Path(name) for name in files or []]
        self.reextract = bool(reextract)
        self.since = date.fromisoformat(since) if since else None
        self.site = site
        self._in_flight = 0
        self._room = asyncio.Event()

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
        middlewares[f"{__name__}.NoNetworkMiddleware"] = 0
        settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="spider")
        settings.set("ROBOTSTXT_OBEY", False, priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(spider._item_done, signal=signal)
        return spider

    async def start(self) -> AsyncIterator[RawPage]:
        pages = self._captured_pages() if self.reextract else self._imported_pages()
        for page in pages:
            await self._in_flight_below(IN_FLIGHT)
            self._in_flight += 1
            yield page
        # Ending only when the last page is archived lets the engine see at once that the run
        # is over (it checks when start() ends; otherwise at its next heartbeat, 5 s later).
        await self._in_flight_below(1)

    async def _in_flight_below(self, limit: int) -> None:
        while self._in_flight >= limit:
            self._room.clear()
            await self._room.wait()

    def _item_done(self) -> None:
        self._in_flight -= 1
        self._room.set()

    def _captured_pages(self) -> Iterator[RawPage]:
        """The archive's articles as their catalog rows' captures hold them."""
        archive = Archive.from_settings(self.settings)
        for entry in self._selected_entries(archive):
            if not entry.warc_file:
                self._count("reextract/no_capture")
                continue
            try:
                source = WarcSource(archive.warc / entry.warc_file)
                # One payload digest per page: no record after the article's is read.
                pages = read_article_pages(
                    source, entry.warc_offset, len(entry.warc_digest.split())
                )
            except DamagedCapture as exc:
                self._count("reextract/damaged_capture")
                self.logger.warning("Not re-extracted: %s: %s", entry.url, exc)
                continue
            page = self._raw_page(pages)
            if page is not None:
                page.capture = Capture(entry.warc_file, entry.warc_offset, entry.warc_digest)
                yield page

    def _selected_entries(self, archive: Archive) -> list[CatalogEntry]:
        """The catalog rows asked for, read at once: no read transaction stays open while
        the archive stage writes."""
        catalog = archive.catalog()
        try:
            return [
                entry
                for entry in catalog.entries()
                if (not self.site or entry.site == self.site)
                and (self.since is None or _day(entry.published) >= self.since)
            ]
        finally:
            catalog.close()

    def _imported_pages(self) -> Iterator[RawPage]:
        """The article pages of the given files, each with its continuation pages: those
        that the file says continue it (the project's own captures), or those that its
        site profile finds linked from it, as a crawl would (other tools' captures)."""
        for path in self.files:
            for source in sources(path):
                yield from self._source_pages(source)

    def _source_pages(self, source: WarcSource) -> Iterator[RawPage]:
        offsets, continued = self._index(source)
        joined = {url for urls in continued.values() for url in urls}
        pages: list[CapturedPage] = []
        for record in iter_source_records(source):
            page = record.page
            if page is not None and pages and page.continues == pages[0].record_id:
                pages.append(page)  # the project's own record of a continuation page
                continue
            if pages:
                yield from self._imported(source, pages, offsets, continued)
            pages = []
            skipped = self._import_skip_reason(record.kind, page, joined)
            if skipped:
                self._count(f"import/skipped/{skipped}")
            elif page is not None:
                pages = [page]
        if pages:
            yield from self._imported(source, pages, offsets, continued)

    def _index(self, source: WarcSource) -> tuple[dict[str, int], dict[str, list[str]]]:
        """A first pass over a file: the offset of each page that may be imported, and the
        continuation pages each links (within its profile's ``max_pages``)."""
        offsets: dict[str, int] = {}
        continued: dict[str, list[str]] = {}
        for record in iter_source_records(source):
            page = record.page
            if page is None or page.status != 200 or page.content_type not in HTML_TYPES:
                continue
            offsets.setdefault(page.url, record.offset)
            response = _text_response(page)
            if response is not None:
                item = raw_page(response, self.profiles.for_url(page.url).name, page.url)
                if links := self._continuation_urls(response, item):
                    continued[page.url] = links
        return offsets, continued

    def _imported(
        self,
        source: WarcSource,
        pages: list[CapturedPage],
        offsets: dict[str, int],
        continued: dict[str, list[str]],
    ) -> Iterator[RawPage]:
        """The raw page of an imported article, its continuation pages read from the file
        (the ones linked from those too, as a crawl follows a pager), the others missing."""
        if len(pages) == 1 and pages[0].url in continued:
            profile = self.profiles.for_url(pages[0].url)
            limit = profile.continuation.max_pages if profile.continuation else 1
            queue = list(continued[pages[0].url])
            seen = {pages[0].url, *queue}
            missing: list[str] = []
            while queue and len(pages) + len(missing) < limit:
                url = queue.pop(0)
                if url not in offsets:
                    missing.append(url)
                    continue
                (page,) = read_article_pages(source, offsets[url], 1)
                pages.append(page)
                queue += [link for link in continued.get(url, []) if link not in seen]
                seen.update(queue)
            pages[0].missing_pages = missing
        item = self._raw_page(pages)
        if item is not None:
            item.exchange = pages[0].exchange()
            yield item

    def _import_skip_reason(self, kind: str, page: CapturedPage | None, joined: set[str]) -> str:
        """Why a record is not imported as an article's first page ("" when it is one)."""
        if page is None:
            return f"{kind}_record"
        if page.continues:
            return "orphan_continuation"
        if page.status != 200:
            return f"status_{page.status}"
        if page.content_type not in HTML_TYPES:
            return "not_html"
        if page.url in joined:
            return "continuation_page"  # read with the page it continues
        profile = self.profiles.for_url(page.url)
        if profile.name != GENERIC and profile.article_id(page.url) is None:
            return "not_article"  # a list page of a known site, say
        return ""

    def _raw_page(self, pages: list[CapturedPage]) -> RawPage | None:
        """The raw page item of an article's captured pages (first page first), read with
        the rules of the site profile claiming its URL, as the crawl read it."""
        first, *continuation = pages
        response = _text_response(first)
        if response is None:
            self._count("fetch/not_text")
            self.logger.warning("Not an HTML page, skipped: %s", first.url)
            return None
        page = raw_page(response, self.profiles.for_url(first.url).name, first.url)
        page.missing_pages = list(first.missing_pages)
        for captured in continuation:
            following = _text_response(captured)
            if following is None:
                page.missing_pages.append(captured.url)
            else:
                page.continuation_pages.append(
                    PageSnapshot(captured.url, page_text(following), captured.exchange())
                )
        return page


class NoNetworkMiddleware:
    """Refuses every request of a run that reads captures: it must not touch the web."""

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        raise IgnoreRequest(f"not fetched: this run reads WARC files only ({request.url})")


def _text_response(page: CapturedPage) -> TextResponse | None:
    """The captured response as Scrapy would have built it, so that its text is decoded as
    a crawl decodes it (crawler.reading.encoding); None unless it is text."""
    headers = Headers(page.headers)
    response_class = responsetypes.from_args(headers=headers, url=page.url, body=page.body)
    if not issubclass(response_class, TextResponse):
        return None
    return response_class(url=page.url, status=page.status, headers=headers, body=page.body)


def _day(published: str) -> date:
    return datetime.fromisoformat(published).astimezone(BEIJING).date()
