"""``scrapy catalog``: the archive's catalog as JSON Lines, one article per line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand

from crawler.catalog import Catalog


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
        catalog = Catalog(Path(self.settings["ARCHIVE_DIR"]))
        try:
            if opts.output:
                count = catalog.export_jsonl_file(Path(opts.output))
                print(f"{count} articles written to {opts.output}", file=sys.stderr)
            else:
                catalog.export_jsonl(sys.stdout)
        finally:
            catalog.close()
