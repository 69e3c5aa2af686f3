"""``scrapy demo``: crawl the bundled offline demo site into ./archive and summarise."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.statscollectors import StatsCollector

from crawler.commands import prefer_settings
from crawler.replay import ReplayProxy

DEMO_SITE = Path(__file__).resolve().parent.parent / "demo_site"


class Command(ScrapyCommand):
    requires_project = True
    # The demo server is local: no need to throttle for it, and the log would bury the summary.
    demo_settings: ClassVar[dict[str, Any]] = {
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "LOG_LEVEL": "WARNING",
    }

    def short_desc(self) -> str:
        return "Crawl the bundled demo site (served on 127.0.0.1) into ARCHIVE_DIR"

    def long_desc(self) -> str:
        return (
            "Serve crawler/demo_site/ through a local replay proxy at the real Xinhua URLs, "
            "run the xinhua spider on its column pages and print what was archived."
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        prefer_settings(self.settings, self.demo_settings)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None and self.settings is not None
        start_urls = (DEMO_SITE / "start_urls.txt").read_text(encoding="utf-8").split()
        proxy = ReplayProxy(DEMO_SITE).start()
        # Scrapy's HttpProxyMiddleware reads the standard variables when the crawler starts.
        os.environ.update(http_proxy=proxy.url, HTTP_PROXY=proxy.url, no_proxy="", NO_PROXY="")
        try:
            crawler = self.crawler_process.create_crawler("xinhua")
            self.crawler_process.crawl(crawler, start_urls=",".join(start_urls))
            self.crawler_process.start()
        finally:
            proxy.stop()
        assert crawler.stats is not None
        print(summary(crawler.stats, Path(self.settings["ARCHIVE_DIR"]), len(proxy.requests)))
        if self.crawler_process.bootstrap_failed or not crawler.stats.get_value(
            "item_scraped_count"
        ):
            self.exitcode = 1


def summary(stats: StatsCollector, archive_dir: Path, requests: int) -> str:
    """A short human report of a crawl's outcome from its stats."""
    values = stats.get_stats()
    lines = [
        f"Demo crawl finished: {requests} pages served by the local demo site.",
        "Archived into {dir}: {new} new, {updated} updated, {unchanged} unchanged.".format(
            dir=archive_dir.resolve(),
            new=values.get("archive/new", 0),
            updated=values.get("archive/updated", 0),
            unchanged=values.get("archive/unchanged", 0),
        ),
    ]
    drops = {
        key.rsplit("/", 1)[1]: count
        for key, count in values.items()
        if key.startswith("item_dropped_reasons_count/")
    }
    if drops:
        lines.append(
            "Dropped: " + ", ".join(f"{count} {reason}" for reason, count in sorted(drops.items()))
        )
    posts = (
        sorted((archive_dir / "_posts").rglob("*.md")) if (archive_dir / "_posts").is_dir() else []
    )
    lines += [f"  {path}" for path in posts]
    return "\n".join(lines)
