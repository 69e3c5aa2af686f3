"""The generic rules on differently built pages of sites without a profile (fixtures written
for this project, at least two per class of page): meta/OpenGraph, a logo in <h1>, JSON-LD
only, an old table layout; titles with tails (title-tail-*), paragraphs as <div>s, <br> lines
or list items, or only in a script (body-*), picture credits and unlabelled sources
(source-*), metadata times that disagree with the page (date-*), furniture in bodies
(junk-*) and legacy encodings (encoding-*)."""

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, project_crawler
from scrapy.http import HtmlResponse

from crawler.items import RawPage
from crawler.reading.encoding import page_text
from pipelines.extract import ExtractPipeline
from pipelines.normalise import NormalisePipeline

CASES = sorted((FIXTURES / "generic").glob("*.json"))


def page_of(case: Path, expected: dict) -> str:
    """The page's text as the spiders decode it: pages whose ``bytes`` the fixture describes
    (GBK with a bad byte, UTF-8 under a gb2312 label …) go through ``page_text``."""
    raw = case.with_suffix(".html").read_bytes()
    if "bytes" in expected:
        return page_text(HtmlResponse(expected["url"], body=raw))
    return raw.decode("utf-8")


@pytest.fixture(scope="module")
def stages():
    crawler = project_crawler()
    return ExtractPipeline.from_crawler(crawler), NormalisePipeline.from_crawler(crawler)


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_generic_extraction(stages, case: Path):
    expected = json.loads(case.read_text(encoding="utf-8"))
    html = page_of(case, expected)
    extract, normalise = stages
    article = normalise.process_item(
        extract.process_item(RawPage(url=expected["url"], html=html, site="generic"))
    )
    assert article.title == expected["title"]
    assert article.published.isoformat() == expected["published"]
    assert article.source == expected["source"]
    assert article.paragraphs == expected["paragraphs"]
    assert set(article.provenance) >= {"title", "published", "body"}
    assert all(rule.startswith("generic:") for rule in article.provenance.values())


def test_at_least_five_generic_pages():
    assert len(CASES) >= 5


def test_article_after_a_stray_closing_html_tag_is_found(stages):
    html = (
        "<html><head><title>站内导航</title></head><body><div class='head'>导航</div></body></html>"
        "<div class='article'><h1>桥梁合龙</h1><p>2024-06-01 10:00 来源：某报</p>"
        "<p>大桥主跨今日合龙，标志着全线贯通进入最后阶段，预计年底通车运营。</p>"
        "<p>施工方表示，下一步将进行桥面铺装和荷载试验。</p></div></body></html>"
    )
    extract, normalise = stages
    article = normalise.process_item(
        extract.process_item(RawPage(url="http://x.example.cn/a/1.htm", html=html, site="generic"))
    )
    assert article.published.isoformat() == "2024-06-01T10:00:00+08:00"
    assert article.source == "某报"
    assert article.paragraphs[-1] == "<p>施工方表示，下一步将进行桥面铺装和荷载试验。</p>"


def test_visible_date_split_over_elements_keeps_its_seconds():
    from parsel import Selector

    from crawler.reading.dates import parse_published
    from crawler.reading.heuristics import visible_date

    page = Selector(
        text="<div class='t'><span><em>2024</em></span> <span><em>05</em>/<em>09</em></span> <span>22:27:02</span></div>"
        "<p>2024年05月09日</p>"
    )
    first = next(visible_date(page))
    assert parse_published(first).isoformat() == "2024-05-09T22:27:02+08:00"


def test_visible_date_with_an_impossible_time_is_not_read_as_midnight():
    from parsel import Selector

    from crawler.reading.dates import parse_published
    from crawler.reading.heuristics import visible_date

    page = Selector(text="<p>发布时间：2026-05-11 24:61</p><p>更新：2026-05-11 10:00:00+99:99</p>")
    assert not any(parse_published(text) for text in visible_date(page))


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        # an empty label gives nothing: the next text is another line (here the headline)
        ("<div class='source'>来源：\n</div><div><h1><span>桥梁合龙</span></h1></div>", []),
        ("<p>来源：</p><p>大桥主跨今日合龙</p>", []),
        ("<div class='info'>2024-05-09 <span>来源：</span></div><div>正文</div>", []),
        # the name in a link or a span on the label's line is still the name
        ("<span class='src'>来源：<a href='/'>光明日报</a></span><h1>桥梁合龙</h1>", ["光明日报"]),
        ("<div class='info'><span>来源：</span><span>新华社</span></div>", ["新华社"]),
        ("<p><em>来源：</em>示例晚报</p>", ["示例晚报"]),
    ],
)
def test_visible_source_takes_a_name_from_the_label_line_only(markup, expected):
    from parsel import Selector

    from crawler.reading.heuristics import visible_source
    from crawler.reading.text import clean_source

    page = Selector(text=f"<html><body>{markup}</body></html>")
    assert [name for name in map(clean_source, visible_source(page)) if name] == expected


def test_a_relative_date_without_a_cache_stamp_gives_no_day():
    from parsel import Selector

    from crawler.reading.heuristics import relative_date

    page = "<h1>标题</h1><p>1天前</p><p>正文。</p>"
    assert list(relative_date(Selector(text=page))) == []
    stamped = page + "<!-- hyper cache 2017-08-24 03:13:39 -->"
    assert list(relative_date(Selector(text=stamped))) == ["2017-08-23"]
