"""Pages that cost too much to read or break the readers (issue 12, cases 8-12): one real
``scrapy scrape`` of hostile and normal pages in Xinhua's markup, served by the fault proxy.

A page beyond the work bounds (EXTRACT_MAX_ELEMENTS, libxml2's depth) is a counted drop,
quickly, and the other pages are archived; nothing deep raises RecursionError, nothing logs a
whole page; a bad date or an empty source label gives no value from that rule; bytes that
contradict their declared charset are read by what they are, or dropped when nothing reads them.
"""

from __future__ import annotations

import time

import pytest
from conftest import project_crawler, read_post
from faultserver import Body
from test_hostile_input import CHARSET_TITLE, PARAGRAPHS, Scrape, scrape, xinhua_page, xinhua_url

from crawler.items import RawPage
from pipelines.extract import ExtractPipeline

SECOND = "<p>\u3000\u3000这是一个普通的第二段，内容足够长，可以当作正文段落来识别和保留下来。</p>"
# ~300 KB of comment in every hostile page: a log that prints a page shows it in its size.
PADDING = "<!-- " + "填充" * 50_000 + " -->"
HOSTILE = {
    # case 8: 200,000 spans in 400 nested <b>, about 3 MB (took 67 s on the reactor thread)
    "quadratic": "<p>" + "<b>" * 400 + "<span>字</span>" * 200_000 + "</b>" * 400 + "</p>" + SECOND,
    # case 9: nesting deeper than libxml2 reads (2,048 levels): the rest of the page is lost
    "nested-3000": PARAGRAPHS[0] + "<span>" * 3000 + SECOND + "</span>" * 3000 + PADDING,
    "divs-10000": "<div>" * 10_000 + SECOND + "</div>" * 10_000 + PADDING,
}
READABLE = {
    # a run of 40,000 ideographic spaces in a paragraph (its tidying took 40 s)
    "ideographic-spaces": "<p>开头" + "\u3000" * 40_000 + "结尾</p>" + SECOND,
    # case 9: 995 nested spans (RecursionError in the body walk); the profile's rules read it
    "nested-995": "<span>" * 995 + SECOND + "</span>" * 995 + PADDING,
}
BAD_TIMES = ["10:00:00+99:99", "10:00:00+2400", "10:00:00-23:99", "24:61", "10:00:60"]
GBK = xinhua_page(CHARSET_TITLE).encode("gbk")
GBK_ONE_BAD_BYTE = GBK.replace("第二段".encode("gbk"), b"\x81\x20", 1)
UTF8 = xinhua_page(CHARSET_TITLE).encode("utf-8")
# (bytes, Content-Type); the pages' own <meta> says utf-8
CHARSETS = {
    "utf8-under-shift_jis": (UTF8, "text/html; charset=shift_jis"),
    "gbk-one-bad-byte-under-utf8": (GBK_ONE_BAD_BYTE, "text/html; charset=utf-8"),
    "gbk-under-big5": (GBK, "text/html; charset=big5"),
    "gbk-one-bad-byte-under-gb2312": (GBK_ONE_BAD_BYTE, "text/html; charset=gb2312"),
}
# one byte in five lost after the head: neither UTF-8 nor GB18030 reads it
HEAD_END = UTF8.index(b"</head>")
DAMAGED = UTF8[:HEAD_END] + bytes(byte for n, byte in enumerate(UTF8[HEAD_END:]) if n % 5)


def _pages() -> dict[str, tuple[bytes, str]]:
    pages = {name: xinhua_page(name, (body,)) for name, body in {**HOSTILE, **READABLE}.items()}
    for bad in BAD_TIMES:
        pages[f"time {bad}"] = xinhua_page(f"time {bad}").replace("10:00:00", bad)
        # only the first date rule's element (the desktop header) is bad: the next rule's is not
        pages[f"first rule {bad}"] = xinhua_page(f"first rule {bad}").replace("10:00:00", bad, 1)
    pages["empty-source"] = xinhua_page("empty-source", source="")
    pages["normal"] = xinhua_page("normal")
    encoded = {name: (html.encode("utf-8"), "text/html") for name, html in pages.items()}
    return {**encoded, **CHARSETS, "undecodable": (DAMAGED, "text/html; charset=utf-8")}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Scrape, dict[str, str], float]:
    pages = _pages()
    urls = {name: xinhua_url(500 + n) for n, name in enumerate(pages)}
    faults = {urls[name]: Body(data, kind) for name, (data, kind) in pages.items()}
    started = time.monotonic()
    run = scrape(tmp_path_factory.mktemp("hostile"), faults, list(urls.values()))
    return run, urls, time.monotonic() - started


@pytest.mark.parametrize("name", HOSTILE)
def test_page_beyond_the_work_bounds_is_a_counted_drop(hostile, name):
    run, urls, _ = hostile
    assert run.failed[urls[name]].startswith("PageTooComplex: "), run.failed.get(urls[name])


def test_the_bounds_keep_the_run_short_and_the_log_small(hostile):
    run, _, elapsed = hostile
    assert run.stats["item_dropped_reasons_count/PageTooComplex"] == len(HOSTILE)
    assert elapsed < 60, elapsed  # the quadratic page alone took 67 s before
    assert "RecursionError" not in run.result.stderr
    assert len(run.result.stderr.encode()) < 100_000  # no page of 300 KB padding logged


@pytest.mark.parametrize("name", READABLE)
def test_page_within_the_bounds_is_archived(hostile, name):
    run, urls, _ = hostile
    _, body = read_post(run.written[urls[name]])
    assert "这是一个普通的第二段" in body


@pytest.mark.parametrize("bad", BAD_TIMES)
def test_impossible_time_or_offset_falls_through_to_the_next_date_rule(hostile, bad):
    run, urls, _ = hostile
    meta, _ = read_post(run.written[urls[f"time {bad}"]])
    assert str(meta["date"]) == "2026-06-01 00:00:00 +0800"  # <meta name="publishdate">
    meta, _ = read_post(run.written[urls[f"first rule {bad}"]])
    assert str(meta["date"]) == "2026-06-01 10:00:00 +0800"  # the mobile header's time


def test_empty_source_label_gives_no_source(hostile):
    run, urls, _ = hostile
    meta, _ = read_post(run.written[urls["empty-source"]])
    assert meta["title"] == "empty-source"
    assert meta.get("source") in (None, "")


def test_normal_page_is_archived_beside_them(hostile):
    run, urls, _ = hostile
    meta, _ = read_post(run.written[urls["normal"]])
    assert meta["source"] == "新华网"


@pytest.mark.parametrize("name", CHARSETS)
def test_bytes_are_read_by_what_they_are(hostile, name):
    run, urls, _ = hostile
    path = run.written[urls[name]]
    meta, body = read_post(path)
    assert meta["title"] == CHARSET_TITLE
    assert "这是正文的第一段" in body
    assert "\ufffd" not in path.read_text(encoding="utf-8").replace(
        "\ufffd", "", 1 if "one-bad-byte" in name else 0
    )


def test_bytes_that_nothing_reads_are_a_counted_drop(hostile):
    run, urls, _ = hostile
    assert run.failed[urls["undecodable"]].startswith("UndecodablePage: "), run.failed
    assert run.stats["item_dropped_reasons_count/UndecodablePage"] == 1


def test_garbage_outside_the_article_spares_it():
    """Valid bytes that spell replacement characters in a footer (a page re-saved by a
    browser that had garbled it): the article reads cleanly and is kept."""
    footer = "<div class='foot'>" + "\ufffd" * 40 + "</div></body>"
    page = xinhua_page(CHARSET_TITLE).replace("</body>", footer)
    stage = ExtractPipeline.from_crawler(project_crawler())
    article = stage.process_item(RawPage(url=xinhua_url(1), html=page, site="xinhua"))
    assert article.title == CHARSET_TITLE and "\ufffd" not in "".join(article.paragraphs)
