"""What ``scrapy scrape`` says about a URL it did not archive (issue 12, cases 7 and 16): only
http(s) URLs are taken (anything else is a usage error before any crawl), and the final
``not archived: URL: REASON`` line gives the real reason of a failed fetch: the HTTP status, a
size cap hit by a page without Content-Length, a timeout and its tries, robots.txt, a failure
after a redirect, a host that cannot be resolved (issue 15: one warning per host). Real
subprocesses against the loopback fault proxy or, for DNS failures, with a resolver that
knows no name (tests/offline_dns.py: no DNS server is asked), and a table for the reasons
that cannot be staged on loopback."""

from __future__ import annotations

from subprocess import CompletedProcess
from urllib.parse import urlsplit

import pytest
from archive_checks import posts
from conftest import LOCAL, run_scrapy
from faultserver import PNG_IMAGE, Body, Hang, Oversize, Redirect, Status
from offline_dns import RESOLVER
from scrapy import Request
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    ResponseDataLossError,
)
from scrapy.settings import Settings
from test_hostile_input import scrape, xinhua_page, xinhua_url
from twisted.python.failure import Failure

from crawler.extensions.summary import NO_HOST_REACHABLE
from spiders.base import fetch_failure_reason


def usage_error(result: CompletedProcess[str], syntax: str) -> str:
    """The message of a usage error: exit status 2, and on stderr only Scrapy's usage of the
    command (``syntax``) and argparse's one line ``<program>: error: …`` (no start-up log)."""
    assert result.returncode == 2, result.stderr
    *usage, error = result.stderr.splitlines()
    assert usage == ["Usage", "=====", f"  scrapy {syntax}"], result.stderr
    program, separator, message = error.partition(": error: ")
    assert separator and " " not in program, result.stderr
    return message


@pytest.mark.parametrize(
    "url", ["file:///etc/hostname", "ftp://ftp.example.org/c.htm", "not-a-url", "http:///c.htm"]
)
def test_scrape_takes_only_http_urls(url, tmp_path):
    archive = tmp_path / "archive"
    # -L INFO: not even a log that shows Scrapy's start-up shows it
    result = run_scrapy("scrape", xinhua_url(1), url, "-L", "INFO", "-s", f"ARCHIVE_DIR={archive}")
    error = usage_error(result, "scrape [options] URL [URL ...]")
    assert error == f"URL: not an http(s) URL: {url!r}"
    assert not archive.exists()  # refused before anything started


def test_crawl_takes_only_http_start_urls(tmp_path):
    archive = tmp_path / "archive"
    args = ("-a", "start_urls=http://www.news.cn/politics/,notaurl")
    result = run_scrapy("crawl", "xinhua", *args, "-s", f"ARCHIVE_DIR={archive}")
    error = usage_error(result, "crawl [options] <spider>")
    assert error == "-a start_urls: not an http(s) URL: 'notaurl'"
    assert not archive.exists()


def test_not_archived_lines_give_the_real_reason(tmp_path):
    landing = xinhua_url(90)
    robots_host = "http://www.robots-test.cn"
    faults = {
        xinhua_url(1): Status(404),
        xinhua_url(2): Status(500),
        xinhua_url(3): Oversize(400_000, declare_length=False),
        xinhua_url(4): Hang(10),
        xinhua_url(5): Redirect(landing),
        landing: Status(404),
        "http://photo.news.cn/2026/0601/a": Body(PNG_IMAGE, "image/png"),
        f"{robots_host}/robots.txt": Body(b"User-agent: *\nDisallow: /news/\n", "text/plain"),
        f"{robots_host}/news/c.html": Body(xinhua_page("不许抓取").encode()),
    }
    reasons = {
        xinhua_url(1): "HTTP 404 Not Found",
        xinhua_url(2): "HTTP 500 Internal Server Error (tried 2 times)",
        xinhua_url(3): "larger than DOWNLOAD_MAXSIZE (300000 bytes)",
        xinhua_url(4): "timed out after 1 s (tried 2 times)",
        xinhua_url(5): f"HTTP 404 Not Found (redirected to {landing})",
        "http://photo.news.cn/2026/0601/a": "not an HTML page: Content-Type image/png",
        f"{robots_host}/news/c.html": "Forbidden by robots.txt",
    }
    limits = ("-s", "DOWNLOAD_MAXSIZE=300000", "-s", "DOWNLOAD_TIMEOUT=1", "-s", "RETRY_TIMES=1")
    run = scrape(tmp_path, faults, list(reasons), *limits, *LOCAL)
    assert run.result.returncode == 1 and posts(run.archive) == []
    assert run.failed == reasons


# Names that DNS never resolves (RFC 6761); no DNS server is asked about them either: the
# crawl's resolver knows no name, and the address guard lets them through unresolved.
UNRESOLVABLE = ("www.news.invalid", "www.xinhuanet.invalid")
NO_DNS = (
    "-s",
    f"TWISTED_DNS_RESOLVER={RESOLVER}",
    "-s",
    f"FETCH_ALLOWED_HOSTS={','.join(UNRESOLVABLE)}",
)


def test_a_host_that_cannot_be_resolved_is_one_warning_and_each_url_says_why(tmp_path):
    news, xinhuanet = UNRESOLVABLE
    urls = [
        f"http://{news}/politics/20260601/{'1' * 32}/c.html",
        f"http://{news}/politics/20260601/{'2' * 32}/c.html",
        f"http://{xinhuanet}/world/2026-06/01/c_1126093452.htm",
    ]
    archive = tmp_path / "archive"
    result = run_scrapy("scrape", *urls, "-s", f"ARCHIVE_DIR={archive}", *NO_DNS, *LOCAL)

    assert result.returncode == 1 and posts(archive) == []
    # Scrapy's own lines about the hosts (robots.txt, the retries given up): one per host
    per_host = [
        line for line in result.stderr.splitlines() if "[scrapy.downloadermiddlewares" in line
    ]
    assert sorted(line.split("] ", 1)[1] for line in per_host) == [
        f"WARNING: robots.txt of {host} not fetched (DNS lookup failed: no results for hostname "
        f"lookup: {host}.): its pages are fetched as if allowed"
        for host in UNRESOLVABLE
    ]
    summary = next(line for line in result.stderr.splitlines() if "Run failed: " in line)
    assert summary.endswith(f"; 3 errors; {NO_HOST_REACHABLE}")
    assert result.stderr.splitlines()[-3:] == [
        f"not archived: {url}: DNS lookup failed for {urlsplit(url).hostname} (tried 2 times)"
        for url in urls
    ]


@pytest.mark.parametrize(
    ("error", "meta", "reason"),
    [
        (CannotResolveHostError("no results"), {}, "DNS lookup failed for www.news.cn"),
        (
            DownloadConnectionRefusedError("111"),
            {"retry_times": 3},
            "connection refused (tried 4 times)",
        ),
        (ResponseDataLossError(), {}, "the connection closed before the whole page arrived"),
        (ValueError(), {}, "ValueError"),  # nothing to say but its name
    ],
)
def test_failure_reasons_that_loopback_cannot_stage(error, meta, reason):
    request = Request("http://www.news.cn/c.html", meta=meta)
    assert fetch_failure_reason(Failure(error), request, Settings()) == reason
