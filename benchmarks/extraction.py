"""Extraction cost per article: this project's extract + normalise stages against trafilatura.

    .venv/bin/python -m benchmarks.extraction --peer-python /path/to/venv-with-trafilatura/bin/python

Times both on the same pages: a sample of the generated benchmark site (~46 KB pages) and,
when ``../shared/eval/corpus`` is there, the real saved pages. trafilatura runs in the
interpreter given by ``--peer-python`` (it is not a dependency of this project); without
it only our figures are printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT.parent / "shared" / "eval" / "corpus"
REPEAT = 5

_PEER = """
import json, sys, time
import trafilatura
pages = json.load(sys.stdin)
started = time.perf_counter()
for _ in range({repeat}):
    for url, html in pages:
        trafilatura.bare_extraction(html, url=url, with_metadata=True)
print((time.perf_counter() - started) / ({repeat} * len(pages)))
"""


def load_pages(workdir: Path, sample: int) -> dict[str, list[tuple[str, str]]]:
    sets: dict[str, list[tuple[str, str]]] = {}
    site = workdir / "site-2000"
    if site.exists():
        files = sorted(site.rglob("c.html")) + sorted(site.rglob("c_*.htm"))
        sets["generated"] = [
            (f"http://{path.relative_to(site).as_posix()}", path.read_text(encoding="utf-8"))
            for path in files[:sample]
        ]
    if CORPUS.exists():
        pages = []
        for truth_file in sorted((CORPUS / "truth").glob("*.json")):
            truth = json.loads(truth_file.read_text(encoding="utf-8"))
            if truth.get("kind", "article") == "article":
                page = CORPUS / "pages" / f"{truth['id']}.html"
                url = truth.get("url") or f"http://{truth['site']}/saved/{truth['id']}.html"
                pages.append((url, page.read_text(encoding="utf-8", errors="replace")))
        sets["real (eval corpus)"] = pages
    return sets


def ours(pages: list[tuple[str, str]]) -> float:
    from scrapy.utils.test import get_crawler

    from crawler import settings as project_settings
    from crawler.items import RawPage
    from crawler.reading.profiles import profiles_of
    from pipelines.extract import ExtractPipeline
    from pipelines.normalise import NormalisePipeline

    values = {
        name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()
    }
    crawler = get_crawler(settings_dict=values)
    extract, normalise = (
        ExtractPipeline.from_crawler(crawler),
        NormalisePipeline.from_crawler(crawler),
    )
    profiles = profiles_of(crawler)
    raw = [(url, html, profiles.for_url(url).name) for url, html in pages]
    started = time.perf_counter()
    for _ in range(REPEAT):
        for url, html, site in raw:
            normalise.process_item(extract.process_item(RawPage(url=url, html=html, site=site)))
    return (time.perf_counter() - started) / (REPEAT * len(raw))


def peer(python: str, pages: list[tuple[str, str]]) -> float:
    result = subprocess.run(
        [python, "-c", _PEER.format(repeat=REPEAT)],
        input=json.dumps(pages), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", help="a Python with trafilatura installed")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/xinhua-bench"))
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args()
    for name, pages in load_pages(args.workdir, args.sample).items():
        mine = ours(pages) * 1000
        line = f"{name:20} {len(pages):4d} pages: ours {mine:6.2f} ms/article"
        if args.peer_python:
            theirs = peer(args.peer_python, pages) * 1000
            line += f", trafilatura {theirs:6.2f} ms/article, {theirs / mine:4.1f}x ours"
        print(line)


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    main()
