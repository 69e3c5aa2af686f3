"""Data loss and escapes from the archive (issue 12, cases 1, 2, 3 and 13).

1. An article's identity includes its site: portal posts carry the site in their file name,
   pages read by the generic rules the host in their ID; no page replaces another site's
   article (``IdentityConflict``); ``scrapy reindex`` renames posts of older archives.
2. Writes, moves and deletes stay inside the archive's real folder: symbolic links planted
   in it (``_posts/<year>``, ``_catalog``, ``category``, ``.lock``) and catalog rows naming
   ``../x`` are refused.
3. A forbidden archive (EPERM, EACCES) stops the run like a full or read-only one.
13. A damaged catalog is set aside and rebuilt from the posts, at the start of a crawl and by
   ``scrapy reindex`` / ``scrapy catalog``.

Real ``scrapy`` subprocesses where the defect lives in a run; docs/reliability.md lists the
cases and outcomes.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from archive_checks import check_archive, posts, stats_of, summary_of
from conftest import (
    LOCAL,
    PROJECT,
    crawl_args,
    project_crawler,
    read_post,
    require,
    run_scrapy,
    scrapy_command,
    scrapy_env,
    write_archive,
)
from faultserver import PNG_IMAGE, Body, FaultProxy
from test_hostile_input import PARAGRAPHS, generic_page, scrape, xinhua_page, xinhua_url

from benchmarks import sitegen
from crawler.archive.atomic import OutsideArchive, write_atomically
from crawler.archive.catalog import DATABASE, Catalog, CatalogEntry, open_catalog
from crawler.archive.folder import Archive
from crawler.archive.jekyll import SiteScaffold
from crawler.archive.lock import acquire
from crawler.drops import IdentityConflict
from crawler.items import Article
from crawler.reading.dates import BEIJING
from crawler.reading.profiles import SiteProfiles
from pipelines.archive import ArchivePipeline

PUBLISHED = datetime(2024, 3, 8, 10, 15, tzinfo=BEIJING)  # generic_page()'s date
DAY = "_posts/2024/03/08"
NOBODY = 65534


def titles(archive: Path) -> dict[str, Path]:
    return {read_post(path)[0]["title"]: path for path in posts(archive)}


def catalog_paths(archive: Path) -> dict[tuple[str, str], str]:
    catalog = Catalog(archive)
    try:
        return {(e.site, e.article_id): e.path for e in catalog.entries()}
    finally:
        catalog.close()


def article(url: str, site: str, article_id: str, prefix: str = "", **changes) -> Article:
    fields = dict(
        url=url,
        site=site,
        article_id=article_id,
        post_prefix=prefix,
        title=f"{site} {article_id}",
        published=PUBLISHED,
        source="来源",
        paragraphs=["<p>正文。</p>"],
        category="news",
        tag="新闻",
    )
    return Article(**(fields | changes))


# --- 1. identity: site and host ---------------------------------------------------------------


def test_profiles_say_how_posts_are_named():
    profiles = SiteProfiles.from_folder()
    assert profiles["gmw"].post_prefix == "gmw"  # the default: the profile's name
    assert profiles["xinhua"].post_prefix == ""  # the seed's YYYY-MM-DD-<id>.md
    generic = profiles["generic"]
    assert (generic.post_prefix, generic.host_in_article_id) == ("", True)
    url = "http://www.site-a.org/news/content_12345.htm"
    assert generic.page_article_id(url) == "www-site-a-org-content_12345"
    assert generic.identity_host(url) == "www.site-a.org"
    assert profiles["gmw"].identity_host(url) == ""


def test_two_sites_articles_with_one_id_and_day_keep_two_files(tmp_path):
    gmw = "http://www.gmw.cn/x/2024-03/08/content_37300001.htm"
    china = "http://www.china.com.cn/x/2024-03/08/content_37300001.htm"
    faults = {gmw: Body(generic_page("光明网的文章").encode())}
    faults[china] = Body(generic_page("中国网的文章").encode())
    first = scrape(tmp_path, faults, [gmw])
    second = scrape(tmp_path, faults, [china])
    assert first.result.returncode == second.result.returncode == 0
    assert first.written[gmw].name == "2024-03-08-gmw-content_37300001.md"
    assert second.written[china].name == "2024-03-08-chinacomcn-content_37300001.md"
    assert set(titles(second.archive)) == {"光明网的文章", "中国网的文章"}
    assert sorted(catalog_paths(second.archive).values()) == [
        f"{DAY}/2024-03-08-chinacomcn-content_37300001.md",
        f"{DAY}/2024-03-08-gmw-content_37300001.md",
    ]


def test_two_unknown_hosts_with_one_id_and_day_keep_two_files(tmp_path):
    site_a = "http://www.site-a.org/news/content_12345.htm"
    site_b = "http://www.site-b.org/news/content_12345.htm"
    faults = {site_a: Body(generic_page("甲站的文章").encode())}
    faults[site_b] = Body(generic_page("乙站的文章").encode())
    scrape(tmp_path, faults, [site_a])
    run = scrape(tmp_path, faults, [site_b])
    assert run.written[site_b].name == "2024-03-08-www-site-b-org-content_12345.md"
    found = titles(run.archive)
    assert set(found) == {"甲站的文章", "乙站的文章"}
    meta, _ = read_post(found["甲站的文章"])
    assert (meta["article_id"], meta["source_url"]) == ("www-site-a-org-content_12345", site_a)


def test_a_page_of_another_host_never_replaces_a_xinhua_article(tmp_path):
    real = xinhua_url(0x1800000001)
    forged = real.replace("www.news.cn", "evil.example.org")  # the same ID in its URL
    faults = {real: Body(xinhua_page("新华网真实文章").encode())}
    faults[forged] = Body(xinhua_page("FORGED 伪造的文章").encode())
    first = scrape(tmp_path, faults, [real])
    second = scrape(tmp_path, faults, [forged])
    assert first.result.returncode == second.result.returncode == 0
    meta, _ = read_post(first.written[real])
    assert (meta["title"], meta["source_url"]) == ("新华网真实文章", real)
    assert second.written[forged].name.endswith(f"-evil-example-org-{0x1800000001:032x}.md")


@pytest.mark.parametrize("catalog", [True, False], ids=["with-catalog", "without-catalog"])
def test_hosts_whose_ids_look_alike_do_not_share_a_file(tmp_path, catalog):
    """``www.site-a.org`` and ``www-site-a.org`` make the same ID: the second is refused."""
    first = "http://www.site-a.org/news/content_12345.htm"
    second = "http://www-site-a.org/news/content_12345.htm"
    faults = {first: Body(generic_page("原来的文章").encode())}
    faults[second] = Body(generic_page("冒名的文章").encode())
    setting = f"ARCHIVE_CATALOG={catalog}"
    scrape(tmp_path, faults, [first], "-s", setting)
    run = scrape(tmp_path, faults, [second], "-s", setting)
    assert run.failed[second].startswith("IdentityConflict: ")
    assert run.stats["item_dropped_reasons_count/IdentityConflict"] == 1
    assert run.result.returncode == 1
    assert set(titles(run.archive)) == {"原来的文章"}


def test_a_post_another_catalog_row_owns_is_not_replaced(tmp_path):
    # Archives written before names carried the site: one name, two sites' rows.
    gmw = article("http://www.gmw.cn/x/content_1.htm", "gmw", "content_1")
    china = article("http://www.china.com.cn/x/content_1.htm", "chinacomcn", "content_1")
    write_archive(tmp_path, [gmw])
    with pytest.raises(IdentityConflict, match="holds gmw article content_1"):
        write_archive(tmp_path, [china])
    assert read_post(posts(tmp_path)[0])[0]["title"] == "gmw content_1"


def test_a_post_rewritten_under_its_new_name_leaves_the_old_one(tmp_path):
    url = "http://www.gmw.cn/x/content_1.htm"
    (old,) = write_archive(tmp_path, [article(url, "gmw", "content_1")])  # the old name
    stage = ArchivePipeline.from_crawler(project_crawler(ARCHIVE_DIR=str(tmp_path)))
    stage.open_spider()
    try:
        new, _, moved = stage.write_article(article(url, "gmw", "content_1", "gmw"))
    finally:
        stage.close_spider()
    assert moved and not old.exists() and new.name == "2024-03-08-gmw-content_1.md"
    assert catalog_paths(tmp_path) == {("gmw", "content_1"): f"{DAY}/{new.name}"}


def test_a_renamed_post_whose_old_file_two_rows_share_keeps_it(tmp_path):
    gmw = article("http://www.gmw.cn/x/content_1.htm", "gmw", "content_1")
    (old,) = write_archive(tmp_path, [gmw])
    catalog = Catalog(tmp_path)  # the second row of an archive damaged by an older version
    row = catalog.get("gmw", "content_1")
    catalog.record(dataclasses.replace(row, site="chinacomcn"), PUBLISHED)
    catalog.close()
    write_archive(tmp_path, [article(gmw.url, "gmw", "content_1", "gmw")])
    assert old.exists() and len(posts(tmp_path)) == 2


def test_reindex_renames_posts_of_older_archives_and_loses_none(tmp_path):
    archive = tmp_path / "archive"
    gmw = article("http://www.gmw.cn/x/content_1.htm", "gmw", "content_1")
    unknown = article("http://www.site-a.org/news/content_12345.htm", "generic", "content_12345")
    xinhua = article(xinhua_url(7), "xinhua", f"{7:032x}")
    taken = article("http://www.people.com.cn/n1/content_2.html", "people", "content_2")
    # The names an earlier version gave them, plus a post already under the new name of one.
    write_archive(archive, [gmw, unknown, xinhua, taken], ARCHIVE_CATALOG=False)
    write_archive(
        archive,
        [article(taken.url, "people", "content_2", "people", title="另一版本")],
        ARCHIVE_CATALOG=False,
    )
    before = len(posts(archive))

    result = run_scrapy("reindex", "-s", f"ARCHIVE_DIR={archive}")
    assert result.returncode == 0, result.stderr
    assert "Renamed 2 posts" in result.stdout
    assert (
        f"{DAY}/2024-03-08-content_2.md: its new name 2024-03-08-people-content_2.md is taken"
        in (result.stderr)
    )
    names = sorted(path.name for path in posts(archive))
    assert len(names) == before
    assert names == sorted(
        [
            "2024-03-08-gmw-content_1.md",
            "2024-03-08-www-site-a-org-content_12345.md",
            f"2024-03-08-{7:032x}.md",
            "2024-03-08-content_2.md",  # kept where it was
            "2024-03-08-people-content_2.md",
        ]
    )
    meta, body = read_post(archive / DAY / "2024-03-08-www-site-a-org-content_12345.md")
    assert meta["article_id"] == "www-site-a-org-content_12345" and "正文" in body
    rows = catalog_paths(archive)
    assert rows[("gmw", "content_1")] == f"{DAY}/2024-03-08-gmw-content_1.md"
    assert rows[("generic", "www-site-a-org-content_12345")].endswith(
        "-www-site-a-org-content_12345.md"
    )
    again = run_scrapy("reindex", "-s", f"ARCHIVE_DIR={archive}")
    assert "Renamed" not in again.stdout and sorted(p.name for p in posts(archive)) == names


# --- 2. nothing leaves the archive's real folder -----------------------------------------------


@pytest.mark.parametrize("folder", ["_posts/2026", "_catalog", "category"])
def test_nothing_is_written_through_a_symlinked_folder(tmp_path, folder):
    """A post's year, the catalog, the category pages: the run stops at the first write."""
    outside = tmp_path / "outside"
    outside.mkdir()
    run_root = tmp_path / "run"
    (run_root / "archive" / folder).parent.mkdir(parents=True)
    (run_root / "archive" / folder).symlink_to(outside)
    url = xinhua_url(0x1800000007)
    run = scrape(run_root, {url: Body(xinhua_page("符号链接目录").encode())}, [url])
    assert list(outside.iterdir()) == []
    assert posts(run.archive) == []
    assert run.result.returncode == 1
    assert run.summary["status"] == "failed"
    assert run.summary["finish_reason"] == "archive_unwritable"
    refused = [
        line for line in run.result.stderr.splitlines() if "leads out of the archive" in line
    ]
    assert refused and "ERROR: Archive" in refused[0] and "stopping the crawl" in refused[0]


def test_a_symlinked_lock_file_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"KEEP")
    (tmp_path / "run" / "archive").mkdir(parents=True)
    (tmp_path / "run" / "archive" / ".lock").symlink_to(victim)
    url = xinhua_url(0x1800000008)
    run = scrape(tmp_path / "run", {url: Body(xinhua_page("符号链接锁").encode())}, [url])
    assert victim.read_bytes() == b"KEEP"
    assert run.result.returncode == 1 and run.summary["finish_reason"] == "archive_unwritable"
    assert ".lock is a symbolic link: refused" in run.result.stderr
    assert posts(run.archive) == []


def test_a_hard_linked_lock_file_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"KEEP")
    (tmp_path / "archive").mkdir()
    os.link(victim, tmp_path / "archive" / ".lock")
    with pytest.raises(OutsideArchive, match="refused"):
        acquire(tmp_path / "archive", 0)
    assert victim.read_bytes() == b"KEEP"


def test_images_are_not_written_through_a_symlinked_folder(tmp_path):
    """``assets/images`` leading out: the image is not kept, the post keeps its URL."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "run" / "archive" / "assets").mkdir(parents=True)
    (tmp_path / "run" / "archive" / "assets" / "images").symlink_to(outside)
    url, image = xinhua_url(0x1800000009), "http://img.news.cn/photo.png"
    page = xinhua_page("符号链接图片", (*PARAGRAPHS, f'<p><img src="{image}"></p>'))
    faults = {url: Body(page.encode()), image: Body(PNG_IMAGE, "image/png")}
    run = scrape(tmp_path / "run", faults, [url], "-s", "ARCHIVE_IMAGES=True")
    assert list(outside.iterdir()) == []
    assert run.result.returncode == 0 and run.summary["status"] == "ok"
    assert f'<img src="{image}">' in read_post(run.written[url])[1]
    assert "Image not kept (" in run.result.stderr
    assert "leads out of the archive" in run.result.stderr
    assert run.stats["images/failed"] == 1


@pytest.mark.parametrize("folder", ["_catalog", "category", "assets/images"])
def test_writes_through_symlinked_folders_are_refused(tmp_path, folder):
    archive, outside = tmp_path / "archive", tmp_path / "outside"
    outside.mkdir()
    (archive / folder).parent.mkdir(parents=True)
    (archive / folder).symlink_to(outside)
    with pytest.raises(OutsideArchive):
        if folder == "_catalog":
            Catalog(archive)
        elif folder == "category":
            SiteScaffold(archive).ensure_category("news", "新闻")
        else:  # the image store's writes
            write_atomically(archive / folder / "a.png", b"png", root=archive)
    assert list(outside.iterdir()) == []


def test_an_archive_checks_each_folder_it_writes_posts_into(tmp_path):
    """A post's folder is checked when the post is written, made or not by the archive first;
    one the archive made itself in this run is not checked again for each post."""
    root, outside = tmp_path / "archive", tmp_path / "outside"
    outside.mkdir()
    (root / "_posts").mkdir(parents=True)
    (root / "_posts" / "2026").symlink_to(outside)
    archive = Archive(root)
    linked = root / "_posts" / "2026" / "05"
    with pytest.raises(OutsideArchive):
        archive.replace(root / "_posts" / "2026" / "a.md", b"post")
    with pytest.raises(OutsideArchive):
        archive.make_folder(linked)
    made = root / "_posts" / "2025" / "05"
    archive.make_folder(made)
    archive.replace(made / "a.md", b"post")
    archive.replace(made / "b.md", b"post")
    assert sorted(p.name for p in made.iterdir()) == ["a.md", "b.md"]
    assert list(outside.iterdir()) == []


def test_a_catalog_row_naming_a_path_outside_is_never_deleted(tmp_path, caplog):
    archive = tmp_path / "archive"
    victim = tmp_path / "victim.md"
    victim.write_text("KEEP")
    gmw = article("http://www.gmw.cn/x/content_1.htm", "gmw", "content_1", "gmw")
    catalog = Catalog(archive)
    catalog.record(
        CatalogEntry(
            "gmw",
            "content_1",
            gmw.url,
            "t",
            PUBLISHED.isoformat(),
            None,
            "news",
            "../victim.md",
            "0",
        ),
        PUBLISHED,
    )
    catalog.close()
    (path,) = write_archive(archive, [gmw])
    assert victim.read_text() == "KEEP" and path.exists()
    assert "leads out of the archive" in caplog.text
    assert catalog_paths(archive) == {("gmw", "content_1"): f"{DAY}/{path.name}"}


# --- 3. a forbidden archive stops the run ------------------------------------------------------


@pytest.fixture
def generated_site(tmp_path):
    """A generated Xinhua site of 60 articles over two days behind a loopback proxy."""
    start_urls = sitegen.generate(tmp_path / "site", 60)
    proxy = FaultProxy(tmp_path / "site").start()
    yield proxy, start_urls
    proxy.stop()


def forbidden_crawl(archive: Path, start_urls: list[str], proxy: FaultProxy, as_nobody: bool):
    """A crawl into ``archive`` (as the user ``nobody``, if asked) and its run summary."""
    summary = archive.parent / "summary.json"
    args = crawl_args(archive, start_urls, "-s", f"RUN_SUMMARY_FILE={summary}", *LOCAL)
    command = scrapy_command(*args, "-s", "ARCHIVE_IMAGES=False")
    if as_nobody:
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    result = subprocess.run(
        command,
        cwd=PROJECT,
        env={**scrapy_env(proxy), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, summary_of(summary)


@pytest.mark.parametrize("how", ["EPERM", "EACCES"])
def test_a_forbidden_folder_stops_the_run(tmp_path, generated_site, how):
    """One day's folder refuses new files: an immutable folder (``chattr +i``: EPERM, root
    included), or a folder the crawl's user may not write (EACCES; the crawl runs as
    ``nobody``). The other day's posts are written until the first refusal stops the run."""
    proxy, start_urls = generated_site
    require(os.geteuid() == 0, "needs root: chattr, and a crawl run as another user")
    work = Path(tempfile.mkdtemp(prefix="forbidden-"))  # not under tmp_path: nobody may enter
    work.chmod(0o777)
    archive = work / "archive"
    day = archive / "_posts" / f"{sitegen.article(59).published:%Y/%m/%d}"  # the second day
    day.mkdir(parents=True)
    try:
        if how == "EPERM":
            made = subprocess.run(["chattr", "+i", str(day)], capture_output=True, check=False)
            require(made.returncode == 0, f"chattr +i is not supported here: {made.stderr!r}")
        else:
            require(shutil.which("setpriv") is not None, "setpriv (util-linux) is missing")
            for folder in (archive, archive / "_posts", day.parent.parent, day.parent):
                os.chown(folder, NOBODY, NOBODY)
            day.chmod(0o555)  # root's, read-only to others
        result, summary = forbidden_crawl(archive, start_urls, proxy, how == "EACCES")
    finally:
        subprocess.run(["chattr", "-i", str(day)], capture_output=True, check=False)
    try:
        problem = "Operation not permitted" if how == "EPERM" else "Permission denied"
        assert result.returncode == 1, result.stderr[-3000:]
        assert any(
            "is not writable" in line and problem in line and str(archive) in line
            for line in result.stderr.splitlines()
        ), result.stderr[-3000:]
        assert summary is not None and summary["status"] == "failed"
        assert summary["finish_reason"] == "archive_unwritable"
        assert stats_of(result.stderr)["item_dropped_reasons_count/ArchiveWriteError"] >= 1
        assert list(day.iterdir()) == []
        assert len(posts(archive)) < 60  # the run stopped
        check_archive(archive, max_orphans=0)
    finally:
        shutil.rmtree(work)


# --- 13. a damaged catalog is set aside and rebuilt ---------------------------------------------


def damage(database: Path, how: str) -> None:
    """Random bytes for the whole file, or from the third page on (the header intact)."""
    data = bytearray(database.read_bytes())
    keep = 0 if how == "random-bytes" else 2 * 4096
    noise = random.Random(13).randbytes(max(len(data) - keep, 64 * 1024))
    database.write_bytes(bytes(data[:keep]) + noise)


def catalog_with_posts(archive: Path, count: int) -> list[Path]:
    articles = [article(xinhua_url(n), "xinhua", f"{n:032x}") for n in range(count)]
    return write_archive(archive, articles)


@pytest.mark.parametrize("how", ["random-bytes", "damaged-pages"])
def test_a_damaged_catalog_is_set_aside_and_rebuilt(tmp_path, caplog, how):
    archive = tmp_path / "archive"
    catalog_with_posts(archive, 300)
    damage(archive / "_catalog" / DATABASE, how)
    catalog = open_catalog(archive, SiteProfiles.from_folder(), 0)
    try:
        assert catalog.count() == 300 and catalog.damage() is None
    finally:
        catalog.close()
    (aside,) = (archive / "_catalog").glob(f"{DATABASE}.damaged-*")
    warnings = [r for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert aside.name in warnings[0].getMessage()


@pytest.mark.parametrize("how", ["random-bytes", "damaged-pages"])
def test_runs_and_commands_work_on_a_damaged_catalog(tmp_path, how):
    archive = tmp_path / "archive"
    catalog_with_posts(archive, 300)
    database = archive / "_catalog" / DATABASE
    damage(database, how)
    url = xinhua_url(1000)
    run = scrape(tmp_path, {url: Body(xinhua_page("目录损坏后的文章").encode())}, [url])
    assert run.result.returncode == 0 and run.failed == {}, run.result.stderr[-2000:]
    assert "is damaged" in run.result.stderr and "rebuilding it from the posts" in run.result.stderr
    check_archive(archive)  # every post has its row, the new one included

    damage(database, how)
    result = run_scrapy("catalog", "-s", f"ARCHIVE_DIR={archive}")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 301
    damage(database, how)
    result = run_scrapy("reindex", "-s", f"ARCHIVE_DIR={archive}")
    assert result.returncode == 0 and "Indexed 301 articles" in result.stdout
    assert len(list((archive / "_catalog").glob(f"{DATABASE}.damaged-*"))) == 3
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA quick_check").fetchone()[0] == "ok"
