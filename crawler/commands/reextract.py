"""``scrapy reextract``: archive every article again from its capture, with today's rules."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.archive.folder import Archive
from crawler.commands import prefer_settings, require_archive_dir
from crawler.extensions.summary import format_summary, run_summary
from crawler.reading.profiles import SiteProfiles


class Command(ScrapyCommand):
    requires_project = True
    # Like a one-off scrape: the summary is printed, the log shows problems only, and the
    # crawl monitors (meant for scheduled runs) stay off.
    capture_settings: ClassVar[dict[str, Any]] = {
        "LOG_LEVEL": "WARNING",
        "SPIDERMON_ENABLED": False,
    }
    done = "Re-extracted from the captures"

    def syntax(self) -> str:
        return "[--since YYYY-MM-DD] [--site NAME]"

    def short_desc(self) -> str:
        return "Archive ARCHIVE_DIR's articles again from their WARC captures, without the web"

    def long_desc(self) -> str:
        return (
            "Read each archived article's capture (the WARC record its catalog row names, in "
            "ARCHIVE_DIR/_warc/) and run it through the same stages as a crawl, with the "
            "current site profiles: posts whose bytes change are rewritten, the others are "
            "left alone. Sends no request. Exits non-zero when the run failed."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--since", metavar="DATE", help="articles published since DATE")
        parser.add_argument("--site", metavar="NAME", help="this site profile's articles only")

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        prefer_settings(self.settings, self.capture_settings)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError(f"unexpected argument {args[0]!r}")
        assert self.settings is not None
        if opts.since:
            try:
                date.fromisoformat(opts.since)
            except ValueError:
                raise UsageError(f"--since: not a date (YYYY-MM-DD): {opts.since!r}") from None
        if opts.site and opts.site not in SiteProfiles.from_settings(self.settings):
            raise UsageError(f"--site: no site profile named {opts.site!r} (scrapy list)")
        require_archive_dir(self.settings)
        self.read_captures(reextract="1", since=opts.since or "", site=opts.site or "")

    def read_captures(self, **spider_args: Any) -> None:
        """Run the ``warc`` spider (spiders/warc.py) and print what it did."""
        assert self.crawler_process is not None and self.settings is not None
        crawler = self.crawler_process.create_crawler("warc")
        self.crawler_process.crawl(crawler, **spider_args)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed or crawler.stats is None:
            self.exitcode = 1
            return
        stats = crawler.stats.get_stats()
        summary = run_summary(stats)
        archive = Archive.from_settings(self.settings)
        print(f"{self.done} into {archive.root}: {format_summary(summary)}")
        notes = {
            key.rsplit("/", 1)[1]: value
            for key, value in sorted(stats.items())
            if key.startswith(("reextract/", "import/skipped/"))
        }
        if notes:
            print("Not read as articles: " + ", ".join(f"{n} {why}" for why, n in notes.items()))
        if summary["status"] == "failed":
            print(f"Run failed: {summary['finish_reason'] or 'see the log'}", file=sys.stderr)
            self.exitcode = 1
