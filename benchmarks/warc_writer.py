"""The WARC writer alone: CPU time and bytes per captured page, outside a crawl.

    .venv/bin/python -m benchmarks.warc_writer

Writes the pages of the generated benchmark site (``--workdir``, made by ``benchmarks.run``;
~46 KB pages) and the saved real pages of ``eval/unseen/pages`` (once eval/unseen/restore.py
has fetched them) through :class:`crawler.archive.warc.WarcWriter` into a temporary archive,
one single-page article each, as the capture stage does. A crawl pays more per page than
this (benchmarks/README.md): its event loop shares the interpreter with the archive's writer
thread.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from crawler.archive.warc import WarcWriter
from crawler.items import HttpExchange

PROJECT = Path(__file__).resolve().parents[1]
REPEAT = 3
HEADERS = [("Server", "nginx/1.22.1"), ("Date", "Sun, 06 Dec 2026 09:00:00 GMT"),
           ("Content-Type", "text/html"), ("Last-Modified", "Sun, 06 Dec 2026 08:00:00 GMT"),
           ("ETag", '"6753-b731"'), ("Accept-Ranges", "bytes")]  # fmt: skip
REQUEST_HEADERS = [("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                   ("Accept-Language", "en"), ("User-Agent", "xinhua-archiver/0.1"),
                   ("Accept-Encoding", "gzip, deflate, br, zstd")]  # fmt: skip


def exchanges(files: list[Path]) -> list[HttpExchange]:
    now = datetime.now(UTC)
    return [
        HttpExchange(f"http://www.news.cn/{path.name}", 200, HEADERS, path.read_bytes(), now,
                     request_headers=REQUEST_HEADERS)
        for path in files
    ]  # fmt: skip


def measure(label: str, pages: list[HttpExchange]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-warc-") as scratch:
        writer = WarcWriter(Path(scratch), max_bytes=1 << 40, software="benchmark")
        started = time.thread_time()
        for _ in range(REPEAT):
            for page in pages:
                writer.write_article([page], [])
        cpu = (time.thread_time() - started) / (REPEAT * len(pages))
        writer.close()
        size = sum(path.stat().st_size for path in Path(scratch).rglob("*.warc.gz"))
    body = sum(len(page.body) for page in pages) / len(pages)
    print(
        f"{label:10} {len(pages):5} pages of {body / 1000:4.0f} KB: {cpu * 1000:.3f} ms CPU "
        f"and {size / (REPEAT * len(pages)):,.0f} bytes of .warc.gz a page"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xinhua-bench"
    )
    parser.add_argument("--sample", type=int, default=600)
    args = parser.parse_args()
    site = args.workdir / "site-2000"
    if site.exists():
        measure("generated", exchanges(sorted(site.rglob("c.html"))[: args.sample]))
    real = sorted((PROJECT / "eval" / "unseen" / "pages").glob("*.html"))
    if real:
        measure("real", exchanges(real))


if __name__ == "__main__":
    main()
