"""``scrapy crawl``, whose exit status tells cron and Scrapyd whether the run worked."""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from crawler import statskeys as keys
from crawler.commands import require_archive_dir, require_http_urls
from crawler.extensions.summary import write_failed_start


class Command(ScrapyCrawlCommand):
    def long_desc(self) -> str:
        return (
            "Run a spider. Exits with status 1 when the run archived nothing and hit errors, "
            "could not run (archive locked by another run, Redis unreachable), or failed its "
            "end-of-run monitors (crawler/extensions/monitors.py); see RUN_SUMMARY_FILE."
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Also check the arguments: a bad one is a usage error before Scrapy's process
        starts (and logs its start-up)."""
        super().process_options(args, opts)
        if len(args) != 1:
            raise UsageError("give exactly one spider name (scrapy list shows them)")
        for name in ("start_urls", "urls"):  # the URL arguments of the project's spiders
            given = opts.spargs.get(name, "").split(",")
            require_http_urls([url for url in given if url.strip()], f"-a {name}")
        assert self.settings is not None
        require_archive_dir(self.settings)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        # Scrapy's sanctioned read of a crawler that may never have started: None then.
        stats = crawler._stats.get_stats() if crawler._stats is not None else {}
        if self.crawler_process.bootstrap_failed:
            if keys.RUN_STATUS not in stats:  # it never reached its end-of-run summary
                write_failed_start(crawler.settings, "startup_failed")
            self.exitcode = 1
            return
        if stats.get(keys.RUN_STATUS) == "failed" or stats.get(keys.MONITORS_FAILED):
            self.exitcode = 1
