"""Generic strategies for pages no selector fits, named in profiles with ``heuristic:``.

Each takes the parsed page and yields candidates in order of preference; the
extractor keeps the first one its field accepts (a date that parses, a source
after its label, a body element with text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from copy import deepcopy
from datetime import date
from itertools import chain, islice

from lxml.etree import Element, XPath, _ElementUnicodeResult
from lxml.html import HtmlElement, fragment_fromstring
from parsel import Selector

from crawler.reading.body import BLOCK_TAGS, SKIPPED_TAGS
from crawler.reading.dates import counted_back, date_strings, is_relative_date, parse_published
from crawler.reading.text import collapse_whitespace, decode_js_string

_NOT_TEXT = {"script", "style", "noscript", "template", "option", "select", "textarea"}
# Elements read as one short text (a headline, a date split over spans) hold at most 64
# nodes: more is never a headline or a date line, and reading every element's whole
# subtree made a page of deeply nested tags quadratic. (libxml2 stops at the 65th node.)
_SHORT = "[not(descendant::node()[65])]"
_LONG = XPath("boolean(descendant::node()[65])")


def _short_elements(*tags: str) -> XPath:
    # one name test per tag, not a self:: test on every element: 8 times faster
    return XPath(" | ".join(f"descendant-or-self::{tag}{_SHORT}" for tag in tags))


_NAMED_HEADLINE = (
    "contains(@class, 'tit') or contains(@id, 'tit') or contains(@class, 'headline')"
    " or contains(@class, 'bt')"
)
_HEADLINES = XPath(
    " | ".join(f"descendant-or-self::{tag}{_SHORT}" for tag in ("h1", "h2", "h3"))
    + f" | descendant-or-self::*[{_NAMED_HEADLINE}]{_SHORT}"
)
_DATE_LINES = _short_elements("div", "p", "span", "td", "li")
_SHORT_TEXTS = _short_elements(
    "h1", "h2", "h3", "h4", "div", "p", "span", "td", "th", "strong", "b", "font"
)
# 来源 starting a line or field: not 图片来源/视频来源 (a picture's credit), not “来源： inside
# a sentence; 文章来源, 信息来源, 稿件来源 … are the article's
_SOURCE_LABEL = re.compile(
    r"(?<![\u4e00-\u9fff“\"‘'])(?:本文|文章|信息|稿件|新闻|消息)?(?:来源|稿源)\s*[:：]"
)
_SOURCE_CLASS = re.compile(r"source|laiyuan", re.I)
_MEDIA_NAME = re.compile(
    r"^[\u4e00-\u9fffA-Za-z]{1,12}(?:新闻|日报|晚报|早报|时报|商报|报|网|社|客户端|电视台|电台|周刊)$"
)
_BULLETS = {"•", "·", "∙", "|", "｜"}  # what sets a name off from the date on a date line
_DATE_LINE_LENGTH = 160  # characters: a longer block is a paragraph, not a date line
_CAPTION_CLASS = re.compile(r"pic|img|photo|caption|figure|tupian", re.I)
_CAPTION_TAGS = {"p", "center", "font", "span", "figcaption", "td"}
_BLOCK_CANDIDATES = {"div", "article", "section", "td", "span", "main", "font", "center"}
# A full stop before a space or at a line's end is one too; an ellipsis ("...") is not.
_SENTENCE_MARK = re.compile(r"[。！？；!?;]|(?<!\.)\.(?=\s|$)")
# A string literal of 40 characters or more, in double or single quotes.
_JS_STRING = re.compile(r'"((?:[^"\\\n]|\\.){40,})"|\'((?:[^\'\\\n]|\\.){40,})\'')
_HTML_PARAGRAPH = re.compile(r"<(?:p|br|div)\b", re.I)
_MAX_SCRIPT = 2_000_000  # characters: larger scripts are libraries, not article data
_MIN_PROSE = 10  # characters: a shorter line is a label, however it ends
_NEAR_HEADLINE = 12  # text nodes: how far after the headline its date line may be
_DATE_LABEL = re.compile(r"(?:发布|发稿|发文|成文|生成|印发)(?:日期|时间)\s*[:：]")
_LABEL_REACH = 2  # text nodes after a date label that may hold its date
_CACHE_COMMENTS = XPath("//comment()[contains(translate(., 'CAHE', 'cahe'), 'cache')]")
_IN_H1 = XPath("boolean(ancestor-or-self::h1)")
# The site's own notices (大众网版权与免责声明, 免责声明：…, 版权说明：, Copyright …): legal
# prose, never the article.
_NOTICE_HEADING = re.compile(r"^(?:\S{0,12}(?:版权|免责)\S{0,4}(?:声明|说明)|Copyright\b)")
_NOTICE_TEXTS = XPath(
    "//text()[contains(., '声明') or contains(., '说明') or contains(., 'Copyright')]"
)


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


_TITLE_SEPARATOR = re.compile(r"\s*(?:[_|｜]|--?|—+|－|·|::)\s*")


def _page_titles(selector: Selector) -> list[str]:
    """What the page calls itself: ``<title>`` and ``og:title``."""
    titles = [
        " ".join(selector.css("title ::text").getall()),
        selector.css('meta[property="og:title"]::attr(content)').get() or "",
    ]
    return [title for title in map(collapse_whitespace, titles) if title]


def headline(selector: Selector) -> Iterator[str]:
    """Visible headlines that the page's ``<title>`` or ``og:title`` confirms.

    A headline is an ``<h1>``–``<h3>`` or an element named for a title (``div.title``,
    ``div.tit``, ``p.bt`` …) with a short text. The page title nearly always begins with
    the headline and adds a tail (the column, the site, keywords): candidates that begin a
    page title come first, longest first; then those a page title contains, which a site
    logo in ``<h1>`` rarely is (it must be at least six characters).
    """
    titles = _page_titles(selector)
    if not titles:
        return
    candidates = {
        collapse_whitespace(" ".join(element.itertext())) for element in _HEADLINES(selector.root)
    }
    candidates = {text for text in candidates if 4 <= len(text) <= 120}
    starting = [text for text in candidates if any(_begins(title, text) for title in titles)]
    yield from sorted(starting, key=len, reverse=True)
    # a <title> cut short (关于做好…工作的...) begins the visible headline
    stems = [title.rstrip(".…").rstrip() for title in titles if title.endswith(("...", "…"))]
    yield from sorted(
        (
            text
            for text in candidates
            if any(len(stem) >= 8 and text.startswith(stem) for stem in stems)
        ),
        key=len,
        reverse=True,
    )
    contained = [
        text
        for text in candidates - set(starting)
        if len(text) >= 6 and any(text in title for title in titles)
    ]
    yield from sorted(contained, key=len, reverse=True)


def _begins(title: str, head: str) -> bool:
    """``head`` is the whole of ``title`` or its part before a separator."""
    if not title.startswith(head):
        return False
    return len(title) == len(head) or bool(_TITLE_SEPARATOR.match(title, len(head)))


def confirmed_title_cut(selector: Selector) -> Iterator[str]:
    """``<title>`` cut at a separator, where the page confirms the cut.

    ``标题_栏目名``, ``标题_中国_法国_全球``, ``标题 - 某县人民政府``: a head of the title is
    taken when the page shows it as text of its own (the headline in an element no rule
    names), longest first; else the shortest head whose every dropped part the page names
    elsewhere (the column in the breadcrumb, the site in the footer, the keywords in
    ``<meta name="keywords">``; the last part may be a bare media name, the site's). Without
    such evidence the title stays whole for the next rule.
    """
    for title in _page_titles(selector)[:1]:
        cuts = [match for match in _TITLE_SEPARATOR.finditer(title) if match.start()]
        if not cuts:
            return
        visible = list(_visible_texts(selector))
        shown = set(visible)
        heads = [title[: cut.start()].strip() for cut in cuts]
        yield from (head for head in reversed(heads) if len(head) >= 4 and head in shown)
        keywords = set(
            re.split(
                r"[,，;；\s]+", selector.css('meta[name="keywords" i]::attr(content)').get() or ""
            )
        )
        for head, cut in zip(heads, cuts, strict=True):
            *parts, last = [part for part in _TITLE_SEPARATOR.split(title[cut.end() :]) if part]
            named = all(_named_on_page(part, visible, keywords) for part in parts)
            # the last part may be the site's name alone: 示例潮新闻, 某某网
            last_named = _named_on_page(last, visible, keywords) or _MEDIA_NAME.match(last)
            if len(head) >= 4 and named and last_named:
                yield head
                return


def _named_on_page(part: str, visible: list[str], keywords: set[str]) -> bool:
    return part in keywords or any(part in text for text in visible)


def _visible_texts(selector: Selector) -> Iterator[str]:
    """The whole text of each short element of the page body, whitespace collapsed."""
    body = selector.css("body")
    root = body[0].root if body else selector.root
    for element in _SHORT_TEXTS(root):
        text = collapse_whitespace(element.text_content())
        if 4 <= len(text) <= 120:
            yield text


def visible_date(selector: Selector) -> Iterator[str]:
    """Visible date strings: first those on the article's date line, soon after the
    ``<h1>`` headline; then those with a time of day, then the same in short elements whose
    date is split over child elements (``<em>2024</em> <em>05/09</em> <span>22:27:02</span>``),
    then bare dates."""
    texts = _text_nodes(selector)
    for text in _after_headline(texts):
        yield from chain(date_strings(text, timed=True), date_strings(text, timed=False))
    for text in texts:
        yield from date_strings(text, timed=True)
    for element in _DATE_LINES(selector.root):
        joined = " ".join(part.strip() for part in element.itertext() if part.strip())
        if len(joined) <= 80:
            yield from date_strings(joined, timed=True)
    for text in texts:
        yield from date_strings(text, timed=False)


def labelled_date(selector: Selector) -> Iterator[str]:
    """Dates the page labels as its publication date (发布日期：, 发布时间：, 发稿时间：,
    发文日期：, 成文日期：, 生成日期：), the date in the label's own text or in the next
    text nodes (``<label>生成日期：</label><div>2023-05-11</div>``). A page that labels its
    date says so; a ``<meta>`` time may be when it was republished."""
    texts = _text_nodes(selector)
    for index, text in enumerate(texts):
        label = _DATE_LABEL.search(text)
        if label is None:
            continue
        shown = " ".join([text[label.end() :], *texts[index + 1 : index + 1 + _LABEL_REACH]])
        value = next(chain(date_strings(shown, timed=True), date_strings(shown, timed=False)), None)
        if value is not None:
            yield value


def relative_date(selector: Selector) -> Iterator[str]:
    """The day a relative date on the article's date line (``1天前``, ``3小时前``, ``昨天``)
    means, counted back from when the page was made as its cache comment says
    (``<!-- hyper cache 2017-08-24 03:13:39 -->``, WP Super Cache, W3 Total Cache). Without
    such a stamp nothing: the day it was fetched may be long after the page was made."""
    texts = _after_headline(_text_nodes(selector))
    shown = next((text for text in texts if is_relative_date(text)), None)
    if shown is None:
        return
    for comment in _CACHE_COMMENTS(selector.root):
        made = parse_published(comment.text or "", require_time=True)
        if made is not None:
            day = counted_back(shown, made)
            if day is not None:
                yield day
            return


def visible_source(selector: Selector) -> Iterator[str]:
    """The article's source as the page shows it, as ``来源：X``.

    First on the article's date line (a short line showing the day of the page's first
    visible date): a labelled ``来源：X`` (the name possibly in the next text node of that
    line, a link), else a name there without a label (in an element named for the source,
    or a media name such as ``澎湃新闻``). Then a labelled line elsewhere, such as the
    closing ``（来源：X）``. An unlabelled name that the page title's tail gives as the
    site's own (``…-杭州网``) is the site's logo link, no source, unless an element named
    for the source holds it and no other source shows (the site's own article, last).
    Never a picture's credit
    (``图片来源：``, ``来源：`` under an image) nor a label inside a sentence (a footer's
    ``凡注明“来源：…”的作品``).
    """
    texts = _text_nodes(selector)
    day = _shown_day(texts)
    labelled = list(_labelled_sources(texts, day))
    yield from (f"来源：{name}" for name, on_date_line in labelled if on_date_line)
    tails = (" ".join(_TITLE_SEPARATOR.split(title)[1:]) for title in _page_titles(selector))
    site_names = " ".join(tails)
    unlabelled = list(_unlabelled_sources(texts, day))
    # the site's own name is its logo link: not a source, unless the page names it as the
    # source and shows no other (the site's own article)
    yield from (f"来源：{name}" for name, _ in unlabelled if name not in site_names)
    yield from (f"来源：{name}" for name, on_date_line in labelled if not on_date_line)
    yield from (f"来源：{name}" for name, named in unlabelled if named and name in site_names)


def _labelled_sources(
    texts: list[_ElementUnicodeResult], day: date | None
) -> Iterator[tuple[str, bool]]:
    """(name, whether on the date line) of every ``来源：`` label that is no credit."""
    blocks: dict[HtmlElement, HtmlElement | None] = {}
    for index, text in enumerate(texts):
        label = _SOURCE_LABEL.search(text)
        if label is None or _in_caption(_block_of(text, blocks)):
            continue
        rest = text[label.end() :].strip()
        block = _block_of(text, blocks)
        if not rest and index + 1 < len(texts) and _block_of(texts[index + 1], blocks) is block:
            rest = texts[index + 1].strip()
        yield rest, _date_line(text, day) is not None


def _unlabelled_sources(
    texts: list[_ElementUnicodeResult], day: date | None
) -> Iterator[tuple[str, bool]]:
    """(name, whether an element is named for the source) of the names on the date line
    without a label: in an element named for the source, a media name (``澎湃新闻``,
    ``环球网``), or the name a bullet sets off before the date (``第一财经APP • 2016-04-27``)."""
    for index, text in enumerate(texts):
        name = text.strip()
        if not 2 <= len(name) <= 20 or (text.is_tail and not _MEDIA_NAME.match(name)):
            continue  # after an element, only a media name: 2006年01月16日01:35</font> 东方早报
        named = not text.is_tail and _named_for_source(text.getparent())
        before_bullet = index + 1 < len(texts) and texts[index + 1].strip() in _BULLETS
        if (named or before_bullet or _MEDIA_NAME.match(name)) and _date_line(
            text, day
        ) is not None:
            yield name, named


def _named_for_source(element: HtmlElement) -> bool:
    """Whether the element or one of its nearest holders has a class or id for the source."""
    return any(
        _SOURCE_CLASS.search(f"{holder.get('class', '')} {holder.get('id', '')}")
        for holder in islice(chain([element], element.iterancestors()), 4)
    )


def _shown_day(texts: list[_ElementUnicodeResult]) -> date | None:
    """The day of the article's date line: the first date shown soon after the ``<h1>``
    headline, else the page's first visible date (with a time of day if any shows one; a
    list of other articles with their times may come first)."""
    for text in _after_headline(texts):
        for value in chain(date_strings(text, timed=True), date_strings(text, timed=False)):
            parsed = parse_published(value)
            if parsed is not None:
                return parsed.date()
    for timed in (True, False):
        for text in texts:
            for value in date_strings(text, timed=timed):
                parsed = parse_published(value)
                if parsed is not None:
                    return parsed.date()
    return None


def _after_headline(texts: list[_ElementUnicodeResult]) -> list[_ElementUnicodeResult]:
    """The text nodes just after the first ``<h1>``, where an article's date line is."""
    headline = next((i for i, text in enumerate(texts) if _in_h1(text)), None)
    return [] if headline is None else texts[headline : headline + _NEAR_HEADLINE]


def _holder(text: _ElementUnicodeResult) -> HtmlElement | None:
    """The element a text node is shown in: the text after an element (or a comment)
    belongs to that element's parent."""
    parent = text.getparent()
    return parent.getparent() if text.is_tail and parent is not None else parent


def _in_h1(text: _ElementUnicodeResult) -> bool:
    holder = _holder(text)
    return holder is not None and bool(_IN_H1(holder))


def _date_line(node: _ElementUnicodeResult, day: date | None) -> HtmlElement | None:
    """The short line around a text node that shows the article's day, if there is one."""
    holder = _holder(node)
    if day is None or holder is None:
        return None
    for element in islice(chain([holder], holder.iterancestors()), 5):
        if _LONG(element):
            return None
        text = element.text_content()
        # measured without the markup's indentation: a date line's text, not its source
        if len(text) > _DATE_LINE_LENGTH and len(collapse_whitespace(text)) > _DATE_LINE_LENGTH:
            return None
        for timed in (True, False):
            for value in date_strings(text, timed=timed):
                parsed = parse_published(value)
                if parsed is not None and parsed.date() == day:
                    return element
    return None


def _in_caption(block: HtmlElement | None) -> bool:
    """Whether a text node's block is a picture's caption or credit: it shows no date and
    shows an image, follows one, or sits in a figure or an element named for pictures
    (``div.pic``, ``p.img_desc``)."""
    if block is None or (not _LONG(block) and _shows_date(block.text_content())):
        return False  # the date line is the article's header, whatever it holds
    if next(block.iter("img"), None) is not None or _follows_picture(block):
        return True
    for element in islice(block.iterancestors(), 4):
        if element.tag in {"figure", "figcaption"}:
            return True
        if _CAPTION_CLASS.search(f"{element.get('class', '')} {element.get('id', '')}"):
            return True
    return _CAPTION_CLASS.search(f"{block.get('class', '')} {block.get('id', '')}") is not None


def _shows_date(text: str) -> bool:
    return any(next(date_strings(text, timed=timed), None) for timed in (True, False))


def _follows_picture(block: HtmlElement) -> bool:
    """A paragraph right after a paragraph that is only a picture (a header line after a
    logo is a ``div``, not a paragraph, so it does not count)."""
    previous = block.getprevious()
    return (
        block.tag in _CAPTION_TAGS
        and previous is not None
        and next(previous.iter("img"), None) is not None
        and not _LONG(previous)
        and not collapse_whitespace(previous.text_content())
    )


def _block_of(
    node: _ElementUnicodeResult, known: dict[HtmlElement, HtmlElement | None]
) -> HtmlElement | None:
    """The block (paragraph, div, cell, heading…) whose line shows a text node. ``known``
    keeps the answer for every element climbed, so that a page is climbed once in all."""
    element = _holder(node)
    climbed = []
    while element is not None and element.tag not in BLOCK_TAGS and element not in known:
        climbed.append(element)
        element = element.getparent()
    block = known.get(element, element)
    known.update(dict.fromkeys(climbed, block))
    return block


def densest_block(selector: Selector) -> Iterator[HtmlElement]:
    """The elements whose text is most like an article's, best first (three at most).

    Every line of the page (the inline text of one block: a ``<p>``, a ``<div>`` per
    paragraph, a ``<li>``, a run of ``<br>``-separated text) scores its length when it reads
    as prose (a sentence mark, some length) and counts against its container otherwise
    (navigation, dates, labels, footers); link text always counts against. An element's
    score is the sum over everything inside it, so the best element holds the article's
    paragraphs and as little else as possible, whatever tags the paragraphs are made of.
    """
    body = selector.css("body")
    root = body[0].root if body else selector.root
    lines = _lines_by_block(root)
    for notice in _site_notices(root):  # counts against whatever holds it
        for element in notice.iter(Element):
            if element in lines:
                prose, links, _ = lines[element]
                lines[element] = [0, prose + links, 0]
    totals: dict[HtmlElement, float] = {}
    for element in reversed(list(root.iter(Element))):  # children before their parents
        line = lines.get(element)
        total = totals.get(element, 0.0) + (_line_score(*line) if line else 0.0)
        totals[element] = total
        parent = element.getparent()
        if parent is not None:
            totals[parent] = totals.get(parent, 0.0) + total
    candidates = [item for item in totals.items() if item[0].tag in _BLOCK_CANDIDATES]
    for fragment in _script_fragments(root):  # the article may only be in a script's string
        lines = _lines_by_block(fragment)
        candidates.append((fragment, sum(_line_score(*line) for line in lines.values())))
    ranked = sorted(
        (item for item in candidates if item[1] > 0), key=lambda item: item[1], reverse=True
    )
    for element, _ in ranked[:3]:
        yield _with_split_parts(element, totals)


def _with_split_parts(element: HtmlElement, totals: dict[HtmlElement, float]) -> HtmlElement:
    """``element`` with the other parts of its article: siblings of the same tag and the same
    ``id`` (or ``class``) that read as prose too, where a template or a stray closing tag
    cut the article in two around a widget. Several parts are read as one, in page order."""
    parent, key = element.getparent(), _block_key(element)
    if parent is None or key is None:
        return element
    parts = [
        sibling
        for sibling in parent.iterchildren(element.tag)
        if sibling is element or (_block_key(sibling) == key and totals.get(sibling, 0) > 0)
    ]
    if len(parts) == 1:
        return element
    joined = Element("div")
    joined.extend(deepcopy(part) for part in parts)
    return joined


def _block_key(element: HtmlElement) -> tuple[str, str] | None:
    for attribute in ("id", "class"):
        value = (element.get(attribute) or "").strip()
        if value:
            return attribute, value
    return None


def _site_notices(root: HtmlElement) -> Iterator[HtmlElement]:
    """The blocks that begin with a copyright or disclaimer heading (版权声明, 免责声明)."""
    for text in _NOTICE_TEXTS(root):
        parent = _holder(text)
        if parent is None:
            continue
        block = next(
            (e for e in chain((parent,), parent.iterancestors()) if e.tag in BLOCK_TAGS), None
        )
        if block is not None and _NOTICE_HEADING.match(collapse_whitespace(block.text_content())):
            yield block


def _script_fragments(root: HtmlElement) -> Iterator[HtmlElement]:
    """HTML held in the string literals of the page's inline scripts (``var contentTxt =
    "<p>…<\\/p>"``, ``{"content": "<p>…"}``): per script, its HTML strings in order, parsed
    under one ``<div>``."""
    for script in root.iter("script"):
        if script.get("src") or not script.text or len(script.text) > _MAX_SCRIPT:
            continue
        literals = _JS_STRING.finditer(script.text)
        values = (decode_js_string(match[1] or match[2]) for match in literals)
        # one article may be split over several strings: {"contentList": [{"data": "<p>…"}, …]}
        html = "".join(value for value in values if _HTML_PARAGRAPH.search(value))
        if html:
            yield fragment_fromstring(html, create_parent="div")


def _lines_by_block(root: HtmlElement) -> dict[HtmlElement, list[int]]:
    """For each block: [prose characters, link characters, sentence marks] of the text shown
    directly in it (its inline descendants included, nested blocks not)."""
    context: dict[HtmlElement, tuple[HtmlElement, bool]] = {}  # element: (its block, in a link)
    lines: dict[HtmlElement, list[int]] = {}

    def add(text: str | None, block: HtmlElement, in_link: bool) -> None:
        text = (text or "").strip()
        if text:
            line = lines.setdefault(block, [0, 0, 0])
            line[1 if in_link else 0] += len(text)
            line[2] += len(_SENTENCE_MARK.findall(text))

    for element in root.iter(Element):
        parent = element.getparent()
        if element is not root:
            if parent not in context:
                continue  # inside skipped content (a script, a form, a menu)
            parent_block, parent_link = context[parent]
            add(element.tail, parent_block, parent_link)
        else:
            parent_block, parent_link = root, False
        if element.tag in SKIPPED_TAGS:
            continue
        block = element if element.tag in BLOCK_TAGS else parent_block
        in_link = parent_link or element.tag == "a"
        context[element] = (block, in_link)
        add(element.text, block, in_link)
    return lines


def _line_score(prose: int, links: int, marks: int) -> float:
    if marks and prose >= _MIN_PROSE:
        return prose - links
    return -0.5 * prose - links
