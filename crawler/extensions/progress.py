"""A run's progress: one live line on a terminal, Scrapy's periodic log line elsewhere.

On a terminal the bottom line shows the pages fetched (and their rate), the articles new,
updated and skipped, the drops, the errors and the requests still queued, refreshed every
``PROGRESS_INTERVAL`` seconds; a run over a known list of URLs (``scrapy scrape``) also
shows ``N/M done`` and a bar. Log lines print above it. In cron, under Scrapyd or with a
``LOG_FILE``, stderr is no terminal and the run logs the periodic stats line instead
(:class:`~crawler.extensions.summary.ArchiveProgress`, every ``LOGSTATS_INTERVAL``).

tqdm draws the line: it has no dependencies, fits the line to the terminal's width, and
``tqdm.write`` prints a log line above the line and redraws it, which is how the console
log handler shares stderr with it. The counts are the run summary's (crawler/extensions/summary.py),
so the line and the summary at the end never disagree.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Sized
from typing import Any, Self, TextIO

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from tqdm import tqdm

from crawler import statskeys as keys
from crawler.extensions.summary import ArchiveProgress, run_summary

# Stats of an article that ended without an item: not fetched, or no HTML (spiders/base.py).
_LOST_ARTICLE_STATS = (keys.ARTICLE_NOT_FETCHED, keys.NOT_HTML)


def shows_live_line(settings: BaseSettings) -> bool:
    """Whether a run shows the live line: ``PROGRESS_ENABLED``, stderr a terminal and no log
    file; and not when the articles themselves print on that terminal (``scrape --stdout``)."""
    return (
        settings.getbool("PROGRESS_ENABLED")
        and not settings.get("LOG_FILE")
        and _is_terminal(sys.stderr)
        and not (settings.getbool("ARCHIVE_TO_STDOUT") and _is_terminal(sys.stdout))
    )


class CrawlProgress(ArchiveProgress):
    """The live progress line on a terminal; elsewhere its parent's periodic log line."""

    def __init__(self, stats: Any, interval: float, crawler: Crawler | None = None):
        super().__init__(stats, interval)
        self.crawler = crawler  # set: the live line, else the periodic log line
        self.line: LiveLine | None = None
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not shows_live_line(crawler.settings):
            return super().from_crawler(crawler)
        # LogStats divides by its interval; a redraw more often than 10 times a second is noise
        interval = max(crawler.settings.getfloat("PROGRESS_INTERVAL"), 0.1)
        extension = cls(crawler.stats, interval, crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        if self.crawler is not None:
            # A spider that knows how many articles its run ends with says so (scrape's URLs).
            self.line = LiveLine(spider.name, getattr(spider, "expected_articles", None))
            self.started = time.monotonic()
        super().spider_opened(spider)

    def log(self, spider: Spider) -> None:
        if self.line is None:
            super().log(spider)
            return
        stats = self.stats.get_stats()
        elapsed = time.monotonic() - self.started
        text = progress_text(run_summary(stats), self._queued(), elapsed)
        self.line.show(articles_done(stats), text)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        super().spider_closed(spider, reason)
        if self.line is not None:
            self.log(spider)  # the final counts stay on the screen, above the run summary
            self.line.close()
            self.line = None

    def _queued(self) -> int | None:
        engine = self.crawler.engine if self.crawler is not None else None
        scheduler = engine.scheduler if engine is not None else None
        return len(scheduler) if isinstance(scheduler, Sized) else None


def progress_text(summary: dict[str, Any], queued: int | None, elapsed: float) -> str:
    """The counts of the live line, from :func:`crawler.extensions.summary.run_summary`."""
    rate = summary["pages"] / elapsed if elapsed > 0 else 0.0
    parts = [
        f"{summary['pages']} pages ({rate:.1f}/s)",
        f"{summary['new']} new",
        f"{summary['updated']} updated",
        f"{summary['skipped']} skipped",
        f"{sum(summary['dropped'].values())} dropped",
        f"{summary['errors']} errors",
    ]
    if queued is not None:
        parts.append(f"{queued} queued")
    return ", ".join(parts)


def articles_done(stats: dict[str, Any]) -> int:
    """Articles that reached an end: archived (or printed), dropped, or lost on the way."""
    lost = sum(value for key, value in stats.items() if key.startswith(_LOST_ARTICLE_STATS))
    return int(stats.get(keys.ITEMS_SCRAPED, 0) + stats.get(keys.ITEMS_DROPPED, 0) + lost)


class LiveLine:
    """One tqdm line at the bottom of stderr; the console log handlers print above it."""

    def __init__(self, name: str, total: int | None):
        done = "{n_fmt}/{total_fmt} done |{bar:20}| " if total else ""
        self.bar = tqdm(
            total=total,
            file=sys.stderr,
            dynamic_ncols=True,  # follows the terminal's width, trimming the line to fit
            bar_format=f"{name}: {done}{{desc}} [{{elapsed}}]",
        )
        self._redirected = [
            (handler, handler.setStream(_AboveTheLine(handler.stream)))
            for handler in _console_handlers()
        ]

    def show(self, done: int, text: str) -> None:
        self.bar.n = done
        self.bar.set_description_str(text, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
        for handler, stream in self._redirected:
            handler.setStream(stream)


class _AboveTheLine(io.TextIOBase):
    """A log handler's stream whose text prints above the live line, not across it."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        tqdm.write(text, file=self.stream, end="")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _console_handlers() -> list[logging.StreamHandler]:
    """The root logger's handlers that write to the terminal (Scrapy's own among them)."""
    return [
        handler
        for handler in logging.root.handlers
        if isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
        and handler.stream in (sys.stderr, sys.__stderr__)
    ]


def _is_terminal(stream: TextIO | None) -> bool:
    return stream is not None and stream.isatty()
