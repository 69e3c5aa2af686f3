"""Pages in GBK/GB18030 bytes decode right; UTF-8 bytes under a false GB2312 declaration too."""

import pytest
from scrapy.http import HtmlResponse

from crawler.reading.encoding import page_text, undecodable

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


NEWS = TEXT.rstrip("𠀋") * 20  # all of it in GBK, the length of a short article
TRADITIONAL = "國務院召開常務會議部署穩就業工作，這是正文的第一段，講述了一件普通的新聞。" * 5


def response(body: bytes, charset: str | None = None) -> HtmlResponse:
    kind = f"text/html; charset={charset}" if charset else "text/html"
    return HtmlResponse("http://x.cn/", body=body, headers={"Content-Type": kind})


def news(text: str = NEWS) -> str:
    return f"<html><head><title>news</title></head><body><p>{text}</p></body></html>"


GBK_ONE_BAD_BYTE = news().encode("gbk").replace("农".encode("gbk"), b"\x81\x20", 1)
UTF8_ONE_BAD_BYTE = news().encode("utf-8").replace("农".encode(), b"\xe5\x86", 1)


@pytest.mark.parametrize(
    ("body", "charset", "expected"),
    [
        # valid UTF-8 is UTF-8, whatever is declared
        (news().encode("utf-8"), "shift_jis", NEWS),
        (news().encode("utf-8"), "big5", NEWS),
        (news().encode("utf-8"), "koi8-r", NEWS),
        (news().encode("utf-8"), None, NEWS),
        # a declared charset that leaves replacement characters loses to one that does not
        (GBK_ONE_BAD_BYTE, "utf-8", NEWS[NEWS.index("机") :]),
        (UTF8_ONE_BAD_BYTE, "gb2312", NEWS[NEWS.index("机") :]),
        (GBK_ONE_BAD_BYTE, "iso-8859-1", NEWS[NEWS.index("机") :]),
        (news().encode("gbk"), "euc-kr", NEWS),
        # both read cleanly: the reading that is Chinese
        (news().encode("gbk"), "big5", NEWS),
        (news(TRADITIONAL).encode("big5"), "big5", TRADITIONAL),
        # real legacy pages
        (GBK_ONE_BAD_BYTE, "gb2312", NEWS[NEWS.index("机") :]),
        (news().encode("gbk"), None, NEWS),
        (news().encode("gb18030"), "gbk", NEWS),
    ],
)
def test_the_bytes_decide_when_the_declaration_disagrees(body, charset, expected):
    text = page_text(response(body, charset))
    assert expected in text
    assert undecodable(text) is None


@pytest.mark.parametrize("charset", ["utf-8", "gb2312", "iso-8859-1", None])
def test_bytes_that_no_charset_reads_are_undecodable(charset):
    utf8 = news().encode("utf-8")
    damaged = utf8[:60] + bytes(byte for n, byte in enumerate(utf8[60:]) if n % 5)  # 1 in 5 lost
    assert undecodable(page_text(response(damaged, charset))).startswith(
        "no charset reads the bytes cleanly"
    )


@pytest.mark.parametrize(
    "text",
    [NEWS, NEWS + "\ufffd", NEWS + "\ufffd\ufffd", "<p>Straße \ufffd</p>", "plain ascii"],
)
def test_a_broken_byte_or_two_is_not_undecodable(text):
    assert undecodable(text) is None


def test_latin1_page_under_a_latin1_header_stays_latin1():
    body = "<html><body><p>Élysée: déjà vu à la française, façade.</p></body></html>"
    assert "Élysée" in page_text(response(body.encode("latin-1"), "iso-8859-1"))
