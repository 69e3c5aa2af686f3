"""The archive folder builds with Debian's jekyll into a site whose links all resolve and in
which nothing from a crawled page can run. Runs in CI (which installs jekyll)."""

import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import DEMO_SITE, FIXTURES, read_post, require, run_scrapy, write_archive
from site_checks import Page, parsed_feed, resolve, text_of

from crawler.archive.jekyll import SiteScaffold
from crawler.items import Article
from crawler.reading.dates import BEIJING, format_published

JEKYLL = shutil.which("jekyll")
HOSTILE_URL = "http://www.news.cn/politics/20260601/aaaa0000bbbb1111cccc2222dddd3333/c.html"
DEMO_ARTICLES = [
    "http://www.news.cn/politics/20260511/7d2c9a41e6b84f0d9c35a1e8b0f47d62/c.html",  # 新华社
    "http://www.news.cn/politics/20260511/b14e6f8a2c9d4730a5e1f9c62d8b3a07/c.html",  # 新华网
    "http://www.news.cn/milpro/20260514/0f9b3d7e5a2c4186b7d0e3f8a1c94b26/c.html",  # 经济参考报
    "http://www.xinhuanet.com/world/2019-11/18/c_1125243817.htm",
]


def build(archive: Path) -> subprocess.CompletedProcess[str]:
    assert JEKYLL is not None
    result = subprocess.run(
        [JEKYLL, "build", "--source", str(archive), "--destination", str(archive / "_site")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = (result.stdout + result.stderr).lower()
    assert "warn" not in output and "error" not in output and "deprecat" not in output, output
    return result


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    require(JEKYLL is not None, "jekyll is not installed (apt-get install -y jekyll)")
    from crawler.replay import ReplayProxy

    archive = tmp_path_factory.mktemp("jekyll") / "archive"
    for root, urls in ((DEMO_SITE, DEMO_ARTICLES), (FIXTURES / "hostile", [HOSTILE_URL])):
        proxy = ReplayProxy(root).start()
        try:
            result = run_scrapy(
                "scrape",
                *urls,
                "-s",
                f"ARCHIVE_DIR={archive}",
                "-s",
                "ARCHIVE_IMAGES=False",
                proxy=proxy,
            )
        finally:
            proxy.stop()
        assert result.returncode == 0, result.stderr
    build(archive)
    return archive


def built_post(archive: Path, post: Path) -> Path:
    meta, _ = read_post(post)
    slug = post.stem[11:]
    return (
        archive
        / "_site"
        / meta["categories"]
        / post.stem[:4]
        / post.stem[5:7]
        / post.stem[8:10]
        / f"{slug}.html"
    )


def test_every_post_page_shows_its_fields(built_site):
    posts = sorted((built_site / "_posts").rglob("*.md"))
    assert len(posts) == 5
    for post in posts:
        meta, body = read_post(post)
        page = Page(built_post(built_site, post).read_text(encoding="utf-8"))
        text = "".join(page.text)
        assert meta["title"] in text
        assert str(meta["date"])[:19] in text
        assert f"来源：{meta['source']}" in text
        first = (
            re.sub(r"<[^>]+>", "", body.split("\n")[0])
            .replace("&#123;", "{")
            .replace("&#125;", "}")
        )
        assert first[:20] in text


def test_every_back_link_resolves(built_site):
    site = built_site / "_site"
    categories = set()
    for post in sorted((built_site / "_posts").rglob("*.md")):
        categories.add(read_post(post)[0]["categories"])
        page_path = built_post(built_site, post)
        links = [
            href
            for href in Page(page_path.read_text(encoding="utf-8")).links
            if not href.startswith("http")
        ]
        assert len(links) >= 4  # header: home and by-date; body: category and home
        for href in links:
            assert resolve(site, page_path, href).is_file(), f"{href} in {page_path}"
    assert categories >= {"xinhuawang", "xinhuashe", "jingjicankaobao"}


def test_home_category_and_archive_pages_list_the_posts(built_site):
    site = built_site / "_site"
    titles = {
        read_post(p)[0]["title"]: read_post(p)[0]["categories"]
        for p in (built_site / "_posts").rglob("*.md")
    }
    home = "".join(Page((site / "index.html").read_text(encoding="utf-8")).text)
    by_date = "".join(Page((site / "archive.html").read_text(encoding="utf-8")).text)
    for title, category in titles.items():
        assert title in home and title in by_date
        assert title in "".join(
            Page((site / "category" / f"{category}.html").read_text(encoding="utf-8")).text
        )
    assert (
        not (site / "_catalog").exists()
        and not list(site.rglob("*.sqlite"))
        and not list(site.rglob("*.jsonl"))
    )


def test_hostile_article_builds_inert(built_site):
    (post,) = [p for p in (built_site / "_posts").rglob("*aaaa0000bbbb1111cccc2222dddd3333.md")]
    html = built_post(built_site, post).read_text(encoding="utf-8")
    page = Page(html)
    assert page.scripts == 0 and page.handlers == [] and page.bad_tags == []
    assert not [href for href in page.links if href.lower().startswith(("javascript:", "data:"))]
    assert all(src.startswith("http") for src in page.sources)
    text = "".join(page.text)
    assert (
        "{{ page.path }}" in text
        and "{% raw %}{% endraw %}" in text
        and "{%- assign x = 1 -%}" in text
    )
    assert "{{ site.title }} 与 {% include nav.html %}" in text  # the title, shown not run
    assert "<script>alert(7)</script>" in text  # escaped text stays text
    assert "最后一段正常结束" in text
    assert "第三段里的嵌入物都应消失" in text  # the text after <embed> is not swallowed


def test_user_edits_to_site_files_are_kept(tmp_path):
    archive = tmp_path / "archive"
    scaffold = SiteScaffold(archive)
    created = scaffold.ensure_site()
    assert archive / "_config.yml" in created
    (archive / "_config.yml").write_text("title: 我的档案\n", encoding="utf-8")
    (archive / "category").mkdir()
    (archive / "category" / "xinhuawang.html").write_text("mine", encoding="utf-8")
    again = SiteScaffold(archive)
    assert again.ensure_site() == [] and again.ensure_category("xinhuawang", "新华网新闻") == [
        archive / "category" / "xinhuawang.xml"  # the feed was missing, the page is kept
    ]
    assert (archive / "_config.yml").read_text(encoding="utf-8") == "title: 我的档案\n"
    assert (archive / "category" / "xinhuawang.html").read_text(encoding="utf-8") == "mine"


def test_feed_has_every_post_newest_first(built_site):
    feed = parsed_feed(built_site / "_site" / "feed.xml")
    posts = {read_post(p)[0]["source_url"]: p for p in (built_site / "_posts").rglob("*.md")}
    assert feed.feed.title == "新闻档案"
    assert [entry.id for entry in feed.entries] == sorted(
        posts, key=lambda url: read_post(posts[url])[0]["date"], reverse=True
    )
    for entry in feed.entries:
        meta, body = read_post(posts[entry.id])
        assert entry.title == meta["title"]
        assert format_published(datetime.fromisoformat(entry.published)) == meta["date"]
        assert entry.updated == entry.published
        page = built_post(built_site, posts[entry.id]).relative_to(built_site / "_site")
        assert entry.link == f"/{page.as_posix()}"
        assert entry.author == meta.get("author", meta["source"])
        assert entry.tags[0].term == meta["categories"]
        (content,) = entry.content
        assert content.type == "text/html"
        first = text_of(body.split("\n")[0])
        assert first and first in text_of(content.value)


def test_feed_bodies_stay_inert_text(built_site):
    feed = parsed_feed(built_site / "_site" / "feed.xml")
    (entry,) = [e for e in feed.entries if "aaaa0000bbbb1111cccc2222dddd3333" in e.id]
    assert entry.title == "{{ site.title }} 与 {% include nav.html %} 的“标题”: #1 --- *星号*"
    text = text_of(entry.content[0].value)
    assert "{{ page.path }}" in text and "{%- assign x = 1 -%}" in text
    assert "<script>alert(7)</script>" in text and "最后一段正常结束" in text


def test_each_category_has_its_feed(built_site):
    by_category: dict[str, set[str]] = {}
    for post in (built_site / "_posts").rglob("*.md"):
        meta, _ = read_post(post)
        by_category.setdefault(meta["categories"], set()).add(meta["source_url"])
    assert len(by_category) == 3
    for category, urls in by_category.items():
        feed = parsed_feed(built_site / "_site" / "category" / f"{category}.xml")
        assert {entry.id for entry in feed.entries} == urls
        assert feed.feed.title.endswith(" - 新闻档案")
        assert feed.feed.id == f"urn:xinhua-archiver:category:{category}.xml"


def test_pages_link_their_feeds(built_site):
    site = built_site / "_site"
    post = next((built_site / "_posts").rglob("*.md"))
    category = read_post(post)[0]["categories"]
    expected = {
        site / "index.html": ["/feed.xml"],
        site / "archive.html": ["/feed.xml"],
        site / "category" / f"{category}.html": ["/feed.xml", f"/category/{category}.xml"],
        built_post(built_site, post): ["/feed.xml", f"/category/{category}.xml"],
    }
    for page, feeds in expected.items():
        assert Page(page.read_text(encoding="utf-8")).feeds == feeds, page
        assert all(resolve(site, page, href).is_file() for href in feeds)


def test_feed_holds_the_latest_50_with_absolute_links(tmp_path):
    require(JEKYLL is not None, "jekyll is not installed (apt-get install -y jekyll)")
    archive = tmp_path / "archive"
    first = datetime(2026, 3, 1, 8, 0, tzinfo=BEIJING)
    articles = [
        Article(
            url=f"http://www.news.cn/local/202603/c_{n:04d}.htm",
            site="xinhua",
            article_id=f"c_{n:04d}",
            title=f"第{n}篇 <&> 报道",
            published=first + timedelta(hours=n),
            source="新华网",
            paragraphs=[f"<p>第{n}篇正文。</p>"],
            category="xinhuawang",
            tag="新华网新闻",
        )
        for n in range(51)
    ]
    write_archive(archive, articles, ARCHIVE_CATALOG=False, ARCHIVE_IMAGES=False)
    with (archive / "_config.yml").open("a", encoding="utf-8") as config:
        config.write("url: https://news.example.org\n")
    build(archive)
    for path in ("feed.xml", "category/xinhuawang.xml"):
        feed = parsed_feed(archive / "_site" / path)
        assert feed.feed.id == f"https://news.example.org/{path}"
        assert [e.title for e in feed.entries] == [f"第{n}篇 <&> 报道" for n in range(50, 0, -1)]
        assert feed.entries[0].link == "https://news.example.org/xinhuawang/2026/03/03/c_0050.html"
        assert {link.rel: link.href for link in feed.feed.links} == {
            "self": f"https://news.example.org/{path}",
            "alternate": "https://news.example.org/"
            + ("category/xinhuawang.html" if "category" in path else ""),
        }
