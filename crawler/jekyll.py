"""The archive folder as a Jekyll site: config, layouts, home, by-date and category pages.

Only what Jekyll itself ships is used (no plugins), so ``jekyll build`` works with any
Jekyll 3.8+/4.x. Files are created when missing and never replaced: a user's edits to
them survive every crawl. Templates live in ``crawler/site_template/``.
"""

from __future__ import annotations

from pathlib import Path

from crawler.atomic import create_atomically
from crawler.exporter import yaml_scalar

TEMPLATE_DIR = Path(__file__).resolve().parent / "site_template"
CATEGORY_TEMPLATE = "category.html.template"


class SiteScaffold:
    """Creates the site files of one archive folder on demand."""

    def __init__(self, archive_dir: Path, template_dir: Path = TEMPLATE_DIR):
        self.archive_dir = archive_dir
        self.template_dir = template_dir
        self._site_checked = False
        self._categories: set[str] = set()

    def ensure_site(self) -> list[Path]:
        """Create the config, layouts, home and by-date pages that are missing."""
        if self._site_checked:
            return []
        created = []
        for source in sorted(self.template_dir.rglob("*")):
            if source.is_file() and source.name != CATEGORY_TEMPLATE:
                target = self.archive_dir / source.relative_to(self.template_dir)
                if not target.exists() and create_atomically(target, source.read_bytes()):
                    created.append(target)
        self._site_checked = True
        return created

    def ensure_category(self, slug: str, title: str) -> Path | None:
        """Create ``category/<slug>.html`` (the posts' back link) if it is missing."""
        if slug in self._categories:
            return None
        self._categories.add(slug)
        target = self.archive_dir / "category" / f"{slug}.html"
        if target.exists():
            return None
        template = (self.template_dir / CATEGORY_TEMPLATE).read_text(encoding="utf-8")
        page = template.format(
            category=yaml_scalar(slug), title=yaml_scalar(title, double_quoted=True)
        )
        return target if create_atomically(target, page.encode("utf-8")) else None
