"""End-of-crawl report of extraction health, per site and field.

A site that changes its layout does not fail loudly: its pages still download and the
generic fallbacks still find something. What changes is where the fields come from.
This extension turns the extract pipeline's counters into one table in the log (and
``extract/<site>/<field>/primary_share`` stats for monitors), with the drops per site
and reason (``drops/<site>/<Reason>``), so it shows the same day.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from crawler.reading.profiles import FIELDS

logger = logging.getLogger(__name__)
OUTCOMES = ("primary", "fallback", "missing")


class FieldHealthReport:
    def __init__(self, stats: StatsCollector):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FieldHealthReport:
        assert crawler.stats is not None
        extension = cls(crawler.stats)
        crawler.signals.connect(extension.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def item_dropped(self, item: Any, exception: BaseException) -> None:
        site = getattr(item, "site", None) or "unknown"
        self.stats.inc_value(f"drops/{site}/{type(exception).__name__}")

    def spider_closed(self, spider: Spider) -> None:
        counts = field_counts(self.stats.get_stats())
        if not counts:
            return
        for (site, field), by_outcome in counts.items():
            total = sum(by_outcome.values())
            self.stats.set_value(
                f"extract/{site}/{field}/primary_share", round(by_outcome["primary"] / total, 3)
            )
        drops = {
            key.removeprefix("drops/"): value
            for key, value in sorted(self.stats.get_stats().items())
            if key.startswith("drops/")
        }
        report = health_table(counts)
        if drops:
            report += "\n  dropped: " + ", ".join(f"{key} {value}" for key, value in drops.items())
        logger.info("Field health (share of articles by rule):\n%s", report)


def field_counts(stats: dict) -> dict[tuple[str, str], dict[str, int]]:
    """``{(site, field): {outcome: count}}`` from ``extract/<site>/<field>/<outcome>`` stats."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for key, value in stats.items():
        parts = key.split("/")
        if len(parts) == 4 and parts[0] == "extract" and parts[3] in OUTCOMES:
            counts[(parts[1], parts[2])][parts[3]] = value
    return dict(sorted(counts.items(), key=lambda item: (item[0][0], FIELDS.index(item[0][1]))))


def health_table(counts: dict[tuple[str, str], dict[str, int]]) -> str:
    lines = [f"  {'site':12} {'field':10} {'primary':>8} {'fallback':>9} {'missing':>8}  articles"]
    for (site, field), by_outcome in counts.items():
        total = sum(by_outcome.values())
        shares = [f"{by_outcome[outcome] / total:>7.0%}" for outcome in OUTCOMES]
        lines.append(
            f"  {site:12} {field:10} {shares[0]:>8} {shares[1]:>9} {shares[2]:>8}  {total}"
        )
    return "\n".join(lines)
