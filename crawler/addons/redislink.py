"""A distributed run's connection to Redis: retried for a while, then given up on cleanly.

Every Redis client of a worker (scrapy-redis's scheduler and duplicate filter, and ours) is
built from ``REDIS_PARAMS``, where :class:`~crawler.addons.distributed.DistributedAddon` puts
:func:`redis_params`: redis-py's own ``Retry`` with exponential backoff, told by one
:class:`RetryWindow` to go on retrying only while Redis has been failing for less than
``DISTRIBUTED_REDIS_RETRY_SECONDS``. A restart or a network blip is ridden out; a Redis that
stays away is given up on by the first component whose call outlives the window, through
:meth:`RedisLink.call`: it logs one line and stops the run (finish reason
``redis_unavailable``, so the summary says failed), and every later call of any component is
skipped instead of waiting again. Nothing is lost: what the worker had not finished is not
marked done in Redis nor in the catalog, so the next run (or a live peer) does it.

At start a worker asks Redis once (:meth:`RedisLink.reachable`) and does not crawl when it
gets no answer: a misconfigured or stopped Redis is one line, at once.

Calls block the reactor while they retry (scrapy-redis's scheduler is synchronous): a
worker whose frontier is unreachable has nothing else to do meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis import defaults
from scrapy_redis.connection import get_redis

from crawler.addons.distributed import LOST_REASON

logger = logging.getLogger(__name__)
T = TypeVar("T")
# What an unreachable, restarting or overloaded Redis raises (BusyLoadingError, a server
# still loading its data, is a ConnectionError); anything else is a bug and stays loud.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# A connection on a LAN takes milliseconds: a host that does not answer within this is down.
CONNECT_TIMEOUT = 5.0


class RetryWindow:
    """Whether a failed Redis call is worth retrying: while Redis has been failing for less
    than ``seconds`` (the clock starts at the first failure after a success) and nobody has
    given up on it yet. Shared by every connection of the worker, so one outage has one
    clock, however redis-py nests its retries (each reconnect retries too)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self.failing_since: float | None = None
        self.given_up = False

    def __call__(self, error: Exception) -> bool:
        now = self.clock()
        if self.failing_since is None:
            self.failing_since = now
        return not self.given_up and now - self.failing_since < self.seconds

    def succeeded(self) -> None:
        self.failing_since = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        # redis-py deep-copies the Retry into every connection: they must share this clock.
        return self


def redis_params(settings: BaseSettings) -> dict[str, Any]:
    """``REDIS_PARAMS`` for every client of a run: scrapy-redis's defaults, the user's own
    ``REDIS_PARAMS``, then the retry policy of ``DISTRIBUTED_REDIS_RETRY_SECONDS``."""
    window = RetryWindow(settings.getfloat("DISTRIBUTED_REDIS_RETRY_SECONDS"))
    return {
        **defaults.REDIS_PARAMS,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        **settings.getdict("REDIS_PARAMS"),
        # Backoff from 0.1 s, doubling up to 4 s; as many tries as the window allows.
        "retry": Retry(ExponentialBackoff(cap=4.0, base=0.05), -1, is_retryable=window),
        "retry_on_error": list(REDIS_DOWN),
    }


class RedisLink:
    """One component's calls to the run's Redis, guarded: see the module's docstring."""

    def __init__(self, crawler: Crawler, url: str):
        self.crawler = crawler
        self.url = url
        self.params: dict[str, Any] = crawler.settings.getdict("REDIS_PARAMS")
        self.window: RetryWindow = self.params["retry"].is_retryable

    def client(self, **overrides: Any) -> redis.Redis:
        """A client of the run's Redis, with the run's retry policy unless overridden."""
        return get_redis(url=self.url, **{**self.params, **overrides})

    def reachable(self) -> bool:
        """Whether Redis answers a PING now, asked once; if not, says so and gives up."""
        try:
            self.client(retry=Retry(NoBackoff(), 0)).ping()
        except REDIS_DOWN as error:
            self.window.given_up = True
            logger.error("Redis at %s: %s; not crawling.", self.shown_url, _reason(error))
            return False
        return True

    @property
    def lost(self) -> bool:
        return self.window.given_up

    def call(self, operation: Callable[[], T], default: T) -> T:
        """``operation()`` (its Redis calls retried within the window), or ``default`` once
        Redis is given up on: by this call, which then stops the run, or by an earlier one."""
        if self.window.given_up:
            return default
        try:
            result = operation()
        except REDIS_DOWN as error:
            self.give_up(f"{_reason(error)}, still after {self.window.seconds:g} s of retries")
            return default
        self.window.succeeded()
        return result

    def give_up(self, problem: str) -> None:
        """Stop the run: Redis is gone, or lost the run's data (``problem`` says which)."""
        if self.window.given_up:
            return
        self.window.given_up = True
        logger.error(
            "Redis at %s: %s; stopping the crawl (the next run finishes what this one leaves).",
            self.shown_url,
            problem,
        )
        engine = self.crawler.engine
        if engine.running:  # else it is opening: the scheduler stops it (CloseSpider)
            deferred_from_coro(engine.close_spider_async(reason=LOST_REASON))

    @property
    def shown_url(self) -> str:
        """``REDIS_URL`` without its password, for the log."""
        parts = urlsplit(self.url)
        return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _reason(error: Exception) -> str:
    """``connection refused`` rather than ``Error 111 connecting to host:port. …``."""
    cause = error.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return str(error).rstrip(".") or type(error).__name__
