"""Several workers on one frontier (scrapy-redis on the Redis at 127.0.0.1:6379)."""

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import crawl_args, read_post, require, scrapy_command, scrapy_env

from benchmarks.sitegen import generate
from crawler.catalog import Catalog

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
    *,
    die_on_list_page: int | None = None,
) -> subprocess.Popen:
    arguments = (
        *crawl_args(archive, start_urls),
        "-s",
        f"REDIS_URL={REDIS_URL}",
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


def check_archive(archive: Path, expected: int) -> None:
    files = sorted((archive / "_posts").rglob("*.md"))
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
