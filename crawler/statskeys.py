"""Names of the stats that a run's reports read, and the two counts they all give.

The run summary and its JSON file (crawler/extensions/summary.py), the live progress line
(crawler/extensions/progress.py), the end-of-run monitors (crawler/extensions/monitors.py) and
the commands' exit statuses read these keys; the components named beside each one write them. A key
ending in ``/`` is a prefix: one stat per reason or outcome follows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What became of the articles (pipelines/archive.py): ARCHIVED + "new", "updated", …
ARCHIVED = "archive/"
ARCHIVE_OUTCOMES = ("new", "updated", "unchanged", "moved")
PRINTED = "archive/printed"  # scrape --stdout
SKIPPED_AS_ARCHIVED = "incremental/skipped_archived"  # crawler/spidermiddlewares/skip_archived.py
# by all the workers of a run (crawler/addons/distributed.py)
RUN_ARCHIVED = "distributed/run_archived"
DROPPED_BY_REASON = "item_dropped_reasons_count/"  # Scrapy, one per DropItem subclass
# Pages that could not be fetched, by exception name (spiders/base.py, spiders/site.py).
ARTICLE_NOT_FETCHED = "fetch/article_failed/"
LIST_PAGE_NOT_FETCHED = "fetch/list_failed/"
NOT_HTML = "fetch/not_text"  # a page that is no HTML (spiders)
# hosts with at least one failed fetch (crawler/extensions/fetchlog.py)
FAILING_HOSTS = "fetch/failing_hosts"
ERROR_LINES = "log_count/ERROR"  # Scrapy's LogCount
PAGES = "response_received_count"  # Scrapy's CoreStats: responses, whatever their status
ITEMS_SCRAPED = "item_scraped_count"
ITEMS_DROPPED = "item_dropped_count"
ELAPSED_SECONDS = "elapsed_time_seconds"
FINISH_REASON = "finish_reason"
STDOUT_CLOSED = "stdout_closed"  # the finish reason when scrape --stdout's reader went away
LOCK_HOLDER = "lock/held_by"  # the run that kept the archive's lock (extensions/archive_lock.py)
RUN_STATUS = "run/status"  # "ok" or "failed" (crawler/extensions/summary.py)
# run_counts() as the spider closed, before the monitors logged (crawler/extensions/summary.py)
RUN_ARTICLES = "run/articles"
RUN_ERRORS = "run/errors"
MONITORS_FAILED = "monitors/failed"  # failed end-of-run checks (crawler/extensions/monitors.py)


@dataclass(frozen=True, slots=True)
class RunCounts:
    """The counts every report of a run gives alike."""

    articles: int  # archived (new, updated, unchanged), printed, or skipped as already archived
    errors: int  # pages not fetched, and error lines in the log


def run_counts(stats: Mapping[str, Any]) -> RunCounts:
    """:class:`RunCounts` from a run's stats. Once the run summary has recorded them as the
    spider closed (``run/articles``, ``run/errors``), those: a failed monitor check, logged
    later, is an error line too, but not one of the run's. A worker of a distributed run
    counts the articles of the whole run, which all its workers archived."""
    if RUN_ERRORS in stats:
        return RunCounts(articles=int(stats[RUN_ARTICLES]), errors=int(stats[RUN_ERRORS]))
    articles = sum(int(stats.get(ARCHIVED + outcome, 0)) for outcome in ARCHIVE_OUTCOMES[:3])
    articles += int(stats.get(PRINTED, 0)) + int(stats.get(SKIPPED_AS_ARCHIVED, 0))
    not_fetched = sum(
        int(value)
        for key, value in stats.items()
        if key.startswith((ARTICLE_NOT_FETCHED, LIST_PAGE_NOT_FETCHED))
    )
    return RunCounts(
        articles=max(articles, int(stats.get(RUN_ARCHIVED, 0))),
        errors=not_fetched + int(stats.get(ERROR_LINES, 0)),
    )
