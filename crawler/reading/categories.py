"""The source → category/tag mapping read from ``crawler/sources.yaml``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from crawler.reading import yamlio
from crawler.reading.text import collapse_whitespace

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Category:
    slug: str  # the category page's file name: /category/<slug>.html
    tag: str


class SourceCategories:
    """Looks up a source name (or one of its aliases) and gives its archive category."""

    def __init__(self, mapping: dict[str, Category]):
        self._by_name = {_key(name): category for name, category in mapping.items()}

    @classmethod
    def from_file(cls, path: str | Path | Traversable | None = None) -> SourceCategories:
        """The mapping in ``path``; None or "" (the ``SOURCE_CATEGORIES_FILE`` default) means
        the one packaged with the crawler, see :func:`packaged_sources`."""
        if not path:
            path = packaged_sources()
        elif isinstance(path, str):
            path = Path(path)
        data = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
        mapping: dict[str, Category] = {}
        for name, entry in data.items():
            category = Category(str(entry["category"]), str(entry["tag"]))
            if not _SLUG.match(category.slug):
                raise ValueError(
                    f"{path}: category {category.slug!r} of {name!r} is not a URL slug"
                )
            for spelling in [name, *entry.get("aliases", [])]:
                mapping[str(spelling)] = category
        return cls(mapping)

    def get(self, source: str | None) -> Category | None:
        return self._by_name.get(_key(source)) if source else None


def packaged_sources() -> Traversable:
    """``crawler/sources.yaml`` as package data: a file in a source checkout or an installed
    package, a member of the zip file when the project runs from an egg (Scrapyd)."""
    return files("crawler") / "sources.yaml"


def _key(name: str) -> str:
    return collapse_whitespace(name).casefold()
