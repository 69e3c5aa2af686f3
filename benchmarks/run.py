"""Benchmark: the archiving crawl against bare Scrapy, in the same run, on the same pages.

    .venv/bin/python -m benchmarks.run                 # N = 2,000 and 20,000
    .venv/bin/python -m benchmarks.run -n 2000 --repeat 3

For each N it generates the site (benchmarks/sitegen.py; cached in --workdir), serves it
from nginx on 127.0.0.1 (the Python replay proxy if nginx is missing), then measures in
subprocesses:

(a) bare Scrapy (default settings, outside the project) fetching every page of the site
    and doing nothing else;
(b) ``scrapy crawl xinhua`` through ``http_proxy`` into a fresh archive;
(c) the incremental second run of (b) over the unchanged site;
(d) ``scrapy scrape`` of one article URL (wall time, start-up included);
(e) (b) again with ``ARCHIVE_WARC=False`` into another archive: what the WARC capture costs,
    and the WARC bytes per article (b) wrote;
(f) ``scrapy reextract`` of (b)'s archive: articles re-extracted per second from the captures.
(g) requests per unique URL of (b), pages and images apart (1.00: nothing fetched twice).

Both crawls get the same concurrency (16 requests, 16 per domain, no delay, no
AutoThrottle). Pages/s is responses over Scrapy's own elapsed time; CPU ms per article
and peak RSS come from the kernel's accounting of each process. Machines are noisy:
compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.nginx import Nginx
from benchmarks.sitegen import generate
from crawler.replay import ReplayProxy

PROJECT = Path(__file__).resolve().parents[1]
SAME_LOAD = [
    "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS=16",
    "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16", "-s", "LOG_LEVEL=WARNING",
]  # fmt: skip


@dataclass
class Measurement:
    wall: float
    cpu: float
    peak_rss_mb: float
    stats: dict

    @property
    def pages(self) -> int:
        # bare Scrapy's stats, or our run summary (RUN_SUMMARY_FILE)
        return int(self.stats.get("response_received_count", self.stats.get("pages", 0)))

    @property
    def elapsed(self) -> float:
        return float(self.stats.get("elapsed_time_seconds", self.stats.get("elapsed_seconds", 0)))

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.elapsed


def measure(command: list[str], *, cwd: Path, proxy: str, stats_file: Path) -> Measurement:
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.update(http_proxy=proxy, PYTHONPATH="")
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command[:6])} … failed with status {status}")
    stats = json.loads(stats_file.read_text())
    return Measurement(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stats)


def site_urls(root: Path) -> list[str]:
    """Every URL the site serves (pages, continuation pages, images), robots.txt aside."""
    urls = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != "robots.txt" and not path.name.startswith("."):
            host, *parts = path.relative_to(root).parts
            name = "/".join(parts)
            name = name.removesuffix("index.html")
            url = f"http://{host}/{name}"
            urls.append(url.replace("__", "?", 1) if "__" in parts[-1] else url)
    return urls


def prepare(workdir: Path, n: int) -> tuple[Path, list[str]]:
    root = workdir / f"site-{n}"
    marker = root / ".complete-linked"  # sites generated before their columns linked each other
    if not marker.exists():
        print(f"generating {n} articles in {root} …", flush=True)
        start_urls = generate(root, n, linked_columns=True)
        (root / ".start_urls").write_text("\n".join(start_urls))
        marker.touch()
    return root, (root / ".start_urls").read_text().split()


def run_once(
    root: Path, start_urls: list[str], server: Nginx | ReplayProxy, scratch: Path
) -> dict[str, Measurement]:
    proxy = server.url
    urls_file = scratch / "urls.txt"
    urls_file.write_text("\n".join(site_urls(root)))
    bare_stats = scratch / "bare.json"
    bare = measure(
        [sys.executable, "-m", "scrapy", "runspider", str(PROJECT / "benchmarks" / "bare_spider.py"),
         "-a", f"urls_file={urls_file}", "-a", f"stats_file={bare_stats}", *SAME_LOAD],
        cwd=scratch, proxy=proxy, stats_file=bare_stats,
    )  # fmt: skip
    archive, summary = scratch / "archive", scratch / "summary.json"
    crawl_command = [
        sys.executable, "-m", "scrapy", "crawl", "xinhua", "-a", "start_urls=" + ",".join(start_urls),
        "-s", f"ARCHIVE_DIR={archive}", "-s", f"RUN_SUMMARY_FILE={summary}", *SAME_LOAD,
    ]  # fmt: skip
    served = len(server.requests)
    full = measure(crawl_command, cwd=PROJECT, proxy=proxy, stats_file=summary)
    full.stats["requests"] = server.requests[served:]
    warc_bytes = sum(path.stat().st_size for path in (archive / "_warc").rglob("*.warc.gz"))
    second = measure(crawl_command, cwd=PROJECT, proxy=proxy, stats_file=summary)
    plain = [*crawl_command, "-s", f"ARCHIVE_DIR={scratch / 'plain'}", "-s", "ARCHIVE_WARC=False"]
    no_capture = measure(plain, cwd=PROJECT, proxy=proxy, stats_file=summary)
    reextract = measure(
        [sys.executable, "-m", "scrapy", "reextract", "-s", f"ARCHIVE_DIR={archive}",
         "-s", f"RUN_SUMMARY_FILE={summary}", "-s", "LOG_LEVEL=WARNING"],
        cwd=PROJECT, proxy=proxy, stats_file=summary,
    )  # fmt: skip
    article = next(
        url for url in site_urls(root) if url.endswith(("c.html", ".htm")) and "col0/" in url
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "scrapy", "scrape", article, "-s", f"ARCHIVE_DIR={scratch / 'one'}"],
        cwd=PROJECT, env={**os.environ, "http_proxy": proxy}, check=True, capture_output=True,
    )  # fmt: skip
    scrape = Measurement(time.perf_counter() - started, 0, 0, {})
    full.stats["warc_bytes"] = warc_bytes
    return {
        "bare": bare, "full": full, "second": second, "scrape": scrape,
        "no_capture": no_capture, "reextract": reextract,
    }  # fmt: skip


def requests_per_url(requests: list[str]) -> str:
    """Requests per unique URL of one crawl, pages and images apart (robots.txt aside): 1.00
    when nothing is fetched twice."""
    kinds: dict[str, list[str]] = {"pages": [], "images": []}
    for url in requests:
        if not url.endswith("/robots.txt"):
            kinds["images" if url.endswith(".jpg") else "pages"].append(url)
    return ", ".join(
        f"{kind} {len(urls) / max(1, len(set(urls))):.2f} ({len(urls):,} requests, {len(set(urls)):,} URLs)"
        for kind, urls in kinds.items()
    )


def report(n: int, runs: list[dict[str, Measurement]]) -> None:
    def median(key: str, value: str) -> float:
        return statistics.median(getattr(run[key], value) for run in runs)

    articles = runs[0]["full"].stats.get("new", n)
    print(f"\nN = {n:,} articles ({runs[0]['bare'].pages:,} pages), median of {len(runs)} run(s)")
    print(f"{'':26}{'pages/s':>10}{'CPU ms/article':>16}{'peak RSS MB':>13}{'wall s':>9}")
    for key, label in (("bare", "(a) bare Scrapy"), ("full", "(b) scrapy crawl xinhua")):
        cpu_ms = median(key, "cpu") * 1000 / articles
        print(
            f"{label:26}{median(key, 'pages_per_second'):10.0f}{cpu_ms:16.2f}"
            f"{median(key, 'peak_rss_mb'):13.0f}{median(key, 'wall'):9.2f}"
        )
    ratios = [run["full"].pages_per_second / run["bare"].pages_per_second for run in runs]
    print(
        f"ratio b/a pages/s: {statistics.median(ratios):.2f}  (each run: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    second_share = [run["second"].wall / run["full"].wall for run in runs]
    print(
        f"(c) incremental second run: {median('second', 'wall'):.2f} s wall, "
        f"{runs[0]['second'].pages} requests, {statistics.median(second_share):.1%} of the first run"
    )
    print(f"(d) scrapy scrape of one URL: {median('scrape', 'wall'):.2f} s wall, start-up included")
    costs = [1 - run["full"].pages_per_second / run["no_capture"].pages_per_second for run in runs]
    cpu_costs = [run["full"].cpu / run["no_capture"].cpu - 1 for run in runs]
    warc_bytes = statistics.median(run["full"].stats["warc_bytes"] / articles for run in runs)
    print(
        f"(e) WARC capture: {warc_bytes:,.0f} bytes per article; the crawl without it: "
        f"{median('no_capture', 'pages_per_second'):.0f} pages/s, "
        f"{median('no_capture', 'cpu') * 1000 / articles:.2f} CPU ms/article; capture costs "
        f"{statistics.median(costs):.1%} of pages/s (each run: {', '.join(f'{c:.1%}' for c in costs)}), "
        f"{statistics.median(cpu_costs):.1%} of CPU (each run: {', '.join(f'{c:.1%}' for c in cpu_costs)})"
    )
    rates = [
        (run["reextract"].stats["unchanged"] + run["reextract"].stats["updated"])
        / run["reextract"].elapsed
        for run in runs
    ]
    print(
        f"(f) scrapy reextract: {statistics.median(rates):.0f} articles/s "
        f"({median('reextract', 'wall'):.2f} s wall, start-up included)"
    )
    print(
        f"(g) requests per unique URL in (b): {requests_per_url(runs[0]['full'].stats['requests'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xinhua-bench"
    )
    parser.add_argument(
        "--server", choices=["nginx", "python"], default="nginx" if Nginx.available() else "python"
    )
    args = parser.parse_args()
    for n in args.n:
        root, start_urls = prepare(args.workdir, n)
        server = Nginx(root).start() if args.server == "nginx" else ReplayProxy(root).start()
        try:
            runs = []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
                    runs.append(run_once(root, start_urls, server, Path(scratch)))
            print(f"server: {args.server}")
            report(n, runs)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
