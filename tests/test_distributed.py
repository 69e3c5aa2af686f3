"""Several workers on one frontier (scrapy-redis on the Redis at 127.0.0.1:6379)."""

import signal
import subprocess
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


def start_worker(
    archive: Path, start_urls: list[str], proxy, run: str, log: Path
) -> subprocess.Popen:
    command = scrapy_command(
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
    )
    return subprocess.Popen(
        command, env=scrapy_env(proxy), stdout=subprocess.DEVNULL, stderr=log.open("w")
    )


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


def test_three_workers_share_one_frontier(tmp_path, replay, run_name):
    urls = generate(tmp_path / "site", 2000)
    proxy = replay(tmp_path / "site")
    archive = tmp_path / "archive"
    workers = [
        start_worker(archive, urls, proxy, run_name, tmp_path / f"w{i}.log") for i in range(3)
    ]
    for worker in workers:
        assert worker.wait(timeout=600) == 0, (tmp_path / "w0.log").read_text()[-3000:]
    check_archive(archive, 2000)
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(3)]
    archived = [int(log.split("Run ok: ")[1].split(" new")[0]) for log in logs]
    assert sum(archived) == 2000 and all(count > 0 for count in archived)  # all three worked


def test_a_worker_killed_mid_run_loses_nothing(tmp_path, replay, run_name):
    urls = generate(tmp_path / "site", 600)
    proxy = replay(tmp_path / "site")
    archive = tmp_path / "archive"
    workers = [
        start_worker(archive, urls, proxy, run_name, tmp_path / f"w{i}.log") for i in range(3)
    ]
    deadline = time.monotonic() + 120
    while len(list((archive / "_posts").rglob("*.md"))) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    for worker in workers[1:]:
        assert worker.wait(timeout=600) == 0
    check_archive(archive, 600)
