"""End-of-run monitors (Spidermon): did the run archive, stay healthy, read its fields?

Scheduled crawls fail quietly: a site changes its layout and the pages still download.
These checks run when the spider closes, on the run's stats, and fail the run when:

- it archived nothing and skipped nothing (``MONITOR_MIN_ARTICLES``, default 1); a worker
  of a distributed run counts what all the run's workers archived;
- too many errors (``MONITOR_MAX_ERROR_RATE``, default 0.2 of pages): pages not fetched and
  error lines, counted as the run summary counts them (:func:`crawler.statskeys.run_counts`);
- a required field (title, date, body) was found in too few articles of a site
  (``MONITOR_MIN_FIELD_FOUND``, default 0.8), or the site's own rules served too few of
  them (``MONITOR_MIN_FIELD_PRIMARY``, default 0.5): the signature of a layout change.
  Sites with fewer than ``MONITOR_MIN_FIELD_SAMPLE`` (10) articles in the run are not
  judged: an incremental run that refetched two broken pages is no evidence.

A failure is logged by Spidermon with each check's reason, recorded as
``monitors/failed`` in the stats, and makes ``scrapy crawl`` exit with status 1.

:class:`CloseMonitorRunner` runs the suites of ``SPIDERMON_SPIDER_CLOSE_MONITORS`` with
Spidermon's runner, as Spidermon's Scrapy extension does at spider close, without
importing that extension: it loads Spidermon's expression monitors and with them
jsonschema and its format checkers, ~60 ms of every run's start-up (7% of a scheduled run
that finds nothing new). Enable Spidermon's own extension (``EXTENSIONS``) for its other
features, periodic, spider-open or expression monitors and field coverage; this runner
then steps aside.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured, ScrapyDeprecationWarning
from scrapy.utils.misc import load_object
from spidermon import Monitor, MonitorSuite, monitors
from spidermon.contrib.scrapy.runners import SpiderMonitorRunner
from spidermon.contrib.utils.spider import get_spider_name
from spidermon.core.actions import Action

from crawler import statskeys as keys
from crawler.extensions.field_health import field_counts

REQUIRED_FIELDS = ("title", "published", "body")


def _stats(monitor: Monitor) -> dict[str, Any]:
    return dict(monitor.data.stats)


@monitors.name("Run")
class RunMonitor(Monitor):
    @monitors.name("Articles archived or already in the archive")
    def test_articles(self) -> None:
        done = keys.run_counts(_stats(self)).articles  # as the run summary counts them
        minimum = self.data.crawler.settings.getint("MONITOR_MIN_ARTICLES")
        self.assertGreaterEqual(done, minimum, msg=f"{done} articles, expected at least {minimum}")

    @monitors.name("Error rate")
    def test_error_rate(self) -> None:
        stats = _stats(self)
        errors = keys.run_counts(stats).errors  # the run summary's count
        pages = int(stats.get(keys.PAGES, 0))
        limit = self.data.crawler.settings.getfloat("MONITOR_MAX_ERROR_RATE")
        self.assertLessEqual(errors / max(pages, 1), limit, msg=f"{errors} errors in {pages} pages")


@monitors.name("Field health")
class FieldHealthMonitor(Monitor):
    @monitors.name("Required fields found and read by the site's own rules")
    def test_fields(self) -> None:
        settings = self.data.crawler.settings
        found_min = settings.getfloat("MONITOR_MIN_FIELD_FOUND")
        primary_min = settings.getfloat("MONITOR_MIN_FIELD_PRIMARY")
        sample = settings.getint("MONITOR_MIN_FIELD_SAMPLE")
        problems = []
        for (site, field), outcomes in field_counts(_stats(self)).items():
            total = sum(outcomes.values())
            if field not in REQUIRED_FIELDS or total < sample:
                continue  # a handful of articles (an incremental run) says little
            found = (outcomes["primary"] + outcomes["fallback"]) / total
            primary = outcomes["primary"] / total
            if found < found_min:
                problems.append(f"{site} {field}: found in {found:.0%} of {total} articles")
            elif primary < primary_min:
                problems.append(f"{site} {field}: own rules served {primary:.0%} of {total}")
        self.assertFalse(problems, msg="; ".join(problems))


class MarkRunFailed(Action):
    """Record the failure in the stats; the crawl command turns it into exit status 1."""

    def run_action(self) -> None:
        failed = len(self.result.monitors_failed_results)
        self.data.crawler.stats.set_value(keys.MONITORS_FAILED, failed)


class CloseMonitors(MonitorSuite):
    monitors: ClassVar[list[type[Monitor]]] = [RunMonitor, FieldHealthMonitor]
    monitors_failed_actions: ClassVar[list[type[Action]]] = [MarkRunFailed]


SPIDERMON_EXTENSION = "spidermon.contrib.scrapy.extensions.Spidermon"


class CloseMonitorRunner:
    """Runs ``SPIDERMON_SPIDER_CLOSE_MONITORS`` when the spider closes (see the module's notes)."""

    def __init__(self, crawler: Crawler, suites: list[type[MonitorSuite]]):
        self.crawler = crawler
        self.suites = suites

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CloseMonitorRunner:
        settings = crawler.settings
        if not settings.getbool("SPIDERMON_ENABLED"):
            raise NotConfigured("SPIDERMON_ENABLED is off: no end-of-run monitors")
        if settings.getwithbase("EXTENSIONS").get(SPIDERMON_EXTENSION) is not None:
            raise NotConfigured("Spidermon's own extension runs the monitors")
        suites = [load_object(path) for path in settings.getlist("SPIDERMON_SPIDER_CLOSE_MONITORS")]
        for suite in suites:
            if not (isinstance(suite, type) and issubclass(suite, MonitorSuite)):
                raise TypeError(f"SPIDERMON_SPIDER_CLOSE_MONITORS: {suite!r} is not a MonitorSuite")
        runner = cls(crawler, suites)
        crawler.signals.connect(runner.spider_closed, signal=signals.spider_closed)
        return runner

    def spider_closed(self, spider: Spider) -> None:
        assert self.crawler.stats is not None
        data = {  # what Spidermon's extension gives its monitors (no Scrapy Cloud job here)
            "stats": self.crawler.stats.get_stats(),
            "stats_history": getattr(spider, "stats_history", []),
            "crawler": self.crawler,
            "spider": spider,
            "sc_spider_name": get_spider_name(spider),
            "job": None,
        }
        for suite in self.suites:
            SpiderMonitorRunner(spider=spider).run(suite(crawler=self.crawler), **data)


# Spidermon 1.27 still calls Spider.log(); that deprecation is its to fix, not our log's noise.
warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="spidermon")
