"""What a run did, for the operator and for cron/Scrapyd: counts, a verdict, a JSON file.

At the end of every crawl :class:`RunSummary` logs one line with the new / updated /
unchanged / moved / skipped counts and the drops by reason, stores the verdict in the
stats (``run/status``: ``ok`` or ``failed``) for the ``crawl`` command's exit status,
and writes the summary as JSON to ``RUN_SUMMARY_FILE`` when that is set.

A run fails when it archived nothing and hit errors (every fetch failed, the archive
is unwritable …) or when it could not run at all (``finish_reason`` names the cause).
The JSON file is replaced atomically at the end of every run, failed ones included, and
by the commands when a run cannot even start, so a stale ``"ok"`` never outlives a
failure that cron should see.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.extensions.logstats import LogStats
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector

from crawler.atomic import write_atomically

logger = logging.getLogger(__name__)
OUTCOMES = ("new", "updated", "unchanged", "moved")
# finish reasons that mean the crawl did not do its job
FAILED_REASONS = {
    "archive_locked",
    "archive_unwritable",
    "archive_dir_empty",  # refused by the command (crawler/commands)
    "redis_unavailable",  # the shared frontier is gone (crawler/distributed.py)
    "startup_failed",  # the crawl could not start (an error, logged)
}


def run_summary(stats: dict[str, Any]) -> dict[str, Any]:
    """The summary of a run from its stats."""
    archived = {outcome: int(stats.get(f"archive/{outcome}", 0)) for outcome in OUTCOMES}
    dropped = {
        key.rsplit("/", 1)[1]: value
        for key, value in sorted(stats.items())
        if key.startswith("item_dropped_reasons_count/")
    }
    errors = int(stats.get("log_count/ERROR", 0)) + sum(
        value for key, value in stats.items() if key.startswith("fetch/article_failed/")
    )
    reason = stats.get("finish_reason", "")
    nothing_archived = archived["new"] + archived["updated"] + archived["unchanged"] == 0
    failed = reason in FAILED_REASONS or (nothing_archived and errors > 0)
    return {
        "status": "failed" if failed else "ok",
        "finish_reason": reason,
        **archived,
        "skipped": int(stats.get("incremental/skipped_archived", 0)),
        "dropped": dropped,
        "errors": errors,
        "pages": int(stats.get("response_received_count", 0)),
        "elapsed_seconds": round(float(stats.get("elapsed_time_seconds", 0.0)), 3),
    }


def format_summary(summary: dict[str, Any]) -> str:
    text = (
        "{new} new, {updated} updated, {unchanged} unchanged, {moved} moved, "
        "{skipped} skipped as already archived; {pages} pages in {elapsed_seconds:.1f} s"
    ).format(**summary)
    if summary["dropped"]:
        text += "; dropped: " + ", ".join(
            f"{n} {reason}" for reason, n in summary["dropped"].items()
        )
    if summary["errors"]:
        text += f"; {summary['errors']} errors"
    return text


class RunSummary:
    def __init__(self, stats: StatsCollector, summary_file: Path | None):
        self.stats = stats
        self.summary_file = summary_file

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunSummary:
        assert crawler.stats is not None
        path = crawler.settings.get("RUN_SUMMARY_FILE")
        extension = cls(crawler.stats, Path(path) if path else None)
        # Connected after Scrapy's CoreStats (a base extension), so finish_reason and the
        # elapsed time are already in the stats when this runs.
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = self.stats.get_stats()
        stats.setdefault("finish_reason", reason)
        summary = run_summary(stats)
        self.stats.set_value("run/status", summary["status"])
        level = logging.ERROR if summary["status"] == "failed" else logging.INFO
        logger.log(level, "Run %s: %s", summary["status"], format_summary(summary))
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
        write_summary(Path(path), run_summary({"finish_reason": reason}))


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
                "new": stats.get("archive/new", 0),
                "updated": stats.get("archive/updated", 0),
                "skipped": stats.get("incremental/skipped_archived", 0),
                "dropped": stats.get("item_dropped_count", 0),
            },
            extra={"spider": spider},
        )
