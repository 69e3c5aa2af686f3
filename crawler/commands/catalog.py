"""``scrapy catalog``: the archive's catalog as JSON Lines, one article per line."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand

from crawler.catalog import open_catalog
from crawler.commands import reader_may_stop_early, require_archive_dir
from crawler.lock import ArchiveBusy
from crawler.profiles import SiteProfiles


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[-o FILE]"

    def short_desc(self) -> str:
        return "Export ARCHIVE_DIR's catalog as JSON Lines (stdout, or a file written atomically)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        require_archive_dir(self.settings)
        archive_dir = Path(self.settings["ARCHIVE_DIR"])
        profiles = SiteProfiles.from_folder(self.settings["SITE_PROFILES_DIR"])
        try:  # a damaged catalog is rebuilt from the posts first
            catalog = open_catalog(
                archive_dir, profiles, self.settings.getfloat("ARCHIVE_LOCK_WAIT")
            )
        except ArchiveBusy as busy:
            print(
                f"Archive {archive_dir}: the catalog is damaged and the archive in use by {busy}; "
                "not exported.",
                file=sys.stderr,
            )
            self.exitcode = 1
            return
        except (OSError, sqlite3.Error) as exc:
            print(f"Archive {archive_dir}: cannot read the catalog: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        try:
            if opts.output:
                count = catalog.export_jsonl_file(Path(opts.output))
                print(f"{count} articles written to {opts.output}", file=sys.stderr)
            else:
                with reader_may_stop_early(self):
                    catalog.export_jsonl(sys.stdout)
        finally:
            catalog.close()
