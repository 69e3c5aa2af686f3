"""The ceiling: Scrapy fetching the benchmark site's pages and doing nothing else.

Run outside the project (no project settings) with ``scrapy runspider``; it reads the
URLs to fetch from ``-a urls_file=PATH`` and writes its stats as JSON to
``-a stats_file=PATH``.
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from scrapy import Request, Spider
from scrapy.http import Response


class BareSpider(Spider):
    name = "bare"

    def __init__(self, urls_file: str, stats_file: str, **kwargs: object):
        super().__init__(**kwargs)
        self.urls_file = Path(urls_file)
        self.stats_file = Path(stats_file)

    async def start(self) -> AsyncIterator[Request]:
        for url in self.urls_file.read_text().split():
            yield Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response: Response) -> None:
        return None

    def closed(self, reason: str) -> None:
        # CoreStats sets elapsed_time_seconds after this handler runs: measure it here.
        started = self.crawler.stats.get_value("start_time")
        elapsed = (datetime.now(tz=UTC) - started).total_seconds()
        self.crawler.stats.set_value("elapsed_time_seconds", elapsed)
        stats = {
            key: str(value) if not isinstance(value, int | float) else value
            for key, value in self.crawler.stats.get_stats().items()
        }
        self.stats_file.write_text(json.dumps(stats))
