"""Captures (issue 16): real crawls keep what the server sent as WARC files in ``_warc/``,
which warcio, the reference reader, reads back byte for byte."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import DEMO_SITE, LOCAL, crawl_args, run_scrapy
from warcio.archiveiterator import ArchiveIterator

from crawler.replay import site_path

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


def test_capture_can_be_switched_off(tmp_path, replay):
    archive = tmp_path / "archive"
    result = run_scrapy(
        "scrape", OLD_LAYOUT, "-s", f"ARCHIVE_DIR={archive}", "-s", "ARCHIVE_WARC=False",
        proxy=replay(DEMO_SITE),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not (archive / "_warc").exists()
    assert catalog_rows(archive)[0]["warc_file"] == ""
