"""Article bodies: from a page's content element to a list of clean ``<p>`` paragraphs.

``paragraphs_from_element`` keeps the structure (one paragraph per block, inline
``<strong>``, ``<em>``, ``<br>`` and ``<img>`` with an absolute ``src``) and drops
everything executable or interactive. ``clean_paragraph`` then tidies the text of
one paragraph; it is a pure string function so normalisation needs no second parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from enum import Enum
from html import escape, unescape
from urllib.parse import urljoin, urlsplit

import nh3
from lxml.html import HtmlElement

from crawler.reading.dates import is_date_only
from crawler.reading.text import strip_control_characters

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
_ICON_SIZE = 40  # pixels: an <img> given a smaller width or height is an icon, no picture


class _End(Enum):
    """How the walk ends an element it opened, when not with a closing tag."""

    PARAGRAPH = "a paragraph break"
    UNREAD = "nothing: its content is not read"
    LINK = "the end of a link"


_INDENT_CHARACTER = "[\\s\u3000\u2003\u2002\xa0]"
# an indent or space, as text or as the character reference nh3 writes for U+00A0
_INDENT = f"(?:{_INDENT_CHARACTER}|&nbsp;|&#160;)"
_LEADING = re.compile(rf"^((?:<(?:strong|em)>)*)(?:{_INDENT}|<br>)+")
# Tried only where a run of spaces starts: from every position inside a long run, a
# 40,000-space paragraph took 40 s.
_TRAILING = re.compile(
    rf"(?<!{_INDENT_CHARACTER})(?<!<br>)(?<!&nbsp;)(?<!&#160;)"
    rf"(?:{_INDENT}|<br>)+((?:</(?:strong|em)>)*)$"
)
# A line break before a paragraph indent starts a paragraph (pages that write one <br>
# between paragraphs and indent each with two full-width or no-break spaces).
_INDENTED_LINE = re.compile("<br>(?=[ \t\r\n]*[\u3000\u2003\xa0]{2})")
_EMPTY_INLINE = re.compile(r"<(strong|em)>(?:\s|<br>)*</\1>")
_SPACE_RUN = re.compile(r"[ \t\r\n\f\v]+")
_TAG = re.compile(r"<[^>]+>")
_SENTENCE_END = re.compile(r"[。！？!?；;]")
# A line that is only a date (a weekday, a time), or only a reporter's byline: 本报记者覃剑长沙报道
_BYLINE_ONLY = re.compile(
    r"^(?:本报|本台|本刊|本网)(?:特派|特约|驻[\u4e00-\u9fff]{1,6})?(?:记者|通讯员)[\u4e00-\u9fff·、\s]{2,24}$"
    r"|^(?:特派|特约)?记者\s*[\u4e00-\u9fff·、\s]{2,16}(?:报道|发自[\u4e00-\u9fff]{2,8})$"
)
_ALL_BOLD = re.compile(r"^<p><strong>[^<]*</strong></p>$")
_HEADER_LINES = 4  # a deck, a date line and a byline at most, before the text
_DECK_LENGTH = 60
_META_LABEL = re.compile(
    r"(?:来源|作者|编辑|责编|记者|发布时间|浏览|阅读)\s*[:：|]|\d+\s*(?:天|小时|分钟)前"
)


def paragraphs_from_element(
    element: HtmlElement,
    base_url: str,
    ends_body: Callable[[str], bool] = lambda _: False,
    is_furniture: Callable[[str], bool] = lambda _: False,
) -> list[str]:
    """The blocks of ``element`` as paragraph HTML strings (not yet tidied), without the
    paragraphs after the last line of the text whose whole text is a link (a promotion,
    other articles' headlines); pictures stay. ``is_furniture`` names the lines that are no
    text (a profile's ``drop_lines`` and ``trailing_drop_lines``). A paragraph that
    ``ends_body`` (a profile's ``body_end_lines``) and what follows it are left whole, for
    the normalise stage to cut: links there are not the text's."""
    walker = _ParagraphWalker(base_url)
    walker.walk(element)
    walker.flush()
    paragraphs, link_only = walker.paragraphs, walker.link_only
    if not any(link_only):
        return paragraphs
    texts = [_SPACE_RUN.sub(" ", paragraph_text(paragraph)).strip() for paragraph in paragraphs]
    end = next(
        (index for index, text in enumerate(texts) if index and ends_body(text)), len(paragraphs)
    )
    last_text = next(
        (
            index
            for index in range(end - 1, -1, -1)
            if not link_only[index] and _is_prose(texts[index]) and not is_furniture(texts[index])
        ),
        None,
    )
    if last_text is None:  # no text outside links (a list of headlines): kept whole
        return paragraphs
    return paragraphs[: last_text + 1] + [
        paragraph
        for index, paragraph in enumerate(paragraphs[last_text + 1 :], last_text + 1)
        if index >= end or not link_only[index]
    ]


def paragraphs_from_text(text: str) -> list[str]:
    """Plain text (JSON-LD ``articleBody``) split into paragraphs at line breaks."""
    return [f"<p>{escape(line, quote=False)}</p>" for line in text.splitlines() if line.strip()]


class _ParagraphWalker:
    """One pass over an element, with an explicit stack: no recursion limit, however deep
    the nesting, and no element visited twice, however many wrappers it sits in."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.paragraphs: list[str] = []
        self.link_only: list[bool] = []  # per paragraph: all its text inside links
        self.pieces: list[str] = []
        self._holding_blocks: set[HtmlElement] | None = None
        self._link_depth = 0
        self._linked_text = self._unlinked_text = False  # in the paragraph being read

    def flush(self) -> None:
        if self.pieces:
            joined = "".join(self.pieces)
            lines = _INDENTED_LINE.split(joined)
            self.paragraphs.extend(f"<p>{line}</p>" for line in lines)
            link_only = self._linked_text and not self._unlinked_text and "<img " not in joined
            self.link_only.extend([link_only] * len(lines))
            self.pieces.clear()
        self._linked_text = self._unlinked_text = False

    def text(self, text: str) -> None:
        self.pieces.append(escape(text, quote=False))
        if not text.isspace():
            if self._link_depth:
                self._linked_text = True
            else:
                self._unlinked_text = True

    def walk(self, root: HtmlElement) -> None:
        if root.text:
            self.text(root.text)
        # (element, its children still to read, what ends it); the root's own tail is not
        # part of the body. A childless element is read at once, without the stack.
        stack: list[tuple[HtmlElement, Iterator[HtmlElement], str | _End | None]] = [
            (root, iter(root), None)
        ]
        while stack:
            element, children, end = stack[-1]
            for child in children:
                opened = self.start(child, root)
                if opened is not _End.UNREAD:
                    if child.text:
                        self.text(child.text)
                    if len(child):
                        stack.append((child, iter(child), opened))
                        break
                    self.end(opened)
                if child.tail:
                    self.text(child.tail)
            else:  # all its children read
                stack.pop()
                self.end(end)
                if stack and element.tail:
                    self.text(element.tail)

    def start(self, element: HtmlElement, root: HtmlElement) -> str | _End | None:
        """Opens ``element``; returns what ends it (a closing tag, a paragraph break, nothing)."""
        tag = element.tag if isinstance(element.tag, str) else None
        if tag is None or tag in SKIPPED_TAGS:
            return _End.UNREAD  # comments, processing instructions and skipped content
        if tag in BLOCK_TAGS:
            self.flush()
            return _End.PARAGRAPH
        if tag == "br":
            self.line_break()
            return _End.UNREAD
        if tag == "img":
            self.image(element)
            return _End.UNREAD
        if tag in INLINE_KEPT and element not in self.holding_blocks(root):
            name = INLINE_KEPT[tag]
            self.pieces.append(f"<{name}>")
            return f"</{name}>"
        if tag == "a" and element.get("href"):
            self._link_depth += 1  # its text stays, marked as a link's
            return _End.LINK
        # span, a, font and other wrappers: their text stays. So does the text libxml2 nests
        # inside embed, source, track, param, wbr and keygen (void in HTML5, not to libxml2).
        return None

    def end(self, end: str | _End | None) -> None:
        if end is _End.PARAGRAPH:
            self.flush()
        elif end is _End.LINK:
            self._link_depth -= 1
        elif end:
            self.pieces.append(end)

    def holding_blocks(self, root: HtmlElement) -> set[HtmlElement]:
        """The elements under ``root`` with a block inside (bold around paragraphs is not
        kept as bold): found once, from each block up to an ancestor already found."""
        if self._holding_blocks is None:
            self._holding_blocks = set()
            for block in root.iterdescendants(*BLOCK_TAGS):
                parent = block.getparent()
                while parent is not None and parent not in self._holding_blocks:
                    self._holding_blocks.add(parent)
                    parent = None if parent is root else parent.getparent()
        return self._holding_blocks

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
        if _is_icon(element):
            return
        for attribute in IMAGE_SOURCES:
            url = absolute_http_url(element.get(attribute, ""), self.base_url)
            if url:
                self.pieces.append(f'<img src="{escape(url)}">')
                return


def _is_icon(image: HtmlElement) -> bool:
    """An image the page sizes smaller than any picture (a comment or share button's)."""
    return any(
        size.isdigit() and int(size) < _ICON_SIZE
        for size in (image.get("width", "").strip(), image.get("height", "").strip())
    )


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
    """One tidy paragraph, or None when it is empty or ``drop_line`` rejects the text of a
    paragraph without a picture.

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
    # A picture's paragraph stays whole: its caption and credit are not article text, but
    # dropping them would drop the picture with them.
    if drop_line(text) and "<img " not in inner:
        return None
    return f"<p>{inner}</p>"


def without_leading_furniture(paragraphs: list[str], title: str | None) -> list[str]:
    """The paragraphs without the furniture a body block opens with, before its first line
    of prose: the headline repeated (whole or a line of it), a book's table of contents
    (目录 and its chapter lines), a meta line (来源, 作者, 编辑 …), a deck in bold and the
    captions of the pictures there. Pictures and lines of prose are never dropped, nor
    anything of a body that has no prose at all (a gallery: its captions are its text)."""
    paragraphs = _without_opening_header(paragraphs)
    kept: list[str] = []
    in_contents = after_picture = False
    title_plain = _SPACE_RUN.sub("", title or "").replace("\u3000", "")
    for index, paragraph in enumerate(paragraphs):
        text = paragraph_text(paragraph)
        plain = _SPACE_RUN.sub("", text).replace("\u3000", "")
        if _is_prose(text):
            return kept + paragraphs[index:]
        if not plain:  # a picture
            kept.append(paragraph)
            after_picture = "<img " in paragraph
            continue
        in_contents = in_contents or plain == "目录"
        furniture = (
            in_contents
            or after_picture
            or (len(plain) >= 4 and plain in title_plain)
            or _META_LABEL.search(text) is not None
            or _ALL_BOLD.match(paragraph) is not None
        )
        if not furniture:
            return kept + paragraphs[index:]
    return paragraphs


def _without_opening_header(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without the article header a body block may open with: short lines (a
    deck under the headline, an issuer) up to a line that is only a date or a byline, also
    as the last line of a paragraph (``统计局<br>（2023年5月）``). Pictures stay; without
    such a line nothing is dropped."""
    header_end = 0
    for index, paragraph in enumerate(paragraphs[:_HEADER_LINES]):
        text = paragraph_text(paragraph)
        last_line = paragraph_text(paragraph.rsplit("<br>", 1)[-1])
        if (is_date_only(last_line) or _BYLINE_ONLY.match(last_line)) and len(text) <= _DECK_LENGTH:
            header_end = index + 1
        elif text and (len(text) > _DECK_LENGTH or text[-1] in "。！？!?"):
            break  # the text has begun
    pictures = [p for p in paragraphs[:header_end] if not paragraph_text(p)]
    return pictures + paragraphs[header_end:]


def _is_prose(text: str) -> bool:
    return len(text) >= 40 or bool(_SENTENCE_END.search(text))


def paragraph_text(paragraph: str) -> str:
    """The visible text of a paragraph string (tags removed, entities left escaped)."""
    return _TAG.sub("", paragraph).strip()


def line_filter(patterns: Iterable[re.Pattern[str]]) -> Callable[[str], bool]:
    """A predicate that is true for text matching any of ``patterns`` (editor lines etc.)."""
    compiled = tuple(patterns)

    def matches(text: str) -> bool:
        # patterns are written for the text a reader sees: "下一篇 关闭本页", not "下一篇&nbsp;…"
        seen = unescape(text)
        return any(pattern.search(seen) for pattern in compiled)

    return matches
