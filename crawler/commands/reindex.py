"""``scrapy reindex``: rebuild the archive's catalog from its Markdown files."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from scrapy.commands import ScrapyCommand

from crawler.archive.catalog import rebuild, rename_to_current_names, set_aside_if_damaged
from crawler.archive.folder import Archive
from crawler.archive.lock import ArchiveBusy
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
        archive = Archive.from_settings(self.settings)
        profiles = SiteProfiles.from_settings(self.settings)
        try:
            lock = archive.lock(self.settings.getfloat("ARCHIVE_LOCK_WAIT"))
        except ArchiveBusy as busy:
            print(f"Archive {archive.root} is in use by {busy}; not reindexing.", file=sys.stderr)
            self.exitcode = 1
            return
        except OSError as exc:
            print(
                f"Archive {archive.root} cannot be locked: {exc.strerror or exc}", file=sys.stderr
            )
            self.exitcode = 1
            return
        with lock:
            set_aside_if_damaged(archive.root)
            moved, kept = rename_to_current_names(archive.root, profiles)
            catalog = archive.catalog()
            try:
                count, problems = rebuild(catalog, profiles, datetime.now(BEIJING))
                catalog.export_days(archive.catalog_export)  # all of it
                catalog.mark_sound()
            finally:
                catalog.close()
        for post in kept:
            print(f"kept {post}", file=sys.stderr)
        for problem in problems:
            print(f"skipped {problem}", file=sys.stderr)
        if moved:
            print(f"Renamed {moved} posts to their current names")
        print(f"Indexed {count} articles from {archive.posts} into {catalog.path}")
        if problems:
            self.exitcode = 1
