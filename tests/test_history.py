"""History in git (issue 16): with ARCHIVE_GIT, each run that changed the archive leaves one
commit of exactly what it wrote, in the archive folder's own repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import DEMO_SITE, run_scrapy

OLD_LAYOUT = "http://www.xinhuanet.com/world/2019-11/18/c_1125243817.htm"
NEWS_CN = "http://www.news.cn/20260512/5e8a0c3f7b1d42e6a9f4c2d80b6e1a35/c.html"
OTHER = "http://www.news.cn/milpro/20260513/c6f1a9e2d47b4c08b3e5a7d91f2c6e40/c.html"


def git(archive: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(archive), *args], capture_output=True, text=True, check=True
    ).stdout


def commits(archive: Path) -> list[str]:
    return git(archive, "log", "--format=%an|%s").splitlines()


def files_of(archive: Path, commit: str) -> set[str]:
    listing = git(archive, "show", "--name-status", "--format=", commit)
    return {line.split("\t", 1)[1] for line in listing.splitlines() if line}


def scrape(archive: Path, proxy, url: str, *settings: str):
    result = run_scrapy(
        "scrape", url, "-s", f"ARCHIVE_DIR={archive}", "-s", "ARCHIVE_GIT=True", *settings,
        proxy=proxy,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def test_each_run_that_changed_the_archive_makes_one_commit(tmp_path, replay):
    proxy = replay(DEMO_SITE)
    archive = tmp_path / "archive"
    scrape(archive, proxy, OLD_LAYOUT)
    assert (archive / ".git").is_dir()
    ignored = (archive / ".gitignore").read_text().splitlines()
    assert {"_warc/", "_catalog/", "_site/", ".*"} <= set(ignored)  # .* : .lock and the like
    (first,) = commits(archive)
    assert first == "xinhua-archiver|urls: 1 new, 0 updated, 0 moved (finished)"
    files = files_of(archive, "HEAD")
    assert "_posts/2019/11/18/2019-11-18-c_1125243817.md" in files
    assert {".gitignore", "_config.yml", "index.html", "category/xinhuawang.html"} <= files
    assert not any(name.startswith(("_warc", "_catalog", ".lock")) for name in files)

    scrape(archive, proxy, NEWS_CN)
    assert len(commits(archive)) == 2
    assert files_of(archive, "HEAD") == {
        "_posts/2026/05/12/2026-05-12-5e8a0c3f7b1d42e6a9f4c2d80b6e1a35.md",
        "category/xinhuashe.html",
        "category/xinhuashe.xml",
    }
    # A run that changes nothing makes no commit; the tree is clean.
    scrape(archive, proxy, OLD_LAYOUT)
    assert len(commits(archive)) == 2
    assert git(archive, "status", "--porcelain") == ""


def test_what_a_run_left_uncommitted_is_committed_by_the_next(tmp_path, replay):
    proxy = replay(DEMO_SITE)
    archive = tmp_path / "archive"
    scrape(archive, proxy, OLD_LAYOUT)
    # As if the run had died between writing its post and committing it.
    scrape(archive, proxy, OTHER, "-s", "ARCHIVE_GIT=False")
    removed = archive / "_posts" / "2019" / "11" / "18" / "2019-11-18-c_1125243817.md"
    removed.unlink()
    scrape(archive, proxy, NEWS_CN)
    assert len(commits(archive)) == 2
    files = git(archive, "show", "--name-status", "--format=", "HEAD").splitlines()
    assert "A\t_posts/2026/05/13/2026-05-13-c6f1a9e2d47b4c08b3e5a7d91f2c6e40.md" in files
    assert "A\t_posts/2026/05/12/2026-05-12-5e8a0c3f7b1d42e6a9f4c2d80b6e1a35.md" in files
    assert "D\t_posts/2019/11/18/2019-11-18-c_1125243817.md" in files
    assert git(archive, "status", "--porcelain") == ""
