"""Captures (issue 16): real crawls keep what the server sent as WARC files in ``_warc/``,
which warcio, the reference reader, reads back byte for byte."""

from __future__ import annotations

import contextlib
import shutil
import signal
import sqlite3
import urllib.error
import urllib.request
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from archive_checks import stats_of
from conftest import (
    DEMO_SITE,
    LOCAL,
    PROJECT,
    crawl_args,
    project_crawler,
    run_scrapy,
    run_scrapy_hooked,
)
from scrapy.statscollectors import StatsCollector
from warcio.archiveiterator import ArchiveIterator
from warcio.capture_http import capture_http

from crawler.archive.catalog import CatalogEntry
from crawler.archive.folder import Archive
from crawler.archive.warc import WarcWriter, capture_digest
from crawler.items import Article, Capture, HttpExchange
from crawler.replay import site_path
from pipelines.capture import CapturePipeline

START_URLS = (DEMO_SITE / "start_urls.txt").read_text().split()
MULTI_PAGE = "http://www.news.cn/politics/20260511/b14e6f8a2c9d4730a5e1f9c62d8b3a07/c.html"
OLD_LAYOUT = "http://www.xinhuanet.com/world/2019-11/18/c_1125243817.htm"


def warc_files(archive: Path) -> list[Path]:
    return sorted((archive / "_warc").glob("*/*.warc.gz"))


def records(path: Path) -> list[tuple[int, object, bytes]]:
    """(offset, record, payload) of every record, read with warcio alone."""
    found = []
    with path.open("rb") as file:
        iterator = ArchiveIterator(file)
        for record in iterator:
            payload = record.content_stream().read()
            found.append((iterator.get_record_offset(), record, payload))
    return found


def catalog_rows(archive: Path) -> list[sqlite3.Row]:
    connection = sqlite3.connect(archive / "_catalog" / "catalog.sqlite")
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute("SELECT * FROM articles ORDER BY article_id").fetchall()
    finally:
        connection.close()


def test_a_crawl_keeps_each_archived_page_byte_for_byte(tmp_path, replay):
    archive = tmp_path / "archive"
    result = run_scrapy(*crawl_args(archive, START_URLS, *LOCAL), proxy=replay(DEMO_SITE))
    assert result.returncode == 0, result.stderr
    (warc,) = warc_files(archive)
    found = records(warc)
    assert found[0][1].rec_type == "warcinfo"
    responses = {r.rec_headers.get_header("WARC-Target-URI"): (o, r, p) for o, r, p in found
                 if r.rec_type == "response"}  # fmt: skip
    requests = [r for _, r, _ in found if r.rec_type == "request"]
    # Article pages and continuation pages only: no list page, no robots.txt.
    assert len(responses) == 8 and len(requests) == 8
    for url, (_, record, payload) in responses.items():
        served = site_path(DEMO_SITE, url)
        assert served is not None and payload == served.read_bytes(), url
        assert record.http_headers.get_statuscode() == "200"
        assert record.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
    concurrent = {r.rec_headers.get_header("WARC-Concurrent-To") for r in requests}
    assert concurrent == {
        r.rec_headers.get_header("WARC-Record-ID") for _, r, _ in responses.values()
    }
    assert all(r.http_headers.protocol == "GET" for r in requests)  # warcio: method here
    assert all("xinhua-archiver" in r.http_headers.get_header("User-Agent") for r in requests)
    # The continuation page names its article's first page.
    (second,) = [
        r for _, r, _ in responses.values() if r.rec_headers.get_header("X-Continuation-Of")
    ]
    first = responses[MULTI_PAGE][1]
    assert second.rec_headers.get_header("X-Continuation-Of") == first.rec_headers.get_header(
        "WARC-Record-ID"
    )
    # Every catalog row names the file and the offset of its article's first page.
    rows = catalog_rows(archive)
    assert len(rows) == 7
    for row in rows:
        assert archive / "_warc" / row["warc_file"] == warc
        _, record, _ = next(item for item in found if item[0] == row["warc_offset"])
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == row["url"]
        digests = row["warc_digest"].split()
        assert digests[0] == record.rec_headers.get_header("WARC-Payload-Digest")
    assert len(next(row for row in rows if row["url"] == MULTI_PAGE)["warc_digest"].split()) == 2


def test_unchanged_pages_are_not_captured_again(tmp_path, replay):
    archive = tmp_path / "archive"
    proxy = replay(DEMO_SITE)
    for _ in range(2):
        result = run_scrapy("scrape", OLD_LAYOUT, "-s", f"ARCHIVE_DIR={archive}", proxy=proxy)
        assert result.returncode == 0, result.stderr
    (warc,) = warc_files(archive)
    assert [r.rec_type for _, r, _ in records(warc)] == ["warcinfo", "response", "request"]


def test_a_crawl_captures_new_articles_and_not_its_revisits_again(tmp_path, replay):
    """The incremental middleware tells the capture stage which articles the catalog did not
    hold: those are captured without asking the catalog; a revisit is compared with its
    recorded capture and adds nothing."""
    archive = tmp_path / "archive"
    proxy = replay(DEMO_SITE)
    runs = []
    for _ in range(2):  # the second revisits every article (a window of a thousand years)
        args = crawl_args(archive, START_URLS, *LOCAL, "-s", "INCREMENTAL_REVISIT_DAYS=365000")
        result = run_scrapy(*args, proxy=proxy)
        assert result.returncode == 0, result.stderr
        runs.append(stats_of(result.stderr))
    assert runs[0].get("warc/captured") == 7 and "warc/unchanged" not in runs[0]
    assert runs[1].get("warc/unchanged") == 7 and "warc/captured" not in runs[1]
    (warc,) = warc_files(archive)
    assert sum(r.rec_type == "response" for _, r, _ in records(warc)) == 8


def test_the_catalog_is_asked_for_a_recorded_capture_unless_the_article_is_new(tmp_path):
    """An article the catalog did not hold when it was requested has no capture to compare
    with; one not known to be new (a scrape) is compared with what the catalog records."""
    archive = Archive(tmp_path / "archive")
    catalog = archive.catalog()
    exchange = HttpExchange(
        url=OLD_LAYOUT, status=200, headers=[], body=b"<html>page</html>",
        date=datetime(2026, 5, 11, tzinfo=UTC), method="GET", request_headers=[],
        protocol="HTTP/1.1",
    )  # fmt: skip
    recorded = Capture("2026-05/recorded.warc.gz", 0, capture_digest([exchange]))
    (archive.warc / "2026-05").mkdir(parents=True)
    (archive.warc / recorded.file).write_bytes(b"")
    catalog.record(
        CatalogEntry(
            site="xinhua", article_id="c_1125243817", url=OLD_LAYOUT, title="标题",
            published="2019-11-18T10:00:00+08:00", source=None, category="xinhuashe",
            path="_posts/x.md", content_hash="h", warc_file=recorded.file, warc_offset=0,
            warc_digest=recorded.digest,
        ),
        datetime(2026, 5, 11, tzinfo=UTC),
    )  # fmt: skip
    catalog.close()
    stats = StatsCollector(project_crawler())
    capture = CapturePipeline(archive, stats, max_bytes=10**9, use_catalog=True)
    outcomes = {}
    for known in (None, True, False):
        article = Article(url=OLD_LAYOUT, site="xinhua", article_id="c_1125243817")
        article.exchanges, article.cataloged_before = [exchange], known
        capture.process_item(article)
        outcomes[known] = article.capture == recorded
    capture.close_spider()
    assert outcomes == {None: True, True: True, False: False}
    assert stats.get_value("warc/unchanged") == 2 and stats.get_value("warc/captured") == 1


def test_capture_can_be_switched_off(tmp_path, replay):
    archive = tmp_path / "archive"
    result = run_scrapy(
        "scrape", OLD_LAYOUT, "-s", f"ARCHIVE_DIR={archive}", "-s", "ARCHIVE_WARC=False",
        proxy=replay(DEMO_SITE),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not (archive / "_warc").exists()
    assert catalog_rows(archive)[0]["warc_file"] == ""


def test_the_writers_records_pass_warcios_checks(tmp_path):
    """The records are laid out by our writer, not warcio's: warcio's reader finds each one
    whole, in a gzip member of its own (it refuses a member of two), with the digest it
    declares matching (the payload's for a response, the block's for the others)."""
    date = datetime(2026, 5, 11, 8, 30, tzinfo=UTC)
    body = "<p>新华社北京5月11日电</p>".encode("gb18030")
    headers = [("Content-Type", "text/html; charset=GB2312"), ("Content-Encoding", "gzip"),
               ("X-Note", "caf\xe9")]  # fmt: skip
    pages = [
        HttpExchange(f"{MULTI_PAGE}?page={n}", status, headers, body * n, date,
                     request_headers=[("User-Agent", "xinhua-archiver/test")])
        for n, status in ((1, 200), (2, 599))
    ]  # fmt: skip
    writer = WarcWriter(tmp_path, max_bytes=1 << 30, software="xinhua-archiver/test")
    capture = writer.write_article(pages, missing_pages=[f"{MULTI_PAGE}?page=3"])
    writer.close()
    (warc,) = warc_files(tmp_path)
    assert warc == tmp_path / "_warc" / capture.file
    with warc.open("rb") as file:
        iterator = ArchiveIterator(file, check_digests="raise")
        found = []
        for record in iterator:
            payload = record.content_stream().read()
            assert record.digest_checker.passed is True and record.raw_stream.limit == 0
            found.append((iterator.get_record_offset(), record, payload))
    assert [r.rec_type for _, r, _ in found] == ["warcinfo", *["response", "request"] * 2]
    (_, first, first_body), (_, second, second_body) = found[1], found[3]
    assert found[1][0] == capture.offset and first.http_headers.statusline == "200 OK"
    assert (first_body, second_body) == (body, body * 2)
    assert second.http_headers.statusline == "599"
    assert capture.digest.split() == [r.rec_headers.get_header("WARC-Payload-Digest")
                                      for r in (first, second)]  # fmt: skip
    assert first.http_headers.get_header("Content-Encoding") is None
    assert first.http_headers.get_header("Content-Length") == str(len(body))
    assert first.http_headers.get_header("X-Note") == "caf%C3%A9"  # as warcio writes it
    assert first.rec_headers.get_header("X-Missing-Page") == f"{MULTI_PAGE}?page=3"
    assert second.rec_headers.get_header("X-Continuation-Of") == first.rec_headers.get_header(
        "WARC-Record-ID"
    )
    assert found[2][1].http_headers.get_header("Host") == "www.news.cn"


def changed_posts(archive: Path, before: dict[Path, tuple[bytes, int]]) -> list[Path]:
    return sorted(path for path, (data, mtime) in before.items()
                  if (path.read_bytes(), path.stat().st_mtime_ns) != (data, mtime))  # fmt: skip


def post_versions(archive: Path) -> dict[Path, tuple[bytes, int]]:
    return {path: (path.read_bytes(), path.stat().st_mtime_ns)
            for path in (archive / "_posts").rglob("*.md")}  # fmt: skip


def test_reextract_applies_a_profile_change_to_exactly_the_affected_posts_offline(tmp_path, replay):
    archive = tmp_path / "archive"
    proxy = replay(DEMO_SITE)
    result = run_scrapy(*crawl_args(archive, START_URLS, *LOCAL), proxy=proxy)
    assert result.returncode == 0, result.stderr
    before = post_versions(archive)
    assert len(before) == 7
    # A rule fixed since: paragraphs starting 据介绍 are page furniture on news.cn. One
    # archived article has one.
    profiles = tmp_path / "sites"
    shutil.copytree(PROJECT / "crawler" / "sites", profiles)
    with (profiles / "xinhua.yaml").open("a", encoding="utf-8") as file:
        file.write("drop_lines:\n  - '^据介绍'\n")
    requests_before = len(proxy.requests)
    result = run_scrapy(
        "reextract", "-s", f"ARCHIVE_DIR={archive}", "-s", f"SITE_PROFILES_DIR={profiles}",
        proxy=proxy,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "0 new, 1 updated, 6 unchanged" in result.stdout
    assert len(proxy.requests) == requests_before  # not one request sent
    (changed,) = changed_posts(archive, before)
    assert changed.name == "2026-05-12-5e8a0c3f7b1d42e6a9f4c2d80b6e1a35.md"
    assert "<p>据介绍" in before[changed][0].decode() and "<p>据介绍" not in changed.read_text()
    row = next(row for row in catalog_rows(archive) if row["path"].endswith(changed.name))
    connection = sqlite3.connect(archive / "_catalog" / "catalog.sqlite")
    revisions = connection.execute(
        "SELECT count(*) FROM revisions WHERE article_id = ?", (row["article_id"],)
    ).fetchone()[0]
    connection.close()
    assert revisions == 2
    assert len(warc_files(archive)) == 1  # read, not captured again
    # Chosen by publication date and by site.
    result = run_scrapy("reextract", "--since", "2026-05-13", "-s", f"ARCHIVE_DIR={archive}")
    assert "0 new, 0 updated, 2 unchanged" in result.stdout, result.stdout
    result = run_scrapy("reextract", "--site", "people", "-s", f"ARCHIVE_DIR={archive}")
    assert "0 new, 0 updated, 0 unchanged" in result.stdout, result.stdout
    # A reindex keeps the captures that the catalog recorded.
    assert run_scrapy("reindex", "-s", f"ARCHIVE_DIR={archive}").returncode == 0
    result = run_scrapy("verify", "-s", f"ARCHIVE_DIR={archive}")
    assert result.returncode == 0, result.stdout + result.stderr


def capture_with_warcio(warc: Path, urls: list[str], proxy_url: str) -> None:
    """What another tool writes: warcio's capture_http recording urllib's fetches."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url}))
    with capture_http(str(warc)):
        for url in urls:
            with contextlib.suppress(urllib.error.HTTPError):  # a 404, recorded as such
                opener.open(url).read()


def test_import_of_another_tools_warc_gives_the_posts_of_a_crawl(tmp_path, replay):
    proxy = replay(DEMO_SITE)
    articles = [OLD_LAYOUT, MULTI_PAGE,
                "http://www.news.cn/20260512/5e8a0c3f7b1d42e6a9f4c2d80b6e1a35/c.html"]  # fmt: skip
    second_page = MULTI_PAGE + "?page=2"
    assert site_path(DEMO_SITE, second_page).is_file()
    warc = tmp_path / "other-tool.warc.gz"
    capture_with_warcio(
        warc,
        [START_URLS[0], *articles, second_page, "http://www.news.cn/robots.txt"],
        proxy.url,
    )
    crawled, imported = tmp_path / "crawled", tmp_path / "imported"
    result = run_scrapy("scrape", *articles, "-s", f"ARCHIVE_DIR={crawled}", proxy=proxy)
    assert result.returncode == 0, result.stderr
    requests_before = len(proxy.requests)
    result = run_scrapy("import", str(warc), "-s", f"ARCHIVE_DIR={imported}", proxy=proxy)
    assert result.returncode == 0, result.stderr
    assert len(proxy.requests) == requests_before
    assert "Imported into" in result.stdout and "3 new, 0 updated" in result.stdout
    # The list page, robots.txt, the continuation page (joined) and the request records.
    assert "1 not_article" in result.stdout and "1 not_html" in result.stdout
    assert "1 continuation_page" in result.stdout and "6 request_record" in result.stdout
    crawled_posts = {
        p.relative_to(crawled): p.read_bytes() for p in (crawled / "_posts").rglob("*.md")
    }
    imported_posts = {
        p.relative_to(imported): p.read_bytes() for p in (imported / "_posts").rglob("*.md")
    }
    assert imported_posts == crawled_posts and len(imported_posts) == 3
    # What it archived is captured into the archive: verify holds.
    result = run_scrapy("verify", "-s", f"ARCHIVE_DIR={imported}")
    assert result.returncode == 0, result.stdout + result.stderr
    # The same WARC packaged as a WACZ (a zip holding it, stored, under archive/).
    wacz = tmp_path / "other-tool.wacz"
    with zipfile.ZipFile(wacz, "w", zipfile.ZIP_STORED) as package:
        package.write(warc, "archive/data.warc.gz")
        package.writestr("datapackage.json", "{}")
    from_wacz = tmp_path / "from-wacz"
    result = run_scrapy("import", str(wacz), "-s", f"ARCHIVE_DIR={from_wacz}", proxy=proxy)
    assert result.returncode == 0, result.stderr
    assert {
        p.relative_to(from_wacz): p.read_bytes() for p in (from_wacz / "_posts").rglob("*.md")
    } == crawled_posts


# Runs ``scrapy`` with crawler/archive/warc.py's os.write replaced: the CRASH_AT-th write of a WARC
# record writes half of the record's gzip member, then the process is killed (SIGKILL).
WARC_CRASH_HOOK = r"""
import os, signal, sys, types
import crawler.archive.warc as warc
nth, seen = int(os.environ["CRASH_AT"]), [0]

class HalfWrite(types.ModuleType):
    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def write(descriptor, data):
        seen[0] += 1
        if seen[0] == nth:
            os.write(descriptor, bytes(data[: len(data) // 2]))
            os.kill(os.getpid(), signal.SIGKILL)
        return os.write(descriptor, data)

warc.os = HalfWrite("os")
from scrapy.cmdline import execute
sys.argv = ["scrapy", *sys.argv[1:]]
execute()
"""


def test_a_run_killed_while_writing_a_capture_leaves_readable_warcs(tmp_path, replay):
    archive = tmp_path / "archive"
    proxy = replay(DEMO_SITE)
    killed = run_scrapy_hooked(  # killed at the third article's response
        WARC_CRASH_HOOK,
        *crawl_args(archive, START_URLS, *LOCAL),
        proxy=proxy,
        env={"CRASH_AT": "6"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (warc,) = warc_files(archive)
    whole = []  # per record read by warcio: all of its block there?
    with warc.open("rb") as file:
        for record in ArchiveIterator(file):
            record.content_stream().read()
            whole.append(record.raw_stream.limit == 0)
    assert whole == [True] * 5 + [False]  # warcinfo, two articles, half the third response
    # verify and reextract read what is whole, say that the end is not, and find no fault.
    checked = run_scrapy("verify", "-s", f"ARCHIVE_DIR={archive}")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "is incomplete (a run killed while writing it); skipped" in checked.stderr
    reextracted = run_scrapy("reextract", "-s", f"ARCHIVE_DIR={archive}")
    assert reextracted.returncode == 0, reextracted.stderr
    assert " 0 updated" in reextracted.stdout
    # The next crawl finishes the job in a file of its own; everything verifies.
    result = run_scrapy(*crawl_args(archive, START_URLS, *LOCAL), proxy=proxy)
    assert result.returncode == 0, result.stderr
    assert len(warc_files(archive)) == 2 and len(catalog_rows(archive)) == 7
    checked = run_scrapy("verify", "-s", f"ARCHIVE_DIR={archive}")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Verified 7 posts" in checked.stderr
