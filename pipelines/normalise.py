"""Stage 2: canonical values: one-line titles, Beijing time, tidy paragraphs, category."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler

from crawler.items import Article
from crawler.reading.body import (
    clean_paragraph,
    line_filter,
    paragraph_text,
    sanitize_paragraph,
    without_leading_furniture,
)
from crawler.reading.categories import Category, SourceCategories
from crawler.reading.dates import BEIJING
from crawler.reading.profiles import SiteProfiles, profiles_of
from crawler.reading.text import clean_names, clean_source, clean_title


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
            profiles_of(crawler),
            SourceCategories.from_file(settings["SOURCE_CATEGORIES_FILE"]),
        )

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        article = ItemAdapter(item)
        for field, clean in _SHORT_FIELDS.items():
            article[field] = _cleaned(article[field], clean)
        if article["published"] is not None:
            article["published"] = article["published"].astimezone(BEIJING)
        article["paragraphs"] = self._body(article["site"], article["paragraphs"], article["title"])
        profile = self.profiles[article["site"]]
        category = self.categories.get(article["source"]) or Category(
            profile.default_category, profile.default_tag
        )
        article["category"], article["tag"] = category.slug, category.tag
        return item

    def _body(self, site: str, paragraphs: list[str], title: str | None) -> list[str]:
        """Clean paragraphs without the page's furniture."""
        drop_line, drop_trailing, ends_body = self._line_filters(site)
        kept = [
            cleaned
            for paragraph in paragraphs
            if (cleaned := clean_paragraph(sanitize_paragraph(paragraph), drop_line)) is not None
            and paragraph_text(cleaned) != title  # the headline repeated inside the body block
        ]
        kept = without_leading_furniture(kept, title)
        # 相关链接, 本期精彩回顾, 分页导航: what follows is not the article
        end = next((i for i, p in enumerate(kept) if i and ends_body(paragraph_text(p))), None)
        kept = kept[:end]
        return _without_trailing_credits(kept, drop_trailing)

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


def _without_trailing_credits(paragraphs: list[str], is_credit: Callable[[str], bool]) -> list[str]:
    """Credits and sign-offs (策划：…, 新华社发) end a body, and so do the pictures after
    them (a banner under the rights note); inside the text the same words stay, and a
    picture right after the text is the article's."""
    end = index = len(paragraphs)
    while index:
        text = paragraph_text(paragraphs[index - 1])
        if text and not is_credit(text):
            break
        index -= 1
        if text:
            end = index
    return paragraphs[:end]


_SHORT_FIELDS: dict[str, Callable[[str], str]] = {
    "title": clean_title,
    "source": clean_source,
    "author": clean_names,
    "editor": clean_names,
}


def _cleaned(value: str | None, clean: Callable[[str], str]) -> str | None:
    return (clean(value) or None) if value else None
