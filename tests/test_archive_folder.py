"""The Archive object: the one owner of the archive folder's layout and of writes into it."""

from datetime import datetime
from pathlib import Path

import pytest
from conftest import project_crawler

from crawler.archive.atomic import OutsideArchive
from crawler.archive.folder import Archive
from crawler.archive.lock import ArchiveBusy
from crawler.reading.dates import BEIJING

PUBLISHED = datetime(2026, 5, 11, 23, 30, tzinfo=BEIJING)


def test_it_is_the_folder_archive_dir_names():
    archive = Archive.from_settings(project_crawler(ARCHIVE_DIR="/srv/news").settings)
    assert archive.root == Path("/srv/news")


@pytest.mark.parametrize(
    ("part", "relative"),
    [
        ("posts", "_posts"),
        ("assets", "assets"),
        ("catalog_database", "_catalog/catalog.sqlite"),
        ("catalog_export", "_catalog/articles"),
        ("old_catalog_export", "_catalog/articles.jsonl"),
        ("warc", "_warc"),
        ("built_site", "_site"),
    ],
)
def test_the_parts_of_the_folder_are_where_the_format_says(part, relative):
    # docs/archive-format.md, "The archive folder"
    assert getattr(Archive(Path("archive")), part) == Path("archive", relative)


def test_the_real_folder_follows_a_link_to_the_archive_and_none_in_it(tmp_path):
    (tmp_path / "disk").mkdir()
    (tmp_path / "archive").symlink_to(tmp_path / "disk")
    (tmp_path / "disk" / "assets").symlink_to(tmp_path)
    resolved = Archive(tmp_path / "archive").resolved()
    assert resolved.root == tmp_path.resolve() / "disk"
    assert resolved.assets == tmp_path.resolve() / "disk" / "assets"


def test_a_post_path_and_its_catalog_form_go_both_ways(tmp_path):
    archive = Archive(tmp_path)
    path = archive.post_path(PUBLISHED, "content_1", "gmw")
    assert path == tmp_path / "_posts/2026/05/11/2026-05-11-gmw-content_1.md"
    relative = archive.relative(path)
    assert relative == "_posts/2026/05/11/2026-05-11-gmw-content_1.md"
    assert archive.post_at(relative) == path


@pytest.mark.parametrize("relative", ["../outside.md", "/etc/passwd", "_posts/link/x.md"])
def test_a_catalog_path_leading_out_of_the_folder_is_refused(tmp_path, relative):
    (tmp_path / "archive" / "_posts").mkdir(parents=True)
    (tmp_path / "archive" / "_posts" / "link").symlink_to(tmp_path)
    with pytest.raises(OutsideArchive):
        Archive(tmp_path / "archive").post_at(relative)


def test_writes_through_a_planted_link_are_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = Archive(tmp_path / "archive")
    archive.posts.mkdir(parents=True)
    (archive.posts / "2026").symlink_to(outside)
    path = archive.post_path(PUBLISHED, "content_1")
    for write in (
        lambda: archive.make_folder(path.parent),
        lambda: archive.replace(path, b"post"),
        lambda: archive.create(path, b"post"),
    ):
        with pytest.raises(OutsideArchive):
            write()
    assert list(outside.iterdir()) == []


def test_a_post_is_created_once_and_replaced_whole(tmp_path):
    archive = Archive(tmp_path)
    path = archive.post_path(PUBLISHED, "content_1")
    archive.make_folder(path.parent)
    assert archive.create(path, b"first")
    assert not archive.create(path, b"second")  # another writer's: left as it is
    archive.replace(path, b"third")
    assert path.read_bytes() == b"third"
    assert [entry.name for entry in path.parent.iterdir()] == [path.name]  # no temporaries


def test_an_archive_in_a_missing_folder_is_created_by_the_write_check(tmp_path):
    archive = Archive(tmp_path / "new" / "archive")
    archive.check_writable()
    assert archive.root.is_dir() and list(archive.root.iterdir()) == []


def test_an_unwritable_folder_fails_the_write_check(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        Archive(tmp_path / "file" / "archive").check_writable()


def test_the_lock_is_held_until_its_file_is_closed(tmp_path):
    archive = Archive(tmp_path)
    with archive.lock(0), pytest.raises(ArchiveBusy):
        archive.lock(0)
    archive.lock(0).close()


def test_the_catalog_lives_in_the_folder(tmp_path):
    archive = Archive(tmp_path)
    catalog = archive.catalog()
    try:
        assert catalog.path == archive.catalog_database
    finally:
        catalog.close()
