"""Table tests for the pure parts of the generic reader (issue 13): cutting a page title
where the page confirms the cut, and decoding the string literals that carry a body in a
script. The tables (tests/fixtures/tables/) were written for this project, with the JavaScript
values checked against Node.js."""

import json
from html import escape

import pytest
from conftest import FIXTURES, project_crawler

from crawler.items import RawPage
from crawler.reading.text import decode_js_string
from pipelines.extract import ExtractPipeline
from pipelines.normalise import NormalisePipeline

TABLES = FIXTURES / "tables"
TITLES = json.loads((TABLES / "titles.json").read_text(encoding="utf-8"))
JS_STRINGS = json.loads((TABLES / "js_strings.json").read_text(encoding="utf-8"))
BODY = "<p>正文第一段，这里讲述的是一件普通的新闻，足够长，可以被当作正文。</p>" * 3


@pytest.fixture(scope="module")
def stages():
    crawler = project_crawler()
    return ExtractPipeline.from_crawler(crawler), NormalisePipeline.from_crawler(crawler)


def page_for(row: dict) -> str:
    """A page with the row's evidence: <title>, og:title, keywords, visible headline
    candidates, a breadcrumb and a footer naming the site."""
    head = f"<title>{escape(row['title'])}</title>"
    if row["og_title"]:
        head += f'<meta property="og:title" content="{escape(row["og_title"])}">'
    if row["keywords"]:
        head += f'<meta name="keywords" content="{escape(row["keywords"])}">'
    crumbs = " &gt; ".join(
        f'<a href="/{i}/">{escape(c)}</a>' for i, c in enumerate(row["breadcrumb"])
    )
    visible = "".join(f'<div class="title">{escape(text)}</div>' for text in row["visible"])
    footer = "".join(f"<p>版权所有 {escape(name)}</p>" for name in row["site_names"])
    return (
        f"<html><head>{head}</head><body><div class='crumb'>{crumbs}</div>{visible}"
        f"<div class='info'>2024-05-20 10:00</div><div class='text'>{BODY}</div>"
        f"<div class='footer'>{footer}</div></body></html>"
    )


@pytest.mark.parametrize("row", TITLES, ids=[row["note"][:40] for row in TITLES])
def test_title_from_page_evidence(stages, row):
    extract, normalise = stages
    raw = RawPage(url="http://www.example-news.cn/a/1.html", html=page_for(row), site="generic")
    assert normalise.process_item(extract.process_item(raw)).title == row["expected"]


@pytest.mark.parametrize("row", JS_STRINGS, ids=[row["note"][:40] for row in JS_STRINGS])
def test_script_string_literals_decode(row):
    literal = row["literal"]
    assert decode_js_string(literal[1:-1]) == row["expected"]
