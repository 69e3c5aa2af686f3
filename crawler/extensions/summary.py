"""What a run did, for the operator and for cron/Scrapyd: counts, a verdict, a JSON file.

At the end of every crawl :class:`RunSummary` logs one line with the new / updated /
unchanged / moved / skipped counts, the drops by reason and the errors, stores the
verdict in the stats (``run/status``: ``ok`` or ``failed``) for the ``crawl`` command's
exit status, and writes the summary as JSON to ``RUN_SUMMARY_FILE`` when that is set.
The counts are taken when the spider closes, before the end-of-run monitors check the
same counts (:func:`crawler.statskeys.run_counts`); the line is logged when the engine
stops, after the monitors' report and Scrapy's stats: the last line of the run (a run
stopped while it opened, whose engine never ran, logs it once Scrapy has closed the spider).

A run fails when it archived nothing and hit errors (every fetch failed, the archive
is unwritable …), when it could not run at all (``finish_reason`` names the cause), or
when its monitors failed. When no host answered at all, the line says so. The JSON file
is replaced atomically at the end of every run, failed ones included, and by the
commands when a run cannot even start, so a stale ``"ok"`` never outlives a failure
that cron should see.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.extensions.logstats import LogStats
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import call_later

from crawler import statskeys as keys
from crawler.archive.atomic import write_atomically

logger = logging.getLogger(__name__)
# finish reasons that mean the crawl did not do its job
FAILED_REASONS = {
    "archive_locked",
    "archive_unwritable",
    "archive_dir_empty",  # refused by the command (crawler/commands)
    "redis_unavailable",  # the shared frontier is gone (crawler/addons/distributed.py)
    "startup_failed",  # the crawl could not start (an error, logged)
}
NO_HOST_REACHABLE = "no host reachable: check the network or the proxy"


def run_summary(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The summary of a run from its stats; the counts are :func:`~crawler.statskeys.run_counts`."""
    outcomes = {
        outcome: int(stats.get(keys.ARCHIVED + outcome, 0)) for outcome in keys.ARCHIVE_OUTCOMES
    }
    dropped = {
        key.removeprefix(keys.DROPPED_BY_REASON): value
        for key, value in sorted(stats.items())
        if key.startswith(keys.DROPPED_BY_REASON)
    }
    counts = keys.run_counts(stats)
    reason = stats.get(keys.FINISH_REASON, "")
    pages = int(stats.get(keys.PAGES, 0))
    failing_hosts = int(stats.get(keys.FAILING_HOSTS, 0))
    monitors_failed = int(stats.get(keys.MONITORS_FAILED, 0))
    failed = (
        reason in FAILED_REASONS or (counts.articles == 0 and counts.errors > 0) or monitors_failed
    )
    return {
        "status": "failed" if failed else "ok",
        "finish_reason": reason,
        **outcomes,
        "skipped": int(stats.get(keys.SKIPPED_AS_ARCHIVED, 0)),
        "articles": counts.articles,
        "dropped": dropped,
        "errors": counts.errors,
        "pages": pages,
        "failing_hosts": failing_hosts,
        "no_host_reachable": pages == 0 and failing_hosts > 0,
        "monitors_failed": monitors_failed,
        "elapsed_seconds": round(float(stats.get(keys.ELAPSED_SECONDS, 0.0)), 3),
    }


def why_the_run_stopped(stats: Mapping[str, Any]) -> str | None:
    """What ended a run before its work was done, in words for people (the finish reason,
    with the run holding the lock when it was that); None for a run that ran to its end."""
    reason = stats.get(keys.FINISH_REASON, "")
    if reason in ("", "finished"):
        return None
    if reason == "archive_locked":
        return f"the archive is in use by {stats.get(keys.LOCK_HOLDER, 'another run')}"
    if reason == "archive_unwritable":
        return "the archive is not writable (the error above says why)"
    return f"the run stopped ({reason})"


def format_summary(summary: dict[str, Any]) -> str:
    text = (
        "{new} new, {updated} updated, {unchanged} unchanged, {moved} moved, "
        "{skipped} skipped as already archived; {pages} pages in {elapsed_seconds:.1f} s"
    ).format(**summary)
    if summary["dropped"]:
        text += "; dropped: " + ", ".join(
            f"{n} {reason}" for reason, n in summary["dropped"].items()
        )
    if errors := summary["errors"]:
        text += f"; {errors} error" + ("s" if errors > 1 else "")
    if summary["no_host_reachable"]:
        text += f"; {NO_HOST_REACHABLE}"
    if summary["monitors_failed"]:
        text += f"; monitor checks failed: {summary['monitors_failed']} (above)"
    return text


class RunSummary:
    """Logs the run summary and writes ``RUN_SUMMARY_FILE`` (see the module)."""

    def __init__(self, crawler: Crawler, summary_file: Path | None):
        assert crawler.stats is not None
        self.crawler = crawler
        self.stats = crawler.stats
        self.summary_file = summary_file
        self.state = "running"  # then "counted" (the spider closed), then "reported"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunSummary:
        path = crawler.settings.get("RUN_SUMMARY_FILE")
        extension = cls(crawler, Path(path) if path else None)
        # spider_closed: after Scrapy's CoreStats (a base extension), so finish_reason and
        # the elapsed time are in the stats, and before the monitors (a later EXTENSIONS
        # order), which log their failures as errors. engine_stopped: after the spider's
        # closing, the monitors' report and the stats dump are all logged.
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.report, signal=signals.engine_stopped)
        return extension

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Record the run's counts and verdict as they are now (see the module)."""
        self.state = "counted"
        if self.stats.get_value(keys.FINISH_REASON) is None:
            self.stats.set_value(keys.FINISH_REASON, reason)
        counts = keys.run_counts(self.stats.get_stats())
        self.stats.set_value(keys.RUN_ARTICLES, counts.articles)
        self.stats.set_value(keys.RUN_ERRORS, counts.errors)
        self.stats.set_value(keys.RUN_STATUS, run_summary(self.stats.get_stats())["status"])
        engine = self.crawler.engine
        if self.crawler.crawling and engine is not None and not engine.running:
            # Closed while it opened (the archive locked or unwritable, Redis unreachable):
            # the engine never ran and will send no engine_stopped.
            self._report_once_closed()

    def _report_once_closed(self) -> None:
        """Report once the spider's closing is done: Scrapy then has logged its stats and
        "Spider closed", and the crawl is over (``Crawler.crawling`` is False). Looked at on
        each turn of the event loop, no later: a process whose crawl is over stops its
        reactor at once, and a call scheduled later would not run."""
        if self.crawler.crawling:
            call_later(0, self._report_once_closed)
        else:
            self.report()

    def report(self) -> None:
        """Log the summary, with the monitors' verdict, and write its file (once)."""
        if self.state != "counted":  # the spider never opened, or reported already
            return
        self.state = "reported"
        summary = run_summary(self.stats.get_stats())
        self.stats.set_value(keys.RUN_STATUS, summary["status"])
        level = logging.ERROR if summary["status"] == "failed" else logging.INFO
        text = format_summary(summary)
        # With a quiet log (-L WARNING, as cron runs often are) this is the last line: it
        # says why a run stopped early, a run stopped by another run's lock included.
        if (why := why_the_run_stopped(self.stats.get_stats())) is not None:
            text = f"{why}; {text}"
        logger.log(level, "Run %s: %s", summary["status"], text)
        if self.summary_file is not None:
            write_summary(self.summary_file, summary)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Replace ``path`` with the summary as JSON, atomically; one error line if it cannot."""
    data = json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
    try:
        write_atomically(path, data.encode("utf-8"))
    except OSError as exc:
        logger.error("Run summary %s not written: %s", path, exc.strerror or exc)


def write_failed_start(settings: BaseSettings, reason: str) -> None:
    """The summary of a run that could not start (``finish_reason`` = ``reason``), written
    to ``RUN_SUMMARY_FILE`` when that is set."""
    path = settings.get("RUN_SUMMARY_FILE")
    if path:
        write_summary(Path(path), run_summary({keys.FINISH_REASON: reason}))


class ArchiveProgress(LogStats):
    """Scrapy's periodic stats line, in the archive's terms (``LOGSTATS_INTERVAL``)."""

    def log(self, spider: Spider) -> None:
        self.calculate_stats()
        stats = self.stats.get_stats()
        logger.info(
            "Crawled %(pages)d pages (%(pagerate)d/min); archived %(items)d articles "
            "(%(itemrate)d/min): %(new)d new, %(updated)d updated; %(skipped)d skipped, "
            "%(dropped)d dropped",
            {
                "pages": self.pages,
                "pagerate": self.prate,
                "items": self.items,
                "itemrate": self.irate,
                "new": stats.get(keys.ARCHIVED + "new", 0),
                "updated": stats.get(keys.ARCHIVED + "updated", 0),
                "skipped": stats.get(keys.SKIPPED_AS_ARCHIVED, 0),
                "dropped": stats.get(keys.ITEMS_DROPPED, 0),
            },
            extra={"spider": spider},
        )
