"""What the log says about fetches: failures once per host, and long silences.

Fetch failures are told once per host, as warnings: a dead host is not a bug.

Scrapy logs a robots.txt it could not fetch at ERROR with a traceback (one per host), and
``RetryMiddleware`` logs every request it gives up on. For a host that cannot be resolved
or reached that is a page of tracebacks for one fact. :class:`HostFailureLog` rewrites
those records with a standard :class:`logging.Filter` on Scrapy's two loggers: the first
failure of a host becomes one WARNING line naming the host and the reason, the repeats
for that host go to DEBUG. Nothing is lost: Scrapy still counts
``robotstxt/exception_count/…`` and ``retry/max_reached``, and the spiders report each
article that was not fetched.

A run that gets no answer at all does not sit silent until its timeouts and retries run
out (minutes): :class:`SilentWaitNotice` names the URL it waits for once no answer has
come for ``FETCH_WAIT_NOTICE`` seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from twisted.internet.task import LoopingCall

from crawler import statskeys as keys

logger = logging.getLogger(__name__)
_ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"
_RETRY_LOGGER = "scrapy.downloadermiddlewares.retry"


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
        self.stats.inc_value(keys.FAILING_HOSTS)
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


class SilentWaitNotice:
    """When no answer has come for ``FETCH_WAIT_NOTICE`` seconds while requests are out, one
    warning names the one waited for longest, how long, and what its try may still cost.
    Each try of a request is told once; 0 switches the notice off."""

    def __init__(self, crawler: Crawler, after: float):
        self.crawler = crawler
        self.after = after
        self.waiting: dict[Request, float] = {}  # request → when it reached the downloader
        self.told: set[Request] = set()
        self.last_answer = time.monotonic()
        self.watch = LoopingCall(self.check)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SilentWaitNotice:
        after = crawler.settings.getfloat("FETCH_WAIT_NOTICE")
        if after <= 0:
            raise NotConfigured
        extension = cls(crawler, after)
        crawler.signals.connect(extension.reached, signal=signals.request_reached_downloader)
        crawler.signals.connect(extension.left, signal=signals.request_left_downloader)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        self.watch.start(min(1.0, self.after / 4), now=False)

    def spider_closed(self) -> None:
        if self.watch.running:
            self.watch.stop()

    def reached(self, request: Request) -> None:
        self.waiting[request] = time.monotonic()

    def left(self, request: Request) -> None:
        self.last_answer = time.monotonic()
        self.waiting.pop(request, None)
        self.told.discard(request)

    def check(self) -> None:
        now = time.monotonic()
        if now - self.last_answer < self.after:
            return
        untold = [
            (since, request)
            for request, since in self.waiting.items()
            if request not in self.told and now - since >= self.after
        ]
        if not untold:
            return
        since, request = min(untold, key=lambda pair: pair[0])
        others = f"; {len(self.waiting) - 1} more requests waiting" if len(self.waiting) > 1 else ""
        logger.warning(
            "Waiting for %s: no answer for %d s (%s)%s",
            request.url,
            now - since,
            self._what_remains(request),
            others,
        )
        self.told.update(request for _since, request in untold)

    def _what_remains(self, request: Request) -> str:
        settings = self.crawler.settings
        timeout = request.meta.get("download_timeout", settings.getfloat("DOWNLOAD_TIMEOUT"))
        tries = 1 + request.meta.get("max_retry_times", settings.getint("RETRY_TIMES"))
        try_number = 1 + request.meta.get("retry_times", 0)
        return f"try {try_number} of {tries}, each up to {timeout:g} s"
