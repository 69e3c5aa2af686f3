"""Reading an article's fields from its page with a site profile's ordered rules.

Each page is parsed once; each field takes the first rule whose result is usable
(a headline with text, a date that parses, a non-empty body), and the rule's name
is kept as the field's provenance so a wrong value can be traced to its rule.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from cssselect.xpath import XPathExpr, is_non_whitespace
from lxml.etree import XPath
from lxml.html import HtmlElement, fragment_fromstring
from parsel import Selector
from parsel.csstranslator import HTMLTranslator

from crawler.drops import PageTooComplex, UndecodablePage
from crawler.items import Article, RawPage
from crawler.reading.body import (
    line_filter,
    paragraph_text,
    paragraphs_from_element,
    paragraphs_from_text,
)
from crawler.reading.dates import parse_published
from crawler.reading.encoding import undecodable
from crawler.reading.heuristics import (
    confirmed_title_cut,
    densest_block,
    headline,
    labelled_date,
    relative_date,
    visible_date,
    visible_source,
)
from crawler.reading.profiles import FieldRule, SiteProfile
from crawler.reading.text import (
    author_from_text,
    clean_source,
    clean_title,
    collapse_whitespace,
    editor_from_text,
    unescape_js_string,
)

# Script and style hold text only, so testing the parent is enough; an ancestor test costs
# the depth of every text node (quadratic on a page of deeply nested tags).
_text_nodes = XPath(".//text()[not(parent::script or parent::style)]", smart_strings=False)


class _Translator(HTMLTranslator):
    """parsel's CSS translation, with class tests that select the same elements faster.

    cssselect tests ``.x`` (and ``[a~=x]``) as ``@class and contains(@class, 'x') and
    contains(concat(' ', normalize-space(@class), ' '), ' x ')``. The leading existence
    test is implied by the next one (``x`` is not empty) and costs a node set per
    element tested: without it, the class selectors of a profile run ~27% faster.
    """

    def xpath_attrib_includes(self, xpath: XPathExpr, name: str, value: str | None) -> XPathExpr:
        if not value or not is_non_whitespace(value):
            return super().xpath_attrib_includes(xpath, name, value)
        padded = self.xpath_literal(f" {value} ")
        return xpath.add_condition(
            f"contains({name}, {self.xpath_literal(value)}) and "
            f"contains(concat(' ', normalize-space({name}), ' '), {padded})"
        )


_CSS = _Translator()
_JSONLD_SCRIPTS = XPath(
    _CSS.css_to_xpath('script[type="application/ld+json"]::text'), smart_strings=False
)


def compile_query(rule: FieldRule) -> XPath:
    """A rule's CSS or XPath selector as a compiled XPath (CSS pseudo-elements included)."""
    xpath = _CSS.css_to_xpath(rule.query) if rule.kind == "css" else rule.query
    return XPath(xpath, regexp=False, smart_strings=False)


TEXT_HEURISTICS: dict[str, Callable[[Selector], Iterator[str]]] = {
    "headline": headline,
    "confirmed_title_cut": confirmed_title_cut,
    "visible_date": visible_date,
    "labelled_date": labelled_date,
    "relative_date": relative_date,
    "visible_source": visible_source,
}
_TAGS = re.compile(r"<[^>]+>")
_SHOWN_TIME_RANGE = timedelta(days=1)
# </html> or </body>, in any case. Spelled out so that the pattern starts with a literal
# "<" the regex engine can jump between; with re.I it tries every position (twice as slow).
_CLOSING_ROOT_TAGS = re.compile(r"<(?=/[hHbB])/(?:[hH][tT][mM][lL]|[bB][oO][dD][yY])\s*>")


def fragment_text(fragment: str) -> str:
    """The text of an HTML fragment found by a regex (tags dropped, entities decoded)."""
    return collapse_whitespace(html.unescape(_TAGS.sub(" ", fragment)))


def parse_html(text: str, url: str) -> Selector:
    """``Selector(text=text, base_url=url)``, the same tree with two passes fewer.

    Given text, parsel tries it as JSON, strips it, removes NULs from the string and
    encodes it: over a ~45 KB page of Chinese, the NUL pass alone costs as much as the
    encoding (~30 µs). An HTML page (it starts with ``<``, not ``<?xml``) is encoded
    once and given to parsel as bytes, which checks for NULs in the bytes (memchr).
    Anything else, or text with NULs, whose removal and stripping parsel orders
    differently for bytes, takes parsel's own path.
    """
    stripped = text.strip()
    if stripped.startswith("<") and not stripped.startswith("<?xml"):
        try:
            body = stripped.encode("utf-8")
        except UnicodeEncodeError:
            body = b""  # lone surrogates: parsel raises its own error below
        if body and b"\x00" not in body:
            return Selector(body=body, type="html", base_url=url)
    return Selector(text=text, base_url=url)


@dataclass(slots=True)
class _Found:
    value: Any
    rule: str


# libxml2 reads a page at most this many levels deep (with huge_tree, as parsel parses it);
# deeper, it stops reading, silently: the rest of the page is lost.
_PARSER_MAX_DEPTH = 2048


class PageLimits:
    """The most work one page may cost: the elements of its parsed tree and their nesting.

    The body walk and the heuristics are linear in the elements; some steps cost the
    elements times their depth (text measured at every nesting level, libxml2's text-node
    queries), so both bounds together bound the work. Real article pages have 300-3,000
    elements nested 10-20 deep.

    A parsed page is checked at once for its elements (counted only when it is long enough
    to hold that many) and for libxml2's own limit; the depth bound, which costs a pass
    over the tree, when a heuristic first reads the whole page: most pages need none.
    """

    def __init__(self, max_elements: int, max_depth: int):
        self.max_elements = max_elements
        self.max_depth = max_depth
        self._count = XPath("count(//*)")
        # /*/*/…: one step per level, so each element is visited once, whatever the shape.
        # A bound at or past libxml2's own tests nothing.
        self._deeper = (
            XPath("boolean(/" + "/".join(["*"] * (max_depth + 1)) + ")")
            if max_depth < _PARSER_MAX_DEPTH
            else None
        )

    def check_parsed(self, html: str, root: HtmlElement) -> None:
        """Raises :class:`PageTooComplex` for a page of too many elements, or one that
        libxml2 stopped reading (its last open elements are still the last ones)."""
        # Each element takes at least three characters ("<b>"): most pages need no count.
        if len(html) > 3 * self.max_elements:
            elements = int(self._count(root))
            if elements > self.max_elements:
                raise PageTooComplex(
                    f"{elements} elements, more than EXTRACT_MAX_ELEMENTS ({self.max_elements})"
                )
        depth, last = 1, root
        while len(last):
            depth, last = depth + 1, last[-1]
        if depth >= _PARSER_MAX_DEPTH:
            raise PageTooComplex(
                f"elements nested {_PARSER_MAX_DEPTH} levels deep: the HTML parser stops there"
            )

    def check_depth(self, root: HtmlElement) -> None:
        """Raises :class:`PageTooComplex` for a page nested deeper than the bound."""
        if self._deeper is not None and self._deeper(root):
            raise PageTooComplex(
                f"elements nested more than EXTRACT_MAX_DEPTH ({self.max_depth}) levels deep"
            )


class _Page:
    """One parsed page and the lazily parsed JSON-LD objects it carries."""

    def __init__(self, url: str, html: str, queries: dict[FieldRule, XPath], limits: PageLimits):
        self.url = url
        self.html = html
        self.queries = queries
        # A stray early </html> (gov.cn's included header has one) would leave the article
        # outside the document root, out of reach of CSS rules; end tags are optional anyway.
        self.selector = parse_html(_CLOSING_ROOT_TAGS.sub("", html), url)
        limits.check_parsed(html, self.selector.root)
        self.limits: PageLimits | None = limits  # None once the depth is checked
        self._jsonld: list[Any] | None = None
        self._selected: dict[tuple[str, str], list[Any]] = {}

    def texts(self, rule: FieldRule) -> Iterator[str]:
        """Every candidate text the rule finds, in document order."""
        if rule.kind == "jsonld":
            values = self._jsonld_values(rule.query)
            yield from (value for value in values if isinstance(value, str))
        elif rule.kind == "regex":
            yield from (fragment_text(value) for value in self._regex_values(rule))
        elif rule.kind == "heuristic":
            yield from TEXT_HEURISTICS[rule.query](self._whole_page())
        else:
            for match in self._select(rule):
                if isinstance(match, str):
                    yield str(match)
                elif isinstance(match, HtmlElement):
                    yield " ".join(_text_nodes(match))

    def elements(self, rule: FieldRule) -> Iterator[HtmlElement]:
        """Every candidate element the rule finds (an HTML fragment for ``regex``)."""
        if rule.kind == "regex":
            for value in self._regex_values(rule):
                if value.strip():
                    yield fragment_fromstring(value, create_parent="div")
        elif rule.kind == "heuristic":
            yield from densest_block(self._whole_page())
        else:
            for match in self._select(rule):
                if isinstance(match, HtmlElement):
                    yield match

    def _whole_page(self) -> Selector:
        """The page, for a heuristic that reads all of it: within the depth bound."""
        if self.limits is not None:
            self.limits.check_depth(self.selector.root)
            self.limits = None
        return self.selector

    def _regex_values(self, rule: FieldRule) -> Iterator[str]:
        for match in re.finditer(rule.query, self.html):
            value = match.groupdict().get("value") or match.group(1 if match.re.groups else 0)
            yield unescape_js_string(value) if rule.decode == "js" else value

    def _select(self, rule: FieldRule) -> list[Any]:
        """Elements or strings (text nodes, attribute values) the rule's selector finds;
        once per page for a selector several fields' rules share."""
        key = (rule.kind, rule.query)
        if key not in self._selected:
            result = self.queries[rule](self.selector.root)
            # XPath functions (string(), substring-before()…) give one value, not a node list.
            self._selected[key] = result if isinstance(result, list) else [str(result)]
        return self._selected[key]

    def _jsonld_values(self, path: str) -> Iterator[Any]:
        if self._jsonld is None:
            self._jsonld = list(_jsonld_objects(self.selector.root))
        for obj in self._jsonld:
            yield from _walk(obj, path.split("."))


def _jsonld_objects(root: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in _JSONLD_SCRIPTS(root):
        try:
            data = json.loads(script)
        except (ValueError, RecursionError):  # nested deeper than the JSON parser goes
            continue  # broken JSON-LD is common; other rules still apply
        for obj in data if isinstance(data, list) else [data]:
            if isinstance(obj, dict):
                yield obj
                yield from (item for item in obj.get("@graph", []) if isinstance(item, dict))


def _walk(value: Any, keys: list[str]) -> Iterator[Any]:
    """The values at the path ``keys`` in ``value``, lists flattened on the way, in order.
    With a stack, not recursion: the JSON parser accepts lists nested ~1,000 deep."""
    stack = [(value, 0)]
    while stack:
        value, depth = stack.pop()
        if depth == len(keys):
            yield value
        elif isinstance(value, list):
            stack.extend((item, depth) for item in reversed(value))
        elif isinstance(value, dict) and keys[depth] in value:
            stack.append((value[keys[depth]], depth + 1))


def _first_text(
    page: _Page, rules: tuple[FieldRule, ...], accept: Callable[[str, FieldRule], Any]
) -> _Found | None:
    for rule in rules:
        for text in page.texts(rule):
            value = accept(text, rule)
            if value:
                return _Found(value, rule.name)
    return None


class ArticleExtractor:
    """Turns a :class:`RawPage` into an :class:`Article` with one profile's rules.

    Raises :class:`PageTooComplex` for a page (or continuation page) beyond ``limits``, and
    :class:`UndecodablePage` for a page whose bytes no charset reads.
    """

    def __init__(self, profile: SiteProfile, limits: PageLimits):
        self.profile = profile
        self.limits = limits
        # One XPath for all of them: one pass over the body instead of one per selector.
        self._excluded = (
            XPath(" | ".join(_CSS.css_to_xpath(query) for query in profile.body_exclude))
            if profile.body_exclude
            else None
        )
        self._ends_body = line_filter(profile.body_end_lines)
        self._furniture = line_filter(profile.drop_lines + profile.trailing_drop_lines)
        # Compiled once per profile: a crawl applies the same few selectors to every page.
        self._queries = {
            rule: compile_query(rule)
            for rules in profile.fields.values()
            for rule in rules
            if rule.kind in {"css", "xpath"}
        }

    def extract(self, raw: RawPage) -> Article:
        """The article's fields; raises :class:`UndecodablePage` when the page's bytes read
        as garbage and so does what was extracted (garbage in a footer spares the article)."""
        page = _Page(raw.url, raw.html, self._queries, self.limits)
        rules = self.profile.fields
        article = Article(
            url=raw.url,
            request_url=raw.request_url or raw.url,
            site=self.profile.name,
            article_id=self.profile.page_article_id(raw.url),
            post_prefix=self.profile.post_prefix,
            identity_host=self.profile.identity_host(raw.url),
            missing_pages=list(raw.missing_pages),
        )
        found = {
            "title": _first_text(page, rules["title"], self._title),
            "published": self._published(page),
            "source": _first_text(page, rules["source"], lambda text, _: clean_source(text)),
            "author": _first_text(page, rules["author"], lambda text, _: author_from_text(text)),
            "editor": _first_text(page, rules["editor"], lambda text, _: editor_from_text(text)),
            "body": self._body(page, raw, article.missing_pages),
        }
        for name, result in found.items():
            if result is not None:
                setattr(article, "paragraphs" if name == "body" else name, result.value)
                article.provenance[name] = result.rule
        reason = undecodable(raw.html)
        if reason and _unreadable(article.title, article.paragraphs):
            raise UndecodablePage(reason)
        return article

    def _published(self, page: _Page) -> _Found | None:
        """The first date the rules find, with its time of day if any rule shows it.

        Pages often carry a date-only ``<meta>`` before a visible date and time; a later
        rule may refine the day to the second, never change it.
        """
        rules = self.profile.fields["published"]
        dated = _first_text(page, rules, lambda text, _: parse_published(text))
        if dated is None:
            return None
        if dated.value.time() != time(0):
            return self._shown_time(page, dated) or dated
        return _first_text(page, rules, lambda text, _: _same_day(text, dated.value)) or dated

    def _shown_time(self, page: _Page, dated: _Found) -> _Found | None:
        """The time the page shows, where a metadata time less than a day away disagrees with
        it: a ``<meta>`` or JSON-LD time is often when the page was updated or cached, or is
        in another zone than it says. A shown date further away is some other date."""
        rules = self.profile.fields["published"]
        if not any(rule.name == dated.rule and rule.reads_metadata for rule in rules):
            return None
        shown_rules = tuple(rule for rule in rules if not rule.reads_metadata)
        shown = _first_text(
            page, shown_rules, lambda text, _: parse_published(text, require_time=True)
        )
        if shown is None or not timedelta(0) < abs(shown.value - dated.value) <= _SHOWN_TIME_RANGE:
            return None
        return shown

    def _title(self, text: str, rule: FieldRule) -> str:
        if rule.strip_suffix:
            return clean_title(text, self.profile.title_suffixes)
        return collapse_whitespace(text)

    def _body(self, page: _Page, raw: RawPage, missing_pages: list[str]) -> _Found | None:
        """Paragraphs of the first page, then of each continuation page in order; one whose
        bytes no charset reads is a missing page, as one that could not be fetched."""
        first = self._page_body(page)
        if first is None:
            return None
        paragraphs = list(first.value)
        for snapshot in raw.continuation_pages:
            more = self._page_body(_Page(snapshot.url, snapshot.html, self._queries, self.limits))
            if undecodable(snapshot.html) and _unreadable(None, more.value if more else []):
                missing_pages.append(snapshot.url)
            elif more is not None:
                paragraphs.extend(more.value)
        return _Found(paragraphs, first.rule)

    def _page_body(self, page: _Page) -> _Found | None:
        for rule in self.profile.fields["body"]:
            if rule.kind == "jsonld":
                for text in page.texts(rule):
                    paragraphs = paragraphs_from_text(text)
                    if paragraphs:
                        return _Found(paragraphs, rule.name)
                continue
            for element in page.elements(rule):
                if not isinstance(element.tag, str):
                    continue
                self._drop_excluded(element)
                paragraphs = paragraphs_from_element(
                    element, page.url, self._ends_body, self._furniture
                )
                if any(_has_text(paragraph) for paragraph in paragraphs):
                    return _Found(paragraphs, rule.name)
        return None

    def _drop_excluded(self, element: HtmlElement) -> None:
        if self._excluded is None:
            return
        for unwanted in self._excluded(element):
            if unwanted is not element:
                unwanted.drop_tree()


def _same_day(text: str, day: datetime) -> datetime | None:
    """The date and time in ``text`` when it has a time of day and falls on ``day``'s date."""
    timed = parse_published(text, require_time=True)
    return timed if timed is not None and timed.date() == day.date() else None


def _unreadable(title: str | None, paragraphs: list[str]) -> bool:
    """Whether a title and body read from a badly decoded page are garbage too: nothing
    found, or too many replacement characters (see :func:`undecodable`)."""
    text = " ".join([title or "", *(paragraph_text(paragraph) for paragraph in paragraphs)])
    return not text.strip() or undecodable(text) is not None


def _has_text(paragraph: str) -> bool:
    return bool(collapse_whitespace(paragraph_text(paragraph)))
