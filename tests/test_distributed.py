"""Several workers on one frontier (scrapy-redis on the Redis at 127.0.0.1:6379)."""

import copy
import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from importlib.util import find_spec
from pathlib import Path

import pytest
from conftest import (
    LOCAL,
    crawl_args,
    free_port,
    read_post,
    require,
    run_scrapy,
    scrapy_command,
    scrapy_env,
    without_monitor_reports,
)
from test_run_reports import assert_summary_last

from benchmarks.sitegen import generate
from crawler.archive.catalog import Catalog

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:  # any failure means: no usable Redis here
        return False


@pytest.fixture
def run_name():
    require(redis_available(), f"no Redis at {REDIS_URL}")
    import redis

    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


# A worker that dies half-way through a list page: after its first 50 links reached the
# frontier, the rest never do (the instant a kill can land while a column page is parsed).
DIES_INSIDE_A_LIST_PAGE = r"""
import functools, os, signal, sys
from scrapy.cmdline import execute
from spiders.site import SiteSpider

parse_list, pages = SiteSpider.parse_list, [0]

@functools.wraps(parse_list)
def parse_list_then_die(self, response, depth):
    pages[0] += 1
    page = pages[0]  # pages are parsed interleaved: this one's number, not the latest
    for count, output in enumerate(parse_list(self, response, depth)):
        if page == int(os.environ["DIE_ON_LIST_PAGE"]) and count == 50:
            os.kill(os.getpid(), signal.SIGKILL)
        yield output

SiteSpider.parse_list = parse_list_then_die
sys.argv = ["scrapy", *sys.argv[1:]]
execute()
"""


def start_worker(
    archive: Path,
    start_urls: list[str],
    proxy,
    run: str,
    log: Path,
    *settings: str,
    die_on_list_page: int | None = None,
    redis_url: str = REDIS_URL,
) -> subprocess.Popen:
    arguments = (
        *crawl_args(archive, start_urls, *settings),
        "-s",
        f"REDIS_URL={redis_url}",
        "-s",
        f"DISTRIBUTED_RUN={run}",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=8",
        "-s",
        "DISTRIBUTED_WORKER_TIMEOUT=4",  # a killed worker's requests are put back after 4 s
    )
    command, env = scrapy_command(*arguments), scrapy_env(proxy)
    if die_on_list_page is not None:
        command = [sys.executable, "-c", DIES_INSIDE_A_LIST_PAGE, *arguments]
        env["DIE_ON_LIST_PAGE"] = str(die_on_list_page)
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))


def posts(archive: Path) -> list[Path]:
    return sorted((archive / "_posts").rglob("*.md"))


def check_archive(archive: Path, expected: int) -> None:
    files = posts(archive)
    assert len(files) == expected
    ids = [read_post(path)[0]["article_id"] for path in files]
    assert len(set(ids)) == expected  # one file per article
    assert not list((archive / "_posts").rglob(".*")), "temporary files left"
    catalog = Catalog(archive)
    try:
        assert catalog.count() == expected
    finally:
        catalog.close()


def three_workers(tmp_path: Path, replay, run: str, n: int) -> tuple[Path, list[subprocess.Popen]]:
    """Three workers of one run over a generated site of ``n`` articles (logs: w0–w2.log)."""
    urls = generate(tmp_path / "site", n)
    proxy = replay(tmp_path / "site")
    archive = tmp_path / "archive"
    workers = [start_worker(archive, urls, proxy, run, tmp_path / f"w{i}.log") for i in range(3)]
    return archive, workers


def test_three_workers_share_one_frontier(tmp_path, replay, run_name):
    archive, workers = three_workers(tmp_path, replay, run_name, 2000)
    for worker in workers:
        assert worker.wait(timeout=600) == 0, (tmp_path / "w0.log").read_text()[-3000:]
    check_archive(archive, 2000)
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(3)]
    archived = [int(log.split("Run ok: ")[1].split(" new")[0]) for log in logs]
    assert sum(archived) == 2000 and all(count > 0 for count in archived)  # all three worked


def test_a_worker_killed_mid_run_loses_nothing(tmp_path, replay, run_name):
    archive, workers = three_workers(tmp_path, replay, run_name, 600)
    deadline = time.monotonic() + 120
    while len(list((archive / "_posts").rglob("*.md"))) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    for worker in workers[1:]:
        assert worker.wait(timeout=600) == 0
    check_archive(archive, 600)


def test_a_worker_killed_inside_a_list_page_loses_none_of_its_links(tmp_path, replay, run_name):
    urls = generate(tmp_path / "site", 600)  # six column pages of 100 links each
    proxy = replay(tmp_path / "site")
    archive = tmp_path / "archive"
    dying = start_worker(archive, urls, proxy, run_name, tmp_path / "w0.log", die_on_list_page=2)
    assert dying.wait(timeout=600) == -signal.SIGKILL
    before = len(list((archive / "_posts").rglob("*.md")))
    survivor = start_worker(archive, urls, proxy, run_name, tmp_path / "w1.log")
    # A temporary of a worker killed while the survivor runs (after it opened the archive).
    while len(list((archive / "_posts").rglob("*.md"))) == before and survivor.poll() is None:
        time.sleep(0.01)
    day = next((archive / "_posts").rglob("*.md")).parent
    (day / f".2025-03-01-x.md.{dying.pid}.0123abcd.tmp").write_text("---\ntitle: half")
    assert survivor.wait(timeout=600) == 0, (tmp_path / "w1.log").read_text()[-3000:]
    check_archive(archive, 600)  # ... is gone: the last worker out sweeps
    assert "Put back" in (tmp_path / "w1.log").read_text()

    # A worker joining the finished run finds nothing to do: not a failure of the run.
    late = start_worker(archive, urls, proxy, run_name, tmp_path / "w2.log")
    assert late.wait(timeout=600) == 0, (tmp_path / "w2.log").read_text()[-3000:]
    assert "Run ok: 0 new" in (tmp_path / "w2.log").read_text()


# --- Redis going away (issue 12, case 14): at start, mid-run, and back again in time.


LOST_RUN = "redis-goes-away"  # each of these tests has a Redis of its own


class RedisServer:
    """A redis-server of the test's own on a free loopback port, to kill and start again.
    ``persistent``: an append-only file, fsynced at every write, keeps its data over a kill."""

    def __init__(self, folder: Path, *, persistent: bool):
        require(shutil.which("redis-server") is not None, "no redis-server on PATH")
        folder.mkdir(exist_ok=True)
        self.folder = folder
        self.persistent = persistent
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        appendonly = ["yes", "--appendfsync", "always"] if self.persistent else ["no"]
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--dir", str(self.folder), "--appendonly", *appendonly]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def own_redis(tmp_path):
    """Start RedisServer(persistent=...) instances; all are killed after the test."""
    servers: list[RedisServer] = []

    def start(*, persistent: bool = False) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(servers)}", persistent=persistent).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def reap():
    """Hand it the workers a test starts: any still running after the test is killed."""
    started: list[subprocess.Popen] = []
    yield started.append
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def kill_when_archiving(redis: RedisServer, archive: Path, worker: subprocess.Popen) -> float:
    """Kill ``redis`` once the worker has archived a few articles; returns when (monotonic)."""
    deadline = time.monotonic() + 120
    while len(posts(archive)) < 30 and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert worker.poll() is None, "the crawl ended before Redis could be killed"
    redis.kill()
    return time.monotonic()


def test_retry_window_is_one_clock_per_outage_for_every_connection():
    require(find_spec("redis") is not None, "redis is not installed")
    from crawler.addons.redislink import RetryWindow

    now = [100.0]
    window = RetryWindow(30, clock=lambda: now[0])
    assert copy.deepcopy(window) is window  # redis-py deep-copies the policy per connection
    down = ConnectionError("refused")
    assert window(down)  # the outage's clock starts
    now[0] += 29
    assert window(down)
    now[0] += 2
    assert not window(down)  # 31 s into it: give up
    window.succeeded()
    assert window(down)  # a new outage, a new clock
    window.given_up = True
    assert not window(down)  # once given up on, never retried


def test_unreachable_redis_at_start_stops_at_once_with_one_line(tmp_path, replay):
    require(find_spec("scrapy_redis") is not None, "scrapy-redis is not installed")
    urls = generate(tmp_path / "site", 3)
    proxy = replay(tmp_path / "site")
    summary = tmp_path / "summary.json"
    summary.write_text('{"status": "ok"}\n')  # the previous run's: must not survive this one
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    started = time.monotonic()
    result = run_scrapy(
        *crawl_args(tmp_path / "archive", urls, "-s", f"REDIS_URL={url}", *LOCAL),
        "-s",
        f"RUN_SUMMARY_FILE={summary}",
        proxy=proxy,
    )
    assert time.monotonic() - started < 15  # no retrying at start
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "Redis at" in line]
    assert len(errors) == 1
    assert errors[0].endswith(f"Redis at {url}: connection refused; not crawling.")
    assert proxy.requests == []  # not a page fetched
    written = json.loads(summary.read_text())
    assert (written["status"], written["finish_reason"]) == ("failed", "redis_unavailable")
    assert_summary_last(result.stderr)  # stopped as it opened, after Scrapy's closing


def test_redis_lost_mid_run_stops_the_crawl_and_the_next_run_finishes(
    tmp_path, replay, own_redis, reap
):
    redis = own_redis()
    urls = generate(tmp_path / "site", 400)
    proxy = replay(tmp_path / "site")
    archive, summary = tmp_path / "archive", tmp_path / "summary.json"
    settings = ("-s", f"RUN_SUMMARY_FILE={summary}", "-s", "DISTRIBUTED_REDIS_RETRY_SECONDS=3")
    log = tmp_path / "w0.log"
    worker = start_worker(archive, urls, proxy, LOST_RUN, log, *settings, redis_url=redis.url)
    reap(worker)
    killed = kill_when_archiving(redis, archive, worker)
    assert worker.wait(timeout=60) == 1
    stopped_after = time.monotonic() - killed
    assert 3 <= stopped_after < 30  # retried for the window, then stopped
    stderr = without_monitor_reports(log.read_text())
    assert "Traceback" not in stderr
    assert f"Redis at {redis.url}: connection refused, still after 3 s of retries" in stderr
    written = json.loads(summary.read_text())
    assert (written["status"], written["finish_reason"]) == ("failed", "redis_unavailable")
    assert len(posts(archive)) < 400

    redis.start()  # back, empty (no persistence): the next run does what is left
    log = tmp_path / "w1.log"
    again = start_worker(archive, urls, proxy, LOST_RUN, log, *settings, redis_url=redis.url)
    reap(again)
    assert again.wait(timeout=300) == 0, log.read_text()[-3000:]
    check_archive(archive, 400)
    assert json.loads(summary.read_text())["status"] == "ok"


def test_redis_back_within_the_retry_window_is_ridden_out(tmp_path, replay, own_redis, reap):
    redis = own_redis(persistent=True)
    urls = generate(tmp_path / "site", 400)
    proxy = replay(tmp_path / "site")
    archive, log = tmp_path / "archive", tmp_path / "w0.log"
    worker = start_worker(archive, urls, proxy, LOST_RUN, log, redis_url=redis.url)
    reap(worker)
    kill_when_archiving(redis, archive, worker)
    time.sleep(1)
    redis.start()  # with its data: the run goes on where it was
    assert worker.wait(timeout=300) == 0, log.read_text()[-3000:]
    assert "Redis at" not in log.read_text()
    check_archive(archive, 400)


def test_redis_back_without_its_data_stops_the_run(tmp_path, replay, own_redis, reap):
    redis = own_redis()
    urls = generate(tmp_path / "site", 400)
    proxy = replay(tmp_path / "site")
    archive, summary, log = tmp_path / "archive", tmp_path / "summary.json", tmp_path / "w0.log"
    settings = ("-s", f"RUN_SUMMARY_FILE={summary}")
    worker = start_worker(archive, urls, proxy, LOST_RUN, log, *settings, redis_url=redis.url)
    reap(worker)
    kill_when_archiving(redis, archive, worker)
    redis.start()  # at once, and empty: the run's queue is gone
    assert worker.wait(timeout=300) == 1, log.read_text()[-3000:]
    assert "the run's records are gone" in log.read_text()
    assert json.loads(summary.read_text())["finish_reason"] == "redis_unavailable"
