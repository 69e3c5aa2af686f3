"""Decoding pages whose declared charset is wrong.

Scrapy decodes by the HTTP header, then the ``<meta>`` charset, reading any GB2312 or
GBK declaration as GB18030 (their superset), which is right for real Chinese pages.
Declarations lie, though, in both directions:

- re-saved pages keep ``charset=GB2312`` over bytes that are really UTF-8, and decoding
  those as GB18030 "succeeds" into mojibake;
- servers send ``charset=utf-8`` (or ISO-8859-1, a common default) over GBK bytes.

UTF-8 is self-checking: multi-byte text that decodes as strict UTF-8 is UTF-8. So bytes
that are valid UTF-8 are read as UTF-8 whatever the declaration says, and bytes that are
not, declared as UTF-8 or Latin-1, are read as GB18030 when they decode cleanly as such.
"""

from __future__ import annotations

from codecs import BOM_UTF8

from scrapy.http import TextResponse

_CHINESE_LEGACY = {"gb2312", "gbk", "gb18030", "hz-gb-2312", "big5", "cp936", "euc-cn"}
_UTF8 = {"utf-8", "utf8"}
_LIKELY_WRONG = {
    "utf-8",
    "utf8",
    "iso-8859-1",
    "latin-1",
    "latin1",
    "cp1252",
    "windows-1252",
    "ascii",
}


def page_text(response: TextResponse) -> str:
    """The page's text, correcting a declared charset that the bytes contradict."""
    body = response.body
    declared = response.encoding.lower().replace("_", "-")
    if body.isascii() or (declared not in _CHINESE_LEGACY and declared not in _LIKELY_WRONG):
        return response.text
    if declared in _UTF8 and not body.startswith(BOM_UTF8):
        text = response.text  # decoded already: Scrapy's meta-refresh check reads it
        if "\ufffd" not in text:  # no bytes replaced: what a strict decode gives (~40 µs)
            return text
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared in _LIKELY_WRONG:
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError:
            pass  # neither: keep the declared decoding, with its replacement characters
    return response.text
