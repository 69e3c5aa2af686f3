"""Decoding pages whose declared charset is wrong.

Scrapy decodes by the HTTP header, then the ``<meta>`` charset, reading any GB2312 or
GBK declaration as GB18030 (their superset), which is right for real Chinese pages.
But re-saved pages often keep ``charset=GB2312`` over bytes that are really UTF-8,
and decoding those as GB18030 "succeeds" into mojibake. UTF-8 is self-checking:
multi-byte text that decodes as strict UTF-8 is UTF-8, so that is tried first.
"""

from __future__ import annotations

from scrapy.http import TextResponse

_CHINESE_LEGACY = {"gb2312", "gbk", "gb18030", "hz-gb-2312", "big5", "cp936", "euc-cn"}


def page_text(response: TextResponse) -> str:
    """The page's text, preferring UTF-8 when a legacy Chinese charset is declared falsely."""
    if response.encoding.lower().replace("_", "-") in _CHINESE_LEGACY:
        body = response.body
        if not body.isascii():
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError:
                pass  # really GB bytes: Scrapy's GB18030 decoding is right
    return response.text
