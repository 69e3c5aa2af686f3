"""Throughput with 1, 2, … workers on one shared frontier (scrapy-redis, Redis on 127.0.0.1).

    .venv/bin/python -m benchmarks.workers -n 2000 --workers 1 2 3

Serves the generated site with nginx (benchmarks/nginx.py), starts the workers of one run at once
(``-s REDIS_URL=…``, a fresh ``DISTRIBUTED_RUN`` per measurement) into a fresh archive, and prints
the wall time until all have finished and the number of files written.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.nginx import Nginx
from benchmarks.run import PROJECT, SAME_LOAD, prepare


def measure(start_urls: list[str], proxy: str, workers: int, redis_url: str) -> tuple[float, int]:
    run = f"bench-{uuid.uuid4().hex[:8]}"
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env["http_proxy"] = proxy
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
        archive = Path(folder) / "archive"
        command = [
            sys.executable, "-m", "scrapy", "crawl", "xinhua", "-a", "start_urls=" + ",".join(start_urls),
            "-s", f"ARCHIVE_DIR={archive}", "-s", f"REDIS_URL={redis_url}", "-s", f"DISTRIBUTED_RUN={run}",
            *SAME_LOAD,
        ]  # fmt: skip
        started = time.perf_counter()
        processes = [subprocess.Popen(command, cwd=PROJECT, env=env) for _ in range(workers)]
        for process in processes:
            process.wait()
        elapsed = time.perf_counter() - started
        files = len(list((archive / "_posts").rglob("*.md")))
    return elapsed, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xinhua-bench"
    )
    args = parser.parse_args()
    root, start_urls = prepare(args.workdir, args.n)
    server = Nginx(root).start()
    try:
        for workers in args.workers:
            elapsed, files = measure(start_urls, server.url, workers, args.redis_url)
            print(
                f"{workers} worker(s): {elapsed:6.2f} s wall, {files} files, {files / elapsed:5.0f} articles/s"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
