"""``scrapy search WORD [WORD ...]``: the archive's articles whose title or body holds every
word, Chinese included (full-text search of the catalog, crawler/archive/catalogsearch.py)."""

from __future__ import annotations

import sys

from scrapy.exceptions import UsageError

from crawler.archive.catalog import Catalog
from crawler.archive.catalogsearch import ArticleFilter
from crawler.commands.catalog import Command as CatalogCommand


class Command(CatalogCommand):
    def syntax(self) -> str:
        return "WORD [WORD ...] [filters] [-o FILE]"

    def short_desc(self) -> str:
        return "Find ARCHIVE_DIR's articles whose title or body holds every WORD"

    def long_desc(self) -> str:
        return (
            "List the articles whose title or body holds every WORD, any piece of text (习近平, "
            "一带一路, a two-character word such as 经济 or a single character), oldest first, "
            "with the catalog command's filters and output: a table with the text around the "
            "first word on a terminal, JSON Lines in a pipe or a file. Quote a WORD that has "
            "spaces. Articles cataloged before search existed are found after scrapy reindex."
        )

    def words(self, args: list[str]) -> tuple[str, ...]:
        words = tuple(" ".join(arg.split()) for arg in args if arg.strip())
        if not words:
            raise UsageError("give at least one word to search for")
        return words

    def list_articles(self, catalog: Catalog, wanted: ArticleFilter, output: str | None) -> None:
        if missing := catalog.count_without_text():
            print(
                f"{missing} articles of {catalog.count()} have no text in the catalog yet "
                "(cataloged by an earlier version): scrapy reindex adds it.",
                file=sys.stderr,
            )
        super().list_articles(catalog, wanted, output)
