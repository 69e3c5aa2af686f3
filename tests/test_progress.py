"""The live progress line: real ``scrapy scrape`` / ``crawl`` runs on a pseudo-terminal show it
with the log printed whole above it; without a terminal (or with a log file) they do not."""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import tempfile
import termios
import time

import pytest
from conftest import DEMO_SITE, LOCAL, crawl_args, run_scrapy, scrapy_command, scrapy_env

from crawler.extensions.progress import articles_done, progress_text
from crawler.extensions.summary import run_summary

ARTICLE = "http://www.news.cn/politics/20260511/7d2c9a41e6b84f0d9c35a1e8b0f47d62/c.html"
NO_DATE = "http://www.news.cn/politics/20260515/e3a7c5019f6d4b2a8e0c7f5d3b9a1c84/c.html"
MISSING = "http://www.news.cn/politics/20260101/00000000000000000000000000000000/c.html"
START_URLS = (DEMO_SITE / "start_urls.txt").read_text().split()
LIVE_COUNTS = re.compile(r"\d+ pages \(\d+\.\d/s\)")  # only the live line has a rate per second
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[[^\]]+\] (DEBUG|INFO|WARNING|ERROR): ")
SCRAPE_LINE = re.compile(
    r"\w+: 3/3 done \|█{20}\| \d+ pages \(\d+\.\d/s\), 1 new, 0 updated, 0 skipped, "
    r"1 dropped, \d+ errors, 0 queued \[00:\d\d\]"
)
CRAWL_LINE = re.compile(
    r"xinhua: \d+ pages \(\d+\.\d/s\), 7 new, 0 updated, 0 skipped, 2 dropped, \d+ errors, "
    r"0 queued \[00:\d\d\]"
)


def screen(output: bytes) -> list[str]:
    """The lines a terminal shows for ``output``: a carriage return writes its line over
    from the start, as it does on a terminal."""
    lines = []
    for physical in output.decode("utf-8").split("\n"):
        cells: list[str] = []
        column = 0
        for char in physical:
            if char == "\r":
                column = 0
                continue
            cells[column : column + 1] = [char]
            column += 1
        lines.append("".join(cells).rstrip())
    return lines


def run_on_terminal(
    *args: str, proxy, timeout: float = 120, on_terminal: str = "stderr"
) -> tuple[int, str, list[str]]:
    """``scrapy ARGS`` with stderr (or stdout) on a pseudo-terminal 200 columns wide: exit
    status, the other stream (a file) and the terminal's lines."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    with tempfile.TemporaryFile() as other:
        streams = {"stdout": other, "stderr": terminal}
        if on_terminal == "stdout":
            streams = {"stdout": terminal, "stderr": other}
        process = subprocess.Popen(
            scrapy_command(*args), stdin=subprocess.DEVNULL, env=scrapy_env(proxy), **streams
        )
        os.close(terminal)
        output = bytearray()
        deadline = time.monotonic() + timeout
        try:
            while select.select([controller], [], [], max(deadline - time.monotonic(), 0))[0]:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            returncode = process.wait(timeout=max(deadline - time.monotonic(), 1))
        finally:
            process.kill()
            os.close(controller)
        other.seek(0)
        return returncode, other.read().decode("utf-8"), screen(bytes(output))


def assert_log_lines_whole(lines: list[str]) -> None:
    """Every log line starts its own terminal line, with nothing of the live line in it."""
    for line in lines:
        found = LOG_LINE.search(line)
        if found:
            assert found.start() == 0 and " done |" not in line and "[00:" not in line, line


def test_scrape_on_a_terminal_shows_n_of_m_done(tmp_path, replay):
    archive = tmp_path / "archive"
    status, stdout, lines = run_on_terminal(
        "scrape", ARTICLE, NO_DATE, MISSING, "-s", f"ARCHIVE_DIR={archive}", proxy=replay(DEMO_SITE)
    )
    assert status == 1 and stdout.split() == [str(next(archive.rglob("*.md")))]
    assert_log_lines_whole(lines)
    finals = [line for line in lines if SCRAPE_LINE.fullmatch(line)]
    assert len(finals) == 1, "\n".join(lines)
    # the warnings printed during the run are whole lines above the live line
    warnings = [line for line in lines if LOG_LINE.match(line) and "WARNING" in line]
    assert any(line.endswith(f"no publication date found <{NO_DATE}>") for line in warnings)
    assert any(f"Article not fetched: {MISSING}" in line for line in warnings)
    # the line is closed before the command reports on each URL
    reports = [n for n, line in enumerate(lines) if line.startswith("not archived: ")]
    assert len(reports) == 2 and lines.index(finals[0]) < reports[0]


def test_crawl_on_a_terminal_replaces_the_periodic_line(tmp_path, replay):
    status, _, lines = run_on_terminal(
        *crawl_args(tmp_path / "archive", START_URLS, *LOCAL, "-s", "LOGSTATS_INTERVAL=0.1"),
        "-s",
        "INCREMENTAL_ENABLED=False",
        proxy=replay(DEMO_SITE),
    )
    assert status == 0, "\n".join(lines)
    assert_log_lines_whole(lines)
    (final,) = [line for line in lines if CRAWL_LINE.fullmatch(line)]
    # the final counts stay on the screen, above the run summary
    assert lines.index(final) < next(i for i, line in enumerate(lines) if "Run ok: " in line)
    assert not any("Crawled " in line for line in lines)


@pytest.mark.parametrize(
    "settings",
    [["-s", "PROGRESS_ENABLED=False"], ["-s", "LOG_FILE={log}"]],
    ids=["switched off", "log file"],
)
def test_no_live_line_when_off_or_logging_to_a_file(tmp_path, replay, settings):
    log = tmp_path / "crawl.log"
    settings = [value.format(log=log) for value in settings]
    status, _, lines = run_on_terminal(
        *crawl_args(tmp_path / "archive", START_URLS, *LOCAL, "-s", "LOGSTATS_INTERVAL=0.1"),
        *settings,
        proxy=replay(DEMO_SITE),
    )
    assert status == 0
    assert not any(LIVE_COUNTS.search(line) for line in lines)
    periodic = log.read_text(encoding="utf-8") if log.exists() else "\n".join(lines)
    assert re.search(r"Crawled \d+ pages \(\d+/min\); archived \d+ articles", periodic)


def test_no_live_line_without_a_terminal(tmp_path, replay):
    result = run_scrapy(
        "scrape",
        ARTICLE,
        NO_DATE,
        "-s",
        f"ARCHIVE_DIR={tmp_path / 'archive'}",
        proxy=replay(DEMO_SITE),
    )
    assert result.returncode == 1
    assert not LIVE_COUNTS.search(result.stderr) and "\r" not in result.stderr


def test_a_crawl_without_a_terminal_logs_the_periodic_line(tmp_path, replay):
    """As in cron or under Scrapyd: stderr is a pipe."""
    args = crawl_args(tmp_path / "archive", START_URLS, *LOCAL, "-s", "LOGSTATS_INTERVAL=0.1")
    result = run_scrapy(*args, proxy=replay(DEMO_SITE))
    assert result.returncode == 0
    assert not LIVE_COUNTS.search(result.stderr) and "\r" not in result.stderr
    assert re.search(r"Crawled \d+ pages \(\d+/min\); archived \d+ articles", result.stderr)


def test_progress_text_reads_the_run_summary():
    stats = {
        "response_received_count": 30,
        "archive/new": 4,
        "archive/updated": 1,
        "archive/unchanged": 2,
        "incremental/skipped_archived": 9,
        "item_dropped_reasons_count/MissingDate": 2,
        "item_dropped_reasons_count/DuplicateArticle": 1,
        "fetch/article_failed/HttpError": 3,
    }
    assert progress_text(run_summary(stats), 12, 10.0) == (
        "30 pages (3.0/s), 4 new, 1 updated, 9 skipped, 3 dropped, 3 errors, 12 queued"
    )
    assert progress_text(run_summary({}), None, 0.0) == (
        "0 pages (0.0/s), 0 new, 0 updated, 0 skipped, 0 dropped, 0 errors"
    )


@pytest.mark.parametrize(
    ("stats", "done"),
    [
        ({}, 0),
        ({"item_scraped_count": 2, "item_dropped_count": 1}, 3),
        ({"fetch/article_failed/HttpError": 1, "fetch/article_failed/DNSLookupError": 2}, 3),
        ({"item_scraped_count": 1, "fetch/not_text": 1, "fetch/continuation_failed": 5}, 2),
    ],
)
def test_articles_done_counts_every_end(stats, done):
    assert articles_done(stats) == done


def test_screen_keeps_what_a_terminal_shows():
    assert screen(b"abc\rX\r\nline\r\n") == ["Xbc", "line", ""]
