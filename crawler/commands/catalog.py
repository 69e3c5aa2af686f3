"""``scrapy catalog``: the archive's articles from its catalog, all or those the filters name:
a table on a terminal, JSON Lines (one article per line) in a pipe or a file."""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import unicodedata
from datetime import date
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.archive.catalog import Catalog
from crawler.archive.catalogsearch import ArticleFilter
from crawler.archive.folder import Archive
from crawler.archive.lock import ArchiveBusy
from crawler.commands import reader_may_stop_early, require_archive_dir
from crawler.reading.profiles import GENERIC, SiteProfiles

_TITLE_MIN_WIDTH = 20  # terminal columns the title keeps on a narrow terminal


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[filters] [-o FILE]"

    def short_desc(self) -> str:
        return "List ARCHIVE_DIR's articles from its catalog: a table, or JSON Lines when piped"

    def long_desc(self) -> str:
        return (
            "List the articles of ARCHIVE_DIR's catalog that the filters name (all without "
            "any), oldest first: a table on a terminal, JSON Lines (the catalog export's "
            "records) in a pipe or, with -o, in a file written atomically. Dates are "
            "publication days in Beijing time, both included."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        filters = parser.add_argument_group("filters (all given must hold)")
        filters.add_argument(
            "--since", metavar="DATE", help="published on DATE (YYYY-MM-DD) or later"
        )
        filters.add_argument(
            "--until", metavar="DATE", help="published on DATE (YYYY-MM-DD) or earlier"
        )
        filters.add_argument("--site", metavar="NAME", help="of this site profile (scrapy list)")
        filters.add_argument("--source", metavar="NAME", help="of this source (来源), e.g. 新华社")
        filters.add_argument("--category", metavar="NAME", help="in this category, e.g. xinhuashe")
        filters.add_argument("--title", metavar="TEXT", help="whose title contains TEXT")
        parser.add_argument("-o", "--output", metavar="FILE", help="write JSON Lines here")

    def words(self, args: list[str]) -> tuple[str, ...]:
        """What the articles' text must hold: nothing for ``catalog`` (see ``search``)."""
        if args:
            raise UsageError(f"unexpected argument {args[0]!r} (scrapy search WORD searches text)")
        return ()

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        profiles = SiteProfiles.from_settings(self.settings)
        wanted = ArticleFilter(
            since=_day(opts.since, "--since"),
            until=_day(opts.until, "--until"),
            site=_site(opts.site, profiles),
            source=opts.source,
            category=opts.category,
            title=opts.title,
            words=self.words(args),
        )
        require_archive_dir(self.settings)
        archive = Archive.from_settings(self.settings)
        try:  # a damaged catalog is rebuilt from the posts first
            catalog = archive.open_catalog(profiles, self.settings.getfloat("ARCHIVE_LOCK_WAIT"))
        except ArchiveBusy as busy:
            print(
                f"Archive {archive.root}: the catalog is damaged and the archive in use by {busy}; "
                "not exported.",
                file=sys.stderr,
            )
            self.exitcode = 1
            return
        except (OSError, sqlite3.Error) as exc:
            print(f"Archive {archive.root}: cannot read the catalog: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        try:
            self.list_articles(catalog, wanted, opts.output)
        finally:
            catalog.close()

    def list_articles(self, catalog: Catalog, wanted: ArticleFilter, output: str | None) -> None:
        if output:
            count = catalog.export_jsonl_file(Path(output), wanted)
            print(f"{count} articles written to {output}", file=sys.stderr)
            return
        with reader_may_stop_early(self):
            if sys.stdout.isatty():
                count = print_table(catalog, wanted)
                print(f"{count} article" + ("" if count == 1 else "s"))
            else:
                catalog.export_jsonl(sys.stdout, wanted)


def print_table(catalog: Catalog, wanted: ArticleFilter) -> int:
    """One line per article (time, site, title, post), and when words are searched the text
    around the first one under it; returns the count. The title is cut to fit the terminal."""
    width = shutil.get_terminal_size().columns
    count = 0
    for entry in catalog.find(wanted):
        fixed = f"{entry.published[:16].replace('T', ' ')}  {entry.site:<12} "
        title_width = max(width - len(fixed) - len(entry.path) - 2, _TITLE_MIN_WIDTH)
        print(f"{fixed}{_fit(entry.title, title_width)}  {entry.path}")
        if wanted.words:
            text = catalog.text(entry.site, entry.article_id) or ""
            indent = " " * len(fixed)
            print(indent + _fit(_around(text, wanted.words[0]), width - len(indent) - 1).rstrip())
        count += 1
    return count


def _around(text: str, word: str, context: int = 20) -> str:
    """The text around the first ``word`` in it, on one line."""
    found = max(text.lower().find(word.lower()), 0)
    start = max(found - context, 0)
    piece = " ".join(text[start : found + len(word) + context].split())
    return ("…" if start else "") + piece + "…"


def _fit(text: str, width: int) -> str:
    """``text`` padded, or cut with an ellipsis, to ``width`` terminal columns."""
    if _width(text) > width:
        kept, used = [], 0
        for char in text:
            used += _width(char)
            if used > width - 1:
                break
            kept.append(char)
        text = "".join(kept) + "…"
    return text + " " * (width - _width(text))


def _width(text: str) -> int:
    """Terminal columns of ``text``: CJK and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None


def _site(value: str | None, profiles: SiteProfiles) -> str | None:
    if value is not None and value not in profiles and value != GENERIC:
        raise UsageError(f"--site: no site profile named {value!r} (scrapy list)")
    return value
