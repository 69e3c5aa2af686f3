"""The acceptance check of the archive format: scraping a Xinhua page that carries the
seed article (tests/fixtures/seed-example.md) reproduces the seed's lines exactly.

The page is built at test time from the seed file, in Xinhua's 2021+ markup. The project
carries its own copy of the seed, so that a fresh clone runs this test; where the shared
folder that supplied it sits beside the project (``../shared/seed-example.md``), the copy
is checked to be the same file.
"""

import re

import pytest
from conftest import FIXTURES, SHARED, read_post, run_scrapy

SEED = FIXTURES / "seed-example.md"
ARTICLE_ID = "5f0c6d1e2a3b4c5d6e7f8091a2b3c4d5"
URL = f"http://www.news.cn/fortune/20220510/{ARTICLE_ID}/c.html"
PARAGRAPH = re.compile(r"<p>.*?</p>")


def seed_parts() -> tuple[list[str], list[str], str, str]:
    text = SEED.read_text(encoding="utf-8")
    front, body = text.removeprefix("---\n").split("\n---\n", 1)
    paragraphs = PARAGRAPH.findall(body)
    source_line = re.search(r'<p class="em_media">.*?</p>', body).group(0)
    back_links = body.rstrip("\n").splitlines()[-1]
    return front.splitlines(), paragraphs, source_line, back_links


def xinhua_page(front: list[str], paragraphs: list[str]) -> str:
    meta = dict(line.split(": ", 1) for line in front)
    date, time, _zone = meta["date"].split(" ")
    year, month, day = date.split("-")
    # Xinhua indents each paragraph with two full-width spaces; the crawler must strip them.
    body = "".join(f"<p>\u3000\u3000{p.removeprefix('<p>')}" for p in paragraphs)
    return (
        (FIXTURES / "xinhua-2021-template.html")
        .read_text(encoding="utf-8")
        .format(
            title=meta["title"].strip('"'),
            year=year,
            month=month,
            day=day,
            time=time,
            source="新华网",
            editor="张三",
            article_id=ARTICLE_ID,
            paragraphs=body,
        )
    )


def test_the_seed_is_the_shared_one():
    shared = SHARED / "seed-example.md"
    if not shared.is_file():  # a clone on its own: its copy is the seed
        pytest.skip(f"{shared} not found (the shared folder is not beside the project)")
    assert SEED.read_bytes() == shared.read_bytes()


def test_scrape_reproduces_seed(tmp_path, replay):
    front, paragraphs, source_line, back_links = seed_parts()
    page = tmp_path / "site" / "www.news.cn" / "fortune" / "20220510" / ARTICLE_ID / "c.html"
    page.parent.mkdir(parents=True)
    page.write_text(xinhua_page(front, paragraphs), encoding="utf-8")
    archive = tmp_path / "archive"

    result = run_scrapy(
        "scrape",
        URL,
        "-s",
        f"ARCHIVE_DIR={archive}",
        "-s",
        "ARCHIVE_SITE_URL=//finews.withounder.com",
        proxy=replay(tmp_path / "site"),
    )

    assert result.returncode == 0, result.stderr
    written = archive / "_posts" / "2022" / "05" / "10" / f"2022-05-10-{ARTICLE_ID}.md"
    assert result.stdout.split() == [str(written)]
    lines = written.read_text(encoding="utf-8").splitlines()
    assert lines[: len(front) + 1] == ["---", *front]
    meta, body = read_post(written)
    assert meta["source_url"] == URL and meta["article_id"] == ARTICLE_ID
    assert PARAGRAPH.findall(body) == paragraphs
    assert source_line in lines
    assert f"<{URL}>" in lines
    assert lines[-1] == back_links
