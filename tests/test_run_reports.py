"""What the person at the terminal sees when a run goes wrong (issue 15): one error count in
every report, the run summary as the last line, a run that reached no host saying so, no
silent waits, no noise about components a scrape does not use, and ``catalog | head``
without a traceback. Real ``scrapy`` subprocesses against proxies on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from types import SimpleNamespace

import pytest
from archive_checks import describe, stats_of, summary_of
from conftest import (
    DEMO_SITE,
    LOCAL,
    PROJECT,
    crawl_args,
    free_port,
    run_scrapy,
    scrapy_command,
    scrapy_env,
    write_archive,
)
from faultserver import FaultProxy, Hang, Status
from test_sitebuild import article as article_on

from benchmarks.sitegen import article, generate
from crawler.archive.lock import acquire
from crawler.extensions.summary import NO_HOST_REACHABLE

DEMO_ARTICLE = "http://www.news.cn/politics/20260511/7d2c9a41e6b84f0d9c35a1e8b0f47d62/c.html"
# The hosts the tests name are served by the proxy: the address guard need not look them up.
SERVED = ["-s", "FETCH_ALLOWED_HOSTS=www.news.cn"]
SUMMARY_LINE = re.compile(
    r"^\S+ \S+ \[crawler\.extensions\.summary\] (INFO|ERROR): Run (ok|failed): "
)
ERROR_RATE = re.compile(r"AssertionError: .* : (\d+) errors in (\d+) pages")


def dead_proxy() -> SimpleNamespace:
    """A proxy address where nothing listens: every request is refused."""
    return SimpleNamespace(url=f"http://127.0.0.1:{free_port()}")


def log_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.match(r"^\d{4}-\d\d-\d\d ", line)]


def assert_summary_last(stderr: str) -> str:
    """The summary is the last log line, after Spidermon's report; returns it."""
    lines = log_lines(stderr)
    assert SUMMARY_LINE.match(lines[-1]), lines[-5:]
    assert all("[Spidermon]" not in line for line in lines[lines.index(lines[-1]) :])
    return lines[-1]


def test_a_crawl_that_reaches_no_host_says_so_last_with_one_error_count(tmp_path):
    summary = tmp_path / "summary.json"
    start_urls = ["http://www.news.cn/politics/", "http://www.news.cn/world/"]
    args = crawl_args(tmp_path / "archive", start_urls, "-s", f"RUN_SUMMARY_FILE={summary}")
    result = run_scrapy(*args, *LOCAL, *SERVED, "-s", "RETRY_TIMES=1", proxy=dead_proxy())

    assert result.returncode == 1, describe(result)
    last = assert_summary_last(result.stderr)
    assert last.endswith(f"; 2 errors; {NO_HOST_REACHABLE}; monitor checks failed: 2 (above)")
    assert ERROR_RATE.findall(result.stderr) == [("2", "0")]  # Spidermon counts the same two
    written = summary_of(summary)
    assert written is not None
    assert (written["status"], written["errors"], written["articles"]) == ("failed", 2, 0)
    assert written["no_host_reachable"] and written["failing_hosts"] == 1
    for url in start_urls:  # each list page: one line with the reason, no traceback
        assert f"List page not fetched: {url} (connection refused (tried 2 times))" in (
            result.stderr
        )


def test_every_report_of_a_partly_failed_crawl_counts_alike(tmp_path):
    site = tmp_path / "site"
    generate(site, 20)
    faults = {article(1).url: Status(404), "http://www.news.cn/col9/": Status(503)}
    summary = tmp_path / "summary.json"
    proxy = FaultProxy(site, faults).start()
    try:
        start_urls = ["http://www.news.cn/col0/", "http://www.news.cn/col9/"]
        args = crawl_args(tmp_path / "archive", start_urls, "-s", f"RUN_SUMMARY_FILE={summary}")
        # An error rate of 0 fails the check, so that Spidermon's report shows its count.
        limits = ("-s", "RETRY_TIMES=1", "-s", "MONITOR_MAX_ERROR_RATE=0")
        result = run_scrapy(*args, *LOCAL, *SERVED, *limits, proxy=proxy)
    finally:
        proxy.stop()

    written, stats = summary_of(summary), stats_of(result.stderr)
    assert written is not None and written["new"] == 19, describe(result)
    assert written["errors"] == 2 == stats["run/errors"]  # the 404 article, the 503 list page
    assert written["articles"] == 19 == stats["run/articles"]
    assert ERROR_RATE.findall(result.stderr) == [("2", str(written["pages"]))]
    last = assert_summary_last(result.stderr)
    assert "; 2 errors;" in last and NO_HOST_REACHABLE not in last
    assert not written["no_host_reachable"]


@pytest.mark.parametrize(
    ("command", "what_remains"),
    [
        (["scrape", DEMO_ARTICLE], "try 1 of 2, each up to 10 s"),  # a person waits
        (["crawl", "xinhua", "-a", f"start_urls={DEMO_ARTICLE}"], "try 1 of 4, each up to 30 s"),
    ],
)
def test_a_run_without_an_answer_names_the_url_it_waits_for(command, what_remains, tmp_path):
    proxy = FaultProxy(DEMO_SITE, {DEMO_ARTICLE: Hang(30)}).start()
    args = [*command, "-s", f"ARCHIVE_DIR={tmp_path / 'archive'}", *LOCAL, *SERVED]
    process = subprocess.Popen(
        scrapy_command(*args, "-s", "FETCH_WAIT_NOTICE=1"),
        cwd=PROJECT,
        env=scrapy_env(proxy),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        notice = next(line for line in process.stderr if "Waiting for" in line)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        proxy.stop()
    waiting = f"WARNING: Waiting for {DEMO_ARTICLE}: no answer for "
    assert re.search(re.escape(waiting) + rf"[12] s \({what_remains}\)$", notice), notice


def test_a_scrape_gives_up_on_a_silent_server_after_two_tries(tmp_path):
    proxy = FaultProxy(DEMO_SITE, {DEMO_ARTICLE: Hang(30)}).start()
    try:
        args = ["-s", f"ARCHIVE_DIR={tmp_path / 'archive'}", "-s", "DOWNLOAD_TIMEOUT=2"]
        result = run_scrapy("scrape", DEMO_ARTICLE, *args, *SERVED, proxy=proxy)
    finally:
        proxy.stop()
    assert result.returncode == 1
    assert proxy.count(DEMO_ARTICLE) == 2
    reason = "timed out after 2 s (tried 2 times)"
    assert result.stderr.splitlines()[-1] == f"not archived: {DEMO_ARTICLE}: {reason}"


def test_a_stdout_scrape_prints_the_article_and_no_disabled_components(tmp_path, replay):
    archive = tmp_path / "archive"
    args = ["-s", f"ARCHIVE_DIR={archive}", *SERVED]
    result = run_scrapy("scrape", "--stdout", DEMO_ARTICLE, *args, proxy=replay(DEMO_SITE))
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("---\nlayout: post\n")
    assert result.stderr == ""
    assert not archive.exists()


def test_a_component_switched_off_by_hand_still_says_why(tmp_path, replay):
    switched_off = ["-s", "ARCHIVE_WARC=False", "-s", "ARCHIVE_IMAGES=False"]
    args = ["-s", f"ARCHIVE_DIR={tmp_path / 'archive'}", *SERVED, *switched_off]
    result = run_scrapy("scrape", DEMO_ARTICLE, *args, proxy=replay(DEMO_SITE))
    assert result.returncode == 0, describe(result)
    disabled = [
        line.split("Disabled ")[1] for line in result.stderr.splitlines() if "Disabled" in line
    ]
    assert sorted(disabled) == [
        "pipelines.capture.CapturePipeline: ARCHIVE_WARC is off (or nothing is archived)",
        "pipelines.images.ImagePipeline: ARCHIVE_IMAGES is off: article images keep their original URLs",
    ]


def test_a_scrape_of_a_locked_archive_names_the_run_that_holds_it(tmp_path, replay):
    archive = tmp_path / "archive"
    with acquire(archive, 0):
        args = ["-s", f"ARCHIVE_DIR={archive}", *SERVED]
        result = run_scrapy("scrape", DEMO_ARTICLE, *args, proxy=replay(DEMO_SITE))
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith(
        f"not archived: {DEMO_ARTICLE}: the archive is in use by pid {os.getpid()} since "
    )


def test_a_crawl_of_a_locked_archive_says_why_in_its_last_line(tmp_path):
    """Run quietly (``-L WARNING``, as cron runs often are), a crawl stopped by another run's
    lock ends with the summary, and the summary says why (issue 12, case 16: it said
    ``Run failed: 0 new, …; 1 error``)."""
    archive = tmp_path / "archive"
    with acquire(archive, 0):
        args = crawl_args(archive, ["http://www.news.cn/politics/"], "-L", "WARNING", *SERVED)
        result = run_scrapy(*args, proxy=dead_proxy())  # nothing is fetched: no answer needed
    assert result.returncode == 1
    last = assert_summary_last(result.stderr)
    assert f"ERROR: Run failed: the archive is in use by pid {os.getpid()} since " in last


def test_catalog_into_a_pipe_closed_early_exits_quietly(tmp_path):
    archive = tmp_path / "archive"
    # an export well over a pipe's buffer (64 KiB)
    write_archive(archive, [article_on(n, (2026, 5, 1)) for n in range(600)], ARCHIVE_IMAGES=False)
    process = subprocess.Popen(
        scrapy_command("catalog", "-s", f"ARCHIVE_DIR={archive}"),
        cwd=PROJECT,
        env=scrapy_env(None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # like `scrapy catalog | head -1`
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141  # as a Unix tool killed by SIGPIPE
    assert b'"article_id"' in first
    assert stderr == ""


def test_a_stdout_scrape_whose_reader_stops_early_ends_quietly(tmp_path, replay):
    """``scrapy scrape --stdout URL… | head -1``: the reader closes the pipe after one line,
    the articles after the first meet a closed pipe."""
    args = ["-s", f"ARCHIVE_DIR={tmp_path / 'archive'}", *SERVED]
    urls = [f"http://{page.relative_to(DEMO_SITE)}" for page in DEMO_SITE.rglob("c.html")]
    scrape = subprocess.Popen(
        scrapy_command("scrape", "--stdout", *urls, *args),
        cwd=PROJECT,
        env=scrapy_env(replay(DEMO_SITE)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert scrape.stdout is not None and scrape.stderr is not None
    assert scrape.stdout.readline() == "---\n"
    scrape.stdout.close()  # what head does after its line
    stderr = scrape.stderr.read()
    assert scrape.wait(timeout=120) == 128 + signal.SIGPIPE, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
