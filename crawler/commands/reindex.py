"""``scrapy reindex``: rebuild the archive's catalog from its Markdown files."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from scrapy.commands import ScrapyCommand

from crawler.archive.catalog import (
    CATALOG_DIR,
    JSONL_EXPORT_DIR,
    Catalog,
    rebuild,
    rename_to_current_names,
    set_aside_if_damaged,
)
from crawler.archive.lock import ArchiveBusy, acquire
from crawler.commands import require_archive_dir
from crawler.reading.dates import BEIJING
from crawler.reading.profiles import SiteProfiles


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def short_desc(self) -> str:
        return "Rebuild ARCHIVE_DIR's catalog from the Markdown files alone"

    def long_desc(self) -> str:
        return (
            "Rebuild ARCHIVE_DIR's catalog from the Markdown files alone. A damaged catalog "
            "is moved aside first; posts named by an earlier version get their current name."
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        require_archive_dir(self.settings)
        archive_dir = Path(self.settings["ARCHIVE_DIR"])
        profiles = SiteProfiles.from_folder(self.settings["SITE_PROFILES_DIR"])
        try:
            lock = acquire(archive_dir, self.settings.getfloat("ARCHIVE_LOCK_WAIT"))
        except ArchiveBusy as busy:
            print(f"Archive {archive_dir} is in use by {busy}; not reindexing.", file=sys.stderr)
            self.exitcode = 1
            return
        except OSError as exc:
            print(f"Archive {archive_dir} cannot be locked: {exc.strerror or exc}", file=sys.stderr)
            self.exitcode = 1
            return
        with lock:
            set_aside_if_damaged(archive_dir)
            moved, kept = rename_to_current_names(archive_dir, profiles)
            catalog = Catalog(archive_dir)
            try:
                count, problems = rebuild(catalog, profiles, datetime.now(BEIJING))
                catalog.export_days(archive_dir / CATALOG_DIR / JSONL_EXPORT_DIR)  # all of it
                catalog.mark_sound()
            finally:
                catalog.close()
        for post in kept:
            print(f"kept {post}", file=sys.stderr)
        for problem in problems:
            print(f"skipped {problem}", file=sys.stderr)
        if moved:
            print(f"Renamed {moved} posts to their current names")
        print(f"Indexed {count} articles from {archive_dir / '_posts'} into {catalog.path}")
        if problems:
            self.exitcode = 1
