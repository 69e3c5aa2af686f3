"""Hostile and broken input (issue 6): real ``scrapy scrape`` / ``crawl`` subprocesses over
pages written for the test (Xinhua's 2021+ markup, or a generic news page for sites without a
profile) and served at their URLs by the loopback fault proxy.

For every case the outcome is a valid file in the right place (front matter loads, the title
round-trips except for normalised whitespace and control characters, the path is
``ARCHIVE_DIR/_posts/YYYY/MM/DD/``), or a clear, counted drop; never a file outside the archive
folder, never invalid front matter. Each group of cases is one scrape; the per-case tests read
its result. docs/reliability.md lists the cases and outcomes.
"""

from __future__ import annotations

import html
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from archive_checks import (
    check_archive,
    check_post,
    created_outside,
    describe,
    posts,
    stats_of,
    summary_of,
    tree,
)
from conftest import (
    FIXTURES,
    LOCAL,
    PROJECT,
    crawl_args,
    read_post,
    run_scrapy,
)
from faultserver import Body, Fault, FaultProxy, Generated
from w3lib.url import safe_url_string

TEMPLATE = (FIXTURES / "xinhua-2021-template.html").read_text(encoding="utf-8")
GENERIC = (FIXTURES / "generic" / "modern-cms.html").read_text(encoding="utf-8")
GENERIC_TITLE = "山区小学用上了太阳能热水"
PARAGRAPHS = (
    "<p>\u3000\u3000新华社北京6月1日电 这是正文的第一段，讲述了一件普通的新闻。</p>",
    "<p>\u3000\u3000这是正文的第二段，补充了更多的细节。</p>",
)
DAY = "_posts/2026/06/01"
MARKER = "pwned-7f3a"  # in every path-traversal URL: no file may ever carry it outside the archive
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")


def xinhua_page(
    title: str, paragraphs: tuple[str, ...] = PARAGRAPHS, source: str = "新华网"
) -> str:
    """A Xinhua 2021+ article page of 1 June 2026; ``title`` and ``source`` are text."""
    return TEMPLATE.format(
        title=html.escape(title, quote=False),
        year="2026",
        month="06",
        day="01",
        time="10:00:00",
        source=html.escape(source, quote=False),
        editor="张三",
        article_id="x",
        paragraphs="".join(paragraphs),
    )


def generic_page(title: str = GENERIC_TITLE) -> str:
    """A news page of a site without a profile (generic rules), published 8 March 2024."""
    return GENERIC.replace(GENERIC_TITLE, html.escape(title, quote=False))


def xinhua_url(n: int) -> str:
    return f"http://www.news.cn/politics/20260601/{n:032x}/c.html"


def normalised(title: str) -> str:
    """What a title may become: control characters dropped, whitespace runs one space."""
    return " ".join(_CONTROL.sub("", title).split())


@dataclass
class Scrape:
    result: Any
    archive: Path
    stats: dict[str, Any]
    summary: dict[str, Any] | None
    written: dict[str, Path]  # URL → the file it was archived to
    failed: dict[str, str]  # URL → the reason printed on stderr
    urls: dict[str, str] = field(default_factory=dict)  # name → URL (scrape_named)


def scrape(root: Path, faults: dict[str, Fault], urls: list[str], *settings: str) -> Scrape:
    """``scrapy scrape URLS`` against a fault proxy serving ``faults``; asserts that the run
    created nothing outside ``root/archive`` (and its summary file)."""
    archive, summary = root / "archive", root / "summary.json"
    root.mkdir(parents=True, exist_ok=True)
    before = tree(root)
    proxy = FaultProxy(None, faults).start()
    try:
        result = run_scrapy(
            "scrape",
            *urls,
            "-s",
            f"ARCHIVE_DIR={archive}",
            "-s",
            f"RUN_SUMMARY_FILE={summary}",
            "-s",
            "ARCHIVE_IMAGES=False",
            "-L",
            "INFO",
            *settings,
            proxy=proxy,
        )
    finally:
        proxy.stop()
    assert created_outside(before, tree(root), "archive", "summary.json") == set()
    failed = {}
    for line in result.stderr.splitlines():
        for url in urls:
            if line.startswith(f"not archived: {url}: "):
                failed[url] = line.removeprefix(f"not archived: {url}: ")
    paths = [Path(line) for line in result.stdout.splitlines()]
    written = dict(zip([url for url in urls if url not in failed], paths, strict=True))
    for path in paths:
        assert path.is_relative_to(archive / "_posts"), path
    return Scrape(result, archive, stats_of(result.stderr), summary_of(summary), written, failed)


def scrape_named(root: Path, faults: dict[str, Fault], urls: dict[str, str]) -> Scrape:
    """:func:`scrape` of named URLs; the run keeps the names (``run.urls[name]``)."""
    run = scrape(root, faults, list(urls.values()))
    run.urls = urls
    return run


def assert_nothing_escaped(*roots: Path) -> None:
    """No file named after the traversal marker exists outside an archive."""
    for folder in {Path("/tmp"), Path("/etc"), Path("/root"), PROJECT, *roots}:
        for path in folder.glob(f"*{MARKER}*"):
            raise AssertionError(f"{path} was written outside the archive")


# --- titles -------------------------------------------------------------------------------

TITLES = {
    "yaml-specials": "\"引号\" 'single' : # & * ! | > % @ ` back\\slash {a: b} [x, y] ? 标题",
    "yaml-types-null": "null",
    "yaml-types-bool": "true",
    "yaml-types-date": "2026-06-01",
    "yaml-types-number": "1e3",
    "yaml-tilde": "~",
    "yaml-tag": "!!python/object/apply:os.system ['echo pwned']",
    "yaml-anchor": "&anchor *alias",
    "yaml-directive": "%YAML 1.1",
    "leading-star": "* 开头是星号",
    "leading-dash": "- 开头是横线",
    "document-marker": "--- 三横线",
    "document-end": "...",
    "newlines": "第一行\n第二行\r\n第三行",
    "tabs-and-spaces": "\t前后\u3000全角\xa0空格  ",
    "control-characters": "控制\x01字符\x07\x1b[31m红色\x7f结束",
    "line-separators": "行\u2028分隔\u2029段落\x85下一行",
    "very-long": "很长的标题" * 1000,
    "liquid": "{{ site.title }} {% include evil.html %}",
    "markup-as-text": "<script>alert(1)</script><b onclick=x>标题</b>",
    "quotes-and-backslashes": 'C:\\path\\"quoted"\\\\',
    "bidi-and-emoji": "\u202e反向\u202c 📰 标题",
}


@pytest.fixture(scope="module")
def titled(tmp_path_factory) -> Scrape:
    urls = {name: xinhua_url(n) for n, name in enumerate(TITLES, start=1)}
    faults = {urls[name]: Body(xinhua_page(title).encode()) for name, title in TITLES.items()}
    return scrape_named(tmp_path_factory.mktemp("titles"), faults, urls)


@pytest.mark.parametrize("name", TITLES)
def test_title_round_trips(name, titled):
    url = titled.urls[name]
    assert titled.result.returncode == 0, describe(titled.result)
    path = titled.written[url]
    assert path.parent == titled.archive / DAY
    meta = check_post(titled.archive, path)
    assert meta["title"] == normalised(TITLES[name])
    assert isinstance(meta["title"], str)
    line = next(x for x in path.read_text(encoding="utf-8").splitlines() if x.startswith("title:"))
    assert line.startswith('title: "') and line.endswith('"')  # always double-quoted


def test_titled_archive_is_sound(titled):
    check_archive(titled.archive)
    assert titled.summary["new"] == len(TITLES)


# --- bodies ---------------------------------------------------------------------------------

BODIES: dict[str, tuple[str, ...]] = {
    "front-matter-fence": (
        "<p>---</p>",
        "<p>title: 伪造的标题</p>",
        "<p>---<br>layout: evil<br>---</p>",
        "<pre>---\ntitle: x\n---\n</pre>",
        "<p>正文在伪造的分隔线之后。</p>",
    ),
    "liquid": (
        "<p>模板语法 {{ site.title }} 与 {% include evil.html %} 和 {%- raw -%}。</p>",
        "<p>{{ page.title | downcase }}</p>",
    ),
    "scripts-and-handlers": (
        '<p onclick="alert(1)">点击<script>alert(2)</script>这里'
        '<img src="http://img.example.org/a.jpg" onerror="alert(3)">'
        '<a href="javascript:alert(4)">链接</a></p>',
        '<p><iframe src="http://evil.example.org/"></iframe><svg onload="alert(5)"><circle/></svg>'
        '<img src="data:image/png;base64,AAAA"><img src="javascript:alert(6)">图片之后的文字。</p>',
        '<p style="background:url(javascript:alert(7))">样式<style>p{color:red}</style>'
        '<object data="x.swf"></object><embed src="x.swf">之后的文字。</p>',
        '<form action="http://evil.example.org/"><input name="q"><button>提交</button></form>',
        "<p>正文最后一段。</p>",
    ),
    "malformed-markup": (
        "<p>第一段没有结束标签",
        "<p>第二段<b>加粗<i>交错</b>斜体</i>",
        "<div><table><tr><td>表格里的<p>段落</td></div></table>",
        "<p>第三段<![CDATA[ 数据 ]]>之后",
        "</span></div></body></html><p>第四段在提前的结束标签之后",
        # Last: an attribute quote that never closes swallows the rest, in browsers too.
        "<p>第五段<a href='x>引号未闭合</a>之后<!-- 没有结束的注释",
    ),
    "control-bytes": ("<p>正文\x00含\x01控制\x1b字符\x7f和\x0c换页。</p>", "<p>第二段。</p>"),
}


@pytest.fixture(scope="module")
def bodied(tmp_path_factory) -> Scrape:
    urls = {name: xinhua_url(100 + n) for n, name in enumerate(BODIES)}
    faults = {
        urls[name]: Body(xinhua_page(f"正文测试{name}", paragraphs).encode())
        for name, paragraphs in BODIES.items()
    }
    hostile_source = xinhua_url(200)
    faults[hostile_source] = Body(
        xinhua_page("来源测试", source='新华网<img src=x onerror=alert(1)>"引号"</p>---').encode()
    )
    urls["hostile-source"] = hostile_source
    return scrape_named(tmp_path_factory.mktemp("bodies"), faults, urls)


def body_of(run: Scrape, name: str) -> tuple[dict, str, list[str]]:
    path = run.written[run.urls[name]]
    meta = check_post(run.archive, path)
    _, body = read_post(path)
    return meta, body, body.splitlines()


def test_bodies_are_all_archived(bodied):
    assert bodied.result.returncode == 0, describe(bodied.result)
    assert set(bodied.written) == set(bodied.urls.values())
    check_archive(bodied.archive)


def test_front_matter_fence_in_the_body_stays_text(bodied):
    meta, body, lines = body_of(bodied, "front-matter-fence")
    assert meta["title"] == "正文测试front-matter-fence"
    assert "---" not in lines and not any(line.startswith(("title:", "layout:")) for line in lines)
    assert all(line.startswith("<p") for line in lines[: lines.index("")])
    assert "正文在伪造的分隔线之后。" in body


def test_liquid_in_the_body_is_inert(bodied):
    _, body, _ = body_of(bodied, "liquid")
    assert "{{" not in body and "{%" not in body and "&#123;&#123; site.title &#125;&#125;" in body


def test_scripts_and_event_handlers_are_removed(bodied):
    _, body, lines = body_of(bodied, "scripts-and-handlers")
    lowered = body.lower()
    for bad in (
        "<script",
        "onclick",
        "onerror",
        "onload",
        "javascript:",
        "<iframe",
        "<svg",
        "data:",
        "<style",
        "<object",
        "<embed",
        "<form",
        "<input",
        "<button",
        "style=",
    ):
        assert bad not in lowered, bad
    paragraphs = lines[: lines.index("")]
    tags = {tag for line in paragraphs for tag in re.findall(r"</?([a-z0-9]+)", line)}
    assert tags <= {"p", "strong", "em", "br", "img"}, tags
    assert re.findall(r"<img [^>]*>", body) == ['<img src="http://img.example.org/a.jpg">']
    assert "图片之后的文字。" in body and "正文最后一段。" in body


def test_malformed_markup_keeps_its_text(bodied):
    meta, body, _ = body_of(bodied, "malformed-markup")
    assert meta["title"] == "正文测试malformed-markup"
    for text in ("第一段没有结束标签", "加粗", "斜体", "表格里的", "第三段", "第四段", "第五段"):
        assert text in body, text


def test_control_bytes_in_the_body_are_dropped(bodied):
    _, body, _ = body_of(bodied, "control-bytes")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", body)
    assert "正文含控制字符" in body.replace(" ", "")


def test_hostile_source_is_escaped(bodied):
    meta, body, _ = body_of(bodied, "hostile-source")
    assert "<img" not in body and "onerror=alert(1)&gt;" in body  # text, not markup
    assert meta["title"] == "来源测试" and meta["source"].startswith("新华网")
    assert "---" not in body.splitlines()


# --- character sets -----------------------------------------------------------------------

CHARSET_TITLE = "国务院召开常务会议部署稳就业工作"
_META = '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'


def _charset_page(meta: str | None) -> str:
    page = xinhua_page(CHARSET_TITLE)
    assert _META in page
    return page.replace(_META, meta or "")


CHARSETS: dict[str, tuple[bytes, str]] = {
    "gbk-declared-in-meta": (
        _charset_page('<meta charset="gbk">').encode("gbk"),
        "text/html",
    ),
    "gb2312-declared-gbk-bytes": (
        _charset_page(
            '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        ).encode("gbk"),
        "text/html",
    ),
    "gbk-declared-in-header-only": (_charset_page(None).encode("gbk"), "text/html; charset=GBK"),
    "gbk-undeclared": (_charset_page(None).encode("gbk"), "text/html"),
    "utf8-undeclared": (_charset_page(None).encode("utf-8"), "text/html"),
    "utf8-declared-gb2312": (
        _charset_page('<meta charset="gb2312">').encode("utf-8"),
        "text/html",
    ),
    "utf8-bom-header-says-gbk": (
        b"\xef\xbb\xbf" + _charset_page(None).encode("utf-8"),
        "text/html; charset=gbk",
    ),
    "unknown-charset-name": (
        _charset_page('<meta charset="x-no-such-charset">').encode("utf-8"),
        "text/html",
    ),
    "utf16-with-bom": (_charset_page('<meta charset="utf-16">').encode("utf-16"), "text/html"),
    "gbk-declared-utf8-in-meta": (_charset_page(_META).encode("gbk"), "text/html"),
    "gbk-declared-utf8-in-header": (
        _charset_page(None).encode("gbk"),
        "text/html; charset=utf-8",
    ),
    "utf8-declared-latin1-in-header": (
        _charset_page(None).encode("utf-8"),
        "text/html; charset=iso-8859-1",
    ),
}


@pytest.fixture(scope="module")
def charsets(tmp_path_factory) -> Scrape:
    urls = {name: xinhua_url(300 + n) for n, name in enumerate(CHARSETS)}
    faults = {urls[name]: Body(data, kind) for name, (data, kind) in CHARSETS.items()}
    return scrape_named(tmp_path_factory.mktemp("charsets"), faults, urls)


@pytest.mark.parametrize("name", CHARSETS)
def test_charset(name, charsets):
    url = charsets.urls[name]
    if url in charsets.failed:  # a counted drop is an acceptable answer to broken bytes
        assert re.match(r"[A-Z]\w+: ", charsets.failed[url]), charsets.failed[url]
        assert sum(v for k, v in charsets.stats.items() if k.startswith("item_dropped_reasons")) > 0
        return
    path = charsets.written[url]
    meta, body = read_post(path)
    check_post(charsets.archive, path)
    assert meta["title"] == CHARSET_TITLE, meta["title"]
    assert "\ufffd" not in path.read_text(encoding="utf-8")
    assert "这是正文的第二段" in body and meta["source"] == "新华网"


def test_charset_archive_is_sound(charsets):
    check_archive(charsets.archive)


# --- article URLs and IDs -----------------------------------------------------------------

HOST = "http://www.example-evening.cn"
URLS = {
    # Xinhua host, path outside the profile's article pattern: the generic ID rule applies.
    "xinhua-encoded-traversal": f"http://www.news.cn/politics/20260601/..%2F..%2F..%2Ftmp%2F{MARKER}/c.html",
    "encoded-slashes": f"{HOST}/..%2F..%2F..%2Ftmp%2F{MARKER}%2Fx1234.htm",
    "encoded-backslashes": f"{HOST}/%5C..%5C..%5Ctmp%5C{MARKER}-77.htm",
    "dot-segments": f"{HOST}/a/b/../../../../tmp/{MARKER}-42.htm",
    "absolute-looking-path": f"{HOST}//etc/cron.d/{MARKER}-5678.htm",
    "nul-byte": f"{HOST}/news/a%00{MARKER}1234.htm",
    "very-long-segment": f"{HOST}/news/{'9' * 300}.htm",
    "non-ascii-path": f"{HOST}/新闻/文章2024.htm",
    "space-in-path": f"{HOST}/a b/x 1234.htm",
    "query-only": f"{HOST}/article.php?id=../../{MARKER}&x=1",
    "dash-underscore-id": f"{HOST}/news/-_-_2024.htm",
}
TOO_LONG_ID = "http://www.xinhuanet.com/world/2026-06/01/c_" + "1" * 120 + ".htm"


@pytest.fixture(scope="module")
def addressed(tmp_path_factory) -> Scrape:
    pages = {
        URLS["xinhua-encoded-traversal"]: xinhua_page("路径xinhua-encoded-traversal"),
        TOO_LONG_ID: xinhua_page("路径过长"),
    }

    def page(url: str) -> str | None:
        if url in pages:
            return pages[url]
        for name, given in URLS.items():  # as given, or as Scrapy escaped it on the way
            if url in (given, safe_url_string(given)):
                return generic_page(f"路径{name}")
        return None

    root = tmp_path_factory.mktemp("urls")
    run = scrape(root, {"http://*": Generated(page)}, [*URLS.values(), TOO_LONG_ID])
    assert_nothing_escaped(root)
    return run


def archived_titles(archive: Path) -> dict[str, Path]:
    return {read_post(path)[0]["title"]: path for path in posts(archive)}


@pytest.mark.parametrize("name", URLS)
def test_hostile_url_is_filed_inside_the_archive(name, addressed):
    path = archived_titles(addressed.archive)[f"路径{name}"]  # archived, whatever was reported
    meta = check_post(addressed.archive, path)
    assert path.resolve().is_relative_to((addressed.archive / "_posts").resolve())
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", meta["article_id"])
    assert len(list(addressed.archive.glob(f"**/*{meta['article_id']}*"))) == 1


def test_scrape_reports_urls_that_scrapy_escaped(addressed):
    for name in ("non-ascii-path", "space-in-path"):
        assert URLS[name] not in addressed.failed, addressed.failed[URLS[name]]
        assert addressed.written[URLS[name]] == archived_titles(addressed.archive)[f"路径{name}"]


def test_overlong_profile_id_is_a_counted_drop(addressed):
    assert addressed.failed[TOO_LONG_ID].startswith("UnsafeArticleId: ")
    assert addressed.stats["item_dropped_reasons_count/UnsafeArticleId"] == 1
    assert addressed.result.returncode == 1  # documented: some URL was not archived
    assert "路径过长" not in archived_titles(addressed.archive)


def test_url_archive_is_sound(addressed):
    check_archive(addressed.archive)


def test_different_articles_of_an_unknown_site_get_different_files(tmp_path):
    first, second = f"{HOST}/news/2024/0308/a.html", f"{HOST}/news/2024/0308/b.html"
    faults = {
        first: Body(generic_page("第一篇文章").encode()),
        second: Body(generic_page("第二篇文章").encode()),
    }
    one = scrape(tmp_path, faults, [first])
    two = scrape(tmp_path, faults, [second])
    assert one.result.returncode == two.result.returncode == 0
    titles = {read_post(p)[0]["title"] for p in posts(two.archive)}
    assert titles == {"第一篇文章", "第二篇文章"}, "an article was overwritten by another"


def test_continuation_links_stay_on_the_article_host(tmp_path):
    url = xinhua_url(400)
    path = url.removeprefix("http://www.news.cn")
    pager = (
        '<center class="xinhuaPager">'
        f'<a href="http://169.254.169.254{path}?page=2">2</a>'
        f'<a href="file://{path}?page=3">3</a></center>'
    )
    intruder = xinhua_page("内网页面", ("<p>来自内网主机的内容。</p>",))
    faults = {
        url: Body(xinhua_page("分页测试", (*PARAGRAPHS, pager)).encode()),
        "http://169.254.169.254/*": Body(intruder.encode()),
    }
    run = scrape(tmp_path, faults, [url], "-s", "RETRY_TIMES=0")
    _, body = read_post(run.written[url])
    assert "来自内网主机的内容" not in body, "another host's page was merged into the article"
    assert "GET file:" not in run.result.stderr, "a file: URL from the page was requested"
    assert "file" not in " ".join(run.stats), "a file: URL from the page was requested"


# --- hostile links met by a crawl ---------------------------------------------------------


def crawl_from(
    list_url: str, faults: dict[str, Fault], archive: Path, *settings: str
) -> tuple[subprocess.CompletedProcess[str], FaultProxy]:
    """``scrapy crawl xinhua`` from one list page served with ``faults``, unthrottled and
    without images; returns the result and the (stopped) proxy, which kept its requests."""
    proxy = FaultProxy(None, faults).start()
    try:
        args = crawl_args(archive, [list_url], *LOCAL, "-s", "ARCHIVE_IMAGES=False", *settings)
        result = run_scrapy(*args, proxy=proxy, timeout=60)
    finally:
        proxy.stop()
    return result, proxy


def test_crawl_only_follows_http_links_of_the_site(tmp_path):
    good = [xinhua_url(500), xinhua_url(501)]
    hrefs = [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "mailto:editor@news.cn",
        "ftp://www.news.cn/politics/20260601/" + "f" * 32 + "/c.html",
        "//evil.example.org/politics/20260601/" + "e" * 32 + "/c.html",
        good[0] + "/../../../../etc/passwd",
        "http://www.news.cn/" + "a" * 10000 + "/c.html",
        f"  {good[0]}\n",
        f"\t{good[1]}#comments",
    ]
    links = "".join(f'<a href="{html.escape(h)}">x</a>' for h in hrefs)
    list_page = f"<html><body>{links}</body></html>"
    faults = {
        "http://www.news.cn/hostile/": Body(list_page.encode()),
        good[0]: Body(xinhua_page("第一篇").encode()),
        good[1]: Body(xinhua_page("第二篇").encode()),
    }
    archive, summary = tmp_path / "archive", tmp_path / "summary.json"
    before = tree(tmp_path)
    result, proxy = crawl_from(
        "http://www.news.cn/hostile/", faults, archive, "-s", f"RUN_SUMMARY_FILE={summary}"
    )
    assert result.returncode == 0, describe(result)
    assert created_outside(before, tree(tmp_path), "archive", "summary.json") == set()
    assert {p.stem[11:] for p in posts(archive)} == {u.split("/")[-2] for u in good}
    assert set(proxy.requests) == {
        "http://www.news.cn/robots.txt",
        "http://www.news.cn/hostile/",
        *good,
    }
    # Every download went through the proxy: no file:, ftp: or data: URL was fetched.
    assert stats_of(result.stderr)["downloader/request_count"] == len(proxy.requests)
    check_archive(archive)


def test_one_malformed_link_does_not_lose_the_rest_of_the_list(tmp_path):
    good = [xinhua_url(510), xinhua_url(511)]
    hrefs = ["http://www.news.cn:99999/politics/", "http://[::1/politics/", *good]
    links = "".join(f'<a href="{html.escape(h)}">x</a>' for h in hrefs)
    faults = {
        "http://www.news.cn/broken-links/": Body(f"<html><body>{links}</body></html>".encode()),
        good[0]: Body(xinhua_page("第一篇").encode()),
        good[1]: Body(xinhua_page("第二篇").encode()),
    }
    crawl_from("http://www.news.cn/broken-links/", faults, tmp_path / "archive")
    assert {p.stem[11:] for p in posts(tmp_path / "archive")} == {u.split("/")[-2] for u in good}
