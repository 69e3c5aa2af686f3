import re
import time
from html import unescape

import pytest
from lxml import etree, html
from parsel import Selector

from crawler.reading.body import (
    clean_paragraph,
    line_filter,
    paragraphs_from_element,
    paragraphs_from_text,
    without_leading_furniture,
)

BASE = "http://www.news.cn/politics/20240509/3dd6e33cc6d749fbaae01fea337ff400/c.html"
EDITOR_LINES = line_filter([re.compile(r"^[【\[]\s*责任编辑"), re.compile(r"^【纠错】")])


def paragraphs(html: str) -> list[str]:
    element = Selector(text=f"<div id='body'>{html}</div>").css("#body")[0].root
    raw = paragraphs_from_element(element, BASE)
    return [p for p in (clean_paragraph(p, EDITOR_LINES) for p in raw) if p]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>　　第一段。</p><p>&emsp;&emsp;第二段。</p>", ["<p>第一段。</p>", "<p>第二段。</p>"]),
        ("<p><strong>　　小标题</strong></p>", ["<p><strong>小标题</strong></p>"]),
        (
            "<p>a<b>b</b><i>c</i><span>d</span><a href='x'>e</a></p>",
            ["<p>a<strong>b</strong><em>c</em>de</p>"],
        ),
        ("<p>一<br>二<br/></p>", ["<p>一<br>二</p>"]),
        ("<p>x &lt;script&gt; &amp; y</p>", ["<p>x &lt;script&gt; &amp; y</p>"]),
        ("<p></p><p> </p><p>　　</p><p>正文</p>", ["<p>正文</p>"]),
        ("<p>【责任编辑:王某】</p><p>【纠错】</p><p>正文</p>", ["<p>正文</p>"]),
        ("<script>alert(1)</script><style>p{}</style><p>正文</p>", ["<p>正文</p>"]),
        ("<p><iframe src='v'></iframe>正文</p><video src='v'>无</video>", ["<p>正文</p>"]),
        ("<p onclick='x()'>正文</p>", ["<p>正文</p>"]),
        (
            "<p><img src='pic.jpg' onerror='x()'></p>",
            [f'<p><img src="{BASE.rsplit("/", 1)[0]}/pic.jpg"></p>'],
        ),
        (
            "<p><img src='data:image/png;base64,AA'><img data-original='//img.news.cn/a.jpg'></p>",
            ['<p><img src="http://img.news.cn/a.jpg"></p>'],
        ),
        ("<p><img src='javascript:alert(1)'>字</p>", ["<p>字</p>"]),
        ("<div>块一<div>块二</div>尾</div>", ["<p>块一</p>", "<p>块二</p>", "<p>尾</p>"]),
        ("<span>散落的文字<p>段落</p></span>", ["<p>散落的文字</p>", "<p>段落</p>"]),
        ("<p>多行\n  文字</p>", ["<p>多行 文字</p>"]),
        ("<p>控制\x07字符</p>", ["<p>控制字符</p>"]),
        ("<strong><p>粗体里的段落</p></strong>", ["<p>粗体里的段落</p>"]),
        ("<p>前<embed src='x.swf'>后</p><p>下一段</p>", ["<p>前后</p>", "<p>下一段</p>"]),
        ("<video><source src='v.mp4'>不支持视频</video><p>正文</p>", ["<p>正文</p>"]),
    ],
)
def test_paragraphs(html, expected):
    assert paragraphs(html) == expected


def test_paragraphs_from_text_escapes_and_splits():
    assert paragraphs_from_text("一 & 二\n\n<三>") == ["<p>一 &amp; 二</p>", "<p>&lt;三&gt;</p>"]


def test_deeply_nested_elements_are_walked_without_recursion():
    root = current = html.Element("div")
    for _ in range(5000):  # beyond Python's recursion limit (and libxml2's 2,048 levels)
        current = etree.SubElement(current, "span")
    paragraph = etree.SubElement(current, "p")
    paragraph.text = "深处的段落"
    paragraph.tail = "尾巴"
    assert paragraphs_from_element(root, BASE) == ["<p>深处的段落</p>", "<p>尾巴</p>"]


def test_walk_is_linear_in_nested_inline_elements():
    # 400 nested <b> around 50,000 spans: the walk used to rescan each <b>'s subtree for a
    # block (20 million steps); one pass takes well under a second
    page = "<p>" + "<b>" * 400 + "<span>字</span>" * 50_000 + "</b>" * 400 + "</p>"
    started = time.monotonic()
    (paragraph,) = paragraphs(page)
    assert time.monotonic() - started < 5
    assert paragraph.count("字") == 50_000


@pytest.mark.parametrize(
    ("html_text", "expected"),
    [
        (
            "<b><b><p>段</p></b>尾</b>",
            ["<p>段</p>", "<p>尾</p>"],
        ),  # bold around a block is not kept
        (
            "<b><span><i>斜</i></span></b><p>段</p>",
            ["<p><strong><em>斜</em></strong></p>", "<p>段</p>"],
        ),
    ],
)
def test_bold_holding_a_block_is_a_wrapper_however_deep(html_text, expected):
    assert paragraphs(html_text) == expected


def test_long_runs_of_spaces_are_tidied_in_linear_time():
    started = time.monotonic()
    tidied = clean_paragraph("<p>开头" + "\u3000" * 40_000 + "结尾\u3000\u3000</p>", EDITOR_LINES)
    assert time.monotonic() - started < 2  # from every start inside the run it took 40 s
    assert tidied.endswith("结尾</p>")


@pytest.mark.parametrize(
    ("paragraphs", "expected"),
    [
        # the headline over two lines, then a meta line, then the text
        (
            ["<p>大会召开</p>", "<p>部署任务</p>", "<p>来源：某报 1天前</p>", "<p>正文。</p>"],
            ["<p>正文。</p>"],
        ),
        # a picture at the top keeps its place; its caption goes
        (
            ['<p><img src="http://x.cn/a.jpg"></p>', "<p>夏日的湖</p>", "<p>正文。</p>"],
            ['<p><img src="http://x.cn/a.jpg"></p>', "<p>正文。</p>"],
        ),
        # a table of contents before the text
        (
            ["<p>目 录</p>", "<p>第一章 河流</p>", "<p>第二章 渡口</p>", "<p>正文。</p>"],
            ["<p>正文。</p>"],
        ),
        # a gallery without prose keeps everything: its captions are its text
        (
            ['<p><img src="http://x.cn/a.jpg"></p>', "<p>夏日的湖</p>"],
            ['<p><img src="http://x.cn/a.jpg"></p>', "<p>夏日的湖</p>"],
        ),
        # a short first line that is not furniture stays
        (["<p>小标题</p>", "<p>正文。</p>"], ["<p>小标题</p>", "<p>正文。</p>"]),
    ],
)
def test_without_leading_furniture(paragraphs, expected):
    assert without_leading_furniture(paragraphs, "大会召开 部署任务") == expected


PROSE = "<p>正文最后一段，说完了。</p>"


@pytest.mark.parametrize(
    ("html_text", "expected"),
    [
        # links after the text go; a picture in a link, and plain lines, stay
        (
            f'{PROSE}<p><a href="/p/1.html"><img src="/a.jpg"></a></p>'
            '<p><b><a href="/x.html">征集写手！快来参加活动吧</a></b></p><p>投稿信箱：a@b.cn</p>',
            [PROSE, '<p><img src="http://www.news.cn/a.jpg"></p>', "<p>投稿信箱：a@b.cn</p>"],
        ),
        # a link between lines of prose stays, and so does a body that is only links
        (f'<p><a href="/t/">专题</a></p>{PROSE}', ["<p>专题</p>", PROSE]),
        (
            '<p><a href="/1.html">一</a></p><p><a href="/2.html">二</a></p>',
            ["<p>一</p>", "<p>二</p>"],
        ),
        # a line that ends the body (body_end_lines), and the links after it, are left whole
        (
            f'{PROSE}<p><a href="/app/">相关阅读</a></p><p><a href="/2.html">二</a></p>',
            [PROSE, "<p>相关阅读</p>", "<p>二</p>"],
        ),
    ],
)
def test_links_after_the_text_are_not_body(html_text, expected):
    element = Selector(text=f"<div id='body'>{html_text}</div>").css("#body")[0].root
    ends_body = line_filter([re.compile("^相关阅读")])
    raw = paragraphs_from_element(element, BASE, ends_body)
    assert [p for p in (clean_paragraph(p, EDITOR_LINES) for p in raw) if p] == expected


@pytest.mark.parametrize(
    ("patterns", "text", "expected"),
    [
        ([r"^责任编辑", r"纠错】$"], "【纠错】", True),
        ([r"^责任编辑", r"纠错】$"], "正文", False),
        # patterns with backreferences, flags of their own, inline flags
        ([r"^x", r"(来源)\1"], "来源来源", True),
        ([r"^x", r"(来源)\1"], "来源", False),
        ([re.compile("abc", re.IGNORECASE), r"^d"], "ABC", True),
        ([r"(?i)abc", r"^d"], "ABC", True),
        ([r"(?i)abc", r"^d"], "xd", False),
        # the text a reader sees: entities are decoded before matching
        ([r"^下一篇 关闭"], "下一篇&#32;关闭", True),
        ([], "anything", False),
    ],
)
def test_a_line_filter_matches_where_any_of_its_patterns_does(patterns, text, expected):
    compiled = [re.compile(p) if isinstance(p, str) else p for p in patterns]
    assert line_filter(compiled)(text) is expected
    assert any(p.search(unescape(text)) for p in compiled) is expected
