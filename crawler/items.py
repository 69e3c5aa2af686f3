"""Items passed from the spiders through the pipelines.

A spider yields a :class:`RawPage` (what was fetched); the extract pipeline turns it
into an :class:`Article` (what was read), which the later stages clean, check and
archive. Both are plain dataclasses: small, picklable, and without ``Response``
objects, so items never pin downloaded pages in memory longer than needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class HttpExchange:
    """A page's request and response as the crawler sent and received them: what its WARC
    capture records (crawler/archive/warc.py). ``body`` is the response body as Scrapy delivered it
    (after HTTP decompression), the bytes the page's text was decoded from."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    date: datetime  # when the response arrived, UTC
    method: str = "GET"
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True, slots=True)
class Capture:
    """Where an article's pages are kept in the archive's WARC files: the file (relative to
    ``_warc/``), the byte offset of its first page's response record, and the payload digests
    of its pages (``sha1:…``, space-separated, in reading order)."""

    file: str
    offset: int
    digest: str


@dataclass(slots=True)
class PageSnapshot:
    """One fetched continuation page of a multi-page article."""

    url: str
    html: str
    exchange: HttpExchange | None = None


@dataclass(slots=True)
class RawPage:
    """An article page as fetched, with any continuation pages in reading order."""

    url: str
    html: str
    site: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    request_url: str = ""
    continuation_pages: list[PageSnapshot] = field(default_factory=list)
    missing_pages: list[str] = field(default_factory=list)
    exchange: HttpExchange | None = None
    capture: Capture | None = None  # read from the archive's own WARC files (reextract)
    cataloged_before: bool | None = None  # crawler/requestmeta.py: CATALOGED_BEFORE

    def exchanges(self) -> list[HttpExchange]:
        """The exchanges of the page and its continuation pages, in reading order; empty
        unless every page has one."""
        pages = [self.exchange, *(page.exchange for page in self.continuation_pages)]
        return [page for page in pages if page is not None] if None not in pages else []


@dataclass(slots=True)
class Article:
    """The fields of one article; ``provenance`` names the rule that produced each field."""

    url: str
    site: str
    article_id: str
    request_url: str = ""
    # The file name's part between the date and the ID (the profile's ``post_prefix``).
    post_prefix: str = ""
    # Set when the ID is unique only on its host (``host_in_article_id``): the page's host.
    # No article of another host may replace this one's file.
    identity_host: str = ""
    title: str | None = None
    published: datetime | None = None
    source: str | None = None
    author: str | None = None
    editor: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    category: str = ""
    tag: str = ""
    provenance: dict[str, str] = field(default_factory=dict)
    missing_pages: list[str] = field(default_factory=list)
    path: str | None = None
    # The pages as fetched, until the capture stage has written them (pipelines/capture.py),
    # and where they are kept: recorded in the catalog with the article.
    exchanges: list[HttpExchange] = field(default_factory=list)
    capture: Capture | None = None
    cataloged_before: bool | None = None  # crawler/requestmeta.py: CATALOGED_BEFORE
