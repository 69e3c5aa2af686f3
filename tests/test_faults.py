"""Reliability under server faults (issue 6): real ``scrapy crawl`` / ``scrape`` subprocesses
against a misbehaving proxy (tests/faultserver.py) that serves a generated Xinhua-style site
and makes chosen URLs fail: 5xx bursts, timeouts, resets, trickles, truncation, redirect loops,
oversized pages, compression bombs, binary bytes, empty bodies and endless list pages.

For each fault the crawl goes on (the site's good articles are archived), the faulty URL is
retried or dropped with a counted reason, nothing broken is written, and the exit status is
the documented one. docs/reliability.md lists the cases and outcomes.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from archive_checks import check_archive, describe, posts, stats_of, summary_of
from conftest import (
    LOCAL,
    crawl_args,
    read_post,
    run_scrapy,
)
from faultserver import (
    PDF_BYTES,
    PNG_BYTES,
    PNG_IMAGE,
    Body,
    Fault,
    FaultProxy,
    Generated,
    GzipBomb,
    Hang,
    Oversize,
    Redirect,
    RedirectChain,
    Reset,
    Status,
    Trickle,
    Truncate,
    calendar_trap,
    gunzip_size,
    gzip_bomb,
)

from benchmarks.sitegen import PER_COLUMN, article, continuation_url, generate

# Small limits keep every fault short: a hung request costs DOWNLOAD_TIMEOUT per try.
FAST = ["-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=1", "-s", "ARCHIVE_IMAGES=False"]
N = 20  # articles of the generated site; article FAULTY is the one that misbehaves
FAULTY = 1


@dataclass
class Run:
    result: Any
    summary: dict[str, Any] | None
    stats: dict[str, Any]
    archive: Path

    @property
    def ids(self) -> set[str]:
        return {path.stem[11:] for path in posts(self.archive)}


@pytest.fixture
def faulty(tmp_path):
    """Start a fault proxy over a generated site of ``n`` articles (``<tmp>/site``, generated
    unless a test made it already); every proxy is stopped after the test."""
    started: list[FaultProxy] = []

    def start(faults: dict[str, Fault], n: int = N) -> tuple[FaultProxy, list[str]]:
        site = tmp_path / "site"
        if not site.exists():
            generate(site, n)
        proxy = FaultProxy(site, faults).start()
        started.append(proxy)
        columns = range((n + PER_COLUMN - 1) // PER_COLUMN)
        return proxy, [f"http://www.news.cn/col{k}/" for k in columns]

    yield start
    for proxy in started:
        proxy.stop()


def crawl(tmp_path: Path, proxy: FaultProxy, start_urls: list[str], *settings: str) -> Run:
    """``scrapy crawl xinhua`` over the start URLs; any logged traceback fails the test."""
    archive, summary = tmp_path / "archive", tmp_path / "summary.json"
    summary.unlink(missing_ok=True)
    args = crawl_args(
        archive, start_urls, "-s", f"RUN_SUMMARY_FILE={summary}", *LOCAL, *FAST, *settings
    )
    result = run_scrapy(*args, proxy=proxy, timeout=90)
    return Run(result, summary_of(summary), stats_of(result.stderr), archive)


def good_ids(n: int = N, *bad: int) -> set[str]:
    return {article(i).article_id for i in range(n) if i not in bad}


def failed_counts(stats: dict[str, Any]) -> dict[str, int]:
    return {
        key.removeprefix("fetch/article_failed/"): value
        for key, value in stats.items()
        if key.startswith("fetch/article_failed/")
    }


# --- one faulty article among good ones -------------------------------------------------------


@dataclass(frozen=True)
class Case:
    fault: Fault
    settings: tuple[str, ...] = ()
    archived: bool = False  # the faulty article is archived in the end (the fault recovers)
    attempts: int | None = None  # requests the faulty URL gets
    failed: tuple[str, ...] = ()  # fetch/article_failed/<one of these> == 1
    dropped: str | None = None  # item_dropped_reasons_count/<this> == 1
    stats: tuple[tuple[str, int], ...] = ()  # further stats that must be exactly so
    log: str | None = None  # words the log must show


TIMEOUT = ("DownloadTimeoutError", "TimeoutError")
DATA_LOSS = ("ResponseDataLossError", "ResponseFailed")
CANCELLED = ("DownloadCancelledError", "CancelledError")
SMALL_CAP = ("-s", "DOWNLOAD_MAXSIZE=300000", "-s", "DOWNLOAD_WARNSIZE=200000")

CASES = {
    "503-burst-recovers": Case(
        Status(503, times=2),
        ("-s", "RETRY_TIMES=2"),
        archived=True,
        attempts=3,
        stats=(("retry/count", 2), ("retry/reason_count/503 Service Unavailable", 2)),
    ),
    "429-then-ok": Case(
        Status(429, times=1), archived=True, attempts=2, stats=(("retry/count", 1),)
    ),
    "500-for-good": Case(
        Status(500),
        attempts=2,
        failed=("HttpError",),
        stats=(("retry/max_reached", 1), ("downloader/response_status_count/500", 2)),
        log="Gave up retrying",
    ),
    "404-article": Case(
        Status(404),
        attempts=1,
        failed=("HttpError",),
        stats=(("downloader/response_status_count/404", 1),),
        log="(HTTP 404 Not Found)",
    ),
    "no-answer-timeout": Case(
        Hang(10),
        ("-s", "DOWNLOAD_TIMEOUT=1"),
        attempts=2,
        failed=TIMEOUT,
        stats=(("retry/max_reached", 1), ("downloader/exception_count", 2)),
        log="took longer than 1.0 seconds",
    ),
    "reset-mid-body": Case(
        Reset(after=2000), attempts=2, failed=DATA_LOSS, stats=(("retry/count", 1),)
    ),
    "truncated-body": Case(
        Truncate(send=2000), attempts=2, failed=DATA_LOSS, stats=(("retry/count", 1),)
    ),
    "trickle-within-timeout": Case(Trickle(chunk=16384, interval=0.1), archived=True, attempts=1),
    "trickle-past-timeout": Case(
        Trickle(chunk=200, interval=0.1),
        ("-s", "DOWNLOAD_TIMEOUT=1"),
        attempts=2,
        failed=TIMEOUT,
        log="took longer than 1.0 seconds",
    ),
    "redirect-chain": Case(
        RedirectChain(limit=50),
        attempts=1,  # the first URL; then ?hop=1 … ?hop=5
        failed=("IgnoreRequest",),
        stats=(("downloader/response_status_count/302", 6),),
        log="max redirections reached",
    ),
    "over-size-cap": Case(
        Oversize(2_000_000),
        SMALL_CAP,
        attempts=1,
        failed=CANCELLED,
        log="larger than download max size",
    ),
    "over-size-cap-no-length": Case(
        Oversize(2_000_000, declare_length=False),
        SMALL_CAP,
        attempts=1,
        failed=CANCELLED,
        log="larger than download max size",
    ),
    "gzip-bomb": Case(
        GzipBomb(),
        SMALL_CAP,
        attempts=1,
        failed=("IgnoreRequest",),
        log="exceeded DOWNLOAD_MAXSIZE",
    ),
    # bytes that no charset reads: dropped before any field is looked for
    "png-as-html": Case(Body(PNG_BYTES), attempts=1, dropped="UndecodablePage"),
    "pdf-as-html": Case(Body(PDF_BYTES), attempts=1, dropped="UndecodablePage"),
    "empty-200": Case(Body(b""), attempts=1, dropped="MissingTitle"),
}


@pytest.mark.parametrize("name", CASES)
def test_one_faulty_article(name, tmp_path, faulty):
    case = CASES[name]
    url = article(FAULTY).url
    proxy, start_urls = faulty({url: case.fault})
    started = time.monotonic()
    run = crawl(tmp_path, proxy, start_urls, *case.settings)
    assert time.monotonic() - started < 30

    assert run.result.returncode == 0, describe(run.result)  # something was archived
    assert run.summary["status"] == "ok"
    expected = good_ids() if case.archived else good_ids(N, FAULTY)
    assert run.ids == expected, describe(run.result)  # the crawl went on
    assert run.summary["new"] == len(expected)
    if case.attempts is not None:
        assert proxy.count(url) == case.attempts
    failed = failed_counts(run.stats)
    if case.failed:
        assert len(failed) == 1 and next(iter(failed)) in case.failed, failed
        assert sum(failed.values()) == 1 and run.summary["errors"] >= 1
    else:
        assert failed == {}
    if case.dropped:
        assert run.stats[f"item_dropped_reasons_count/{case.dropped}"] == 1
        assert run.summary["dropped"] == {case.dropped: 1}
    elif not case.archived:
        assert case.failed, "an article that is not archived must be counted somewhere"
    for key, value in case.stats:
        assert run.stats.get(key) == value, (key, run.stats)
    if case.log:
        assert case.log in run.result.stderr
    check_archive(run.archive)  # every file complete, catalog in agreement, no temporaries


def test_burst_longer_than_the_retries_is_fetched_by_the_next_run(tmp_path, faulty):
    url = article(FAULTY).url
    proxy, start_urls = faulty({url: Status(503, times=3)})
    first = crawl(tmp_path, proxy, start_urls)  # tries 1 and 2 fail
    assert first.result.returncode == 0 and first.ids == good_ids(N, FAULTY)
    assert failed_counts(first.stats) == {"HttpError": 1}
    second = crawl(tmp_path, proxy, start_urls)  # try 3 fails, its retry succeeds
    assert second.result.returncode == 0, describe(second.result)
    assert second.summary["new"] == 1 and second.summary["skipped"] == N - 1
    assert second.ids == good_ids()
    assert proxy.count(url) == 4
    check_archive(second.archive)


def test_every_article_failing_exits_non_zero(tmp_path, faulty):
    faults = {article(i).url: Status(503) for i in range(N)}
    proxy, start_urls = faulty(faults)
    run = crawl(tmp_path, proxy, start_urls)
    assert run.result.returncode == 1
    assert run.summary["status"] == "failed" and run.summary["errors"] >= N
    assert failed_counts(run.stats) == {"HttpError": N}
    assert posts(run.archive) == []


def test_many_faults_at_once(tmp_path, faulty):
    """A dozen different faults at once, among the articles of a bigger site."""
    n = 150
    kinds: list[Fault] = [
        Status(503, times=1),
        Status(500),
        Hang(10),
        Reset(after=1500),
        Truncate(send=1500),
        Trickle(chunk=200, interval=0.1),
        RedirectChain(),
        Oversize(2_000_000),
        GzipBomb(),
        Body(PNG_BYTES),
        Body(b""),
        Status(404),
    ]
    faults = {article(i).url: fault for i, fault in enumerate(kinds)}
    proxy, start_urls = faulty(faults, n)
    run = crawl(tmp_path, proxy, start_urls, "-s", "DOWNLOAD_TIMEOUT=1", *SMALL_CAP)
    assert run.result.returncode == 0, describe(run.result)
    recovered = {0}  # the one-off 503
    assert run.ids == good_ids(n, *(set(range(len(kinds))) - recovered))
    failed = failed_counts(run.stats)
    dropped = {
        key: value
        for key, value in run.stats.items()
        if key.startswith("item_dropped_reasons_count/")
    }
    assert dropped == {
        "item_dropped_reasons_count/MissingTitle": 1,  # the empty page
        "item_dropped_reasons_count/UndecodablePage": 1,  # the PNG
    }
    assert sum(failed.values()) + sum(dropped.values()) == len(kinds) - len(recovered), failed
    check_archive(run.archive)


# --- continuation pages -----------------------------------------------------------------------


def test_failed_continuation_page_is_counted_and_the_article_kept(tmp_path, faulty):
    n, multi = 10, 7  # article 7 has two pages
    page2 = continuation_url(article(multi))
    proxy, start_urls = faulty({page2: Status(503)}, n)
    run = crawl(tmp_path, proxy, start_urls)
    assert run.result.returncode == 0 and run.ids == good_ids(n)
    assert run.stats["fetch/continuation_failed"] == 1
    assert run.stats["article/missing_pages"] == 1
    assert f"without 1 continuation page(s) that failed: {page2}" in run.result.stderr
    check_archive(run.archive)


def test_missing_continuation_page_is_completed_by_a_later_run(tmp_path, faulty):
    n, multi = 10, 7
    page2 = continuation_url(article(multi))
    proxy, start_urls = faulty({page2: Status(503, times=2)}, n)  # down during the first run
    crawl(tmp_path, proxy, start_urls)
    second = crawl(tmp_path, proxy, start_urls)
    (path,) = [p for p in posts(second.archive) if article(multi).article_id in p.name]
    assert "第2页" in path.read_text(encoding="utf-8"), "page 2 is still missing"
    assert proxy.count(page2) == 3


# --- redirects --------------------------------------------------------------------------------


def test_redirect_to_another_xinhua_host_is_followed(tmp_path, faulty):
    site = tmp_path / "site"
    generate(site, N)
    moved = "http://www.xinhuanet.com/col0/2025-03/01/c_1129999999.htm"
    source = site / "www.news.cn" / article(FAULTY).url.split("www.news.cn/")[1]
    target = site / "www.xinhuanet.com" / moved.split("www.xinhuanet.com/")[1]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    proxy, start_urls = faulty({article(FAULTY).url: Redirect(moved, status=301)})
    run = crawl(tmp_path, proxy, start_urls)
    assert run.result.returncode == 0, describe(run.result)
    assert run.ids == good_ids(N, FAULTY) | {"c_1129999999"}  # filed under the final URL's ID
    (path,) = [p for p in posts(run.archive) if "c_1129999999" in p.name]
    assert read_post(path)[0]["source_url"] == moved
    check_archive(run.archive)


def test_redirect_to_a_foreign_domain_is_not_archived_as_the_site(tmp_path, faulty):
    site = tmp_path / "site"
    generate(site, N)
    foreign = site / "evil.example.org" / "news" / "2025" / "c_99999999.htm"
    foreign.parent.mkdir(parents=True)
    page = (site / "www.news.cn" / article(2).url.split("www.news.cn/")[1]).read_text("utf-8")
    foreign.write_text(page.replace(article(2).title, "冒充新华网的文章"), encoding="utf-8")
    (site / "evil.example.org" / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    location = "http://evil.example.org/news/2025/c_99999999.htm"
    proxy, start_urls = faulty({article(FAULTY).url: Redirect(location)})
    run = crawl(tmp_path, proxy, start_urls)
    assert run.result.returncode == 0
    assert run.ids == good_ids(N, FAULTY), "the foreign page was archived as a Xinhua article"
    assert (
        sum(failed_counts(run.stats).values())
        + sum(v for k, v in run.stats.items() if k.startswith(("offsite/", "item_dropped_reasons")))
        >= 1
    )


def test_redirect_loop_in_a_crawl_is_counted(tmp_path, faulty):
    url = article(FAULTY).url
    bounce = url + "?bounce=1"
    proxy, start_urls = faulty({url: Redirect(bounce), bounce: Redirect(url)})
    run = crawl(tmp_path, proxy, start_urls)
    assert run.result.returncode == 0 and run.ids == good_ids(N, FAULTY)
    assert proxy.count(url) <= 1 + 5  # bounded either way
    assert sum(failed_counts(run.stats).values()) == 1, run.stats
    assert run.summary["errors"] >= 1


def test_redirect_loop_in_a_scrape_is_reported(tmp_path, faulty):
    url = article(FAULTY).url
    bounce = url + "?bounce=1"
    proxy, _ = faulty({url: Redirect(bounce), bounce: Redirect(url)})
    archive = tmp_path / "archive"
    result = run_scrapy(
        "scrape", url, article(0).url, "-s", f"ARCHIVE_DIR={archive}", *LOCAL, *FAST, proxy=proxy
    )
    assert result.returncode == 1  # documented: any URL not archived
    assert f"not archived: {url}: " in result.stderr
    assert "max redirections reached" in result.stderr
    assert proxy.count(url) + proxy.count(bounce) == 6  # REDIRECT_MAX_TIMES=5, then given up
    assert [p.stem[11:] for p in posts(archive)] == [article(0).article_id]
    check_archive(archive)


# --- endless list pages -----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_calendar_trap_stays_within_the_list_depth(depth, tmp_path, faulty):
    base = "http://www.news.cn/cal/"
    trap = calendar_trap(base, date(2025, 3, 1), lambda n: article(n).url if n < N else None)
    proxy, _ = faulty({base + "*": trap})
    run = crawl(tmp_path, proxy, [base + "20250301/"], "-s", f"DISCOVERY_LIST_DEPTH={depth}")
    assert run.result.returncode == 0, describe(run.result)
    assert proxy.count_prefix(base) == depth + 1  # the start page and `depth` more days
    assert run.stats["discovery/list_pages"] == depth + 1
    assert run.ids == {article(n).article_id for n in range(depth + 1)}  # each day's article
    check_archive(run.archive)


def test_numbered_list_pages_stop_at_max_list_pages(tmp_path, faulty):
    def listing(url: str) -> str | None:  # page k lists one article; pages never run out
        k = int(url.rsplit("pgnum=", 1)[1])
        return (
            f'<html><body><a href="{article(k % N).url}">k</a></body></html>' if k < 500 else None
        )

    proxy, _ = faulty({"http://www.news.cn/pg/*": Generated(listing)})
    run = crawl(tmp_path, proxy, ["http://www.news.cn/pg/list.html?pgnum=1"])
    assert run.result.returncode == 0
    assert proxy.count_prefix("http://www.news.cn/pg/") == 10  # max_list_pages of xinhua.yaml
    assert run.ids == {article(k % N).article_id for k in range(1, 11)}
    check_archive(run.archive)


def test_datasource_chain_stays_bounded(tmp_path, faulty):
    def chain(url: str) -> str | None:  # every "datasource" is an HTML page naming a new one
        if url.endswith("/dstrap/"):
            k = 0
        elif "/ds_" in url:
            k = int(url.rsplit("ds_", 1)[1].removesuffix(".json"), 16) + 1
        else:
            return None
        if k > 60:
            return None
        return (
            f'<html><body><a href="{article(min(k, N - 1)).url}">a</a>'
            f'<div datatype="ds" data="datasource:{k:032x}"></div></body></html>'
        )

    proxy, _ = faulty({"http://www.news.cn/dstrap/*": Generated(chain)})
    run = crawl(tmp_path, proxy, ["http://www.news.cn/dstrap/"])
    assert run.result.returncode == 0
    # Only the articles the bounded part of the chain links are reachable; those are archived.
    assert run.ids and run.ids <= good_ids()
    assert proxy.count_prefix("http://www.news.cn/dstrap/") <= 1 + 2 * 2, "the chain was followed"


# --- robots.txt and images --------------------------------------------------------------------


def test_robots_txt_errors_do_not_stop_the_crawl(tmp_path, faulty):
    proxy, start_urls = faulty({"http://www.news.cn/robots.txt": Status(500)})
    run = crawl(tmp_path, proxy, start_urls)
    assert run.result.returncode == 0 and run.ids == good_ids()
    assert run.stats["robotstxt/response_status_count/500"] == 1
    check_archive(run.archive)


def test_robots_txt_timeout_does_not_stop_the_crawl(tmp_path, faulty):
    proxy, start_urls = faulty({"http://www.news.cn/robots.txt": Hang(10)})
    run = crawl(tmp_path, proxy, start_urls, "-s", "DOWNLOAD_TIMEOUT=1")
    assert run.result.returncode == 0 and run.ids == good_ids()
    assert proxy.count("http://www.news.cn/robots.txt") == 2  # tried, retried, then ignored
    check_archive(run.archive)


def test_robots_txt_timeout_logs_no_traceback(tmp_path, faulty):
    proxy, start_urls = faulty({"http://www.news.cn/robots.txt": Hang(10)})
    run = crawl(tmp_path, proxy, start_urls, "-s", "DOWNLOAD_TIMEOUT=1")
    assert run.ids == good_ids()
    # a warning with the reason, counted in the stats; not an error
    (warning,) = [line for line in run.result.stderr.splitlines() if "robots.txt of" in line]
    assert warning.endswith(
        "[scrapy.downloadermiddlewares.robotstxt] WARNING: robots.txt of www.news.cn not fetched "
        "(Getting http://www.news.cn/robots.txt took longer than 1.0 seconds.): its pages are "
        "fetched as if allowed"
    )
    timeouts = "robotstxt/exception_count/<class 'scrapy.exceptions.DownloadTimeoutError'>"
    assert run.stats[timeouts] == 1
    assert "log_count/ERROR" not in run.stats
    assert run.summary is not None and run.summary["errors"] == 0


def test_misbehaving_images_keep_their_original_url(tmp_path, faulty):
    n = 24  # articles 3, 13 and 23 have an image beside the page
    site = tmp_path / "site"
    generate(site, n)
    photo = {}
    for i in (3, 13, 23):
        page = site / "www.news.cn" / article(i).url.split("www.news.cn/")[1]
        src = re.search(r'<img src="([^"]+)"', page.read_text(encoding="utf-8")).group(1)
        photo[i] = urljoin(article(i).url, src)
    good = site / "www.news.cn" / photo[23].split("www.news.cn/")[1]
    good.write_bytes(PNG_IMAGE)
    proxy, start_urls = faulty({photo[3]: Hang(10), photo[13]: GzipBomb()}, n)
    run = crawl(
        tmp_path,
        proxy,
        start_urls,
        "-s",
        "ARCHIVE_IMAGES=True",
        "-s",
        "DOWNLOAD_TIMEOUT=1",
        *SMALL_CAP,
    )
    assert run.result.returncode == 0 and run.ids == good_ids(n)
    assert run.stats["images/failed"] == 2 and run.stats["images/downloaded"] == 1
    assert proxy.count(photo[3]) == 2  # a timeout is retried like a page
    for index in (3, 13):
        (path,) = [p for p in posts(run.archive) if article(index).article_id in p.name]
        assert f'<img src="{photo[index]}">' in path.read_text(encoding="utf-8")
    (kept,) = (run.archive / "assets" / "images").iterdir()
    assert kept.read_bytes() == PNG_IMAGE
    check_archive(run.archive)


def test_failed_image_download_logs_no_traceback(tmp_path, faulty):
    n = 4  # article 3 has an image
    site = tmp_path / "site"
    generate(site, n)
    page = site / "www.news.cn" / article(3).url.split("www.news.cn/")[1]
    src = re.search(r'<img src="([^"]+)"', page.read_text(encoding="utf-8")).group(1)
    photo = urljoin(article(3).url, src)
    proxy, start_urls = faulty({photo: Hang(10)}, n)
    run = crawl(
        tmp_path, proxy, start_urls, "-s", "ARCHIVE_IMAGES=True", "-s", "DOWNLOAD_TIMEOUT=1"
    )
    assert run.stats["images/failed"] == 1 and "log_count/ERROR" not in run.stats
    # warnings with the reason, counted in the stats
    assert run.stats["retry/max_reached"] == 1
    warnings = [
        line.partition("] ")[2] for line in run.result.stderr.splitlines() if "] WARNING: " in line
    ]
    assert (
        f"WARNING: Gave up retrying <GET {photo}> (failed 2 times): Getting {photo} took "
        "longer than 1.0 seconds." in warnings
    )
    assert f"WARNING: 1 image(s) of {article(3).url} kept their original URL" in warnings


# --- the fault server itself ------------------------------------------------------------------


def test_fault_server_faults_are_real_and_bounded(tmp_path):
    payload = gzip_bomb(256 * 1024 * 1024)
    assert len(payload) < 400_000 and gunzip_size(payload) >= 256 * 1024 * 1024
    proxy = FaultProxy(
        None, {"http://a.test/reset": Reset(after=10), "http://a.test/hang": Hang(20)}
    ).start()
    try:
        host, port = proxy.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(b"GET http://a.test/reset HTTP/1.0\r\n\r\n")
            with pytest.raises(ConnectionResetError):
                while conn.recv(65536):
                    pass
        hung = socket.create_connection((host, int(port)), timeout=5)
        hung.sendall(b"GET http://a.test/hang HTTP/1.0\r\n\r\n")
        time.sleep(0.2)
    finally:
        started = time.monotonic()
        proxy.stop()  # ends the hold at once
    assert time.monotonic() - started < 2
    assert hung.recv(10) == b""  # closed without an answer
    hung.close()
    assert proxy.requests == ["http://a.test/reset", "http://a.test/hang"]
