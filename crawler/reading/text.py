"""Clean-up of the short text fields: titles, sources, bylines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from crawler.reading.dates import without_dates

_SPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_SOURCE_LABEL = re.compile(r"(?:文章)?(?:来源|來源|稿源|source)\s*[:：]?\s*", re.I)
_SOURCE_END = re.compile(
    r"\s*(?:[|｜丨]|作者|编辑|责任编辑|责编|记者|时间|发布时间|浏览|点击|阅读|字号|分享)"
)
_NAME_SPLIT = re.compile(r"[\s、，,；;/]+")
_EDITOR = re.compile(r"(?:责任编辑|责编|编辑)\s*[:：]\s*([^\]】）)\n]+)")
_AUTHOR = re.compile(r"作者\s*[:：]\s*([^\]】）)\n]+?)\s*(?=责任编辑|责编|$|[\]】）)])")
_DATELINE_REPORTER = re.compile(r"[（(]\s*记者\s*([^）)]{2,40})[）)]")
_JS_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r\n|.)", re.S)
_LINE_CONTINUATIONS = {"\n", "\r", "\r\n", "\u2028", "\u2029"}
_JS_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def collapse_whitespace(text: str) -> str:
    """One space for every run of whitespace (full-width and no-break spaces included)."""
    return _SPACE.sub(" ", text.replace("\u3000", " ").replace("\xa0", " ")).strip()


def strip_control_characters(text: str) -> str:
    """Line breaks become spaces; other control characters, which break YAML and HTML, go."""
    return _CONTROL.sub("", _LINE_BREAK.sub(" ", text))


def clean_title(title: str, suffixes: Iterable[re.Pattern[str]] = ()) -> str:
    """A headline on one line, without the site name appended by ``<title>``."""
    title = collapse_whitespace(strip_control_characters(title))
    for suffix in suffixes:
        title = suffix.sub("", title).strip()
    return title


def clean_source(text: str) -> str:
    """The source name alone, from ``来源：新华社`` or ``2024-05-15 08:58 来源：新华网``."""
    text = collapse_whitespace(strip_control_characters(text))
    label = _SOURCE_LABEL.search(text)
    if label:
        text = text[label.end() :]
    text = without_dates(text).strip()
    end = _SOURCE_END.search(text)
    if end:
        text = text[: end.start()]
    return text.strip(" 　:：[]【】()（）")


def clean_names(text: str) -> str:
    """Person names as ``甲、乙``, from a byline fragment such as ``陈泽安　蓝建中``."""
    text = collapse_whitespace(strip_control_characters(text))
    names = [name for name in _NAME_SPLIT.split(text) if name]
    return "、".join(names)


def editor_from_text(text: str) -> str | None:
    """The 责任编辑 in a line such as ``【责任编辑:吴咏玲】`` or ``[作者: 甲 责任编辑: 乙 ]``."""
    match = _EDITOR.search(collapse_whitespace(text))
    return clean_names(match.group(1)) or None if match else None


def author_from_text(text: str) -> str | None:
    """The author in a byline (``作者: 刘满仓``) or a dateline (``（记者唐霁）``)."""
    text = collapse_whitespace(text)
    match = _AUTHOR.search(text) or _DATELINE_REPORTER.search(text)
    if match is None:
        return None
    names = clean_names(match.group(1))
    return names if names and not names.isdigit() else None


def unescape_js_string(text: str) -> str:
    """The value of a JavaScript string literal's body (``\\'``, ``\\n``, ``\\u4e2d``,
    ``\\u{1F600}``, a surrogate pair, a backslash that continues the line …)."""

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape.startswith("u{"):
            return chr(min(int(escape[2:-1], 16), 0x10FFFF))
        if escape[0] in "ux" and len(escape) > 1:
            return chr(int(escape[1:], 16))
        if escape in _LINE_CONTINUATIONS:
            return ""
        return _JS_SIMPLE.get(escape, escape)

    value = _JS_ESCAPE.sub(replace, text)
    # \ud83d\ude00 is one character: join surrogate pairs, mark lone halves as unreadable
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def decode_js_string(body: str) -> str:
    """The value of a quoted string found in a script: JSON's rules (``\\/``, ``\\"``,
    ``\\u4e2d``) where they apply, JavaScript's (``\\'``, ``\\x3c``) otherwise."""
    try:
        value = json.loads(f'"{body}"')
    except ValueError:
        return unescape_js_string(body)
    return value if isinstance(value, str) else body
