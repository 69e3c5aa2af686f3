"""First crawl versus incremental second crawl of an unchanged generated site.

    .venv/bin/python -m benchmarks.incremental -n 2000

Generates the site (benchmarks/sitegen.py) in a temporary folder, serves it through the
replay proxy on 127.0.0.1, runs ``scrapy crawl xinhua`` twice into a fresh archive and
prints wall time, requests served and articles per run, and the ratio of the two.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.sitegen import generate
from crawler.replay import ReplayProxy

PROJECT = Path(__file__).resolve().parents[1]


def crawl(start_urls: list[str], archive: Path, proxy: ReplayProxy) -> dict:
    summary = archive.parent / "summary.json"
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env["http_proxy"] = proxy.url
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "xinhua",
        "-a",
        "start_urls=" + ",".join(start_urls),
        "-s",
        f"ARCHIVE_DIR={archive}",
        "-s",
        f"RUN_SUMMARY_FILE={summary}",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "CONCURRENT_REQUESTS=32",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=32",
        "-s",
        "LOG_LEVEL=WARNING",
    ]
    before = len(proxy.requests)
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT, env=env, check=True)
    elapsed = time.perf_counter() - started
    result = json.loads(summary.read_text())
    return {"seconds": elapsed, "requests": len(proxy.requests) - before, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="articles in the generated site")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="incremental-") as folder:
        root = Path(folder)
        start_urls = generate(root / "site", args.n)
        proxy = ReplayProxy(root / "site").start()
        try:
            first = crawl(start_urls, root / "archive", proxy)
            second = crawl(start_urls, root / "archive", proxy)
        finally:
            proxy.stop()
    for name, run in (("first run", first), ("second run", second)):
        print(
            f"{name:10}: {run['seconds']:7.2f} s wall, {run['requests']:6d} requests, "
            f"{run['new']} new, {run['unchanged']} unchanged, {run['skipped']} skipped"
        )
    print(f"second/first wall time: {second['seconds'] / first['seconds']:.3f}")


if __name__ == "__main__":
    main()
