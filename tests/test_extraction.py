"""Golden extraction: every fixture page (written in a site's real markup) gives its expected
fields through the extract and normalise pipelines. New profiles add a page + JSON pair."""

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from conftest import FIXTURES, project_crawler
from lxml.etree import tostring
from parsel import Selector
from parsel.csstranslator import HTMLTranslator
from test_hostile_input import xinhua_page

from crawler.drops import PageTooComplex, UndecodablePage
from crawler.items import PageSnapshot, RawPage
from crawler.reading.extraction import ArticleExtractor, PageLimits, compile_query, parse_html
from crawler.reading.profiles import FIELDS, GENERIC, FieldRule, Layout, SiteProfile, SiteProfiles
from pipelines.extract import ExtractPipeline
from pipelines.normalise import NormalisePipeline

CASES = sorted((FIXTURES / "extraction").glob("*.json"))
PROFILES = SiteProfiles.from_folder(None)
LAYOUTS = [(PROFILES[name], layout) for name in PROFILES for layout in PROFILES[name].layouts]
# (profile, field, rule, layout) for each layout a rule says it reads
LAYOUT_RULES = [
    (profile, field, rule, layout)
    for profile, layout in LAYOUTS
    for field in FIELDS
    for rule in profile.fields[field]
    if layout.name in rule.layouts
]


@pytest.fixture(scope="module")
def stages():
    crawler = project_crawler()
    return ExtractPipeline.from_crawler(crawler), NormalisePipeline.from_crawler(crawler)


def extract(stages, url: str, html: str, site: str):
    extract_stage, normalise_stage = stages
    return normalise_stage.process_item(
        extract_stage.process_item(RawPage(url=url, html=html, site=site))
    )


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_golden_extraction(stages, case: Path):
    expected = json.loads(case.read_text(encoding="utf-8"))
    html = case.with_suffix(".html").read_text(encoding="utf-8")
    article = extract(stages, expected["url"], html, expected["site"])
    assert article.article_id == expected["article_id"]
    assert article.title == expected["title"]
    assert article.published.isoformat() == expected["published"]
    assert article.source == expected["source"]
    assert article.author == expected.get("author")
    assert article.editor == expected.get("editor")
    assert article.paragraphs == expected["paragraphs"]
    # A layout the profile knows never needs the generic fallbacks.
    assert all(rule.startswith(expected["site"] + ":") for rule in article.provenance.values())


def test_every_site_profile_has_a_golden_page():
    profiles = SiteProfiles.from_folder(project_crawler().settings["SITE_PROFILES_DIR"])
    covered = {json.loads(case.read_text(encoding="utf-8"))["site"] for case in CASES}
    assert set(profiles) - {GENERIC} <= covered


def test_profile_url_from_every_fixture_matches_its_site():
    profiles = SiteProfiles.from_folder(project_crawler().settings["SITE_PROFILES_DIR"])
    for case in CASES:
        expected = json.loads(case.read_text(encoding="utf-8"))
        assert profiles.for_url(expected["url"]).name == expected["site"]


def test_every_golden_page_is_the_page_of_one_named_layout():
    # each golden page belongs to one layout, each layout has a page of its own
    fixtures = [layout.fixture for _, layout in LAYOUTS]
    assert sorted(fixtures) == sorted(case.stem for case in CASES)
    assert all(PROFILES[name].layouts for name in PROFILES if name != GENERIC)


def _golden_page(layout: Layout) -> tuple[dict, str]:
    page = FIXTURES / "extraction" / f"{layout.fixture}.html"
    assert page.is_file(), f"{layout.name}: no golden page {page}"
    expected = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))
    return expected, page.read_text(encoding="utf-8")


@pytest.mark.parametrize(("profile", "layout"), LAYOUTS, ids=[layout.name for _, layout in LAYOUTS])
def test_layout_golden_page_is_read_by_the_layouts_own_rules(
    stages, profile: SiteProfile, layout: Layout
):
    expected, html = _golden_page(layout)
    assert expected["site"] == profile.name
    assert not (layout.since and layout.until) or layout.since <= layout.until
    published = date.fromisoformat(expected["published"][:10])
    assert (layout.since or date.min) <= published <= (layout.until or date.max)
    article = extract(stages, expected["url"], html, profile.name)
    own = {rule.name for _, _, rule, ruled in LAYOUT_RULES if ruled is layout}
    others = {field: rule for field, rule in article.provenance.items() if rule not in own}
    assert others == {}


@pytest.mark.parametrize(
    ("profile", "field", "rule", "layout"),
    LAYOUT_RULES,
    ids=[f"{rule.name}-{layout.name}" for _, _, rule, layout in LAYOUT_RULES],
)
def test_a_layouts_rule_reads_its_field_from_the_layouts_golden_page_alone(
    profile: SiteProfile, field: str, rule: FieldRule, layout: Layout
):
    expected, html = _golden_page(layout)
    alone = replace(profile, fields={name: (rule,) if name == field else () for name in FIELDS})
    article = ArticleExtractor(alone, PageLimits(25_000, 128)).extract(
        RawPage(expected["url"], html, profile.name)
    )
    assert article.provenance.get(field) == rule.name


CLASS_MARKUP = """<html><body>
<div class="h-title">a</div><div class=" h-title  big ">b</div><div class="x&#9;h-title&#10;y">c</div>
<div class="h-title2">no</div><div class="xh-title">no</div><div class="">no</div><div>no</div>
<div id="h-title">no</div><span class="h-title">d</span>
<div class="head-line"><h1><span class="title">e</span><span class="subtitle">no</span></h1></div>
</body></html>"""


@pytest.mark.parametrize(
    "query",
    ["div.h-title", ".h-title", "div.head-line h1 span.title", "[class~=h-title]", ".big.h-title"],
)
def test_class_selectors_select_what_parsel_selects(query):
    root = Selector(text=CLASS_MARKUP).root
    ours = compile_query(FieldRule("css", query, "test:title[0]"))
    parsels = HTMLTranslator().css_to_xpath(query)
    assert ours.path != parsels  # the faster form is in use
    assert ours(root) == root.xpath(parsels) != []


ODD_TEXTS = [
    "",
    "   \n",
    "plain text, no markup",
    "\u3000 <html><body><p>全角空格在前</p></body></html>",
    "<p>a\x00b</p>",
    "\x00 <html><body><p>NUL first</p></body></html>",
    "<html><body><p>NUL last</p></body></html> \x00",
    '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>x</p></body></html>',
    "<?xml-stylesheet href='a.css'?><html><body><p>x</p></body></html>",
    "\ufeff<html><body><p>BOM</p></body></html>",
    '{"title": "JSON where a page was expected"}',
    "<html><body><p>\ud800 lone surrogate</p></body></html>",
]


@pytest.mark.parametrize(
    "text",
    ODD_TEXTS
    + [page.read_bytes().decode("utf-8", "replace") for page in sorted(FIXTURES.rglob("*.html"))],
)
def test_pages_parse_as_parsel_parses_them(text):
    url = "http://www.news.cn/a/c.html"
    try:
        expected = Selector(text=text, base_url=url)
    except Exception as error:
        with pytest.raises(type(error)):
            parse_html(text, url)
        return
    parsed = parse_html(text, url)
    assert parsed.type == expected.type
    if expected.type == "json":
        assert parsed.root == expected.root
    else:
        assert tostring(parsed.root) == tostring(expected.root)
        assert parsed.root.base == expected.root.base


XINHUA_URL = "http://www.news.cn/politics/20260601/0123456789abcdef0123456789abcdef/c.html"


def test_a_county_gazette_on_another_gov_cn_host_keeps_its_headline(stages):
    """The govcn profile claims every *.gov.cn host; its rule for www.gov.cn's Gazette
    titles (公报, no headline element) must not take a county's 统计公报 page title."""
    case = FIXTURES / "generic" / "date-labelled-over-republished-meta"
    expected = json.loads(case.with_suffix(".json").read_text(encoding="utf-8"))
    html = case.with_suffix(".html").read_text(encoding="utf-8")
    article = extract(stages, expected["url"], html, "govcn")
    assert article.title == expected["title"]
    assert article.published.isoformat() == expected["published"]


def test_empty_source_label_gives_no_source(stages):
    article = extract(stages, XINHUA_URL, xinhua_page("空来源的文章标题", source=""), "xinhua")
    assert article.title == "空来源的文章标题"
    assert article.source is None


@pytest.mark.parametrize(
    "time_of_day", ["10:00:00+99:99", "10:00:00+2400", "10:00:00-23:99", "24:61"]
)
def test_impossible_visible_time_falls_through_to_the_next_date_rule(stages, time_of_day):
    page = xinhua_page("时区错误的文章").replace("10:00:00", time_of_day)
    article = extract(stages, XINHUA_URL, page, "xinhua")
    # the visible rules give nothing; <meta name="publishdate"> has the day, without a time
    assert article.published.isoformat() == "2026-06-01T00:00:00+08:00"
    assert article.provenance["published"].startswith("generic:")


def _extractor(max_elements: int = 25_000, max_depth: int = 128, site: str = "xinhua"):
    profile = PROFILES[site]
    return ArticleExtractor(profile, PageLimits(max_elements, max_depth))


def _nested(depth: int, inner: str) -> str:
    return "<span>" * depth + inner + "</span>" * depth


def test_heuristics_read_no_page_nested_deeper_than_the_limit():
    page = (
        "<html><head><title>深层嵌套_示例网</title></head><body><h1>深层嵌套</h1>"
        + _nested(150, "<p>2024-06-01 10:00 正文段落，足够长的一段文字。</p>")
        + "</body></html>"
    )
    raw = RawPage("http://www.example.org/news/1.html", page, GENERIC)
    assert _extractor(max_depth=160, site=GENERIC).extract(raw).paragraphs
    with pytest.raises(PageTooComplex, match="EXTRACT_MAX_DEPTH"):
        _extractor(max_depth=150, site=GENERIC).extract(raw)


def test_rules_that_need_no_heuristic_read_a_deep_page():
    page = xinhua_page("深层嵌套", (_nested(1500, "<p>正文段落</p>"),))
    article = _extractor().extract(RawPage(XINHUA_URL, page, "xinhua"))
    assert article.paragraphs == ["<p>正文段落</p>"]


def test_page_the_parser_stopped_reading_is_too_complex():
    # libxml2 stops at 2,048 levels: the second paragraph would be lost without a word
    page = xinhua_page("截断", (_nested(3000, "<p>深处</p>") + "<p>后面的段落</p>",))
    with pytest.raises(PageTooComplex, match="the HTML parser stops there"):
        _extractor(max_depth=5000).extract(RawPage(XINHUA_URL, page, "xinhua"))


def test_page_with_more_elements_than_the_limit_is_too_complex():
    page = xinhua_page("元素很多", ("<p>" + "<span>字</span>" * 30_000 + "</p>",))
    with pytest.raises(PageTooComplex, match="EXTRACT_MAX_ELEMENTS"):
        _extractor().extract(RawPage(XINHUA_URL, page, "xinhua"))
    assert _extractor(max_elements=40_000).extract(RawPage(XINHUA_URL, page, "xinhua")).paragraphs


def test_continuation_pages_are_held_to_the_limits_too():
    crowded = xinhua_page("续页", ("<p>" + "<span>字</span>" * 30_000 + "</p>",))
    raw = RawPage(XINHUA_URL, xinhua_page("首页"), "xinhua")
    raw.continuation_pages.append(PageSnapshot(XINHUA_URL + "?page=2", crowded))
    with pytest.raises(PageTooComplex):
        _extractor().extract(raw)


@pytest.mark.parametrize(
    "jsonld",
    [
        '{"headline": ' + "[" * 900 + '"深层列表里的标题"' + "]" * 900 + "}",  # parses; walked
        '{"headline": ' + "[" * 5000 + "]" * 5000 + "}",  # deeper than the JSON parser goes
    ],
)
def test_deeply_nested_jsonld_is_read_or_skipped_without_recursion(stages, jsonld):
    page = (
        f'<html><head><title>页面标题</title><script type="application/ld+json">{jsonld}</script>'
        "</head><body>"
        "<h1>页面标题</h1><p>2024-06-01 10:00</p><p>正文的一段，足够长的文字内容。</p></body></html>"
    )
    article = extract(stages, "http://www.example.org/news/1.html", page, GENERIC)
    assert article.title in {"深层列表里的标题", "页面标题"}
    assert article.published.isoformat() == "2024-06-01T10:00:00+08:00"


GARBLED = "<html><body><p>" + "新华社\ufffd\ufffd北京\ufffd电" * 50 + "</p></body></html>"


def test_page_that_no_charset_reads_is_undecodable():
    with pytest.raises(UndecodablePage, match="150 replacement characters"):
        _extractor().extract(RawPage(XINHUA_URL, xinhua_page("乱码", (GARBLED,)), "xinhua"))


def test_continuation_page_that_no_charset_reads_is_a_missing_page():
    raw = RawPage(XINHUA_URL, xinhua_page("首页"), "xinhua")
    raw.continuation_pages.append(PageSnapshot(XINHUA_URL + "?page=2", GARBLED))
    article = _extractor().extract(raw)
    assert article.missing_pages == [XINHUA_URL + "?page=2"]
    assert not any("\ufffd" in paragraph for paragraph in article.paragraphs)
