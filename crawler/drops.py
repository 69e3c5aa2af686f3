"""Named reasons for dropping an item.

Scrapy counts drops per exception class (``item_dropped_reasons_count/<Name>`` in the
crawl stats) and our log formatter prints the name with the URL, so every lost
article is accounted for by reason.
"""

from scrapy.exceptions import DropItem


class MissingTitle(DropItem):
    """No rule found a headline."""


class MissingDate(DropItem):
    """No rule found a publication date that parses."""


class ImplausibleDate(DropItem):
    """The publication date is too far in the future or before the web existed."""


class MissingBody(DropItem):
    """No rule found body paragraphs with text."""


class UnsafeArticleId(DropItem):
    """The article ID could not serve as a file name."""


class UnknownSite(DropItem):
    """The item names a site profile that is not loaded."""


class PageTooComplex(DropItem):
    """The page has more elements, or deeper nesting, than EXTRACT_MAX_* allow."""


class UndecodablePage(DropItem):
    """No charset reads the page's bytes cleanly: archiving it would archive garbage."""


class DuplicateArticle(DropItem):
    """The same article (same site and ID) was already archived in this run."""

    def __init__(self, message: str):
        super().__init__(message, log_level="INFO")


class IdentityConflict(DropItem):
    """The article's file holds another article (of another site or host): kept as it is."""


class ArchiveWriteError(DropItem):
    """The article file could not be written (permissions, full disk)."""

    def __init__(self, message: str):
        super().__init__(message, log_level="ERROR")
