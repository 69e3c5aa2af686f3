"""Article bodies: from a page's content element to a list of clean ``<p>`` paragraphs.

``paragraphs_from_element`` keeps the structure (one paragraph per block, inline
``<strong>``, ``<em>``, ``<br>`` and ``<img>`` with an absolute ``src``) and drops
everything executable or interactive. ``clean_paragraph`` then tidies the text of
one paragraph; it is a pure string function so normalisation needs no second parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html import escape
from urllib.parse import urljoin, urlsplit

import nh3
from lxml.html import HtmlElement

from crawler.text import strip_control_characters

# Elements whose content is never article text.
SKIPPED_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "iframe",
        "frame",
        "frameset",
        "video",
        "audio",
        "object",
        "applet",
        "form",
        "input",
        "button",
        "select",
        "option",
        "textarea",
        "label",
        "svg",
        "canvas",
        "template",
        "map",
        "area",
        "head",
        "title",
        "meta",
        "link",
        "base",
        "dialog",
        "menu",
        "nav",
    ]
)
# Void in HTML5 but not to libxml2, which nests the text that follows them inside them:
# the element goes, that text stays.
MISPARSED_VOID_TAGS = frozenset({"embed", "source", "track", "param", "wbr", "keygen"})
# Elements that start a new paragraph.
BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "center",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "td",
        "th",
        "caption",
        "figure",
        "figcaption",
        "pre",
        "header",
        "footer",
        "main",
        "aside",
        "address",
        "hr",
    ]
)
INLINE_KEPT = {"strong": "strong", "b": "strong", "em": "em", "i": "em"}
ALLOWED_TAGS = {"p", "strong", "em", "br", "img"}
# Configured once, like a compiled pattern: building the rules per call costs 3x the cleaning.
_SANITIZER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes={"img": {"src"}},
    url_schemes={"http", "https"},
    link_rel=None,
    strip_comments=True,
)
IMAGE_SOURCES = ("src", "data-original", "data-src")

_INDENT = "[\\s\u3000\u2003\u2002\xa0]"
_LEADING = re.compile(rf"^((?:<(?:strong|em)>)*)(?:{_INDENT}|<br>)+")
_TRAILING = re.compile(rf"(?:{_INDENT}|<br>)+((?:</(?:strong|em)>)*)$")
_EMPTY_INLINE = re.compile(r"<(strong|em)>(?:\s|<br>)*</\1>")
_SPACE_RUN = re.compile(r"[ \t\r\n\f\v]+")
_TAG = re.compile(r"<[^>]+>")


def paragraphs_from_element(element: HtmlElement, base_url: str) -> list[str]:
    """The blocks of ``element`` as paragraph HTML strings (not yet tidied)."""
    walker = _ParagraphWalker(base_url)
    walker.walk(element)
    walker.flush()
    return walker.paragraphs


def paragraphs_from_text(text: str) -> list[str]:
    """Plain text (JSON-LD ``articleBody``) split into paragraphs at line breaks."""
    return [f"<p>{escape(line, quote=False)}</p>" for line in text.splitlines() if line.strip()]


class _ParagraphWalker:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.paragraphs: list[str] = []
        self.pieces: list[str] = []

    def flush(self) -> None:
        if self.pieces:
            self.paragraphs.append("<p>" + "".join(self.pieces) + "</p>")
            self.pieces = []

    def walk(self, element: HtmlElement) -> None:
        if element.text:
            self.pieces.append(escape(element.text, quote=False))
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else None
            if tag is None or tag in SKIPPED_TAGS:
                pass  # comments, processing instructions and skipped content
            elif tag in MISPARSED_VOID_TAGS:
                self.walk(child)
            elif tag in BLOCK_TAGS:
                self.flush()
                self.walk(child)
                self.flush()
            elif tag == "br":
                self.line_break()
            elif tag == "img":
                self.image(child)
            elif tag in INLINE_KEPT and not _has_block(child):
                name = INLINE_KEPT[tag]
                self.pieces.append(f"<{name}>")
                self.walk(child)
                self.pieces.append(f"</{name}>")
            else:
                self.walk(child)  # span, a, font and other wrappers: keep their text
            if child.tail:
                self.pieces.append(escape(child.tail, quote=False))

    def line_break(self) -> None:
        """``<br>`` stays a line break; two in a row separate paragraphs (pages without <p>)."""
        while self.pieces and not self.pieces[-1].strip():
            self.pieces.pop()
        if self.pieces and self.pieces[-1] == "<br>":
            self.pieces.pop()
            self.flush()
        else:
            self.pieces.append("<br>")

    def image(self, element: HtmlElement) -> None:
        for attribute in IMAGE_SOURCES:
            url = absolute_http_url(element.get(attribute, ""), self.base_url)
            if url:
                self.pieces.append(f'<img src="{escape(url)}">')
                return


def _has_block(element: HtmlElement) -> bool:
    return any(isinstance(el.tag, str) and el.tag in BLOCK_TAGS for el in element.iterdescendants())


def absolute_http_url(url: str, base_url: str) -> str | None:
    """``url`` resolved against ``base_url`` when it is an http(s) URL, else None."""
    url = url.strip()
    if not url or url.startswith(("data:", "javascript:", "#")):
        return None
    resolved = urljoin(base_url, url)
    return resolved if urlsplit(resolved).scheme in {"http", "https"} else None


def sanitize_paragraph(paragraph: str) -> str:
    """The paragraph through nh3 (ammonia): only ``p strong em br img[src]`` with http(s)
    URLs survive. The walker already emits nothing else; this is the guarantee, kept by a
    maintained sanitiser rather than by our own patterns."""
    return _SANITIZER.clean(paragraph)


def clean_paragraph(paragraph: str, drop_line: Callable[[str], bool]) -> str | None:
    """One tidy paragraph, or None when it is empty or ``drop_line`` rejects its text.

    Leading full-width indents and trailing spaces go, whitespace runs become one
    space, empty ``<strong>``/``<em>`` pairs vanish.
    """
    inner = paragraph.removeprefix("<p>").removesuffix("</p>")
    inner = _SPACE_RUN.sub(" ", strip_control_characters(inner))
    inner = _EMPTY_INLINE.sub("", inner)
    inner = _TRAILING.sub(r"\1", _LEADING.sub(r"\1", inner))
    text = paragraph_text(inner)
    if not text.strip(" \u3000\u2003\xa0") and "<img " not in inner:
        return None
    if drop_line(text):
        return None
    return f"<p>{inner}</p>"


def paragraph_text(paragraph: str) -> str:
    """The visible text of a paragraph string (tags removed, entities left escaped)."""
    return _TAG.sub("", paragraph).strip()


def line_filter(patterns: Iterable[re.Pattern[str]]) -> Callable[[str], bool]:
    """A predicate that is true for text matching any of ``patterns`` (editor lines etc.)."""
    compiled = tuple(patterns)
    return lambda text: any(pattern.search(text) for pattern in compiled)
