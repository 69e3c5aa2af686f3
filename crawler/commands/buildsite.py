"""``scrapy buildsite``: build ARCHIVE_DIR's Jekyll site into ARCHIVE_DIR/_site, in parts."""

from __future__ import annotations

import argparse
import sys
import time

from scrapy.commands import ScrapyCommand

from crawler.archive.folder import Archive
from crawler.archive.lock import ArchiveBusy
from crawler.archive.sitebuild import JekyllMissing, SiteBuilder
from crawler.commands import require_archive_dir


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[--changed] [-j N]"

    def short_desc(self) -> str:
        return "Build ARCHIVE_DIR's Jekyll site into ARCHIVE_DIR/_site (run it after each crawl)"

    def long_desc(self) -> str:
        return (
            "Build ARCHIVE_DIR's Jekyll site into ARCHIVE_DIR/_site with Jekyll, in parts of at "
            "most BUILDSITE_PART_POSTS posts (whole days) and a root part for the home, by-date "
            "and category pages and the feeds, so that the build time grows linearly with the "
            "archive. --changed rebuilds only the parts whose posts or templates changed since "
            "the last build: the daily update."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--changed",
            action="store_true",
            help="rebuild only what changed since the last build",
        )
        parser.add_argument(
            "-j",
            "--jobs",
            type=int,
            metavar="N",
            help="run N Jekyll builds at a time (default: BUILDSITE_JOBS)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        require_archive_dir(self.settings)
        archive = Archive.from_settings(self.settings)
        if not archive.root.is_dir():
            print(f"No archive at {archive.root}: nothing to build.", file=sys.stderr)
            self.exitcode = 1
            return
        if self.settings.getbool("ARCHIVE_JEKYLL_SITE"):
            archive.scaffold().ensure_site()  # layouts added since the archive began
        builder = SiteBuilder(
            archive.root,
            jekyll=self.settings["BUILDSITE_JEKYLL"],
            part_posts=self.settings.getint("BUILDSITE_PART_POSTS"),
            jobs=opts.jobs or self.settings.getint("BUILDSITE_JOBS"),
            say=lambda line: print(line, flush=True),
        )
        started = time.monotonic()
        try:
            report = builder.build(changed_only=opts.changed)
        except JekyllMissing as exc:
            print(exc, file=sys.stderr)
            self.exitcode = 2
            return
        except ArchiveBusy as busy:
            print(f"{archive.root}: another build runs ({busy}); not built.", file=sys.stderr)
            self.exitcode = 1
            return
        seconds = time.monotonic() - started
        print(
            f"Built {archive.built_site}: {report.built} of {report.parts} parts "
            f"({report.posts:,} posts in the archive) in {seconds:.1f} s"
        )
        if report.failed:
            print(f"Jekyll failed on: {', '.join(report.failed)}", file=sys.stderr)
            self.exitcode = 1
