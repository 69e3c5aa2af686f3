"""Scheduled crawls (issue: incremental, resumable, idempotent, with a catalog): real
``scrapy crawl`` subprocesses against a generated site whose content changes between runs."""

import json
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from archive_checks import exported_lines
from conftest import LOCAL, crawl_args, read_post, run_scrapy, scrapy_command, scrapy_env
from test_run_reports import assert_summary_last

from benchmarks.sitegen import article, generate
from crawler.archive.catalog import Catalog
from crawler.archive.lock import acquire


def crawl(archive: Path, start_urls: list[str], proxy, *settings: str, summary: Path | None = None):
    summary = summary or archive.parent / "summary.json"
    result = run_scrapy(
        *crawl_args(archive, start_urls, "-s", f"RUN_SUMMARY_FILE={summary}", *LOCAL, *settings),
        proxy=proxy,
    )
    data = json.loads(summary.read_text()) if summary.exists() else None
    return result, data


def posts(archive: Path) -> list[Path]:
    return sorted((archive / "_posts").rglob("*.md"))


def assert_consistent(archive: Path, expected: int) -> None:
    """Every file parses, none is partial or temporary, and the catalog agrees with them."""
    files = posts(archive)
    assert len(files) == expected
    assert not [p for p in (archive / "_posts").rglob(".*")], "temporary files left behind"
    for path in files:
        _, body = read_post(path)
        assert body.rstrip().endswith("[返回首页](/)")
    catalog = Catalog(archive)
    try:
        indexed = {entry.path for entry in catalog.entries()}
    finally:
        catalog.close()
    assert indexed == {p.relative_to(archive).as_posix() for p in files}


def test_second_run_fetches_list_pages_only(tmp_path, replay):
    urls = generate(tmp_path / "site", 40)
    proxy = replay(tmp_path / "site")
    archive = tmp_path / "archive"
    first, summary = crawl(archive, urls, proxy)
    assert first.returncode == 0, first.stderr
    assert (summary["status"], summary["new"]) == ("ok", 40)
    mtimes = {p: p.stat().st_mtime_ns for p in posts(archive)}

    proxy.requests.clear()
    second, summary = crawl(archive, urls, proxy)
    assert second.returncode == 0, second.stderr
    assert summary["skipped"] == 40 and summary["new"] == summary["updated"] == 0
    assert sorted(proxy.requests) == sorted(["http://www.news.cn/robots.txt", *urls])
    assert {p: p.stat().st_mtime_ns for p in posts(archive)} == mtimes
    assert_consistent(archive, 40)


def test_new_edited_and_removed_articles(tmp_path, replay):
    site = tmp_path / "site"
    urls = generate(site, 30)
    proxy = replay(site)
    archive = tmp_path / "archive"
    crawl(archive, urls, proxy)
    edited = article(3)
    edited_path = next(p for p in posts(archive) if edited.article_id in p.name)
    untouched = next(p for p in posts(archive) if article(4).article_id in p.name)
    untouched_mtime = untouched.stat().st_mtime_ns

    generate(site, 34, version=2, edited={3}, removed={5})  # 4 new, 1 corrected, 1 gone
    # A revisit window reaching back to the articles' dates: every article is fetched again.
    result, summary = crawl(archive, urls, proxy, "-s", "INCREMENTAL_REVISIT_DAYS=100000")
    assert result.returncode == 0, result.stderr
    assert (summary["new"], summary["updated"], summary["unchanged"]) == (4, 1, 28)
    assert "更正" in edited_path.read_text(encoding="utf-8")
    assert untouched.stat().st_mtime_ns == untouched_mtime
    assert any(
        article(5).article_id in p.name for p in posts(archive)
    )  # removed upstream, kept here
    catalog = Catalog(archive)
    try:
        assert len(catalog.revisions("xinhua", edited.article_id)) == 2
        assert len(catalog.revisions("xinhua", article(4).article_id)) == 1
    finally:
        catalog.close()
    assert_consistent(archive, 34)
    lines = exported_lines(archive)
    assert len(lines) == 34
    assert {
        "article_id",
        "site",
        "url",
        "title",
        "published",
        "source",
        "category",
        "path",
        "content_hash",
        "first_archived",
        "last_changed",
        "revisions",
    } <= set(json.loads(lines[0]))


def test_one_article_one_file_under_url_variants(tmp_path, replay):
    site = tmp_path / "site"
    generate(site, 3)
    item = article(0)
    path = item.url.removeprefix("http://www.news.cn")
    mobile = site / "m.news.cn" / path.lstrip("/")
    mobile.parent.mkdir(parents=True)
    mobile.write_bytes((site / "www.news.cn" / path.lstrip("/")).read_bytes())
    no_column = "/" + "/".join(path.strip("/").split("/")[1:])
    bare = site / "www.news.cn" / no_column.lstrip("/")
    bare.parent.mkdir(parents=True)
    bare.write_bytes(mobile.read_bytes())
    variants = [
        f"http://m.news.cn{path}",
        f"{item.url}?utm_source=wechat&from=timeline#top",
        f"http://www.news.cn{no_column}",
        item.url,
    ]
    links = "".join(f'<a href="{url}">v</a>' for url in variants)
    (site / "www.news.cn" / "variants").mkdir()
    (site / "www.news.cn" / "variants" / "index.html").write_text(
        f"<html><body>{links}</body></html>"
    )
    proxy = replay(site)
    archive = tmp_path / "archive"
    result, summary = crawl(archive, ["http://www.news.cn/variants/"], proxy)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in posts(archive)] == [f"{item.published:%Y-%m-%d}-{item.article_id}.md"]
    first_url = read_post(posts(archive)[0])[0]["source_url"]
    # A later run that meets another variant first keeps the same file and URL.
    result, summary = crawl(
        archive, ["http://www.news.cn/variants/"], proxy, "-s", "INCREMENTAL_ENABLED=False"
    )
    assert len(posts(archive)) == 1 and summary["unchanged"] == 1
    assert read_post(posts(archive)[0])[0]["source_url"] == first_url


def test_killed_crawl_resumes_with_nothing_lost(tmp_path, replay):
    urls = generate(tmp_path / "site", 120)
    proxy = replay(tmp_path / "site")
    archive = tmp_path / "archive"
    args = [
        "crawl",
        "xinhua",
        "-a",
        "start_urls=" + ",".join(urls),
        "-s",
        f"ARCHIVE_DIR={archive}",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        "DOWNLOAD_DELAY=0.01",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=2",
    ]
    process = subprocess.Popen(
        scrapy_command(*args),
        env=scrapy_env(proxy),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(posts(archive)) < 15 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < len(posts(archive)) < 120
    for path in posts(archive):
        read_post(path)  # complete files only
    result, _ = crawl(archive, urls, proxy)
    assert result.returncode == 0, result.stderr
    assert_consistent(archive, 120)


def test_jobdir_pause_and_resume(tmp_path, replay):
    urls = generate(tmp_path / "site", 80)
    proxy = replay(tmp_path / "site")
    archive, jobdir = tmp_path / "archive", tmp_path / "job"
    args = [
        "crawl",
        "xinhua",
        "-a",
        "start_urls=" + ",".join(urls),
        "-s",
        f"ARCHIVE_DIR={archive}",
        "-s",
        f"JOBDIR={jobdir}",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        "DOWNLOAD_DELAY=0.02",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=1",
    ]
    process = subprocess.Popen(
        scrapy_command(*args),
        env=scrapy_env(proxy),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(posts(archive)) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # Scrapy's graceful stop: the queue stays in JOBDIR
    _, stderr = process.communicate(timeout=60)
    assert "shutdown" in stderr.lower() or "Closing spider (shutdown)" in stderr
    paused = len(posts(archive))
    assert paused < 80
    result = run_scrapy(*args, proxy=proxy)
    assert result.returncode == 0, result.stderr
    assert_consistent(archive, 80)


def test_overlapping_run_exits_at_once_or_waits(tmp_path, replay):
    urls = generate(tmp_path / "site", 5)
    proxy = replay(tmp_path / "site")
    archive = tmp_path / "archive"
    holder = acquire(archive, 0)
    try:
        result, summary = crawl(archive, urls, proxy)
        assert result.returncode == 1
        assert "is in use by pid" in result.stderr and "ARCHIVE_LOCK_WAIT" in result.stderr
        assert summary["status"] == "failed" and summary["finish_reason"] == "archive_locked"
        # stopped as it opened, the run still ends with its summary, after Scrapy's closing
        assert "[scrapy.core.engine] INFO: Spider closed (archive_locked)" in result.stderr
        assert_summary_last(result.stderr)
        assert posts(archive) == []
        threading.Timer(1.0, holder.close).start()
        result, summary = crawl(archive, urls, proxy, "-s", "ARCHIVE_LOCK_WAIT=30")
        assert result.returncode == 0, result.stderr
        assert summary["new"] == 5
    finally:
        holder.close()


def test_run_that_archives_nothing_and_fails_exits_non_zero(tmp_path, replay):
    site = tmp_path / "site"
    urls = generate(site, 3)
    for path in site.rglob("c*.htm*"):
        path.unlink()  # every article 404s
    result, summary = crawl(tmp_path / "archive", urls, replay(site))
    assert result.returncode == 1
    assert summary["status"] == "failed" and summary["errors"] == 3


def test_progress_line_reports_archived_articles(tmp_path, replay):
    urls = generate(tmp_path / "site", 30)
    result, _ = crawl(
        tmp_path / "archive",
        urls,
        replay(tmp_path / "site"),
        "-s",
        "LOGSTATS_INTERVAL=0.2",
        "-s",
        "DOWNLOAD_DELAY=0.03",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=1",
    )
    assert "archived" in result.stderr and "/min)" in result.stderr


def test_reindex_rebuilds_the_catalog_from_files(tmp_path, replay):
    urls = generate(tmp_path / "site", 12)
    archive = tmp_path / "archive"
    crawl(archive, urls, replay(tmp_path / "site"))
    catalog = Catalog(archive)
    before = {
        (e.site, e.article_id, e.url, e.title, e.published, e.path, e.content_hash)
        for e in catalog.entries()
    }
    catalog.close()
    shutil.rmtree(archive / "_catalog")

    result = run_scrapy("reindex", "-s", f"ARCHIVE_DIR={archive}")
    assert result.returncode == 0, result.stderr
    assert "Indexed 12 articles" in result.stdout
    catalog = Catalog(archive)
    after = {
        (e.site, e.article_id, e.url, e.title, e.published, e.path, e.content_hash)
        for e in catalog.entries()
    }
    catalog.close()
    assert after == before
    exported = run_scrapy("catalog", "-s", f"ARCHIVE_DIR={archive}").stdout.splitlines()
    assert len(exported) == 12


def test_a_crawl_after_the_catalog_was_deleted_loses_nothing(tmp_path, replay):
    """The probe of issue 12 found this held: the posts stay as they were, and the catalog
    is whole again after the next crawl."""
    urls = generate(tmp_path / "site", 12)
    proxy = replay(tmp_path / "site")
    archive = tmp_path / "archive"
    crawl(archive, urls, proxy)
    before = {path: path.read_bytes() for path in posts(archive)}
    shutil.rmtree(archive / "_catalog")

    result, summary = crawl(archive, urls, proxy)
    assert result.returncode == 0, result.stderr
    assert (summary["new"], summary["unchanged"]) == (0, 12)
    assert {path: path.read_bytes() for path in posts(archive)} == before
    assert_consistent(archive, 12)


@pytest.mark.parametrize("broken", ["---\ntitle: [unclosed\n---\n<p>x</p>\n", "no front matter"])
def test_reindex_reports_unreadable_posts(tmp_path, broken):
    bad = tmp_path / "archive" / "_posts" / "2025" / "01" / "01" / "2025-01-01-x.md"
    bad.parent.mkdir(parents=True)
    bad.write_text(broken)
    result = run_scrapy("reindex", "-s", f"ARCHIVE_DIR={tmp_path / 'archive'}")
    assert result.returncode == 1 and "2025-01-01-x.md" in result.stderr


STALE_OK = '{"status": "ok"}\n'


@pytest.mark.parametrize(
    "command",
    [
        ["crawl", "xinhua"],
        ["scrape", "http://www.news.cn/x.htm"],
        ["demo"],
        ["reextract"],
        ["import", __file__],  # a file that is there: the archive is refused before it is read
        ["reindex"],
        ["catalog"],
        ["search", "经济"],
        ["verify"],
        ["buildsite"],
    ],
    ids=lambda command: command[0],
)
@pytest.mark.parametrize("archive_dir", ["", "  "])
def test_empty_archive_dir_is_refused_before_anything_is_written(
    tmp_path, monkeypatch, command, archive_dir
):
    work = tmp_path / "work"  # the current folder, where an empty path would write
    work.mkdir()
    summary = tmp_path / "summary.json"
    summary.write_text(STALE_OK)
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "crawler.settings")  # a project run from work/
    result = run_scrapy(
        *command, "-s", f"ARCHIVE_DIR={archive_dir}", "-s", f"RUN_SUMMARY_FILE={summary}", cwd=work
    )
    assert result.returncode == 2
    assert "error: ARCHIVE_DIR is empty" in result.stderr
    assert list(work.iterdir()) == []
    assert json.loads(summary.read_text())["finish_reason"] == "archive_dir_empty"
    assert json.loads(summary.read_text())["status"] == "failed"


def test_a_crawl_that_cannot_start_rewrites_a_stale_summary(tmp_path, replay):
    urls = generate(tmp_path / "site", 3)
    summary = tmp_path / "summary.json"
    summary.write_text(STALE_OK)
    result = run_scrapy(
        *crawl_args(tmp_path / "archive", urls, "-s", f"RUN_SUMMARY_FILE={summary}"),
        "-s",
        'ITEM_PIPELINES={"pipelines.missing.Pipeline": 100}',  # a component that cannot load
        proxy=replay(tmp_path / "site"),
        tracebacks_ok=True,  # a broken setting is a bug of its author: the traceback says where
    )
    assert result.returncode == 1
    written = json.loads(summary.read_text())
    assert (written["status"], written["finish_reason"]) == ("failed", "startup_failed")


def test_each_url_is_fetched_once_per_run(tmp_path, replay):
    # Column pages link each other (a navigation bar): the start pages must not be fetched
    # again when a column links them.
    urls = generate(tmp_path / "site", 250, linked_columns=True)
    assert len(urls) == 3
    proxy = replay(tmp_path / "site")
    result, summary = crawl(tmp_path / "archive", urls, proxy)
    assert result.returncode == 0, result.stderr
    assert summary["new"] == 250
    fetched = Counter(proxy.requests)
    assert [url for url, count in fetched.items() if count > 1] == []
    assert set(urls) <= set(fetched)
