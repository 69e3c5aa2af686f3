"""Stage 2: canonical values: one-line titles, Beijing time, tidy paragraphs, category."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scrapy.crawler import Crawler

from crawler.body import (
    clean_paragraph,
    line_filter,
    paragraph_text,
    sanitize_paragraph,
    without_leading_furniture,
)
from crawler.categories import Category, SourceCategories
from crawler.dates import BEIJING
from crawler.items import Article
from crawler.profiles import SiteProfiles
from crawler.text import clean_names, clean_source, clean_title


class NormalisePipeline:
    """Cleans an :class:`Article` in place and files it under a category.

    The category comes from the source through ``SOURCE_CATEGORIES_FILE``; unknown
    sources take the site profile's default.
    """

    def __init__(self, profiles: SiteProfiles, categories: SourceCategories):
        self.profiles = profiles
        self.categories = categories
        self._filters: dict[str, tuple[Callable[[str], bool], ...]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalisePipeline:
        settings = crawler.settings
        return cls(
            SiteProfiles.from_folder(settings["SITE_PROFILES_DIR"]),
            SourceCategories.from_file(settings["SOURCE_CATEGORIES_FILE"]),
        )

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        profile = self.profiles[item.site]
        item.title = _cleaned(item.title, clean_title)
        if item.published is not None:
            item.published = item.published.astimezone(BEIJING)
        item.source = _cleaned(item.source, clean_source)
        item.author = _cleaned(item.author, clean_names)
        item.editor = _cleaned(item.editor, clean_names)
        drop_line, drop_trailing, ends_body = self._line_filters(item.site)
        title = item.title
        paragraphs = [
            cleaned
            for paragraph in item.paragraphs
            if (cleaned := clean_paragraph(sanitize_paragraph(paragraph), drop_line)) is not None
            and paragraph_text(cleaned) != title  # the headline repeated inside the body block
        ]
        paragraphs = without_leading_furniture(paragraphs, title)
        # 相关链接, 本期精彩回顾, 分页导航: what follows is not the article
        end = next(
            (i for i, p in enumerate(paragraphs) if i and ends_body(paragraph_text(p))), None
        )
        paragraphs = paragraphs[:end]
        # Credits and sign-offs (策划：…, 新华社发) end a body; inside it the same words stay.
        while paragraphs and drop_trailing(paragraph_text(paragraphs[-1])):
            paragraphs.pop()
        item.paragraphs = paragraphs
        category = self.categories.get(item.source) or Category(
            profile.default_category, profile.default_tag
        )
        item.category, item.tag = category.slug, category.tag
        return item

    def _line_filters(self, site: str) -> tuple[Callable[[str], bool], ...]:
        """(anywhere, at the end only, ending the body) paragraph filters of a site, built
        once."""
        if site not in self._filters:
            profile = self.profiles[site]
            self._filters[site] = (
                line_filter(profile.drop_lines),
                line_filter(profile.trailing_drop_lines),
                line_filter(profile.body_end_lines),
            )
        return self._filters[site]


def _cleaned(value: str | None, clean: Callable[[str], str]) -> str | None:
    return (clean(value) or None) if value else None
