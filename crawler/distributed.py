"""Several workers, one crawl: scrapy-redis's shared frontier, switched on by ``REDIS_URL``.

With ``REDIS_URL`` set (``-s REDIS_URL=redis://127.0.0.1:6379/0``), the
:class:`DistributedAddon` replaces Scrapy's scheduler and duplicate filter with
scrapy-redis's, keyed by ``DISTRIBUTED_RUN`` (default: the spider's name), so any
number of worker processes, on any number of machines, take requests from one queue
and share one seen-list. Articles are deduplicated across workers through a Redis set
(see :class:`pipelines.deduplicate.DeduplicatePipeline`).

How the archive stays safe with several writers (docs/distributed.md): every article
is its own file written atomically, so two workers never write one file at once in a
way a reader could see; the catalog is SQLite in WAL mode, whose writers take turns
(one short transaction per article); the archive lock becomes a shared lock held by
all workers of a run, which a single-process run (exclusive lock) waits for or leaves.
Workers therefore share one archive folder on one machine, or on a shared file system
with working POSIX locks.

Requests a worker had in flight when it died are not lost: :class:`FrontierRecovery`
records every article request the run schedules and every article it finishes
(archived or dropped) in Redis; a worker that runs out of work puts back the articles
scheduled but never finished (at most ``DISTRIBUTED_RETRIES`` times each), so the
surviving workers, or one restarted later, complete the run.
"""

from __future__ import annotations

import warnings
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured, ScrapyDeprecationWarning
from scrapy.settings import BaseSettings

from crawler.middlewares import ARTICLE_META


class DistributedAddon:
    """A Scrapy add-on: configures scrapy-redis when ``REDIS_URL`` is set, else nothing."""

    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.get("REDIS_URL"):
            return
        run = settings.get("DISTRIBUTED_RUN") or "%(spider)s"
        for name, value in {
            "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_PERSIST": True,  # a worker leaving must not wipe the others' queue
            "SCHEDULER_QUEUE_KEY": f"{run}:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"{run}:dupefilter",
            "ARCHIVE_LOCK_SHARED": True,
        }.items():
            # At project priority: above crawler/settings.py's defaults (set earlier at the
            # same priority), below anything given with -s.
            settings.set(name, value, priority="project")
        settings.set_in_component_priority_dict("EXTENSIONS", FrontierRecovery, 520)
        # scrapy-redis 0.9 still passes spider= to the stats collector; not ours to fix.
        warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")


def run_name(crawler: Crawler) -> str:
    assert crawler.spider is not None
    return crawler.settings.get("DISTRIBUTED_RUN") or crawler.spider.name


def article_set_key(run: str) -> str:
    """The Redis set of ``<site>:<article id>`` archived by the workers of a run."""
    return f"{run}:archived"


class FrontierRecovery:
    """Puts back the articles of a distributed run that a dead worker took with it."""

    def __init__(self, crawler: Crawler, redis: Any, run: str, retries: int):
        self.crawler = crawler
        self.redis = redis
        self.scheduled_key = f"{run}:scheduled"  # hash: "<site>:<id>" -> URL
        self.done_key = f"{run}:done"  # set: "<site>:<id>" archived or dropped
        self.tries_key = f"{run}:put_back"  # hash: "<site>:<id>" -> times put back
        self.retries = retries

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierRecovery:
        url = crawler.settings.get("REDIS_URL")
        if not url:
            raise NotConfigured("REDIS_URL is not set: one process, nothing to recover")
        import redis  # the distributed extra

        recovery = cls(
            crawler,
            redis.Redis.from_url(url, decode_responses=True),
            run_name(crawler),
            crawler.settings.getint("DISTRIBUTED_RETRIES"),
        )
        crawler.signals.connect(recovery.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(recovery.article_finished, signal=signals.item_scraped)
        crawler.signals.connect(recovery.article_finished, signal=signals.item_dropped)
        crawler.signals.connect(recovery.spider_idle, signal=signals.spider_idle)
        return recovery

    def request_scheduled(self, request: Request) -> None:
        key = request.meta.get(ARTICLE_META)
        if key:
            self.redis.hsetnx(self.scheduled_key, ":".join(key), request.url)

    def article_finished(self, item: Any) -> None:
        site, article_id = getattr(item, "site", None), getattr(item, "article_id", None)
        if site and article_id:
            self.redis.sadd(self.done_key, f"{site}:{article_id}")

    def spider_idle(self, spider: Spider) -> None:
        """Out of work: put back what was scheduled but never finished, then go on."""
        scheduled = self.redis.hgetall(self.scheduled_key)
        missing = set(scheduled) - self.redis.smembers(self.done_key)
        put_back = 0
        for key in sorted(missing):
            if self.redis.hincrby(self.tries_key, key, 1) > self.retries:
                continue
            site, article_id = key.split(":", 1)
            profile = spider.profiles[site]  # type: ignore[attr-defined]
            request = spider.article_request(  # type: ignore[attr-defined]
                scheduled[key], profile, meta={ARTICLE_META: (site, article_id)}, dont_filter=True
            )
            assert self.crawler.engine is not None
            self.crawler.engine.crawl(request)
            put_back += 1
        if put_back:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("distributed/put_back", put_back)
            spider.logger.info("Put back %d article(s) scheduled but not finished", put_back)
            raise DontCloseSpider
