"""Pages in GBK/GB18030 bytes decode right; UTF-8 bytes under a false GB2312 declaration too."""

import pytest
from scrapy.http import HtmlResponse

from crawler.encoding import page_text

TEXT = "新华社北京5月10日电 春耕时节，农机忙碌。𠀋"  # the last character is outside GBK


def page(charset: str) -> str:
    return f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}"></head><body><p>{TEXT}</p></body></html>'


@pytest.mark.parametrize("declared", ["gb2312", "GBK", "gb18030"])
def test_real_gb_bytes_decode(declared):
    body = page(declared).encode("gb18030")
    assert TEXT in page_text(HtmlResponse("http://www.people.com.cn/a.html", body=body))


@pytest.mark.parametrize("declared", ["gb2312", "GBK"])
def test_utf8_bytes_under_false_gb_declaration(declared):
    body = page(declared).encode("utf-8")
    assert TEXT in page_text(HtmlResponse("http://www.people.com.cn/a.html", body=body))


def test_header_charset_wins_for_utf8():
    body = page("utf-8").encode("utf-8")
    response = HtmlResponse(
        "http://x.cn/", body=body, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    assert TEXT in page_text(response)


@pytest.mark.parametrize("declared", ["utf-8", "iso-8859-1"])
def test_gbk_bytes_under_a_false_utf8_or_latin1_declaration(declared):
    body = page("gbk").encode("gb18030")
    response = HtmlResponse(
        "http://x.cn/", body=body, headers={"Content-Type": f"text/html; charset={declared}"}
    )
    assert TEXT in page_text(response)


def test_utf8_bytes_under_a_latin1_header():
    body = page("utf-8").encode("utf-8")
    response = HtmlResponse(
        "http://x.cn/", body=body, headers={"Content-Type": "text/html; charset=iso-8859-1"}
    )
    assert TEXT in page_text(response)


@pytest.mark.parametrize(
    "body",
    [
        page("utf-8").encode("utf-8"),
        b"\xef\xbb\xbf" + page("utf-8").encode("utf-8"),  # a byte-order mark
        page("utf-8").replace("农机", "农\ufffd机").encode("utf-8"),  # U+FFFD in the page itself
        page("utf-8").encode("utf-8").replace("农".encode(), b"\xff"),  # a broken byte
    ],
)
def test_utf8_pages_read_as_a_strict_decode_reads_them(body):
    response = HtmlResponse(
        "http://x.cn/", body=body, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    try:
        expected = body.decode("utf-8")
    except UnicodeDecodeError:
        expected = response.text  # neither UTF-8 nor GB18030: the declared decoding
    assert page_text(response) == expected
