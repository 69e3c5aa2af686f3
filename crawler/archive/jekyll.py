"""The archive folder as a Jekyll site: config, layouts, home, by-date and category pages, feeds.

Only what Jekyll itself ships is used (no plugins), so ``jekyll build`` works with any
Jekyll 3.8+/4.x. Files are created when missing and never replaced: a user's edits to
them survive every crawl. Templates live in ``crawler/site_template/``, read as package data
(``importlib.resources``), so they are found in a zipped egg (Scrapyd) too.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from crawler.archive.atomic import create_atomically
from crawler.archive.exporter import yaml_scalar
from crawler.archive.paths import CATEGORY_DIR

TEMPLATE_DIR: Traversable = files("crawler") / "site_template"
# Per category: its page (the posts' back link) and its Atom feed, by file suffix.
CATEGORY_TEMPLATES = {".html": "category.html.template", ".xml": "category.xml.template"}


class SiteScaffold:
    """Creates the site files of one archive folder on demand."""

    def __init__(self, archive_dir: Path, template_dir: Path | Traversable = TEMPLATE_DIR):
        self.archive_dir = archive_dir
        self.template_dir = template_dir
        self._site_checked = False
        self._categories: set[str] = set()

    def ensure_site(self) -> list[Path]:
        """Create the config, layouts, home and by-date pages that are missing."""
        if self._site_checked:
            return []
        created = []
        for parts, source in sorted(_template_files(self.template_dir), key=lambda pair: pair[0]):
            if source.name not in CATEGORY_TEMPLATES.values():
                target = self.archive_dir.joinpath(*parts)
                if not target.exists() and create_atomically(
                    target, source.read_bytes(), root=self.archive_dir
                ):
                    created.append(target)
        self._site_checked = True
        return created

    def ensure_category(self, slug: str, title: str) -> list[Path]:
        """Create ``category/<slug>.html`` and ``.xml`` (page and feed) that are missing."""
        if slug in self._categories:
            return []
        self._categories.add(slug)
        created = []
        for suffix, template_name in CATEGORY_TEMPLATES.items():
            target = self.archive_dir / CATEGORY_DIR / f"{slug}{suffix}"
            if target.exists():
                continue
            template = (self.template_dir / template_name).read_text(encoding="utf-8")
            page = template.format(
                category=yaml_scalar(slug), title=yaml_scalar(title, double_quoted=True)
            )
            if create_atomically(target, page.encode("utf-8"), root=self.archive_dir):
                created.append(target)
        return created


def _template_files(
    folder: Path | Traversable, parts: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Path | Traversable]]:
    """Every file under ``folder`` with its path relative to it, as parts (works in a zip)."""
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _template_files(entry, (*parts, entry.name))
        elif entry.is_file():
            yield (*parts, entry.name), entry
