"""``scrapy import FILE …``: archive the article pages of WARC or WACZ files made elsewhere."""

from __future__ import annotations

import argparse
from pathlib import Path

from scrapy.exceptions import UsageError

from crawler.commands import require_archive_dir
from crawler.commands.reextract import Command as ReadCapturesCommand


class Command(ReadCapturesCommand):
    done = "Imported"

    def syntax(self) -> str:
        return "FILE.warc.gz|FILE.warc|FILE.wacz [FILE ...]"

    def short_desc(self) -> str:
        return "Archive the article pages found in WARC/WACZ files, as if crawled, offline"

    def long_desc(self) -> str:
        return (
            "Read the text/html responses (status 200) of each file, made by any tool (wget "
            "--warc-file, Browsertrix, Heritrix …), route them by the site profiles (the "
            "generic rules for other sites) and archive them through the same stages as a "
            "crawl, capturing them into ARCHIVE_DIR/_warc/. Other records are counted and "
            "skipped. Sends no request."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super(ReadCapturesCommand, self).add_options(parser)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("give at least one .warc.gz, .warc or .wacz file")
        for name in args:
            if not Path(name).is_file():
                raise UsageError(f"no such file: {name}")
        assert self.settings is not None
        require_archive_dir(self.settings)
        self.read_captures(files=[str(Path(name).resolve()) for name in args])
