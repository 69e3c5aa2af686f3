"""``scrapy scrape URL [URL ...]``: archive the given articles now, through the same pipelines."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any, ClassVar

from scrapy import signals
from scrapy.commands import ScrapyCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError
from w3lib.url import safe_url_string

from crawler import statskeys as keys
from crawler.commands import (
    leave_out,
    prefer_settings,
    require_archive_dir,
    require_http_urls,
)
from crawler.extensions.summary import why_the_run_stopped


class ScrapeReport:
    """What became of each requested URL: a written path, or the reason it was not archived."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self.paths: dict[str, str | None] = {}
        self.errors: dict[str, str] = {}

    def connect(self, crawler: Crawler) -> None:
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.item_error, signal=signals.item_error)

    def item_scraped(self, item: Any) -> None:
        self.paths[item.request_url] = item.path

    def item_dropped(self, item: Any, exception: BaseException) -> None:
        self.errors[item.request_url] = f"{type(exception).__name__}: {exception}"

    def item_error(self, item: Any, failure: Any) -> None:
        self.errors[item.request_url] = f"error: {failure.getErrorMessage()}"

    def path(self, url: str) -> str | None:
        return self.paths.get(safe_url_string(url))

    def failures(self, fetch_failures: dict[str, str], stats: dict[str, Any]) -> dict[str, str]:
        """Reasons by URL as the user gave it (Scrapy requests the escaped form); a URL that
        the run never got to has the reason the run stopped."""
        failed = {}
        for url in self.urls:
            requested = safe_url_string(url)
            if requested in self.paths:
                continue
            reason = self.errors.get(requested) or fetch_failures.get(requested)
            failed[url] = reason or why_the_run_stopped(stats) or "nothing archived"
        return failed


class Command(ScrapyCommand):
    requires_project = True
    # A one-off scrape prints paths on stdout; only problems belong on stderr. It reports on
    # each URL itself, so the crawl monitors (meant for scheduled runs) stay off.
    # AutoThrottle's 1 s start delay would make a one-URL scrape wait a second after robots.txt;
    # DOWNLOAD_DELAY (0.25 s) still spaces the requests of a scrape of several URLs.
    # Someone waits for its answer: a server that does not answer is given up on after two
    # tries of 10 s (robots.txt's, then the page's), not four of 30 s like a scheduled crawl.
    scrape_settings: ClassVar[dict[str, Any]] = {
        "LOG_LEVEL": "WARNING",
        "SPIDERMON_ENABLED": False,
        "AUTOTHROTTLE_START_DELAY": 0.25,
        "DOWNLOAD_TIMEOUT": 10,
        "RETRY_TIMES": 1,
    }
    # Components a scrape does not use: left out of its component lists, not built and
    # reported "Disabled …" on every run. Switched off by hand (-s), they still say why.
    unused: ClassVar[dict[str, list[str]]] = {
        "EXTENSIONS": ["crawler.extensions.monitors.CloseMonitorRunner"]
    }
    unused_with_stdout: ClassVar[dict[str, list[str]]] = {
        "EXTENSIONS": [
            "crawler.extensions.archive_lock.ArchiveLock",
            "crawler.extensions.archive_history.ArchiveHistory",
        ],
        "ITEM_PIPELINES": ["pipelines.images.ImagePipeline", "pipelines.capture.CapturePipeline"],
    }

    def syntax(self) -> str:
        return "[options] URL [URL ...]"

    def short_desc(self) -> str:
        return "Archive the given article URLs now (a one-off scrape)"

    def long_desc(self) -> str:
        return (
            "Fetch each article URL, run it through the same pipelines as a crawl and write it "
            "to ARCHIVE_DIR, printing each written path. Exits non-zero when any URL could "
            "not be archived, with the reason on stderr. A page that does not answer is tried "
            "twice, 10 s each (-s DOWNLOAD_TIMEOUT, -s RETRY_TIMES). Honours http_proxy."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--stdout", action="store_true", help="print the Markdown instead of writing files"
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        prefer_settings(self.settings, self.scrape_settings)
        if not self.settings.getbool("SPIDERMON_ENABLED"):
            leave_out(self.settings, self.unused)
        if opts.stdout:
            self.settings.set("ARCHIVE_TO_STDOUT", True, priority="cmdline")
            leave_out(self.settings, self.unused_with_stdout)
        # The arguments are checked before Scrapy's process starts (and logs its start-up).
        if not args:
            raise UsageError("give at least one article URL")
        require_http_urls(args, "URL")
        require_archive_dir(self.settings)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None
        report = ScrapeReport(args)
        crawler = self.crawler_process.create_crawler("urls")
        report.connect(crawler)
        self.crawler_process.crawl(crawler, urls=args)
        self.crawler_process.start()
        stats = crawler.stats.get_stats() if crawler.stats is not None else {}
        if stats.get(keys.FINISH_REASON) == keys.STDOUT_CLOSED:
            self.exitcode = 128 + signal.SIGPIPE  # as a tool killed by SIGPIPE, quietly
            return
        failed = report.failures(getattr(crawler.spider, "failures", {}), stats)
        if not opts.stdout:
            for url in args:
                if url not in failed:
                    print(report.path(url))
        for url, reason in failed.items():
            print(f"not archived: {url}: {reason}", file=sys.stderr)
        if failed or self.crawler_process.bootstrap_failed:
            self.exitcode = 1
