"""Fetch failures told once per host, as warnings: a dead host is not a bug.

Scrapy logs a robots.txt it could not fetch at ERROR with a traceback (one per host), and
``RetryMiddleware`` logs every request it gives up on. For a host that cannot be resolved
or reached that is a page of tracebacks for one fact. :class:`HostFailureLog` rewrites
those records with a standard :class:`logging.Filter` on Scrapy's two loggers: the first
failure of a host becomes one WARNING line naming the host and the reason, the repeats
for that host go to DEBUG. Nothing is lost: Scrapy still counts
``robotstxt/exception_count/…`` and ``retry/max_reached``, and the spiders report each
article that was not fetched.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

_ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"
_RETRY_LOGGER = "scrapy.downloadermiddlewares.retry"
FAILING_HOSTS_STAT = "fetch/failing_hosts"  # hosts with at least one failed fetch


def _host(request: Any) -> str:
    return urlsplit(getattr(request, "url", "")).netloc or "?"


def _reason(value: Any) -> str:
    text = str(value).strip()
    return text or type(value).__name__


class _HostFailureFilter(logging.Filter):
    """Turns fetch-failure records into one warning per host (see the module)."""

    def __init__(self, stats: StatsCollector):
        super().__init__()
        self.stats = stats
        self.reported: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, dict) else None
        # Retries on the way are DEBUG lines: only failures reach a warning's level.
        if args is None or "request" not in args or record.levelno < logging.WARNING:
            return True
        request = args["request"]
        host = _host(request)
        if record.name == _ROBOTS_LOGGER and "f_exception" in args:
            record.msg = "robots.txt of %s not fetched (%s): its pages are fetched as if allowed"
            record.args = (host, _reason(args["f_exception"]))
            record.exc_info, record.exc_text = None, None
            self._once_per_host(record, host)
        elif record.name == _RETRY_LOGGER and "retry_times" in args:
            if request.url.endswith("/robots.txt"):  # told by the robots.txt record
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return True
            self._once_per_host(record, host)
        return True

    def _once_per_host(self, record: logging.LogRecord, host: str) -> None:
        if host in self.reported:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return
        self.reported.add(host)
        self.stats.inc_value(FAILING_HOSTS_STAT)
        record.levelno, record.levelname = logging.WARNING, "WARNING"


class HostFailureLog:
    """Installs :class:`_HostFailureFilter` for the crawl (``FETCH_FAILURE_LOG_ONCE``)."""

    def __init__(self, stats: StatsCollector):
        self.filter = _HostFailureFilter(stats)
        self.loggers = [logging.getLogger(_ROBOTS_LOGGER), logging.getLogger(_RETRY_LOGGER)]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostFailureLog:
        if not crawler.settings.getbool("FETCH_FAILURE_LOG_ONCE"):
            raise NotConfigured("FETCH_FAILURE_LOG_ONCE is off")
        assert crawler.stats is not None
        extension = cls(crawler.stats)
        for logger in extension.loggers:
            logger.addFilter(extension.filter)
        return extension
