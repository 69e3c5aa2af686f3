"""The reader API over an archive written by the crawler's own writer: date ranges, order,
fields, damaged posts, folders outside the range left unopened, and the example of
docs/archive-format.md run as a script."""

import logging
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import PROJECT, write_archive

from crawler.archive.reader import ArchivedArticle, iter_articles, read_article
from crawler.items import Article
from crawler.reading.dates import BEIJING

# Beijing day of each article: a0 is 23:30 UTC on 31 Dec, so 1 January in Beijing.
PUBLISHED = {
    "a0": datetime(2025, 12, 31, 23, 30, tzinfo=UTC),
    "a1": datetime(2026, 1, 1, 9, 0, tzinfo=BEIJING),
    "a2": datetime(2026, 1, 1, 8, 0, tzinfo=BEIJING),
    "a3": datetime(2026, 1, 2, 23, 59, 59, tzinfo=BEIJING),
    "a4": datetime(2026, 2, 28, 12, 0, tzinfo=BEIJING),
    "a5": datetime(2027, 3, 1, 0, 0, tzinfo=BEIJING),
}


def article(article_id: str, **changes) -> Article:
    fields = dict(
        url=f"http://www.news.cn/local/{article_id}.htm",
        site="xinhua",
        article_id=article_id,
        title=f"标题 {article_id}",
        published=PUBLISHED[article_id],
        source="新华社",
        paragraphs=[f"<p>{article_id} 第一段。</p>", "<p>第二段。</p>"],
        category="xinhuashe",
        tag="新华社新闻",
    )
    return Article(**(fields | changes))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reader") / "archive"
    write_archive(folder, [article(key) for key in PUBLISHED], ARCHIVE_IMAGES=False)
    return folder


def ids(articles) -> list[str]:
    return [a.article_id for a in articles]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, ["a0", "a2", "a1", "a3", "a4", "a5"]),
        (date(2026, 1, 1), date(2026, 1, 1), ["a0", "a2", "a1"]),
        (date(2026, 1, 2), None, ["a3", "a4", "a5"]),
        (None, date(2026, 1, 31), ["a0", "a2", "a1", "a3"]),
        (date(2026, 3, 1), date(2027, 2, 28), []),
        # instants: inclusive at both ends, in any zone
        (datetime(2026, 1, 1, 8, 0, tzinfo=BEIJING), None, ["a2", "a1", "a3", "a4", "a5"]),
        (None, datetime(2026, 1, 1, 1, 0, tzinfo=UTC), ["a0", "a2", "a1"]),
        (
            datetime(2026, 1, 2, 15, 59, 59, tzinfo=UTC),
            datetime(2026, 2, 28, 0, 0, tzinfo=timezone(timedelta(hours=-4))),
            ["a3", "a4"],
        ),
    ],
)
def test_date_ranges(archive, since, until, expected):
    assert ids(iter_articles(archive, since, until)) == expected
    assert ids(iter_articles(archive, since, until, newest_first=True)) == expected[::-1]


def test_fields_of_an_article(archive):
    (found,) = iter_articles(str(archive), date(2026, 2, 28), date(2026, 2, 28))
    assert found == ArchivedArticle(
        title="标题 a4",
        published=datetime(2026, 2, 28, 12, 0, tzinfo=BEIJING),
        source="新华社",
        source_url="http://www.news.cn/local/a4.htm",
        article_id="a4",
        category="xinhuashe",
        tags=("新华社新闻",),
        author=None,
        editor=None,
        path=archive / "_posts" / "2026" / "02" / "28" / "2026-02-28-a4.md",
        body='<p>a4 第一段。</p>\n<p>第二段。</p>\n<p class="em_media">（文章来源：新华社）</p>',
        front_matter=found.front_matter,
    )
    assert found.published.utcoffset() == timedelta(hours=8)
    assert found.front_matter["layout"] == "post"


def test_awkward_values_read_back(tmp_path):
    title = '"引号": #不是注释 --- *星号* {{ site.title }}'
    (path,) = write_archive(
        tmp_path,
        [article("a1", title=title, source=None, author="王晓明、李华", editor="张三")],
        ARCHIVE_JEKYLL_SITE=False,
        ARCHIVE_IMAGES=False,
    )
    found = read_article(path)
    assert (found.title, found.source, found.author, found.editor) == (
        title,
        None,
        "王晓明、李华",
        "张三",
    )
    assert found.body == "<p>a1 第一段。</p>\n<p>第二段。</p>"


DAMAGED = {
    "no front matter": b"<p>text</p>\n",
    "unterminated front matter": b"---\ntitle: x\n",
    "bad front matter": b"---\ntitle: [x\n---\n<p>x</p>\n",
    "front matter is not a mapping": b"---\n- a\n---\n<p>x</p>\n",
    "codec can't decode": b"---\ntitle: \xff\n---\n",
    "no source_url, article_id in the front matter": (
        b"---\ntitle: x\ndate: 2026-01-01 08:00:00 +0800\ncategories: c\n---\n<p>x</p>\n"
    ),
    "unreadable date 'someday'": (
        b"---\ntitle: x\ndate: someday\ncategories: c\nsource_url: http://a/b\n"
        b"article_id: b\n---\n<p>x</p>\n"
    ),
}


def test_damaged_posts_are_skipped_with_a_warning(tmp_path, caplog):
    write_archive(tmp_path, [article("a1"), article("a2")], ARCHIVE_IMAGES=False)
    day = tmp_path / "_posts" / "2026" / "01" / "01"
    for n, content in enumerate(DAMAGED.values()):
        (day / f"2026-01-01-damaged{n}.md").write_bytes(content)
    (day / ".2026-01-01-a9.md.123.abcd.tmp").write_bytes(b"half")
    (day / ".hidden.md").write_bytes(b"half")
    with caplog.at_level(logging.WARNING, logger="crawler.archive.reader"):
        assert ids(iter_articles(tmp_path)) == ["a2", "a1"]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == len(DAMAGED)
    for n, reason in enumerate(DAMAGED):
        (line,) = [w for w in warnings if f"damaged{n}.md" in w]
        assert line.startswith(f"Skipped {day}/2026-01-01-damaged{n}.md: ") and reason in line


def test_folders_outside_the_range_are_not_opened(caplog, tmp_path):
    later = tmp_path / "archive"
    write_archive(later, [article("a1"), article("a5")], ARCHIVE_IMAGES=False)
    stray = later / "_posts" / "2027" / "03" / "01" / "2027-03-01-stray.md"
    stray.write_bytes(b"damaged")  # read only if its year is opened
    (later / "_posts" / "notes").mkdir()
    with caplog.at_level(logging.WARNING):
        assert ids(iter_articles(later, until=date(2026, 12, 31))) == ["a1"]
        articles = iter_articles(later)
        assert next(articles).article_id == "a1"  # lazy: the 2027 folder is not read yet
    assert caplog.records == []
    with caplog.at_level(logging.WARNING):
        assert ids(articles) == ["a5"]
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [f"Skipped {stray}"]


def test_bad_arguments_say_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="no time zone"):
        list(iter_articles(tmp_path, since=datetime(2026, 1, 1)))
    with pytest.raises(FileNotFoundError, match="no archive folder"):
        list(iter_articles(tmp_path / "missing"))
    assert list(iter_articles(tmp_path)) == []  # an archive with no posts yet


def test_the_documented_example_prints_the_month_it_asks_for(tmp_path):
    """docs/archive-format.md's example, run as a script in a folder with an ``archive``."""
    doc = (PROJECT / "docs" / "archive-format.md").read_text(encoding="utf-8")
    example = doc.split("## Reading the archive from Python", 1)[1].split("```python\n")[1]
    example = example.split("```", 1)[0]
    in_may = {
        "a1": datetime(2026, 5, 1, 0, 0, tzinfo=BEIJING),
        "a2": datetime(2026, 5, 31, 23, 59, tzinfo=BEIJING),
    }
    outside = {
        "a3": datetime(2026, 4, 30, 23, 59, tzinfo=BEIJING),
        "a4": datetime(2026, 6, 1, tzinfo=BEIJING),
    }
    paths = write_archive(
        tmp_path / "archive",
        [article(key, published=published) for key, published in (in_may | outside).items()],
        ARCHIVE_IMAGES=False,
    )
    result = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        f"{published.isoformat()} xinhuashe 标题 {key} {path.relative_to(tmp_path)}"
        for (key, published), path in zip(in_may.items(), paths[: len(in_may)], strict=True)
    ]
