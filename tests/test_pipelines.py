"""Each pipeline stage on its own: named drops, deduplication, atomic archive writes."""

import json
import os
import shutil
from datetime import datetime, timedelta

import pytest
from conftest import project_crawler, read_post, write_archive

from crawler.drops import (
    ArchiveWriteError,
    DuplicateArticle,
    ImplausibleDate,
    MissingBody,
    MissingDate,
    MissingTitle,
    UnknownSite,
    UnsafeArticleId,
)
from crawler.items import Article, RawPage
from crawler.reading.dates import BEIJING
from crawler.reading.profiles import ProfileError, SiteProfiles
from pipelines.archive import ArchivePipeline
from pipelines.deduplicate import DeduplicatePipeline
from pipelines.extract import ExtractPipeline
from pipelines.normalise import NormalisePipeline
from pipelines.validate import ValidatePipeline


def article(**changes) -> Article:
    fields = dict(
        url="http://www.news.cn/politics/20260511/0a1b2c3d4e5f40718293a4b5c6d7e8f9/c.html",
        site="xinhua",
        article_id="0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        title="标题",
        published=datetime(2026, 5, 11, 9, 0, tzinfo=BEIJING),
        source="新华社",
        paragraphs=["<p>正文。</p>"],
        category="xinhuashe",
        tag="新华社新闻",
    )
    return Article(**(fields | changes))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"title": None}, MissingTitle),
        ({"published": None}, MissingDate),
        ({"published": datetime.now(BEIJING) + timedelta(days=3)}, ImplausibleDate),
        ({"published": datetime(1970, 1, 1, tzinfo=BEIJING)}, ImplausibleDate),
        ({"paragraphs": []}, MissingBody),
        ({"article_id": "../../etc"}, UnsafeArticleId),
    ],
)
def test_validate_drops_with_named_reason(changes, reason):
    stage = ValidatePipeline.from_crawler(project_crawler())
    with pytest.raises(reason):
        stage.process_item(article(**changes))


def test_validate_counts_missing_continuation_pages():
    crawler = project_crawler()
    item = article(missing_pages=["http://www.news.cn/x/c.html?page=2"])
    assert ValidatePipeline.from_crawler(crawler).process_item(item) is item
    assert crawler.stats.get_value("article/missing_pages") == 1


def test_deduplicate_by_site_and_id():
    stage = DeduplicatePipeline()
    stage.process_item(article())
    with pytest.raises(DuplicateArticle):
        stage.process_item(
            article(url="http://www.news.cn/20260511/0a1b2c3d4e5f40718293a4b5c6d7e8f9/c.html")
        )
    stage.process_item(article(site="generic"))


def test_extract_counts_field_health_and_rejects_unknown_sites():
    crawler = project_crawler()
    stage = ExtractPipeline.from_crawler(crawler)
    html = '<html><head><meta property="og:title" content="标题 - 新华网"></head><body><h1></h1></body></html>'
    item = stage.process_item(
        RawPage(url="http://www.news.cn/a/2024-05/09/c_1.htm", html=html, site="xinhua")
    )
    assert item.title == "标题" and item.provenance["title"] == "generic:title[1]"  # og:title
    assert crawler.stats.get_value("extract/xinhua/title/fallback") == 1
    assert crawler.stats.get_value("extract/xinhua/published/missing") == 1
    with pytest.raises(UnknownSite):
        stage.process_item(RawPage(url="http://x.cn/", html="<p>x</p>", site="nosuchsite"))


def test_extract_survives_empty_and_broken_pages():
    stage = ExtractPipeline.from_crawler(project_crawler())
    for html in ["", "   ", "<html", "\x00\x01", "<p>" * 5000]:
        item = stage.process_item(
            RawPage(url="http://www.news.cn/a/2024-05/09/c_1.htm", html=html, site="xinhua")
        )
        assert item.article_id == "c_1"


def test_normalise_files_unknown_sources_under_the_site_default():
    stage = NormalisePipeline.from_crawler(project_crawler())
    item = stage.process_item(article(source="某某县融媒体中心", category="", tag=""))
    assert (item.category, item.tag) == ("xinhuawang", "新华网新闻")
    item = stage.process_item(article(source="新华社客户端", category="", tag=""))
    assert (item.category, item.tag) == ("xinhuashe", "新华社新闻")


def test_archive_write_failure_is_a_named_drop(tmp_path):
    # A file where a folder should be fails for every user, root included.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    stage = ArchivePipeline.from_crawler(
        project_crawler(ARCHIVE_DIR=str(blocker / "archive"), ARCHIVE_CATALOG=False)
    )
    with pytest.raises(ArchiveWriteError, match="cannot write"):
        stage.write_article(article())


def test_archive_writes_post_and_catalogs_it(tmp_path):
    stage = ArchivePipeline.from_crawler(project_crawler(ARCHIVE_DIR=str(tmp_path)))
    stage.open_spider()
    try:
        path, outcome, moved = stage.write_article(article())
        assert (outcome, moved) == ("new", False)
        assert stage.write_article(article())[1] == "unchanged"
        moved_path, _, moved = stage.write_article(
            article(published=datetime(2026, 5, 12, tzinfo=BEIJING))
        )
        assert moved and not path.exists() and moved_path.exists()
    finally:
        stage.close_spider()
    meta, _ = read_post(moved_path)
    assert (
        moved_path == tmp_path / "_posts/2026/05/12/2026-05-12-0a1b2c3d4e5f40718293a4b5c6d7e8f9.md"
    )
    assert meta["categories"] == "xinhuashe"
    (exported,) = (tmp_path / "_catalog" / "articles").rglob("*.jsonl")  # 11 May's went with it
    assert exported == tmp_path / "_catalog/articles/2026/05/12.jsonl"
    assert exported.read_text(encoding="utf-8").count("\n") == 1


def test_two_workers_racing_on_one_article_count_it_new_once(tmp_path, monkeypatch):
    import crawler.archive.folder as archive_folder

    settings = dict(ARCHIVE_DIR=str(tmp_path), ARCHIVE_CATALOG=False, ARCHIVE_LOCK_SHARED=True)
    first, second = (ArchivePipeline.from_crawler(project_crawler(**settings)) for _ in "ab")
    create = archive_folder.create_atomically

    def the_other_worker_creates_it_first(path, data, **options):
        monkeypatch.setattr(archive_folder, "create_atomically", create)
        assert first.write_article(article())[1] == "new"
        return create(path, data, **options)

    # Both found no file; the first to create it archived it, the second compares bytes.
    monkeypatch.setattr(archive_folder, "create_atomically", the_other_worker_creates_it_first)
    path, outcome, _ = second.write_article(article())
    assert outcome == "unchanged" and len(list(tmp_path.rglob("*.md"))) == 1
    assert not list(path.parent.glob(".*"))  # no temporary file left


def test_an_archive_exported_as_one_file_gets_the_day_files(tmp_path):
    write_archive(tmp_path, [article()], ARCHIVE_IMAGES=False)
    shutil.rmtree(tmp_path / "_catalog" / "articles")
    old = tmp_path / "_catalog" / "articles.jsonl"  # what earlier versions wrote
    old.write_text("{}\n", encoding="utf-8")
    stage = ArchivePipeline.from_crawler(project_crawler(ARCHIVE_DIR=str(tmp_path)))
    stage.open_spider()
    stage.close_spider()  # a run that archived nothing
    assert not old.exists()
    day = tmp_path / "_catalog/articles/2026/05/11.jsonl"
    assert json.loads(day.read_text(encoding="utf-8"))["article_id"] == article().article_id


def test_bad_profile_is_a_clear_error(tmp_path):
    (tmp_path / "generic.yaml").write_text(
        "name: generic\ndefault_category: news\ndefault_tag: 新闻\n"
    )
    (tmp_path / "broken.yaml").write_text("name: broken\nfields:\n  titel: []\n")
    with pytest.raises(ProfileError, match=r"broken\.yaml"):
        SiteProfiles.from_folder(tmp_path)


def test_temporary_files_of_dead_writers_are_removed_at_start(tmp_path):
    day = tmp_path / "_posts" / "2026" / "05" / "11"
    day.mkdir(parents=True)
    dead = day / ".2026-05-11-x.md.999999999.abcd1234.tmp"
    alive = day / f".2026-05-11-y.md.{os.getpid()}.abcd1234.tmp"
    dead.write_text("half")
    alive.write_text("in progress")
    stage = ArchivePipeline.from_crawler(project_crawler(ARCHIVE_DIR=str(tmp_path)))
    stage.open_spider()
    stage.close_spider()
    assert not dead.exists() and alive.exists()
