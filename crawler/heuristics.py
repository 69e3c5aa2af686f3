"""Generic strategies for pages no selector fits, named in profiles with ``heuristic:``.

Each takes the parsed page and yields candidates in order of preference; the
extractor keeps the first one its field accepts (a date that parses, a source
after its label, a body element with text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml.etree import XPath, _ElementUnicodeResult
from lxml.html import HtmlElement
from parsel import Selector

from crawler.body import BLOCK_TAGS
from crawler.dates import date_strings
from crawler.text import collapse_whitespace

_NOT_TEXT = {"script", "style", "noscript", "template", "option", "select", "textarea"}
_SOURCE_LABEL = re.compile(r"(?:文章)?来源\s*[:：]")
_BLOCK_CANDIDATES = {"div", "article", "section", "td", "span", "main"}
# Elements read as one short text (a headline, a date split over spans) hold at most 64
# nodes: more is never a headline or a date line, and reading every element's whole
# subtree made a page of deeply nested tags quadratic. (libxml2 stops at the 65th node.)
_SHORT = "[not(descendant::node()[65])]"


def _short_elements(*tags: str) -> XPath:
    # one name test per tag, not a self:: test on every element: 8 times faster
    return XPath(" | ".join(f"descendant-or-self::{tag}{_SHORT}" for tag in tags))


_HEADINGS = _short_elements("h1", "h2", "h3")
_DATE_LINES = _short_elements("div", "p", "span", "td", "li")


def _text_nodes(selector: Selector) -> list[_ElementUnicodeResult]:
    body = selector.css("body")
    root = body[0].root if body else selector.root
    return [
        node
        for node in root.xpath(".//text()")
        if str(node).strip()
        and node.getparent() is not None
        and node.getparent().tag not in _NOT_TEXT
    ]


def headline(selector: Selector) -> Iterator[str]:
    """``<h1>``/``<h2>`` texts that ``<title>`` repeats, longest first.

    The page title nearly always begins with the headline; a site logo in ``<h1>``
    or a kicker in ``<h2>`` does not appear in it, so this skips them.
    """
    title = collapse_whitespace(" ".join(selector.css("title ::text").getall()))
    candidates = {
        collapse_whitespace(" ".join(element.itertext())) for element in _HEADINGS(selector.root)
    }
    repeated = [text for text in candidates if len(text) >= 4 and text in title]
    yield from sorted(repeated, key=len, reverse=True)


def visible_date(selector: Selector) -> Iterator[str]:
    """Visible date strings: first those with a time of day, then the same in short
    elements whose date is split over child elements (``<em>2024</em> <em>05/09</em>
    <span>22:27:02</span>``), then bare dates."""
    texts = _text_nodes(selector)
    for text in texts:
        yield from date_strings(text, timed=True)
    for element in _DATE_LINES(selector.root):
        joined = " ".join(part.strip() for part in element.itertext() if part.strip())
        if len(joined) <= 80:
            yield from date_strings(joined, timed=True)
    for text in texts:
        yield from date_strings(text, timed=False)


def visible_source(selector: Selector) -> Iterator[str]:
    """``来源：X`` as the page shows it, the name possibly in the next text node (a link).

    Only a text node on the label's line (in the same block) can be its name: after an
    empty ``来源：`` the next text is some other line, often the headline.
    """
    texts = _text_nodes(selector)
    blocks: dict[HtmlElement, HtmlElement | None] = {}
    for index, text in enumerate(texts):
        label = _SOURCE_LABEL.search(text)
        if label is None:
            continue
        rest = text[label.end() :].strip()
        if (
            not rest
            and index + 1 < len(texts)
            and _block_of(texts[index + 1], blocks) is _block_of(text, blocks)
        ):
            rest = texts[index + 1].strip()
        yield "来源：" + rest


def _block_of(
    node: _ElementUnicodeResult, known: dict[HtmlElement, HtmlElement | None]
) -> HtmlElement | None:
    """The block (paragraph, div, cell, heading…) whose line shows a text node. ``known``
    keeps the answer for every element climbed, so that a page is climbed once in all."""
    element = node.getparent()
    if node.is_tail:
        element = element.getparent()
    climbed = []
    while element is not None and element.tag not in BLOCK_TAGS and element not in known:
        climbed.append(element)
        element = element.getparent()
    block = known.get(element, element)
    known.update(dict.fromkeys(climbed, block))
    return block


def densest_block(selector: Selector) -> Iterator[HtmlElement]:
    """The element holding the most paragraph text that is not link text.

    Scores each block by the text of its own ``<p>`` children plus its own loose text
    (pages that separate paragraphs with ``<br>``), minus what sits inside links.
    """
    scored: list[tuple[int, HtmlElement]] = []
    for element in selector.root.iter(*_BLOCK_CANDIDATES):
        score = _own_text_length(element)
        for child in element:
            if child.tag == "p":
                score += _text_length(child) - _link_text_length(child)
        if score > 0:
            scored.append((score, element))
    scored.sort(key=lambda pair: pair[0], reverse=True)
    for _, element in scored[:3]:
        yield element


def _own_text_length(element: HtmlElement) -> int:
    length = len((element.text or "").strip())
    for child in element:
        if isinstance(child.tag, str) and child.tag in {"br", "strong", "b", "span", "font", "u"}:
            length += len(collapse_whitespace(child.text_content()))
        length += len((child.tail or "").strip())
    return length


def _text_length(element: HtmlElement) -> int:
    return len(collapse_whitespace(element.text_content()))


def _link_text_length(element: HtmlElement) -> int:
    return sum(len(collapse_whitespace(link.text_content())) for link in element.iter("a"))
