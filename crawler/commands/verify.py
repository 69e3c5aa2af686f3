"""``scrapy verify``: every post has its capture, and every capture is what was written."""

from __future__ import annotations

import argparse
import sqlite3
import sys

from scrapy.commands import ScrapyCommand
from scrapy.utils.log import configure_logging

from crawler.archive.folder import Archive
from crawler.archive.warc import verify_captures
from crawler.commands import require_archive_dir
from crawler.reading.profiles import SiteProfiles


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def short_desc(self) -> str:
        return "Check that each post of ARCHIVE_DIR has its WARC capture, and the captures' digests"

    def long_desc(self) -> str:
        return (
            "Read every WARC file in ARCHIVE_DIR/_warc/ and check each record's payload "
            "digest, then check that each post in the catalog names a capture that is there: "
            "the file, a response record at the offset, of the post's article. Prints one line "
            "per problem and exits with status 1 when there is any."
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        require_archive_dir(self.settings)
        configure_logging(self.settings)  # the readers' warnings: a truncated record, say
        archive = Archive.from_settings(self.settings)
        if not archive.catalog_database.is_file():
            print(f"Archive {archive.root} has no catalog; nothing to verify.", file=sys.stderr)
            self.exitcode = 1
            return
        profiles = SiteProfiles.from_settings(self.settings)
        try:
            catalog = archive.catalog()
            try:
                entries = list(catalog.entries())
            finally:
                catalog.close()
        except sqlite3.Error as exc:
            print(f"Archive {archive.root}: cannot read the catalog: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        records, problems = verify_captures(archive.root, entries, profiles)
        for problem in problems:
            print(problem)
        verdict = f"{len(problems)} problem(s)" if problems else "all sound"
        print(
            f"Verified {len(entries)} posts and {records} records in {archive.warc}: {verdict}",
            file=sys.stderr,
        )
        if problems:
            self.exitcode = 1
