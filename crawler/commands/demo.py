"""``scrapy demo``: crawl the bundled offline demo site into ./archive and summarise."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand

from crawler import statskeys as keys
from crawler.archive.folder import Archive
from crawler.commands import prefer_settings, require_archive_dir
from crawler.extensions.summary import format_summary, run_summary
from crawler.replay import ReplayProxy

DEMO_SITE = Path(__file__).resolve().parent.parent / "demo_site"
PLANTED_DROPS = (
    "The demo site plants two pages that must not be archived (crawler/demo_site/README.md): "
    "one without any publication date (MissingDate) and one article under a second URL "
    "(DuplicateArticle, or skipped when its first URL was archived already)."
)


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
        # The replay proxy answers for the demo's hosts: the address guard need not look them
        # up (crawler/downloadermiddlewares/addressguard.py), so the demo sends nothing beyond
        # 127.0.0.1, DNS included.
        replayed = sorted(folder.name for folder in DEMO_SITE.iterdir() if folder.is_dir())
        prefer_settings(self.settings, {**self.demo_settings, "FETCH_ALLOWED_HOSTS": replayed})

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None and self.settings is not None
        require_archive_dir(self.settings)
        start_urls = (DEMO_SITE / "start_urls.txt").read_text(encoding="utf-8").split()
        proxy = ReplayProxy(DEMO_SITE).start()
        # Scrapy's HttpProxyMiddleware reads the standard variables when the crawler starts.
        os.environ.update(http_proxy=proxy.url, HTTP_PROXY=proxy.url, no_proxy="", NO_PROXY="")
        archive = Archive.from_settings(self.settings)
        before = _post_versions(archive.posts)
        try:
            crawler = self.crawler_process.create_crawler("xinhua")
            self.crawler_process.crawl(crawler, start_urls=",".join(start_urls))
            self.crawler_process.start()
        finally:
            proxy.stop()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
            return
        assert crawler.stats is not None
        stats = crawler.stats.get_stats()
        print(f"Demo crawl of the local demo site ({len(proxy.requests)} requests served).")
        print(f"Archive {archive.root.resolve()}: {format_summary(run_summary(stats))}")
        after = _post_versions(archive.posts)
        written = sorted(path for path, version in after.items() if before.get(path) != version)
        print(f"Written by this run: {len(written)} post(s)")
        for path in written:
            print(f"  {path}")
        print(PLANTED_DROPS)
        failed = crawler.stats.get_value(keys.RUN_STATUS) != "ok"
        if self.crawler_process.bootstrap_failed or failed:
            self.exitcode = 1
            return
        print(f"Next: cd {archive.root} && jekyll serve   (then open http://127.0.0.1:4000/)")


def _post_versions(posts: Path) -> dict[Path, tuple[int, int]]:
    """Every post with its size and modification time: the archive rewrites a post only when
    its bytes change, so a changed version means this run wrote the file."""
    if not posts.is_dir():
        return {}
    versions = {}
    for path in posts.rglob("*.md"):
        stat = path.stat()
        versions[path] = (stat.st_size, stat.st_mtime_ns)
    return versions
