"""``scrapy crawl``, whose exit status tells cron and Scrapyd whether the run worked."""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError


class Command(ScrapyCrawlCommand):
    def long_desc(self) -> str:
        return (
            "Run a spider. Exits with status 1 when the run archived nothing and hit errors, "
            "could not run (archive locked by another run), or failed its end-of-run monitors "
            "(crawler/monitors.py); see RUN_SUMMARY_FILE."
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name (scrapy list shows them)")
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
            return
        stats = crawler.stats.get_stats() if crawler.stats else {}
        if stats.get("run/status") == "failed" or stats.get("monitors/failed"):
            self.exitcode = 1
