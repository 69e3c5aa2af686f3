"""Stage 5: write each article to its dated file in the archive, atomically."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path
from typing import Any

import yaml
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from crawler.atomic import write_atomically
from crawler.drops import ArchiveWriteError
from crawler.exporter import MarkdownPostExporter
from crawler.items import Article
from crawler.paths import article_path

logger = logging.getLogger(__name__)


class ArchivePipeline:
    """Serialises articles with :class:`MarkdownPostExporter` into ``ARCHIVE_DIR``.

    A file is rewritten only when its bytes change, so re-archiving an unchanged
    article leaves the file (and its mtime) alone. An article reached under another
    URL than the one its file records (a column path and the bare form, say) keeps
    the recorded ``source_url``, so files do not flip between URLs from run to run.
    Outcomes are counted as
    ``archive/new``, ``archive/updated`` and ``archive/unchanged``. With
    ``ARCHIVE_TO_STDOUT`` the Markdown goes to standard output instead.
    """

    def __init__(
        self,
        archive_dir: Path,
        stats: StatsCollector,
        *,
        site_url: str = "",
        layout: str = "post",
        to_stdout: bool = False,
    ):
        self.archive_dir = archive_dir
        self.stats = stats
        self.site_url = site_url
        self.layout = layout
        self.to_stdout = to_stdout

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        assert crawler.stats is not None
        settings = crawler.settings
        return cls(
            Path(settings["ARCHIVE_DIR"]),
            crawler.stats,
            site_url=settings["ARCHIVE_SITE_URL"],
            layout=settings["ARCHIVE_LAYOUT"],
            to_stdout=settings.getbool("ARCHIVE_TO_STDOUT"),
        )

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self.to_stdout:
            sys.stdout.buffer.write(self.serialize(item) + b"\n")
            sys.stdout.buffer.flush()
            self.stats.inc_value("archive/printed")
            return item
        assert item.published is not None
        path = article_path(self.archive_dir, item.published, item.article_id)
        try:
            outcome = self._store(path, item)
        except OSError as exc:
            raise ArchiveWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
        item.path = str(path)
        self.stats.inc_value(f"archive/{outcome}")
        logger.debug("%s %s", outcome.capitalize(), path)
        return item

    def serialize(self, article: Article) -> bytes:
        buffer = io.BytesIO()
        MarkdownPostExporter(buffer, site_url=self.site_url, layout=self.layout).export_item(
            article
        )
        return buffer.getvalue()

    def _store(self, path: Path, article: Article) -> str:
        try:
            existing = path.read_bytes()
        except FileNotFoundError:
            write_atomically(path, self.serialize(article))
            return "new"
        recorded_url = _recorded_source_url(existing)
        if recorded_url and recorded_url != article.url:
            article.url = recorded_url
        data = self.serialize(article)
        if data == existing:
            return "unchanged"
        write_atomically(path, data)
        return "updated"


def _recorded_source_url(post: bytes) -> str | None:
    """The ``source_url`` in an archived post's front matter, if it has a readable one."""
    head = post.split(b"\n---\n", 1)[0]
    for line in head.decode("utf-8", "replace").splitlines():
        if line.startswith("source_url: "):
            try:
                value = yaml.safe_load(line.removeprefix("source_url: "))
            except yaml.YAMLError:
                return None
            return value if isinstance(value, str) else None
    return None
