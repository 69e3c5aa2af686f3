"""Several workers, one crawl: scrapy-redis's shared frontier, switched on by ``REDIS_URL``.

With ``REDIS_URL`` set (``-s REDIS_URL=redis://127.0.0.1:6379/0``), the
:class:`DistributedAddon` replaces Scrapy's scheduler and duplicate filter with
scrapy-redis's, keyed by ``DISTRIBUTED_RUN`` (default: the spider's name), so any
number of worker processes, on any number of machines, take requests from one queue
and share one seen-list. Articles are deduplicated across workers through a Redis set
(see :class:`SharedArticleSet`).

How the archive stays safe with several writers (docs/distributed.md): every article
is its own file written atomically, so two workers never write one file at once in a
way a reader could see; the catalog is SQLite in WAL mode, whose writers take turns
(one short transaction per article); the archive lock becomes a shared lock held by
all workers of a run, which a single-process run (exclusive lock) waits for or leaves.
Workers therefore share one archive folder on one machine, or on a shared file system
with working POSIX locks.

Requests a worker had in flight when it died are not lost: :class:`FrontierRecovery`
records in Redis every request the run schedules (articles and list pages), the worker that
took each, and every one the run finishes (an article once archived or dropped, a list page
once all its links are recorded). Every worker keeps a heartbeat key alive; a worker that
runs out of work puts back what was scheduled but never finished and is not held by a live
worker (at most ``DISTRIBUTED_RETRIES`` times each), so the surviving workers, or one
restarted later, complete the run.

When Redis goes away (:mod:`crawler.addons.redislink`): a worker that cannot reach it at start does
not crawl; one that loses it mid-run retries for ``DISTRIBUTED_REDIS_RETRY_SECONDS``, then
stops with a failed summary, leaving what it had not finished to the next run.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request, Spider, signals
from scrapy.core.scheduler import BaseScheduler
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider, NotConfigured, ScrapyDeprecationWarning
from scrapy.http import Response
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from twisted.internet.task import LoopingCall

from crawler.drops import DuplicateArticle
from crawler.items import Article
from crawler.requestmeta import ARTICLE_IDENTITY, CONTINUATION_OF

if TYPE_CHECKING:  # the distributed extra: imported once REDIS_URL is set
    from crawler.addons.redislink import RedisLink

LOST_REASON = "redis_unavailable"  # the finish reason of a run that lost its Redis


class DistributedAddon:
    """A Scrapy add-on: configures scrapy-redis when ``REDIS_URL`` is set, else nothing."""

    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.get("REDIS_URL"):
            return
        from crawler.addons.redislink import redis_params

        run = settings.get("DISTRIBUTED_RUN") or "%(spider)s"
        for name, value in {
            "SCHEDULER": "crawler.addons.distributed.SharedScheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_PERSIST": True,  # a worker leaving must not wipe the others' queue
            "SCHEDULER_QUEUE_KEY": f"{run}:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"{run}:dupefilter",
            "ARCHIVE_LOCK_SHARED": True,
        }.items():
            # At project priority: above crawler/settings.py's defaults (set earlier at the
            # same priority), below anything given with -s.
            settings.set(name, value, priority="project")
        # Every Redis client of the run, scrapy-redis's included, with one retry policy; the
        # user's own REDIS_PARAMS are merged in, so they keep their priority.
        priority = max(settings.getpriority("REDIS_PARAMS") or 0, SETTINGS_PRIORITIES["project"])
        settings.set("REDIS_PARAMS", redis_params(settings), priority=priority)
        # Next to the engine: it sees the requests that reach the scheduler, and only those.
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", FrontierRecovery, 40)
        # Before the recovery records them: article requests skip the shared seen-list.
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", ArticlesByArchive, 45)
        # Right after the run's own deduplication (400): what the other workers archived.
        settings.set_in_component_priority_dict("ITEM_PIPELINES", SharedArticleSet, 410)
        # scrapy-redis 0.9 still passes spider= to the stats collector; not ours to fix.
        warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")


def redis_link(crawler: Crawler) -> RedisLink:
    """The guarded Redis connection of one component of the run (``REDIS_URL``)."""
    from crawler.addons.redislink import RedisLink  # the distributed extra

    return RedisLink(crawler, crawler.settings["REDIS_URL"])


def run_name(crawler: Crawler) -> str:
    assert crawler.spider is not None
    return crawler.settings.get("DISTRIBUTED_RUN") or crawler.spider.name


def article_set_key(run: str) -> str:
    """The Redis set of ``<site>:<article id>`` archived by the workers of a run."""
    return f"{run}:archived"


class ArticlesByArchive(BaseSpiderMiddleware):
    """Article requests bypass the shared seen-list (``dont_filter``): a shared frontier
    filters articles by the archive instead (the skip middleware and
    :class:`SharedArticleSet`), so that what a dead worker had in flight is fetched by the
    next run rather than remembered as seen."""

    def get_processed_request(self, request: Request, response: Response | None) -> Request:
        if ARTICLE_IDENTITY in request.meta and not request.dont_filter:
            return request.replace(dont_filter=True)
        return request


class SharedArticleSet:
    """The workers of a run share a Redis set (``<run>:archived``) of the articles
    *written*: an article is added once its file is archived, not when a worker starts on
    it, so a worker that dies half-way never makes the others skip its article. Two workers
    racing on one article both get to the archive stage, which creates the file only once
    (the first counts it new, the other finds the same bytes). Once Redis is given up on
    (the run is stopping, :mod:`crawler.addons.redislink`), articles still in the pipelines
    are archived on this worker's own count."""

    def __init__(self, link: RedisLink, run: str):
        self.link = link
        self.redis: Any = link.client()
        self.key = article_set_key(run)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedArticleSet:
        stage = cls(redis_link(crawler), run_name(crawler))
        crawler.signals.connect(stage.item_scraped, signal=signals.item_scraped)
        return stage

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article) and self.link.call(
            lambda: bool(self.redis.sismember(self.key, _member(item))), False
        ):
            raise DuplicateArticle(f"article {item.article_id} already archived in this run")
        return item

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, Article):
            self.link.call(lambda: self.redis.sadd(self.key, _member(item)), None)


def _member(item: Article) -> str:
    return f"{item.site}:{item.article_id}"


class SharedScheduler(BaseScheduler):
    """scrapy-redis's scheduler (the shared frontier), every call through a
    :class:`~crawler.addons.redislink.RedisLink`.

    It is built when the spider opens, after Redis answered a PING: when it does not, the
    run stops at once, by ``CloseSpider`` at ``spider_opened`` (every component is open by
    then, so every one closes and the summary is written). Once Redis is given up on, it
    takes and gives nothing: the requests left stay in Redis for the next run.
    """

    def __init__(self, crawler: Crawler, link: RedisLink):
        self.crawler = crawler
        self.link = link
        self.frontier: Any = None  # scrapy-redis's Scheduler, once Redis answered

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        scheduler = cls(crawler, redis_link(crawler))
        crawler.signals.connect(scheduler.spider_opened, signal=signals.spider_opened)
        return scheduler

    def open(self, spider: Spider) -> None:
        from scrapy_redis.scheduler import Scheduler

        def frontier() -> Any:
            scheduler = Scheduler.from_crawler(self.crawler)
            scheduler.open(spider)
            return scheduler

        if self.link.reachable():
            self.frontier = self.link.call(frontier, None)

    def spider_opened(self) -> None:
        # Connected last (the engine builds its scheduler last): a component that gave up
        # on Redis while opening is heard too. The reason is logged already.
        if self.frontier is None or self.link.lost:
            raise CloseSpider(LOST_REASON)

    def close(self, reason: str) -> None:
        if self.frontier is not None:
            self.link.call(lambda: self.frontier.close(reason), None)

    def has_pending_requests(self) -> bool:
        return self.frontier is not None and self.link.call(
            self.frontier.has_pending_requests, False
        )

    def enqueue_request(self, request: Request) -> bool:
        return self.frontier is not None and self.link.call(
            lambda: self.frontier.enqueue_request(request), False
        )

    def next_request(self) -> Request | None:
        if self.frontier is None:
            return None
        return self.link.call(self.frontier.next_request, None)


class FrontierRecovery(BaseSpiderMiddleware):
    """Puts back the requests of a distributed run that a dead worker took with it.

    A spider middleware placed next to the engine, so it records exactly the requests that
    reach the scheduler. A list page counts as finished once its output is exhausted and
    recorded with it in one transaction: a worker dying half-way through a page leaves the
    page unfinished, to be fetched again, rather than its unrecorded links lost.
    Continuation pages (``CONTINUATION_OF``) belong to their article and are not recorded.

    Each worker records the requests it takes and keeps a heartbeat key alive; an idle
    worker puts back only the unfinished requests whose holder is gone (or that nobody has
    held for ``DISTRIBUTED_WORKER_TIMEOUT``), and waits while live peers hold some.
    """

    def __init__(
        self, crawler: Crawler, link: RedisLink, run: str, *, retries: int, worker_timeout: float
    ):
        super().__init__(crawler)
        self.link = link
        self.redis = link.client(decode_responses=True)
        self.run = run
        self.scheduled_key = f"{run}:scheduled"  # hash: request key -> request essentials
        self.holders_key = f"{run}:holders"  # hash: request key -> worker that took it last
        self.done_key = f"{run}:done"  # set: request keys archived, dropped or parsed
        self.tries_key = f"{run}:put_back"  # hash: request key -> times put back
        self.started_key = f"{run}:started"  # set by every worker as it starts
        self.retries = retries
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.worker_timeout = worker_timeout
        self.heartbeat = LoopingCall(self._beat)
        self._unheld_since: dict[str, float] = {}  # unfinished requests no worker holds

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured("REDIS_URL is not set: one process, nothing to recover")
        recovery = cls(
            crawler,
            redis_link(crawler),
            run_name(crawler),
            retries=crawler.settings.getint("DISTRIBUTED_RETRIES"),
            worker_timeout=crawler.settings.getfloat("DISTRIBUTED_WORKER_TIMEOUT"),
        )
        crawler.signals.connect(recovery.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recovery.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(recovery.request_taken, signal=signals.request_reached_downloader)
        crawler.signals.connect(recovery.article_finished, signal=signals.item_scraped)
        crawler.signals.connect(recovery.article_finished, signal=signals.item_dropped)
        crawler.signals.connect(recovery.spider_idle, signal=signals.spider_idle)
        return recovery

    def spider_opened(self) -> None:
        self.link.call(lambda: self.redis.set(self.started_key, 1), None)
        self.heartbeat.start(self.worker_timeout / 4)

    def spider_closed(self) -> None:
        if self.heartbeat.running:
            self.heartbeat.stop()
        self.link.call(lambda: self.redis.delete(self._alive_key(self.worker)), None)

    def _beat(self) -> None:
        """This worker is alive: what it holds is not to be put back by the others."""
        alive_for = int(self.worker_timeout * 1000)
        self.link.call(lambda: self.redis.set(self._alive_key(self.worker), 1, px=alive_for), None)

    def _alive_key(self, worker: str) -> str:
        return f"{self.run}:worker:{worker}"

    def request_taken(self, request: Request) -> None:
        key = request_key(self.crawler, request)
        if key:
            self.link.call(lambda: self.redis.hset(self.holders_key, key, self.worker), None)

    def get_processed_request(self, request: Request, response: Response | None) -> Request:
        if response is None:  # a start request: recorded at once, there is no page to wait for
            self._record_now(lambda redis: self._record(redis, [request]))
        return request

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        requests: list[Request] = []
        for output in result:
            if isinstance(output, Request):
                requests.append(output)
            yield output
        self._page_finished(response, requests)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        requests: list[Request] = []
        async for output in result:
            if isinstance(output, Request):
                requests.append(output)
            yield output
        self._page_finished(response, requests)

    def _page_finished(self, response: Response, requests: list[Request]) -> None:
        """Records the page's links and, unless it is an article's, the page as finished: in
        one transaction, so that a page is never finished with its links unrecorded."""
        key = request_key(self.crawler, response.request) if response.request else None

        def record(transaction: Any) -> None:
            self._record(transaction, requests)
            if key and not key.startswith(ARTICLE_KEY):  # an article finishes in the pipelines
                transaction.sadd(self.done_key, key)

        self._record_now(record)

    def _record_now(self, record: Callable[[Any], None]) -> None:
        """Run ``record`` on a transaction and send it (unless Redis is given up on)."""

        def send() -> None:
            transaction = self.redis.pipeline(transaction=True)
            record(transaction)
            transaction.execute()

        self.link.call(send, None)

    def _record(self, redis: Any, requests: list[Request]) -> None:
        for request in requests:
            key = request_key(self.crawler, request)
            if key:
                redis.hsetnx(self.scheduled_key, key, json.dumps(_essentials(request)))

    def article_finished(self, item: Any) -> None:
        site, article_id = getattr(item, "site", None), getattr(item, "article_id", None)
        if site and article_id:
            member = f"{ARTICLE_KEY}{site}:{article_id}"
            self.link.call(lambda: self.redis.sadd(self.done_key, member), None)

    def spider_idle(self, spider: Spider) -> None:
        """Out of work: put back the unfinished requests that are lost, then go on; wait
        while others may still be in progress elsewhere."""
        self.link.call(lambda: self._put_back_lost(spider), None)

    def _put_back_lost(self, spider: Spider) -> None:
        if not self.redis.exists(self.started_key):
            # Redis restarted without persistence (or was flushed) mid-run: the queue went
            # with it, so "nothing left to do" would be a lie.
            self.link.give_up("the run's records are gone (restarted without persistence?)")
            return
        scheduled = self.redis.hgetall(self.scheduled_key)
        lost, pending = self._lost(set(scheduled) - self.redis.smembers(self.done_key))
        put_back = 0
        for key in lost:
            if self.redis.hincrby(self.tries_key, key, 1) > self.retries:
                continue
            assert self.crawler.engine is not None
            self.crawler.engine.crawl(_rebuilt(json.loads(scheduled[key]), spider))
            put_back += 1
        assert self.crawler.stats is not None
        if put_back:
            self.crawler.stats.inc_value("distributed/put_back", put_back)
            spider.logger.info("Put back %d request(s) scheduled but not finished", put_back)
        if put_back or pending:
            raise DontCloseSpider
        # Closing: what the whole run archived, for the monitors (a worker whose peers took
        # all the work has done nothing wrong).
        archived = self.redis.scard(article_set_key(self.run))
        self.crawler.stats.set_value("distributed/run_archived", archived)

    def _lost(self, unfinished: set[str]) -> tuple[list[str], bool]:
        """The unfinished requests that are lost: held by this idle worker, by a dead one,
        or by none for ``DISTRIBUTED_WORKER_TIMEOUT`` (between taking a request and saying
        so, a worker may wait on robots.txt); and whether any others may be in progress."""
        holders = self.redis.hgetall(self.holders_key)
        tries = self.redis.hgetall(self.tries_key)
        alive = {self.worker: False}  # idle: whatever it took is no longer in progress
        unheld: dict[str, float] = {}
        lost: list[str] = []
        now, pending = time.monotonic(), False
        for key in sorted(unfinished):
            if int(tries.get(key, 0)) >= self.retries:
                continue  # given up on
            holder = holders.get(key)
            if holder is None:
                unheld[key] = self._unheld_since.get(key, now)
                if now - unheld[key] < self.worker_timeout:
                    pending = True
                    continue
                del unheld[key]  # put back: its clock starts again if it stays unheld
            else:
                if holder not in alive:
                    alive[holder] = bool(self.redis.exists(self._alive_key(holder)))
                if alive[holder]:
                    pending = True
                    continue
            lost.append(key)
        self._unheld_since = unheld
        return lost, pending


ARTICLE_KEY = "article:"  # an article, under any of its URLs: "article:<site>:<id>"
PAGE_KEY = "page:"  # any other page, by request fingerprint: "page:<hex>"


def request_key(crawler: Crawler, request: Request) -> str | None:
    """What a request is recorded under; None for an article's continuation pages."""
    if request.meta.get(CONTINUATION_OF):
        return None
    article = request.meta.get(ARTICLE_IDENTITY)
    if article:
        return ARTICLE_KEY + ":".join(article)
    assert crawler.request_fingerprinter is not None
    return PAGE_KEY + crawler.request_fingerprinter.fingerprint(request).hex()


def _essentials(request: Request) -> dict[str, Any]:
    """What it takes to make the request again, as JSON (the spider's callbacks by name)."""
    return {
        "url": request.url,
        "callback": getattr(request.callback, "__name__", None),
        "errback": getattr(request.errback, "__name__", None),
        "cb_kwargs": request.cb_kwargs,
        "meta": {ARTICLE_IDENTITY: request.meta[ARTICLE_IDENTITY]}
        if ARTICLE_IDENTITY in request.meta
        else {},
        "priority": request.priority,
    }


def _rebuilt(essentials: dict[str, Any], spider: Spider) -> Request:
    def method(name: str | None) -> Any:
        return getattr(spider, name) if name else None

    return Request(
        essentials["url"],
        callback=method(essentials["callback"]),
        errback=method(essentials["errback"]),
        cb_kwargs=essentials["cb_kwargs"],
        meta=essentials["meta"],
        priority=essentials["priority"],
        dont_filter=True,  # the shared seen-list has it: it was scheduled once already
    )
