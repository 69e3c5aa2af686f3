import re

import pytest
from parsel import Selector

from crawler.body import clean_paragraph, line_filter, paragraphs_from_element, paragraphs_from_text

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
