"""Real crawls: ``scrapy crawl`` / ``scrape`` / ``demo`` in subprocesses against the bundled
demo site, replayed at its real URLs by a proxy on 127.0.0.1."""

import os
import re
from pathlib import Path

from conftest import DEMO_SITE, FIXTURES, LOCAL, PROJECT, read_post, run_scrapy

START_URLS = ",".join((DEMO_SITE / "start_urls.txt").read_text().split())
MULTI_PAGE = "http://www.news.cn/politics/20260511/b14e6f8a2c9d4730a5e1f9c62d8b3a07/c.html"
OLD_LAYOUT = "http://www.xinhuanet.com/world/2019-11/18/c_1125243817.htm"
NO_DATE = "http://www.news.cn/politics/20260515/e3a7c5019f6d4b2a8e0c7f5d3b9a1c84/c.html"


def posts(archive):
    return sorted((archive / "_posts").rglob("*.md"))


def test_crawl_archives_the_demo_site(tmp_path, replay):
    archive = tmp_path / "archive"
    result = run_scrapy(
        "crawl",
        "xinhua",
        "-a",
        f"start_urls={START_URLS}",
        "-s",
        f"ARCHIVE_DIR={archive}",
        *LOCAL,
        # Without the incremental filter the article linked under two URLs is fetched
        # twice, and the deduplication stage must catch it.
        "-s",
        "INCREMENTAL_ENABLED=False",
        proxy=replay(DEMO_SITE),
    )
    assert result.returncode == 0, result.stderr
    files = posts(archive)
    assert len(files) == 7
    ids = [path.stem[11:] for path in files]
    assert len(set(ids)) == len(ids)  # the article linked under two URLs is archived once
    for path in files:
        meta, body = read_post(path)
        assert path.name == f"{str(meta['date'])[:10]}-{meta['article_id']}.md"
        assert path.parent.relative_to(archive / "_posts").as_posix() == str(meta["date"])[
            :10
        ].replace("-", "/")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800", str(meta["date"]))
        assert meta["title"] and "新华网" not in meta["title"]
        assert body.count("<p>") >= 2
        assert "<script" not in body and "Play Video" not in body and "责任编辑" not in body
    # The two pages of the multi-page article are one file, in order.
    (multi,) = [p for p in files if "b14e6f8a" in p.name]
    _, body = read_post(multi)
    assert body.count("<p>") == 6 and body.index("展览分为") < body.index("据悉")
    # Drops are counted by reason in the stats and logged with the URL.
    assert "'item_dropped_reasons_count/MissingDate': 1" in result.stderr
    assert "'item_dropped_reasons_count/DuplicateArticle': 1" in result.stderr
    assert f"Dropped (MissingDate): no publication date found <{NO_DATE}>" in result.stderr


def test_demo_command_crawls_into_archive_dir(tmp_path):
    archive = tmp_path / "archive"
    result = run_scrapy("demo", "-s", f"ARCHIVE_DIR={archive}")
    assert result.returncode == 0, result.stderr
    # Links to articles this run archived already are not "skipped as already archived".
    assert "7 new, 0 updated, 0 unchanged, 0 moved, 0 skipped" in result.stdout
    assert "1 MissingDate" in result.stdout  # the duplicate URL is skipped or dropped, by timing
    assert len(posts(archive)) == 7
    # The second run fetches list pages only: every article is already archived.
    again = run_scrapy("demo", "-s", f"ARCHIVE_DIR={archive}")
    assert "0 new, 0 updated, 0 unchanged, 0 moved, 7 skipped as already archived" in again.stdout


def test_demo_says_what_it_wrote_why_it_dropped_and_what_next(tmp_path):
    archive = tmp_path / "archive"
    first = run_scrapy("demo", "-s", f"ARCHIVE_DIR={archive}")
    assert "Written by this run: 7 post(s)" in first.stdout
    assert all(f"  {path}" in first.stdout for path in posts(archive))
    assert "plants two pages that must not be archived" in first.stdout
    assert first.stdout.rstrip().splitlines()[-1].startswith(f"Next: cd {archive} && jekyll serve")
    # A re-run writes nothing, so it lists no file.
    again = run_scrapy("demo", "-s", f"ARCHIVE_DIR={archive}")
    assert "Written by this run: 0 post(s)" in again.stdout
    assert str(archive / "_posts") not in again.stdout


def test_scrape_prints_paths_and_fails_on_bad_urls(tmp_path, replay):
    archive = tmp_path / "archive"
    missing = "http://www.news.cn/politics/20260101/00000000000000000000000000000000/c.html"
    result = run_scrapy(
        "scrape",
        OLD_LAYOUT,
        NO_DATE,
        missing,
        "-s",
        f"ARCHIVE_DIR={archive}",
        proxy=replay(DEMO_SITE),
    )
    assert result.returncode == 1
    (written,) = posts(archive)
    assert result.stdout.split() == [str(written)]
    assert f"not archived: {NO_DATE}: MissingDate" in result.stderr
    assert f"not archived: {missing}: " in result.stderr


def test_scrape_stdout_writes_no_file(tmp_path, replay):
    archive = tmp_path / "archive"
    result = run_scrapy(
        "scrape", "--stdout", MULTI_PAGE, "-s", f"ARCHIVE_DIR={archive}", proxy=replay(DEMO_SITE)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('---\nlayout: post\ntitle: "千年瓷韵进社区')
    assert f"<{MULTI_PAGE}>" in result.stdout
    assert not archive.exists()


def test_rescrape_leaves_unchanged_file_alone_and_rewrites_changed(tmp_path, replay):
    site = tmp_path / "site"
    page = site / "www.xinhuanet.com" / "world" / "2019-11" / "18" / "c_1125243817.htm"
    page.parent.mkdir(parents=True)
    page.write_bytes(
        (
            DEMO_SITE / "www.xinhuanet.com" / "world" / "2019-11" / "18" / "c_1125243817.htm"
        ).read_bytes()
    )
    proxy = replay(site)
    archive = tmp_path / "archive"
    run_scrapy("scrape", OLD_LAYOUT, "-s", f"ARCHIVE_DIR={archive}", proxy=proxy)
    (path,) = posts(archive)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    before = path.read_bytes()

    run_scrapy("scrape", OLD_LAYOUT, "-s", f"ARCHIVE_DIR={archive}", proxy=proxy)
    assert path.read_bytes() == before and path.stat().st_mtime == 1_000_000_000

    page.write_text(
        page.read_text(encoding="utf-8").replace("</p>", "（更正）</p>", 1), encoding="utf-8"
    )
    run_scrapy("scrape", OLD_LAYOUT, "-s", f"ARCHIVE_DIR={archive}", proxy=proxy)
    assert "（更正）" in path.read_text(encoding="utf-8")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


def test_scrapy_list_shows_a_spider_per_site_profile():
    listed = run_scrapy("list", cwd=PROJECT).stdout.split()
    profiles = {path.stem for path in (PROJECT / "crawler" / "sites").glob("*.yaml")}
    # What `scrapy crawl` takes: the spider behind `scrapy scrape` is not one of them.
    assert set(listed) == profiles - {"generic"}


def test_scrape_decodes_real_gbk_and_mislabelled_utf8(tmp_path, replay):
    """Both pages declare gb2312: one is really GBK bytes, the other UTF-8 re-saved."""
    page = (FIXTURES / "generic" / "table-layout.html").read_text(encoding="utf-8")
    site = tmp_path / "site" / "www.example-county.gov.cn" / "xwzx"
    site.mkdir(parents=True)
    (site / "gbk.htm").write_bytes(page.encode("gbk"))
    (site / "utf8.htm").write_bytes(page.encode("utf-8"))
    archive = tmp_path / "archive"
    urls = [f"http://www.example-county.gov.cn/xwzx/{name}.htm" for name in ("gbk", "utf8")]
    result = run_scrapy(
        "scrape", *urls, "-s", f"ARCHIVE_DIR={archive}", proxy=replay(tmp_path / "site")
    )
    assert result.returncode == 0, result.stderr
    for path in result.stdout.split():
        meta, body = read_post(Path(path))
        assert meta["title"] == "县里召开春季防汛工作会议"
        assert meta["source"] == "县水利局"
        assert "隐患排查" in body


def test_images_are_kept_locally_and_failures_keep_their_url(tmp_path, replay):
    archive = tmp_path / "archive"
    with_image = "http://www.news.cn/politics/20260511/7d2c9a41e6b84f0d9c35a1e8b0f47d62/c.html"
    summary = tmp_path / "summary.json"
    result = run_scrapy(
        "scrape", with_image, "-s", f"ARCHIVE_DIR={archive}", proxy=replay(DEMO_SITE)
    )
    assert result.returncode == 0, result.stderr
    body = read_post(Path(result.stdout.split()[0]))[1]
    (local,) = re.findall(r'<img src="([^"]+)">', body)
    assert local.startswith("/assets/images/") and (archive / local.lstrip("/")).is_file()

    hostile = "http://www.news.cn/politics/20260601/aaaa0000bbbb1111cccc2222dddd3333/c.html"
    result = run_scrapy(
        "scrape",
        hostile,
        "-s",
        f"ARCHIVE_DIR={archive}",
        "-s",
        f"RUN_SUMMARY_FILE={summary}",
        "-L",
        "INFO",
        proxy=replay(FIXTURES / "hostile"),
    )
    assert result.returncode == 0, result.stderr
    body = read_post(Path(result.stdout.split()[0]))[1]
    assert (
        '<img src="http://www.news.cn/politics/20260601/aaaa0000bbbb1111cccc2222dddd3333/x.jpg">'
        in body
    )
    assert "'images/failed': 1" in result.stderr
