"""The archive file format: one Jekyll post per article, shaped like the seed example.

::

    ---
    layout: post
    title: "<title>"
    date: YYYY-MM-DD HH:MM:SS +0800
    categories: <category>
    tags: <tag>
    source: <source>
    source_url: <article URL>
    article_id: <article ID>
    author: <author>            (when known)
    editor: <editor>            (when known)
    ---
    <p>…</p>
    <p class="em_media">（文章来源：<source>）</p>

    <<article URL>>

    [返回<tag>](<site>/category/<category>.html)｜[返回首页](<site>/)

Values are written through PyYAML's emitter, so the front matter stays valid YAML
whatever a title holds (quotes, colons, ``#``, backslashes, leading ``*`` or ``-``).
See docs/archive-format.md for the contract with readers of the archive.
"""

from __future__ import annotations

import re
from typing import IO, Any

import yaml
from scrapy.exporters import BaseItemExporter

from crawler.items import Article
from crawler.reading import yamlio
from crawler.reading.dates import format_published

# libyaml's emitter is about five times faster than the pure-Python one; output is the same.
_NO_WRAP = 2**30
# Letters (CJK included), digits and URL characters, starting with a letter and not a
# YAML 1.1 boolean or null word: PyYAML writes these plain.
_PLAIN_SAFE = re.compile(
    r"^(?!(?:y|yes|n|no|true|false|on|off|null)$)[^\W\d_][\w\u3000-\u9fff/._%~=&?-]*$", re.I
)


def yaml_scalar(value: str, *, double_quoted: bool = False) -> str:
    """``value`` as a one-line YAML scalar: plain when that is safe, quoted otherwise."""
    if not double_quoted and _PLAIN_SAFE.match(value):
        return value  # the emitter's own answer for such strings, without the emitter
    emitted = yaml.dump(
        value,
        Dumper=yamlio.SafeDumper,
        default_style='"' if double_quoted else None,
        allow_unicode=True,
        width=_NO_WRAP,
    )
    return emitted.removesuffix("\n...\n").rstrip("\n")


class MarkdownPostExporter(BaseItemExporter):
    """Writes :class:`Article` items as Jekyll posts (UTF-8 bytes) to a binary file.

    ``site_url`` prefixes the back links (``ARCHIVE_SITE_URL``); ``layout`` is the
    front matter's ``layout`` (``ARCHIVE_LAYOUT``).
    """

    def __init__(self, file: IO[bytes], *, site_url: str = "", layout: str = "post", **kwargs: Any):
        super().__init__(**kwargs)
        self.file = file
        self.site_url = site_url.rstrip("/")
        self.layout = layout

    def export_item(self, item: Any) -> None:
        self.file.write(self.serialize(item))

    def serialize(self, article: Article) -> bytes:
        if article.published is None or not article.title:
            raise ValueError(f"{article.url}: an article needs a title and a date to be archived")
        return (self.front_matter(article) + self.body(article)).encode("utf-8")

    def front_matter(self, article: Article) -> str:
        assert article.published is not None and article.title
        lines = [
            "---",
            f"layout: {yaml_scalar(self.layout)}",
            f"title: {yaml_scalar(article.title, double_quoted=True)}",
            f"date: {format_published(article.published)}",
            f"categories: {yaml_scalar(article.category)}",
            f"tags: {yaml_scalar(article.tag)}",
        ]
        optional = {
            "source": article.source,
            "source_url": article.url,
            "article_id": article.article_id,
            "author": article.author,
            "editor": article.editor,
        }
        lines += [f"{key}: {yaml_scalar(value)}" for key, value in optional.items() if value]
        lines.append("---")
        return "\n".join(lines) + "\n"

    def body(self, article: Article) -> str:
        lines = [_liquid_inert(paragraph) for paragraph in article.paragraphs]
        if article.source:
            source = _liquid_inert(_html_text(article.source))
            lines.append(f'<p class="em_media">（文章来源：{source}）</p>')
        category_page = f"{self.site_url}/category/{article.category}.html"
        home_page = f"{self.site_url}/"
        tag = _markdown_text(article.tag)
        back_links = f"[返回{tag}]({category_page})｜[返回首页]({home_page})"
        return "\n".join(lines) + f"\n\n<{article.url}>\n\n{back_links}\n"


def _liquid_inert(html: str) -> str:
    """Braces as character references: Jekyll runs post bodies through Liquid, and article
    text such as ``{{ site.title }}`` or ``{% include x %}`` must show, not run."""
    return html.replace("{", "&#123;").replace("}", "&#125;")


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown_text(text: str) -> str:
    """Link text that cannot close the Markdown link early."""
    return _html_text(text).replace("[", "\\[").replace("]", "\\]")


def read_front_matter(post: bytes) -> dict[str, Any]:
    """The front matter of an archived post (raises ValueError when it has none or it is bad)."""
    return read_post(post)[0]


def split_post(text: str) -> tuple[str, str]:
    """The front matter (its YAML text) and the body of a post (ValueError when it has none)."""
    if not text.startswith("---\n"):
        raise ValueError("no front matter")
    head, separator, body = text[4:].partition("\n---\n")
    if not separator:
        raise ValueError("unterminated front matter")
    return head, body


def read_post(post: bytes) -> tuple[dict[str, Any], str]:
    """The front matter and the body of an archived post (ValueError as for the front matter)."""
    head, body = split_post(post.decode("utf-8"))
    try:
        meta = yamlio.safe_load(head)
    except yaml.YAMLError as exc:
        raise ValueError(f"bad front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a mapping")
    return meta, body
