"""Shared test helpers: the project's paths, a replay proxy fixture and a scrapy runner."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.items import Article
from crawler.replay import ReplayProxy
from pipelines.archive import ArchivePipeline

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # the benchmarks package (site generator) is not installed
SHARED = PROJECT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO_SITE = PROJECT / "crawler" / "demo_site"


def require(condition: bool, reason: str) -> None:
    """Skip locally when a tool or file is missing; under CI (CI=true) that is a failure."""
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"required under CI: {reason}")
        pytest.skip(reason)


@pytest.fixture
def replay() -> Iterator[Callable[[Path], ReplayProxy]]:
    """Start replay proxies over folders of pages; all are stopped after the test."""
    started: list[ReplayProxy] = []

    def start(root: Path) -> ReplayProxy:
        proxy = ReplayProxy(root).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server to start there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrapy_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "scrapy", *args]


# A crawl against a loopback server: no politeness delays to wait out.
LOCAL = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0"]


def crawl_args(archive: Path, start_urls: list[str], *settings: str) -> list[str]:
    """Arguments of ``scrapy crawl xinhua`` over ``start_urls`` into ``archive``."""
    return [
        "crawl",
        "xinhua",
        "-a",
        "start_urls=" + ",".join(start_urls),
        "-s",
        f"ARCHIVE_DIR={archive}",
        *settings,
    ]


def scrapy_env(proxy: ReplayProxy | None) -> dict[str, str]:
    """The environment of a crawl subprocess: no inherited proxies, ours if given."""
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    if proxy is not None:
        env.update(http_proxy=proxy.url, HTTP_PROXY=proxy.url)
    return env


def run_scrapy(
    *args: str,
    proxy: ReplayProxy | None = None,
    cwd: Path = PROJECT,
    timeout: float = 120,
    tracebacks_ok: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m scrapy ARGS`` in a subprocess (one reactor per process); a logged
    traceback fails the test unless ``tracebacks_ok`` (the caller checks them itself)."""
    result = subprocess.run(
        scrapy_command(*args),
        cwd=cwd,
        env=scrapy_env(proxy),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert "DeprecationWarning" not in result.stderr, result.stderr
    if not tracebacks_ok:
        assert "Traceback" not in without_monitor_reports(result.stderr), result.stderr
    return result


def run_scrapy_hooked(
    hook: str, *args: str, proxy: ReplayProxy | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy ARGS`` through ``hook``, a script that readies the process (stages a
    resolver, arms a crash) and then runs Scrapy's command line; ``env`` is added to the
    environment. The caller checks the outcome: a hooked run may be killed on purpose."""
    return subprocess.run(
        [sys.executable, "-c", hook, *args],
        cwd=PROJECT,
        env={**scrapy_env(proxy), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def without_monitor_reports(log: str) -> str:
    """The log without Spidermon's reports, which show failed checks as tracebacks."""
    kept, in_report = [], False
    for line in log.splitlines():
        if _LOG_LINE.match(line):
            in_report = "[Spidermon]" in line
        if not in_report:
            kept.append(line)
    return "\n".join(kept)


_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


def project_crawler(spidercls: type[Spider] = Spider, **settings: Any) -> Crawler:
    """A crawler with the project's settings (plus overrides), ready to build components."""
    project = {
        name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()
    }
    return get_crawler(spidercls, {**project, **settings})


def write_archive(archive: Path, articles: Iterable[Article], **settings: Any) -> list[Path]:
    """Archive ``articles`` into ``archive`` with the crawl's own writer, without a crawl."""
    stage = ArchivePipeline.from_crawler(project_crawler(ARCHIVE_DIR=str(archive), **settings))
    stage.open_spider()
    try:
        return [stage.write_article(article)[0] for article in articles]
    finally:
        stage.close_spider()


def read_post(path: Path) -> tuple[dict, str]:
    """Front matter (parsed) and body of an archived post."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), path
    head, separator, body = text[4:].partition("\n---\n")
    assert separator, f"unterminated front matter in {path}"
    return yaml.safe_load(head), body
