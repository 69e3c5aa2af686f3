"""Log lines that name the article, not dump it.

Scrapy's default formatter logs whole items; ours carry page HTML, so a dropped item
would flood the log. These lines give the reason and the URL instead.

The two lines of every page, "Crawled" and "Archived", are DEBUG: below ``LOG_LEVEL``
they are not built at all (Scrapy skips a line its formatter returns as None), where
Scrapy would build the message and a log record only for its handler to discard them.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


def _describe(item: Any) -> str:
    url = getattr(item, "url", None)
    return url if isinstance(url, str) else type(item).__name__


class ArchiveLogFormatter(LogFormatter):
    def __init__(self, level: int = logging.DEBUG):
        self.shows_debug = level <= logging.DEBUG

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveLogFormatter:
        level = crawler.settings.get("LOG_LEVEL", "DEBUG")
        if isinstance(level, str):  # unknown names keep every line, as the handler decides
            level = logging.getLevelNamesMapping().get(level.upper(), logging.DEBUG)
        return cls(int(level))

    def crawled(
        self, request: Request, response: Response, spider: Spider
    ) -> LogFormatterResult | None:
        return super().crawled(request, response, spider) if self.shows_debug else None

    def dropped(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        result["msg"] = "Dropped (%(reason)s): %(exception)s <%(url)s>"
        result["args"] = {
            "reason": type(exception).__name__,
            "exception": exception,
            "url": _describe(item),
        }
        return result

    def item_error(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        """An error in a pipeline: the URL, not the item (a raw page's whole HTML); the
        traceback follows, as Scrapy logs it."""
        result = super().item_error(item, exception, response, spider)
        result["msg"] = "Error processing %(url)s"
        result["args"] = {"url": _describe(item)}
        return result

    def scraped(
        self, item: Any, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult | None:
        if not self.shows_debug:
            return None
        path = getattr(item, "path", None)
        return {
            "level": logging.DEBUG,
            "msg": "Archived %(url)s -> %(path)s",
            "args": {"url": _describe(item), "path": path},
        }
