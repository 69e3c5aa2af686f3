"""Golden files for the archive format: exact bytes, and front matter that YAML reads back."""

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from crawler.archive.exporter import MarkdownPostExporter
from crawler.items import Article
from crawler.reading.dates import BEIJING

GOLDEN = Path(__file__).parent / "golden"
FIRST_KEYS = ["layout", "title", "date", "categories", "tags"]


def article(**changes) -> Article:
    fields = dict(
        url="https://www.news.cn/politics/20260511/0a1b2c3d4e5f40718293a4b5c6d7e8f9/c.html",
        site="xinhua",
        article_id="0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        title="春耕时节农机忙",
        published=datetime(2026, 5, 11, 9, 5, 7, tzinfo=BEIJING),
        source="新华网",
        paragraphs=["<p>第一段正文。</p>", "<p><strong>小标题</strong></p>", "<p>第二段正文。</p>"],
        category="xinhuawang",
        tag="新华网新闻",
    )
    fields.update(changes)
    return Article(**fields)


CASES = {
    "plain": (article(), ""),
    "site-url": (article(author="王晓明", editor="李华"), "//finews.withounder.com"),
    "hostile-title": (article(title='他说: "不要" #1 \\ 引号'), ""),
    "leading-star": (article(title="* 星号开头"), ""),
    "leading-dash": (article(title="- 破折号: 开头"), ""),
    "newline-title": (article(title="第一行\n第二行"), ""),
    "liquid-and-markup": (
        article(
            title="{{ site.title }} {% raw %}",
            source="某<报>&社{{x}}",
            paragraphs=["<p>模板 {{ site.time }} 与 {% include nav.html %} 原样显示。</p>"],
        ),
        "",
    ),
    "no-source": (article(source=None), ""),
    "utc-input": (article(published=datetime(2026, 5, 10, 20, 0, 0, tzinfo=UTC)), ""),
}


def render(item: Article, site_url: str) -> bytes:
    buffer = io.BytesIO()
    MarkdownPostExporter(buffer, site_url=site_url).export_item(item)
    return buffer.getvalue()


def front_matter(data: bytes) -> dict:
    text = data.decode("utf-8")
    assert text.startswith("---\n")
    head, _, _ = text[4:].partition("\n---\n")
    return yaml.safe_load(head)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bytes(name):
    item, site_url = CASES[name]
    assert render(item, site_url) == (GOLDEN / f"{name}.md").read_bytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_front_matter_round_trips(name):
    item, site_url = CASES[name]
    data = render(item, site_url)
    meta = front_matter(data)
    assert list(meta)[:5] == FIRST_KEYS
    assert meta["title"] == item.title
    assert data.decode().splitlines()[2].startswith('title: "')
    assert str(meta["date"]) == item.published.astimezone(BEIJING).strftime(
        "%Y-%m-%d %H:%M:%S +0800"
    )
    assert meta["source_url"] == item.url
    assert meta["article_id"] == item.article_id


@pytest.mark.parametrize(
    "title",
    [
        "a: b",
        '"quoted"',
        "#hash",
        "back\\slash",
        "*star",
        "- dash",
        "line\nbreak",
        "tab\tx",
        "yes",
        "null",
        "2024-05-09",
        "[list]",
        "{map}",
        "&anchor",
        "!tag",
        "%",
        "@",
        "`",
        "|",
        ">",
        "'single'",
        "\u2028sep",
        "emoji 😀",
        "\x85nel",
    ],
)
def test_any_title_is_valid_yaml(title):
    meta = front_matter(render(article(title=title), ""))
    assert meta["title"] == title


def test_back_links_and_source_line():
    lines = render(article(), "//news.example.org/").decode().splitlines()
    assert lines[-1] == (
        "[返回新华网新闻](//news.example.org/category/xinhuawang.html)｜[返回首页](//news.example.org/)"
    )
    assert '<p class="em_media">（文章来源：新华网）</p>' in lines
    assert f"<{article().url}>" in lines


def test_refuses_article_without_date():
    with pytest.raises(ValueError):
        render(article(published=None), "")
