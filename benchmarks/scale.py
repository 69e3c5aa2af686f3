"""Benchmark: the archive at a year of Xinhua (issue 17).

    .venv/bin/python -m benchmarks.scale                        # everything below
    .venv/bin/python -m benchmarks.scale --only build -n 5000 20000

(a) ``build``: ``scrapy buildsite`` of synthetic archives of 5,000 / 20,000 / 100,000 posts
    (wall time, peak memory of the whole process tree, the exponent of time against posts),
    and plain ``jekyll build`` of the same archive up to ``--plain-max`` posts, for comparison;
(b) ``daily``: the daily update of the largest archive: one more day of posts, then
    ``scrapy buildsite --changed``;
(c) ``crawl``: the benchmark site's crawl (benchmarks/sitegen.py, 2,000 articles) and its
    incremental second run into an archive whose catalog already holds ``--catalog`` other
    articles, against the same into an empty archive;
(d) ``reindex``: ``scrapy reindex`` of an archive of ``--catalog`` posts (catalog, search
    index and export rebuilt from the posts);
(e) ``queries``: ``scrapy catalog`` and ``scrapy search`` on that archive.

Synthetic archives are written with the crawler's own writer (MarkdownPostExporter, the
dated paths, the Jekyll scaffold and category pages): ``--per-day`` posts a day (Xinhua and
the portals it follows publish about 800) over eight sources, one in ten with an image. They
are generated once into ``--workdir``. Machines are noisy: the figures move by 10% or more
when other work runs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks.nginx import Nginx
from benchmarks.run import SAME_LOAD, prepare
from benchmarks.sitegen import paragraphs
from crawler.archive.atomic import remove_stale_temporaries
from crawler.archive.catalog import Catalog
from crawler.archive.exporter import MarkdownPostExporter
from crawler.archive.jekyll import SiteScaffold
from crawler.archive.paths import article_path
from crawler.items import Article
from crawler.reading.categories import SourceCategories
from crawler.reading.dates import BEIJING
from crawler.replay import ReplayProxy

PROJECT = Path(__file__).resolve().parents[1]
# Synthetic posts end where the benchmark site's articles begin: the archive holds the past.
# Post 0 is the newest; a negative index is a later one (the daily update's new day).
END = datetime(2025, 3, 1, 0, 0, tzinfo=BEIJING)
# Sources as the crawl meets them, Xinhua's own most often (weights).
SOURCES = {
    "新华社": 5,
    "新华网": 5,
    "人民网": 2,
    "央视新闻": 2,
    "中国新闻网": 2,
    "光明网": 1,
    "经济参考报": 1,
    "参考消息": 1,
}
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")  # framing only: never decoded


@dataclass
class Run:
    wall: float
    peak_mb: float
    cpu: float
    output: str


def synthetic_article(index: int, per_day: int, categories: SourceCategories) -> Article:
    """The ``index``-th synthetic article, ``per_day`` a day back from END: the same every time."""
    rng = random.Random(index)
    source = rng.choices(list(SOURCES), weights=list(SOURCES.values()))[0]
    category = categories.get(source)
    assert category is not None, source
    published = END - timedelta(seconds=(index + 1) * 86400 // per_day)
    digest = hashlib.md5(f"scale-{index}".encode()).hexdigest()
    body = [f"<p>{text}</p>" for text in paragraphs(index, 1, 1)]
    if index % 10 == 3:
        body.insert(1, f'<p><img src="/assets/images/{digest}.jpg"></p>')
    return Article(
        url=f"http://www.news.cn/scale/{published:%Y%m%d}/{digest}/c.html",
        site="xinhua",
        article_id=digest,
        title="".join(rng.sample("春耕农机合作社产业链数字经济新能源港口物流乡村文旅", 8))
        + f"（{index}）",
        published=published,
        source=source,
        paragraphs=body,
        category=category.slug,
        tag=category.tag,
    )


def synthesize(archive: Path, first: int, count: int, per_day: int) -> list[Path]:
    """Write articles ``first`` … ``first + count - 1`` into ``archive``; returns their posts."""
    categories = SourceCategories.from_file()
    scaffold = SiteScaffold(archive)
    scaffold.ensure_site()
    buffer = io.BytesIO()
    exporter = MarkdownPostExporter(buffer)
    images = archive / "assets" / "images"
    images.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(first, first + count):
        article = synthetic_article(index, per_day, categories)
        assert article.published is not None
        path = article_path(archive, article.published, article.article_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(exporter.serialize(article))
        scaffold.ensure_category(article.category, article.tag)
        if index % 10 == 3:
            (images / f"{article.article_id}.jpg").write_bytes(JPEG)
        written.append(path)
    return written


def archive_of(workdir: Path, posts: int, per_day: int) -> Path:
    """A synthetic archive of ``posts`` posts, generated once into ``workdir``."""
    archive = workdir / f"archive-{posts}-{per_day}"
    marker = archive / ".complete"
    if not marker.exists():
        shutil.rmtree(archive, ignore_errors=True)
        print(f"generating {posts:,} posts in {archive} …", flush=True)
        synthesize(archive, 0, posts, per_day)
        marker.touch()
    return archive


def measured(command: list[str], *, env: dict[str, str] | None = None) -> Run:
    """Run ``command``: its wall and CPU time, the peak of its process tree's summed RSS
    (sampled: the kernel's own peak of a child counts the parent's memory at the fork)."""
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT, text=True
        )
        peak = TreePeak(process.pid)
        peak.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        peak.stop()
        output.seek(0)
        text = output.read()
    if status != 0:
        raise SystemExit(f"{' '.join(command[:4])} … failed ({status}):\n{text}")
    return Run(wall, peak.peak_kb / 1024, usage.ru_utime + usage.ru_stime, text)


class TreePeak(threading.Thread):
    """Samples the summed RSS of a process and its descendants every 0.1 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.1):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree_rss_kb(root: int) -> int:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            process = Path("/proc", entry.name)
            fields = (process / "stat").read_text().rsplit(")", 1)[1].split()
            pages = int((process / "statm").read_text().split()[1])
        except (OSError, IndexError):
            continue  # ended meanwhile
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def buildsite(archive: Path, *options: str, jobs: int) -> Run:
    return measured(
        [sys.executable, "-m", "scrapy", "buildsite", *options, "-j", str(jobs),
         "-s", f"ARCHIVE_DIR={archive}"]
    )  # fmt: skip


def bench_build(workdir: Path, sizes: list[int], per_day: int, jobs: int, plain_max: int) -> None:
    """Full builds; the exponents are of time against posts from the previous size (1: linear),
    of wall time and of CPU time (Jekyll's included: less moved by other work on the machine)."""
    print(f"\n(a) scrapy buildsite -j {jobs}, {per_day} posts a day")
    print(
        f"{'posts':>9}{'wall s':>9}{'CPU s':>8}{'ms/post':>9}{'peak MB':>9}{'parts':>7}"
        f"{'exponent wall, CPU':>20}   plain jekyll build: wall, CPU, peak"
    )
    previous: tuple[int, Run] | None = None
    for posts in sizes:
        archive = archive_of(workdir, posts, per_day)
        shutil.rmtree(archive / "_site", ignore_errors=True)
        shutil.rmtree(archive / "_build", ignore_errors=True)
        run = buildsite(archive, jobs=jobs)
        parts = run.output.strip().splitlines()[-1].split(" of ")[1].split()[0]
        plain = ""
        if posts <= plain_max:
            destination = archive / "_plain"
            reference = measured(
                ["jekyll", "build", "--source", str(archive), "--destination", str(destination)]
            )
            shutil.rmtree(destination, ignore_errors=True)
            plain = f"{reference.wall:7.1f} s {reference.cpu:7.1f} s {reference.peak_mb:5.0f} MB"
        exponents = ""
        if previous is not None:
            ratio = math.log(posts / previous[0])
            wall, cpu = (math.log(getattr(run, key) / getattr(previous[1], key)) / ratio
                         for key in ("wall", "cpu"))  # fmt: skip
            exponents = f"{wall:.2f}, {cpu:.2f}"
        print(
            f"{posts:>9,}{run.wall:9.1f}{run.cpu:8.1f}{run.wall * 1000 / posts:9.2f}"
            f"{run.peak_mb:9.0f}{parts:>7}{exponents:>20}   {plain}",
            flush=True,
        )
        previous = (posts, run)


def bench_daily(workdir: Path, posts: int, per_day: int, jobs: int) -> None:
    archive = archive_of(workdir, posts, per_day)
    if not (archive / "_build" / "state.json").exists():
        buildsite(archive, jobs=jobs)
    added = synthesize(archive, -per_day, per_day, per_day)  # the next day's posts
    try:
        run = buildsite(archive, "--changed", jobs=jobs)
    finally:
        for path in added:
            path.unlink()
    print(f"\n(b) daily update of {posts:,} posts (+{per_day} posts): scrapy buildsite --changed")
    print(f"    {run.wall:.1f} s wall, peak {run.peak_mb:.0f} MB")
    print("    " + run.output.strip().replace("\n", "\n    "))
    buildsite(archive, "--changed", jobs=jobs)  # back to the archive as generated


def bench_reindex(archive: Path) -> None:
    run = measured([sys.executable, "-m", "scrapy", "reindex", "-s", f"ARCHIVE_DIR={archive}"])
    print(f"\n(d) scrapy reindex of {posts_in(archive):,} posts")
    print(
        f"    {run.wall:.1f} s wall, peak {run.peak_mb:.0f} MB; {run.output.strip().splitlines()[-1]}"
    )


def bench_crawl(workdir: Path, large: Path, repeat: int) -> None:
    """The benchmark site's crawl and second run into an empty archive and into ``large``
    (whose catalog holds every post: run bench_reindex first), ``repeat`` times; ``large``
    is put back as it was after each."""
    root, start_urls = prepare(workdir, 2000)
    server = Nginx(root).start() if Nginx.available() else ReplayProxy(root).start()
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env["http_proxy"] = server.url
    _as_left_by_a_clean_run(large)
    saved = workdir / "catalog-before-crawl"
    shutil.rmtree(saved, ignore_errors=True)
    shutil.copytree(large / "_catalog", saved)
    before = set(_files(large))
    results: dict[str, list[list[Run]]] = {"empty": [], "large": []}
    try:
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="scale-crawl-") as scratch:
                for label, archive in (("empty", Path(scratch) / "archive"), ("large", large)):
                    command = [
                        sys.executable, "-m", "scrapy", "crawl", "xinhua",
                        "-a", "start_urls=" + ",".join(start_urls), "-s", f"ARCHIVE_DIR={archive}",
                        *SAME_LOAD,
                    ]  # fmt: skip
                    results[label].append([measured(command, env=env) for _run in range(2)])
            _put_back(large, before, saved)
    finally:
        server.stop()
        _put_back(large, before, saved)
    print(
        f"\n(c) the 2,000-article benchmark site's crawl and its second run, into an empty "
        f"archive and into one of {posts_in(large):,} posts (medians of {repeat})"
    )
    print(f"{'':26}{'wall s':>8}{'peak RSS MB':>13}{'CPU s':>8}")
    for index, run_label in enumerate(("first run", "second run")):
        medians = {}
        for label in ("empty", "large"):
            runs = [repetition[index] for repetition in results[label]]
            medians[label] = [statistics.median(getattr(run, key) for run in runs)
                              for key in ("wall", "peak_mb", "cpu")]  # fmt: skip
            wall, peak_mb, cpu = medians[label]
            print(f"    {label:6}{run_label:16}{wall:8.2f}{peak_mb:13.0f}{cpu:8.2f}")
        empty, full = medians["empty"], medians["large"]
        print(
            f"    {run_label}: large/empty wall {full[0] / empty[0]:.2f}, peak RSS "
            f"{full[1] / empty[1]:.2f}, CPU {full[2] / empty[2]:.2f}"
        )


def _put_back(large: Path, before: set[Path], saved: Path) -> None:
    """``large`` without what a crawl added: posts, images, captures; its catalog as saved."""
    for path in set(_files(large)) - before:
        path.unlink()
    shutil.rmtree(large / "_catalog")
    shutil.copytree(saved, large / "_catalog")
    _as_left_by_a_clean_run(large)


def _as_left_by_a_clean_run(archive: Path) -> None:
    """The catalog recorded sound, the temporaries swept: what a run finds after another."""
    remove_stale_temporaries(archive)
    catalog = Catalog(archive)
    catalog.mark_sound()
    catalog.close()


# (label, command arguments): queries of a year's archive, each written to a file.
QUERIES = [
    ("catalog, one day", ["catalog", "--since", "2025-02-10", "--until", "2025-02-10"]),
    ("catalog, one week of one source", ["catalog", "--since", "2025-02-03", "--until", "2025-02-09", "--source", "新华社"]),
    ("catalog, a title's words, all dates", ["catalog", "--title", "（123456）"]),
    ("search, one article's words", ["search", "（123456）"]),
    ("search, a rare word, one week", ["search", "春耕农机", "--since", "2025-02-03", "--until", "2025-02-09"]),
    ("search, a rare word, all dates", ["search", "春耕农机"]),
    ("search, a rare pair, all dates", ["search", "机作"]),
    ("search, a common word, one day", ["search", "数字经济", "--since", "2025-02-10", "--until", "2025-02-10"]),
    ("search, two characters, one day", ["search", "湿地", "--since", "2025-02-10", "--until", "2025-02-10"]),
    ("search, two characters, a source's week", ["search", "湿地", "--since", "2025-02-03", "--until", "2025-02-09", "--source", "新华社"]),
]  # fmt: skip


def bench_queries(large: Path, repeat: int) -> None:
    print(
        f"\n(e) catalog queries and full-text search, {posts_in(large):,} posts (start-up "
        f"included; median, and range, of {repeat})"
    )
    with tempfile.TemporaryDirectory(prefix="scale-queries-") as scratch:
        for label, arguments in QUERIES:
            output = Path(scratch) / "out.jsonl"
            walls = [
                measured(
                    [sys.executable, "-m", "scrapy", *arguments, "-o", str(output),
                     "-s", f"ARCHIVE_DIR={large}"]
                ).wall
                for _run in range(repeat)
            ]  # fmt: skip
            found = len(output.read_text(encoding="utf-8").splitlines()) if output.exists() else 0
            print(
                f"    {label:40}{statistics.median(walls):6.2f} s ({min(walls):.2f}–"
                f"{max(walls):.2f}), {found:,} articles"
            )


def posts_in(archive: Path) -> int:
    return sum(1 for _ in (archive / "_posts").rglob("*.md"))


def _files(archive: Path) -> list[Path]:
    """The posts, images and captures of ``archive`` (what a crawl adds)."""
    return [
        *(archive / "_posts").rglob("*.md"),
        *(archive / "assets" / "images").iterdir(),
        *(path for path in (archive / "_warc").rglob("*") if path.is_file()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=["build", "daily", "crawl", "reindex", "queries"], nargs="+"
    )
    parser.add_argument("-n", type=int, nargs="+", default=[5000, 20000, 100000])
    parser.add_argument("--per-day", type=int, default=800)
    parser.add_argument("--catalog", type=int, default=300_000)
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--plain-max", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of (c) and (e), medians")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xinhua-scale"
    )
    args = parser.parse_args()
    only = set(args.only or ["build", "daily", "crawl", "reindex", "queries"])
    args.workdir.mkdir(parents=True, exist_ok=True)
    if "build" in only:
        bench_build(args.workdir, args.n, args.per_day, args.jobs, args.plain_max)
    if "daily" in only:
        bench_daily(args.workdir, max(args.n), args.per_day, args.jobs)
    if only & {"reindex", "crawl", "queries"}:
        large = archive_of(args.workdir, args.catalog, args.per_day)
        if "reindex" in only or not (large / "_catalog" / "catalog.sqlite").exists():
            bench_reindex(large)
        if "crawl" in only:
            bench_crawl(args.workdir, large, args.repeat)
        if "queries" in only:
            bench_queries(large, args.repeat)


if __name__ == "__main__":
    main()
