"""History in git: with ``ARCHIVE_GIT``, a run that changed the archive commits it.

The archive folder is a git repository of its own (``git init`` when it has none, with a
``.gitignore`` that keeps the crawler's own files out: ``_warc/``, ``_catalog/``, Jekyll's
``_site/`` and ``_build/`` and dot-files: the lock, bookkeeping, temporary files).
At the end of a run, still holding the archive's lock, :class:`ArchiveHistory` stages what git
sees changed under
``_posts/``, ``assets/`` and the Jekyll site files, removals included, and commits it with a
one-line message from the run's summary. So a run that changed nothing makes no commit, and
what a crashed run wrote is committed by the next run. Git runs as a subprocess, with the
author given on its command line: the user's git configuration is never written.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from crawler.archive.atomic import create_atomically
from crawler.archive.jekyll import CATEGORY_TEMPLATES, TEMPLATE_DIR
from crawler.extensions.summary import run_summary

logger = logging.getLogger(__name__)
# The crawler's own files stay out; dot-files are its lock, bookkeeping and writes in progress.
GITIGNORE = "_warc/\n_catalog/\n_site/\n_build/\n.*\n!.gitignore\n"
AUTHOR = ["-c", "user.name=xinhua-archiver", "-c", "user.email=xinhua-archiver@localhost"]
# No prompt for a signing key in a cron job.
_QUIET = ["-c", "commit.gpgsign=false"]


def published_paths() -> list[str]:
    """What the archive publishes, relative to its folder: the posts, the images and every
    Jekyll site file the crawler creates (crawler/site_template/, one page per category)."""
    site = {entry.name for entry in TEMPLATE_DIR.iterdir()} - set(CATEGORY_TEMPLATES.values())
    return ["_posts", "assets", "category", *sorted(site)]


class GitError(Exception):
    """A git command failed; the message holds its output."""


def commit_archive(archive_dir: Path, message: str) -> bool:
    """Commit every change under :func:`published_paths` in ``archive_dir``'s repository
    (created when missing); False when there was nothing to commit."""
    if not (archive_dir / ".git").exists():
        _git(archive_dir, "init", "--quiet")
    create_atomically(archive_dir / ".gitignore", GITIGNORE.encode(), root=archive_dir)
    published = published_paths()
    listed = _git(archive_dir, "ls-files", "--", *published)
    tracked = {line.split("/", 1)[0] for line in listed.splitlines()}
    # Only names that are there or were: git refuses a path that matches nothing.
    names = [name for name in published if (archive_dir / name).exists() or name in tracked]
    # -A: new, changed and deleted files alike (a post moved to its corrected date).
    _git(archive_dir, "add", "-A", "--", *names, ".gitignore")
    staged = subprocess.run(
        ["git", "-C", str(archive_dir), "diff", "--cached", "--quiet"], check=False
    )
    if staged.returncode == 0:
        return False
    _git(archive_dir, *_QUIET, *AUTHOR, "commit", "--quiet", "--no-verify", "-m", message)
    return True


def _git(archive_dir: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(archive_dir), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        command = next(arg for arg in args if not arg.startswith("-") and "=" not in arg)
        raise GitError(f"git {command}: {(result.stderr or result.stdout).strip()}")
    return result.stdout


class ArchiveHistory:
    """Commits the archive at the end of each run that changed it (module docstring).

    Runs before :class:`crawler.archive.lock.ArchiveLock` lets the archive go (a lower priority in
    ``EXTENSIONS``), so that no other run writes while git reads the files.
    """

    def __init__(self, archive_dir: Path, stats: StatsCollector):
        self.archive_dir = archive_dir
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveHistory:
        settings = crawler.settings
        # Off by default: no message, as for Scrapy's own extensions that are off unless asked.
        if not settings.getbool("ARCHIVE_GIT") or settings.getbool("ARCHIVE_TO_STDOUT"):
            raise NotConfigured
        assert crawler.stats is not None
        extension = cls(Path(settings["ARCHIVE_DIR"]), crawler.stats)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if not self.archive_dir.is_dir():
            return
        summary = run_summary({"finish_reason": reason, **self.stats.get_stats()})
        message = (
            f"{spider.name}: {summary['new']} new, {summary['updated']} updated, "
            f"{summary['moved']} moved ({reason})"
        )
        try:
            committed = commit_archive(self.archive_dir, message)
        except (GitError, OSError) as exc:
            logger.error("Archive %s not committed to git: %s", self.archive_dir, exc)
            return
        self.stats.set_value("git/committed", committed)
        if committed:
            logger.info("Committed to the archive's git repository: %s", message)
