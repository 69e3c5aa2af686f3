"""``scrapy buildsite``: the site built in parts of whole days plus a root, with Debian's jekyll
(runs in CI, which installs it), equal to what a plain ``jekyll build`` makes of the posts, and
``--changed`` rebuilding only the parts whose posts or templates changed."""

import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from conftest import read_post, require, run_scrapy, write_archive
from site_checks import Page, parsed_feed, resolve, text_of

from crawler.archive.sitebuild import (
    Day,
    Post,
    SiteBuilder,
    archive_months,
    newest_posts,
    scan_days,
)
from crawler.items import Article
from crawler.reading.dates import BEIJING

JEKYLL = shutil.which("jekyll")
NO_JEKYLL = "jekyll is not installed (apt-get install -y jekyll)"
SOURCES = [("新华网", "xinhuawang", "新华网新闻"), ("新华社", "xinhuashe", "新华社新闻"),
           ("经济参考报", "jingjicankaobao", "经济参考报新闻")]  # fmt: skip
# Posts per day: with parts of at most 4 posts, Jan 30-31 are one part, Feb 1-2 another,
# Feb 15 (5 posts) a part of its own, Mar 1 the last; a part never spans two months.
DAYS = {(2026, 1, 30): 2, (2026, 1, 31): 1, (2026, 2, 1): 3, (2026, 2, 2): 1,
        (2026, 2, 15): 5, (2026, 3, 1): 2}  # fmt: skip
PARTS = ["2026-01-30_31", "2026-02-01_02", "2026-02-15", "2026-03-01", "root"]


def article(n: int, day: tuple[int, int, int], title: str = "") -> Article:
    source, category, tag = SOURCES[n % len(SOURCES)]
    return Article(
        url=f"http://www.news.cn/politics/{n:04d}/c_{n:04d}.htm",
        site="xinhua",
        article_id=f"c_{n:04d}",
        title=title or f"第{n}篇报道",
        published=datetime(*day, 8 + n % 12, n % 60, tzinfo=BEIJING),
        source=source,
        paragraphs=[f"<p>第{n}篇的正文。</p>"],
        category=category,
        tag=tag,
    )


def articles() -> list[Article]:
    days = [day for day, count in DAYS.items() for _ in range(count)]
    return [article(n, day) for n, day in enumerate(days)]


def make_archive(folder: Path) -> Path:
    archive = folder / "archive"
    write_archive(archive, articles(), ARCHIVE_CATALOG=False, ARCHIVE_IMAGES=False)
    (archive / "assets" / "images").mkdir(parents=True)
    (archive / "assets" / "images" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    return archive


def buildsite(archive: Path, *options: str) -> subprocess.CompletedProcess[str]:
    result = run_scrapy(
        "buildsite", *options, "-s", f"ARCHIVE_DIR={archive}", "-s", "BUILDSITE_PART_POSTS=4"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = (result.stdout + result.stderr).lower()
    assert "warn" not in output and "error" not in output and "deprecat" not in output, output
    return result


def built_parts(result: subprocess.CompletedProcess[str]) -> list[str]:
    return re.findall(r"^\[\d+/\d+\] (\S+):", result.stdout, re.M)


def post_page(archive: Path, post: Path) -> Path:
    """Where the permalink (/:categories/:year/:month/:day/:title.html) puts a post's page."""
    category = read_post(post)[0]["categories"]
    year, month, day, slug = post.stem.split("-", 3)
    return archive / "_site" / category / year / month / day / f"{slug}.html"


def posts_of(archive: Path) -> list[Path]:
    return sorted((archive / "_posts").rglob("*.md"))


@pytest.fixture(scope="module")
def parted(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    require(JEKYLL is not None, NO_JEKYLL)
    archive = make_archive(tmp_path_factory.mktemp("parted"))
    return archive, buildsite(archive)


@pytest.fixture(scope="module")
def plain(parted) -> Path:
    """The same archive built whole by a plain ``jekyll build``."""
    archive, _ = parted
    destination = archive.parent / "plain"
    assert JEKYLL is not None
    subprocess.run(
        [JEKYLL, "build", "--source", str(archive), "--destination", str(destination)],
        capture_output=True,
        check=True,
    )
    return destination


def test_the_site_is_built_in_parts_of_whole_days(parted):
    _, result = parted
    assert sorted(built_parts(result)) == sorted(PARTS)
    assert "Built " in result.stdout and "5 of 5 parts (14 posts" in result.stdout


def test_pages_are_those_a_plain_build_makes(parted, plain):
    archive, _ = parted
    site = archive / "_site"
    pages = [post_page(archive, post).relative_to(site) for post in posts_of(archive)]
    pages += [Path("index.html"), Path("feed.xml")]
    pages += [
        Path("category", f"{slug}.{kind}") for _, slug, _ in SOURCES for kind in ("html", "xml")
    ]
    for page in pages:
        assert (site / page).read_bytes() == (plain / page).read_bytes(), page


def test_every_link_of_the_site_resolves(parted):
    archive, _ = parted
    site = archive / "_site"
    pages = sorted(site.rglob("*.html"))
    assert len(pages) == 14 + len(DAYS) + 2 + len(
        SOURCES
    )  # posts, days, home and by-date, categories
    for page in pages:
        parsed = Page(page.read_text(encoding="utf-8"))
        for href in [*parsed.links, *parsed.feeds]:
            if not href.startswith("http"):
                assert resolve(site, page, href).is_file(), f"{href} in {page}"
    for post in posts_of(archive):  # the seed's back links: its category's page and the home
        links = Page(post_page(archive, post).read_text(encoding="utf-8")).links
        assert f"/category/{read_post(post)[0]['categories']}.html" in links and "/" in links


def test_home_categories_and_feeds_list_the_posts(parted):
    archive, _ = parted
    site = archive / "_site"
    home = text_of((site / "index.html").read_text(encoding="utf-8"))
    titles: dict[str, set[str]] = {}
    for post in posts_of(archive):
        meta, _ = read_post(post)
        assert meta["title"] in home
        titles.setdefault(meta["categories"], set()).add(meta["title"])
    for category, expected in titles.items():
        page = text_of((site / "category" / f"{category}.html").read_text(encoding="utf-8"))
        assert all(title in page for title in expected)
        feed = parsed_feed(site / "category" / f"{category}.xml")
        assert {entry.title for entry in feed.entries} == expected
    assert len(parsed_feed(site / "feed.xml").entries) == 14


def test_by_date_pages_list_each_day(parted):
    archive, _ = parted
    site = archive / "_site"
    index = Page((site / "archive.html").read_text(encoding="utf-8"))
    days = [f"/archive/{y}/{m:02d}/{d:02d}.html" for y, m, d in sorted(DAYS, reverse=True)]
    assert [href for href in index.links if href.startswith("/archive/")] == days
    assert [f"{count} 篇" for _, count in sorted(DAYS.items(), reverse=True)] == re.findall(
        r"\d+ 篇", "".join(index.text)
    )
    for (y, m, d), count in DAYS.items():
        text = text_of((site / "archive" / f"{y}/{m:02d}/{d:02d}.html").read_text(encoding="utf-8"))
        posts = list((archive / "_posts" / f"{y}/{m:02d}/{d:02d}").glob("*.md"))
        assert len(posts) == count
        assert all(read_post(post)[0]["title"] in text for post in posts)


def test_images_are_linked_into_the_site(parted):
    archive, _ = parted
    image = archive / "_site" / "assets" / "images" / "photo.jpg"
    assert image.samefile(archive / "assets" / "images" / "photo.jpg")


def test_changed_rebuilds_only_the_parts_that_changed(tmp_path):
    require(JEKYLL is not None, NO_JEKYLL)
    archive = make_archive(tmp_path)
    buildsite(archive)
    posts = posts_of(archive)
    untouched = post_page(archive, posts[5])  # Feb 1-2
    inode = untouched.stat().st_ino
    gone = posts[-1]  # Mar 1
    gone_page = post_page(archive, gone)
    write_archive(
        archive,
        [article(0, (2026, 1, 30), title="更正后的标题"), article(90, (2026, 2, 16))],
        ARCHIVE_CATALOG=False,
        ARCHIVE_IMAGES=False,
    )
    gone.unlink()

    result = buildsite(archive, "--changed")

    assert sorted(built_parts(result)) == ["2026-01-30_31", "2026-02-16", "2026-03-01", "root"]
    assert untouched.stat().st_ino == inode  # not rewritten
    assert not gone_page.exists()
    edited = post_page(archive, posts[0]).read_text(encoding="utf-8")
    assert "更正后的标题" in text_of(edited)
    new = next((archive / "_posts" / "2026" / "02" / "16").glob("*.md"))
    assert "第90篇报道" in text_of(post_page(archive, new).read_text(encoding="utf-8"))
    home = text_of((archive / "_site" / "index.html").read_text(encoding="utf-8"))
    assert "第90篇报道" in home and "更正后的标题" in home
    assert (archive / "_site" / "archive" / "2026" / "02" / "16.html").is_file()

    assert built_parts(buildsite(archive, "--changed")) == []  # nothing changed since
    layout = archive / "_layouts" / "post.html"
    layout.write_text(layout.read_text(encoding="utf-8") + "<!-- 改过 -->\n", encoding="utf-8")
    assert len(built_parts(buildsite(archive, "--changed"))) == 6  # every part uses it
    assert "<!-- 改过 -->" in untouched.read_text(encoding="utf-8")


def test_a_full_build_removes_what_no_part_makes(tmp_path):
    require(JEKYLL is not None, NO_JEKYLL)
    archive = make_archive(tmp_path)
    stale = archive / "_site" / "xinhuawang" / "2020" / "01" / "01" / "old.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("left by an earlier build", encoding="utf-8")
    kept = archive / "_site" / ".git" / "HEAD"
    kept.parent.mkdir()
    kept.write_text("ref: refs/heads/main\n", encoding="utf-8")
    buildsite(archive)
    assert not stale.exists() and not (archive / "_site" / "xinhuawang" / "2020").exists()
    assert kept.exists()  # Jekyll's keep_files


def test_without_jekyll_buildsite_says_so_in_one_line(tmp_path):
    archive = make_archive(tmp_path)
    result = run_scrapy(
        "buildsite", "-s", f"ARCHIVE_DIR={archive}", "-s", "BUILDSITE_JEKYLL=/nonexistent/jekyll"
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("jekyll not found ('/nonexistent/")
    assert not (archive / "_site").exists()


def day(key: str, *posts: tuple[str, float, list[str]]) -> Day:
    return Day(key, f"fp-{key}", [Post(*post) for post in posts])


def test_parts_are_whole_days_of_one_month(tmp_path):
    days = [
        day("2026/01/30", ("a", 1, [])),
        day("2026/01/31", ("b", 2, []), ("c", 3, [])),
        day("2026/02/01", ("d", 4, [])),
        day("2026/02/02", *[(f"e{n}", 5 + n, []) for n in range(5)]),  # more than a part
        day("2026/02/03", ("f", 20, [])),
        day("2026/02/04", ("g", 21, [])),
    ]
    parts = SiteBuilder(tmp_path, part_posts=3).plan(days)
    assert [part.name for part in parts] == [
        "2026-01-30_31",
        "2026-02-01",
        "2026-02-02",
        "2026-02-03_04",
        "root",
    ]
    assert len({part.fingerprint for part in parts}) == len(parts)


def test_a_part_fingerprint_moves_with_its_days_only(tmp_path):
    days = [day("2026/01/30", ("a", 1, [])), day("2026/01/31", ("b", 2, []))]
    before = SiteBuilder(tmp_path, part_posts=1).plan(days)
    days[1].fingerprint = "changed"
    after = SiteBuilder(tmp_path, part_posts=1).plan(days)
    assert [p.fingerprint == q.fingerprint for p, q in zip(before, after, strict=True)] == [
        True,  # Jan 30
        False,  # Jan 31
        False,  # the root: the newest posts and the by-date index
    ]


def test_the_root_sees_the_newest_posts_and_the_newest_of_each_category():
    days = [
        day("2026/01/01", ("old-rare", 1, ["rare"]), ("old-common", 2, ["common"])),
        day("2026/01/02", *[(f"c{n}", 10 + n, ["common"]) for n in range(4)]),
    ]
    chosen = [post.name for _day, post in newest_posts(days, 2)]
    assert chosen == ["c3", "c2", "old-rare"]  # the newest 2, and rare's newest


def test_by_date_index_is_newest_first():
    days = [day("2026/01/31", ("a", 1, [])), day("2026/02/01", ("b", 2, []), ("c", 3, []))]
    assert archive_months(days) == [
        {"month": "2026-02", "days": [{"date": "2026-02-01", "url": "/archive/2026/02/01.html", "posts": 2}]},
        {"month": "2026-01", "days": [{"date": "2026-01-31", "url": "/archive/2026/01/31.html", "posts": 1}]},
    ]  # fmt: skip


def test_unchanged_day_folders_are_not_read_again(tmp_path):
    archive = make_archive(tmp_path)
    first = scan_days(archive / "_posts", {})
    known = {
        d.key: {
            "fingerprint": d.fingerprint,
            "posts": [[p.name, 0.0, ["remembered"]] for p in d.posts],
        }
        for d in first
    }
    again = scan_days(archive / "_posts", known)
    assert {c for d in again for p in d.posts for c in p.categories} == {"remembered"}
    assert [d.key for d in again] == [
        "2026/01/30",
        "2026/01/31",
        "2026/02/01",
        "2026/02/02",
        "2026/02/15",
        "2026/03/01",
    ]
