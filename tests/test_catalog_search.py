"""``scrapy catalog`` filters and ``scrapy search`` (issue 15): real subprocesses over archives
written by the archive stage itself (a scrape through a proxy on 127.0.0.1, or its writer),
JSON Lines in a pipe and a table on a terminal, and the search index of catalogs of earlier
versions filled by ``scrapy reindex``; on a catalog recorded directly, which way a search
goes (the index's candidates, or each article's text) and that both find the same."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from datetime import date, datetime

import pytest
from archive_checks import describe
from conftest import run_scrapy, write_archive
from faultserver import Body
from test_hostile_input import scrape, xinhua_page, xinhua_url
from test_progress import run_on_terminal
from test_sitebuild import article as article_on

from crawler.archive import catalogsearch
from crawler.archive.catalog import CATALOG_DIR, DATABASE, Catalog, CatalogEntry
from crawler.archive.catalogsearch import ArticleFilter, searchable_text
from crawler.reading.dates import BEIJING

PAGES = {  # URL number → title, body
    1: ("春耕备耕有序推进", "<p>今年各地墒情总体适宜，农机作业进度加快。</p>"),
    2: ("新一代气象卫星投入业务运行", "<p>卫星可提供分钟级云图监测，为防灾减灾提供支撑。</p>"),
    3: ("Xinhua English edition", "<p>Online 100% of the time, with snake_case names.</p>"),
}


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """An archive of the three pages, written by a real ``scrapy scrape``."""
    root = tmp_path_factory.mktemp("search")
    faults = {
        xinhua_url(n): Body(xinhua_page(title, (body,)).encode())
        for n, (title, body) in PAGES.items()
    }
    run = scrape(root, faults, list(faults))
    assert run.result.returncode == 0, describe(run.result)
    return run.archive


def found(archive, *args: str) -> list[str]:
    """The article URLs that ``scrapy ARGS`` lists in a pipe (JSON Lines), in its order."""
    result = run_scrapy(*args, "-s", f"ARCHIVE_DIR={archive}")
    assert result.returncode == 0 and result.stderr == "", describe(result)
    return [json.loads(line)["url"] for line in result.stdout.splitlines()]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["墒情"], [1]),  # a two-character word, in a body only
        (["情"], [1]),  # one character
        (["卫星"], [2]),  # in the title and the body
        (["分钟级云图"], [2]),  # five characters: the trigrams' own search
        (["墒情", "卫星"], []),  # every word must be there
        (["进度", "适宜"], [1]),
        (["xinhua ENGLISH"], [3]),  # ASCII letters whatever their case, a space inside
        (["100%"], [3]),  # LIKE's wildcards are plain characters here
        (["%"], [3]),
        (["e_c"], [3]),
        (["宇宙"], []),
    ],
)
def test_search_finds_any_piece_of_a_title_or_body(words, expected, scraped):
    assert found(scraped, "search", *words) == [xinhua_url(n) for n in expected]


def test_search_takes_the_catalogs_filters(scraped):
    assert found(scraped, "search", "进度", "--title", "春耕") == [xinhua_url(1)]
    assert found(scraped, "search", "进度", "--title", "卫星") == []
    assert found(scraped, "search", "星", "--until", "2026-05-31") == []


def test_search_on_a_terminal_shows_a_table_with_the_text_around_the_word(scraped):
    args = ("search", "墒情", "-s", f"ARCHIVE_DIR={scraped}")
    status, stderr, lines = run_on_terminal(*args, proxy=None, on_terminal="stdout")
    assert (status, stderr) == (0, "")
    title, around, total = [line for line in lines if line]
    assert title.startswith("2026-06-01 10:00  xinhua       春耕备耕有序推进 ")
    assert title.endswith(".md") and "_posts/2026/06/01/" in title
    # Twenty characters either side, the title and the source line included
    assert around.strip() == "春耕备耕有序推进 今年各地墒情总体适宜，农机作业进度加快。 （文章来源…"
    assert total == "1 article"


def test_search_needs_a_word():
    result = run_scrapy("search")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith("error: give at least one word to search for")


SITES = [("xinhua", "新华社", "xinhuashe"), ("people", "人民网", "renminwang")]


@pytest.fixture(scope="module")
def cataloged(tmp_path_factory):
    """Twelve articles over three days, two sites and two sources, by the archive's writer."""
    archive = tmp_path_factory.mktemp("filters") / "archive"
    days = [(2026, 3, 30), (2026, 3, 31), (2026, 4, 1)]
    articles = []
    for n in range(12):
        site, source, category = SITES[n % 2]
        articles.append(
            dataclasses.replace(
                article_on(n, days[n % 3], title=f"第{n}篇{'两会' if n % 4 == 0 else '报道'}"),
                site=site,
                source=source,
                category=category,
            )
        )
    write_archive(archive, articles, ARCHIVE_IMAGES=False)
    return archive


def numbers(archive, *filters: str) -> list[int]:
    return [int(url.rsplit("c_", 1)[1][:4]) for url in found(archive, "catalog", *filters)]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([], [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]),  # by publication time
        (["--since", "2026-03-31"], [1, 4, 7, 10, 2, 5, 8, 11]),
        (["--until", "2026-03-31"], [0, 3, 6, 9, 1, 4, 7, 10]),  # the whole day included
        (["--since", "2026-03-31", "--until", "2026-03-31"], [1, 4, 7, 10]),
        (["--site", "people"], [3, 9, 1, 7, 5, 11]),
        (["--source", "新华社"], [0, 6, 4, 10, 2, 8]),
        (["--category", "renminwang", "--since", "2026-04-01"], [5, 11]),
        (["--title", "两会"], [0, 4, 8]),
        (["--title", "两会", "--site", "people"], []),
    ],
)
def test_catalog_filters(filters, expected, cataloged):
    assert numbers(cataloged, *filters) == expected


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("--since", "2026-02-30", "--since: not a date (YYYY-MM-DD): '2026-02-30'"),
        ("--site", "nosuch", "--site: no site profile named 'nosuch' (scrapy list)"),
    ],
)
def test_a_bad_filter_is_a_usage_error(option, value, error, cataloged):
    result = run_scrapy("catalog", option, value, "-s", f"ARCHIVE_DIR={cataloged}")
    assert result.returncode == 2 and result.stderr.splitlines()[-1].endswith(f"error: {error}")


def test_catalog_to_a_file_takes_the_filters(cataloged, tmp_path):
    out = tmp_path / "people.jsonl"
    result = run_scrapy(
        "catalog", "--site", "people", "-o", str(out), "-s", f"ARCHIVE_DIR={cataloged}"
    )
    assert result.returncode == 0 and result.stderr == "6 articles written to " + str(out) + "\n"
    assert [json.loads(line)["site"] for line in out.read_text().splitlines()] == ["people"] * 6


def test_catalog_on_a_terminal_shows_a_table_and_a_count(cataloged):
    args = ("catalog", "--site", "people", "-s", f"ARCHIVE_DIR={cataloged}")
    status, stderr, lines = run_on_terminal(*args, proxy=None, on_terminal="stdout")
    assert (status, stderr) == (0, "")
    *rows, total = [line for line in lines if line]
    # time, site, title, post: the people articles by publication time (see ``cataloged``)
    expected = [(3, "03-30"), (9, "03-30"), (1, "03-31"), (7, "03-31"), (5, "04-01"), (11, "04-01")]
    assert [re.split(r" {2,}", row) for row in rows] == [
        [
            f"2026-{day} {8 + n % 12:02d}:{n:02d}",
            "people",
            f"第{n}篇报道",
            f"_posts/2026/{day.replace('-', '/')}/2026-{day}-c_{n:04d}.md",
        ]
        for n, day in expected
    ]
    assert total == "6 articles"


def test_reindex_gives_a_catalog_of_an_earlier_version_its_search_index(tmp_path):
    archive = tmp_path / "archive"
    two = [dataclasses.replace(article_on(n, (2026, 5, 1)), paragraphs=[f"<p>{body}</p>"])
           for n, body in enumerate(["经济运行总体平稳", "天气晴朗"])]  # fmt: skip
    write_archive(archive, two, ARCHIVE_IMAGES=False)
    with sqlite3.connect(archive / CATALOG_DIR / DATABASE) as old:  # as earlier versions left it
        old.executescript(
            "DROP TABLE article_terms; DROP TABLE article_search; DROP TABLE article_text;"
        )

    before = run_scrapy("search", "经济", "-s", f"ARCHIVE_DIR={archive}")
    assert (before.returncode, before.stdout) == (0, "")
    assert before.stderr == (
        "2 articles of 2 have no text in the catalog yet (cataloged by an earlier version): "
        "scrapy reindex adds it.\n"
    )
    reindexed = run_scrapy("reindex", "-s", f"ARCHIVE_DIR={archive}")
    assert reindexed.returncode == 0, describe(reindexed)
    assert found(archive, "search", "经济") == [two[0].url]


def test_without_the_trigram_tokenizer_search_reads_every_text(tmp_path, monkeypatch):
    """An SQLite before 3.34; then a newer one indexes the text it kept."""
    monkeypatch.setattr(catalogsearch, "trigram_search_available", lambda: False)
    write_archive(
        tmp_path, [dataclasses.replace(article_on(1, (2026, 5, 1)), paragraphs=["<p>经济</p>"])]
    )
    catalog = Catalog(tmp_path)
    assert not catalog.text_indexed
    assert [entry.article_id for entry in catalog.find(ArticleFilter(words=("经济",)))] == [
        "c_0001"
    ]
    assert list(catalog.find(ArticleFilter(words=("天气",)))) == []
    catalog.close()
    monkeypatch.undo()
    indexed = Catalog(tmp_path)
    assert indexed.text_indexed
    assert [entry.article_id for entry in indexed.find(ArticleFilter(words=("经济",)))] == [
        "c_0001"
    ]


# Bodies of one article a day from 2026-03-01: 经济 in every one, 湿地 in the first only, and
# letters whose case the index folds otherwise than str.lower (ſ → s, µ → μ, ς → σ) or
# str.casefold (ß stays ß) would.
BODIES = [
    "湿地公园保护经济效益",
    "经济运行总体平稳",
    "数字经济ſtrong",
    "经济µ计量",
    "经济ς末尾",
    "经济Straße",
    "经济运行",
    "经济",
]


def record_body(
    catalog: Catalog,
    n: int,
    body: str,
    published: datetime = datetime(2026, 4, 1, 8, tzinfo=BEIJING),
) -> None:
    """Article ``c_<n>`` with ``body``, recorded directly."""
    entry = CatalogEntry(
        site="xinhua",
        article_id=f"c_{n}",
        url=f"http://www.news.cn/{n}/c.html",
        title=f"第{n}篇",
        published=published.isoformat(),
        source="新华社",
        category="xinhuashe",
        path=f"_posts/{n}.md",
        content_hash=body,
    )
    catalog.record(entry, published, searchable_text(entry.title, f"<p>{body}</p>"))


@pytest.fixture
def recorded(tmp_path):
    """A catalog of BODIES, recorded directly."""
    catalog = Catalog(tmp_path)
    for n, body in enumerate(BODIES):
        record_body(catalog, n, body, datetime(2026, 3, 1 + n, 8, tzinfo=BEIJING))
    catalog.index_texts()  # as a run's end does
    yield catalog
    catalog.close()


def searched(catalog: Catalog, wanted: ArticleFilter) -> tuple[str, list[int]]:
    """Which way the search went (``text``: each article the other filters leave was read;
    ``index``: the full-text index named the candidates, or that there are none) and the
    articles it found."""
    where, _params = wanted.sql(catalog.connection, catalog.text_indexed)
    way = "text" if "EXISTS (SELECT 1 FROM article_text" in where else "index"
    return way, [int(entry.article_id[2:]) for entry in catalog.find(wanted)]


DAY_2 = {"since": date(2026, 3, 2), "until": date(2026, 3, 2)}


@pytest.mark.parametrize(
    ("filters", "way", "expected"),
    [
        # A word in every article: reading the day's text beats the index, all dates too
        ({"words": ("经济",), **DAY_2}, "text", [1]),
        ({"words": ("经济",)}, "text", list(range(8))),
        ({"words": ("经济运行",), **DAY_2}, "text", [1]),
        # A word in few articles, over all dates: the index names them
        ({"words": ("湿地",)}, "index", [0]),
        ({"words": ("湿地公园",)}, "index", [0]),
        ({"words": ("经济", "湿地")}, "index", [0]),  # the rarer word asks the index
        ({"words": ("运行",), "source": "新华社"}, "index", [1, 6]),
        ({"words": ("湿地",), "title": "第1篇"}, "index", []),
        # …and within a day, whose single article is fewer than those
        ({"words": ("湿地",), **DAY_2}, "text", []),
        ({"words": ("运行",), **DAY_2}, "text", [1]),
        ({"words": ("运行", "经济"), **DAY_2, "title": "第1篇"}, "text", [1]),
        # No trigram begins with it: the index says so, whatever the other filters
        ({"words": ("宇宙",)}, "index", []),
        ({"words": ("宇宙",), **DAY_2}, "index", []),
    ],
)
def test_search_reads_the_shorter_way_and_finds_the_same(filters, way, expected, recorded):
    assert searched(recorded, ArticleFilter(**filters)) == (way, expected)


@pytest.mark.parametrize(
    ("word", "article", "holds"),
    [
        ("ſ", 2, True),
        ("ſt", 2, True),
        ("ſtrong", 2, True),
        ("STRONG", 2, False),  # the index folds ſ to s; the text holds ſ
        ("µ", 3, True),
        ("µ计", 3, True),
        ("ς", 4, True),
        ("ς末", 4, True),
        ("ß", 5, True),
        ("aß", 5, True),
        ("STRAßE", 5, True),  # LIKE folds the case of ASCII letters only
        ("STRASSE", 5, False),
    ],
)
def test_search_folds_case_as_the_index_does(word, article, holds, recorded):
    """A letter whose case str.lower or str.casefold folds otherwise than the index (its
    terms are folded) is found through the index as it is by reading the text."""
    expected = [article] if holds else []
    day = date(2026, 3, 1 + article)
    assert searched(recorded, ArticleFilter(words=(word,))) == ("index", expected)
    assert searched(recorded, ArticleFilter(words=(word,), since=day, until=day))[1] == expected


def found_ids(catalog: Catalog, word: str) -> list[str]:
    return [entry.article_id for entry in catalog.find(ArticleFilter(words=(word,)))]


def waiting(catalog: Catalog) -> int:
    return catalogsearch.count_waiting_texts(catalog.connection)


@pytest.mark.parametrize("word", ["湿地", "湿地公园", "湿"])
def test_texts_waiting_for_the_index_are_found_all_the_same(tmp_path, word):
    """Texts join the index in batches: until then search reads them, by either way, and
    finds what it finds once they are indexed."""
    catalog = Catalog(tmp_path)
    for n in range(20):
        record_body(catalog, n, "湿地公园保护" if n == 3 else "经济运行总体平稳")
    catalog.index_texts()
    record_body(catalog, 20, "新建湿地公园")  # waits for the index
    assert waiting(catalog) == 1
    assert searched(catalog, ArticleFilter(words=(word,))) == (
        "index",
        [20, 3],
    )  # catalog order: c_20 before c_3
    assert found_ids(catalog, "宇宙") == []
    catalog.index_texts()
    assert waiting(catalog) == 0
    assert searched(catalog, ArticleFilter(words=(word,))) == (
        "index",
        [20, 3],
    )  # catalog order: c_20 before c_3
    catalog.close()


def test_a_changed_text_leaves_its_old_words_behind(tmp_path):
    catalog = Catalog(tmp_path)
    record_body(catalog, 1, "湿地公园保护")
    catalog.index_texts()
    record_body(catalog, 1, "经济运行平稳")  # indexed before: the index forgets the old text
    assert found_ids(catalog, "湿地") == []
    assert found_ids(catalog, "经济") == ["c_1"]
    record_body(catalog, 1, "森林防火")  # still waiting: nothing to forget in the index
    catalog.index_texts()
    assert (found_ids(catalog, "经济"), found_ids(catalog, "森林")) == ([], ["c_1"])
    stale = catalog.connection.execute(
        "SELECT count(*) FROM article_search WHERE article_search MATCH '\"经济运\"'"
    )
    assert stale.fetchone()[0] == 0  # no trace of the first text in the index either
    catalog.close()


def test_texts_are_indexed_a_batch_at_a_time_and_after_a_killed_run(tmp_path, monkeypatch):
    """A batch is indexed as soon as it is full; texts a killed run left waiting are still
    found, and indexed with the next run's first batch."""
    monkeypatch.setattr("crawler.archive.catalog._INDEX_BATCH", 5)
    catalog = Catalog(tmp_path)
    for n in range(7):
        record_body(catalog, n, f"第{n}条湿地新闻")
    assert waiting(catalog) == 2
    catalog.connection.close()  # killed: no index_texts()
    reopened = Catalog(tmp_path)
    assert waiting(reopened) == 2
    assert found_ids(reopened, "湿地") == [f"c_{n}" for n in range(7)]
    for n in range(7, 11):
        record_body(reopened, n, f"第{n}条湿地新闻")
    assert waiting(reopened) == 6
    record_body(reopened, 11, "第11条湿地新闻")
    assert waiting(reopened) == 0
    assert sorted(found_ids(reopened, "湿地")) == sorted(f"c_{n}" for n in range(12))
    reopened.close()
