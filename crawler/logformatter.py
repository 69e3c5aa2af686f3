"""Log lines that name the article, not dump it.

Scrapy's default formatter logs whole items; ours carry page HTML, so a dropped item
would flood the log. These lines give the reason and the URL instead.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


def _describe(item: Any) -> str:
    url = getattr(item, "url", None)
    return url if isinstance(url, str) else type(item).__name__


class ArchiveLogFormatter(LogFormatter):
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

    def scraped(
        self, item: Any, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult:
        path = getattr(item, "path", None)
        return {
            "level": logging.DEBUG,
            "msg": "Archived %(url)s -> %(path)s",
            "args": {"url": _describe(item), "path": path},
        }
