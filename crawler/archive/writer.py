"""Writing articles into the archive: each post whole, its catalog row, the site files it
links to."""

from __future__ import annotations

import io
import logging
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.archive.atomic import OutsideArchive
from crawler.archive.catalog import Catalog, CatalogEntry, content_hash
from crawler.archive.catalogsearch import searchable_text
from crawler.archive.exporter import MarkdownPostExporter, read_front_matter, split_post
from crawler.archive.folder import Archive
from crawler.archive.jekyll import SiteScaffold
from crawler.drops import ArchiveWriteError, IdentityConflict
from crawler.items import Article
from crawler.reading.dates import BEIJING
from crawler.reading.profiles import SiteProfiles

logger = logging.getLogger(__name__)


class ArchiveWriter:
    """Writes articles with :class:`MarkdownPostExporter` into an :class:`Archive`, for one run
    (:meth:`open`, :meth:`write` per article, :meth:`close`), from one thread at a time.

    A file is rewritten only when its bytes change, so re-archiving an unchanged
    article leaves the file (and its mtime) alone. An article reached under another
    URL than the one its file records (a column path and the bare form, say) keeps
    the recorded ``source_url``, so files do not flip between URLs from run to run.
    An article whose date was corrected moves to its new dated path.

    No article replaces another's file: a post that the catalog gives to another article,
    whose ``article_id`` differs, or (for IDs unique only on their host) whose
    ``source_url`` is on another host, is kept and the newcomer dropped
    (``IdentityConflict``). Every write, move and delete stays inside the archive's real
    folder.

    With ``jekyll_site`` the folder also gets the Jekyll site files its posts link to
    (config, layouts, home page, one page per category), created when missing. With
    ``use_catalog`` every written article is recorded in the catalog
    (``_catalog/catalog.sqlite``), with its text for full-text search
    (crawler/archive/catalogsearch.py); at the end of a run its JSON Lines export is rewritten
    for the days the run archived into (``_catalog/articles/YYYY/MM/DD.jsonl``), not for
    the whole archive. ``shared``: other processes (the workers of a distributed crawl)
    write into the archive at the same time.
    """

    def __init__(
        self,
        archive: Archive,
        *,
        site_url: str = "",
        layout: str = "post",
        use_catalog: bool = True,
        jekyll_site: bool = True,
        shared: bool = False,
        profiles: SiteProfiles | None = None,
        lock_wait: float = 0,
    ):
        self.archive = archive
        # Only its serialize() is used: the writer places the bytes itself.
        self.exporter = MarkdownPostExporter(io.BytesIO(), site_url=site_url, layout=layout)
        self.use_catalog = use_catalog
        self.catalog: Catalog | None = None
        self.scaffold: SiteScaffold | None = archive.scaffold() if jekyll_site else None
        self.shared = shared
        self.profiles = profiles  # to rebuild a damaged catalog from the posts
        self.lock_wait = lock_wait
        self.catalog_failed = False  # an SQLite error this run: the next one checks the file
        self.days: set[str] = set()  # publication days of the articles cataloged: re-exported

    def serialize(self, article: Article) -> bytes:
        """The article's post, as bytes."""
        return self.exporter.serialize(article)

    def open(self) -> None:
        """Check that the archive takes files, sweep what killed writers left, open the
        catalog (rebuilt first when damaged). Raises ``OSError``, ``sqlite3.Error`` or
        :class:`~crawler.archive.lock.ArchiveBusy` (a damaged catalog, another run's lock)."""
        # A real write first: a full, read-only or missing archive is reported as such, not
        # as whatever SQLite makes of it.
        self.archive.check_writable()
        self._remove_stale_temporaries()
        if self.use_catalog:
            assert self.profiles is not None, "the catalog needs the site profiles"
            self.catalog = self.archive.open_catalog(self.profiles, self.lock_wait)

    def close(self) -> None:
        """Export the catalog's days this run wrote into, and close it."""
        if self.shared:  # a fellow worker killed since this one opened left its temporary
            self._remove_stale_temporaries()
        if self.catalog is None:
            return
        self.catalog.index_texts()
        export = self.archive.catalog_export
        if not export.exists():  # a new archive, or one of a version that exported one file
            self.catalog.export_days(export)
            self.archive.old_catalog_export.unlink(missing_ok=True)
        elif self.days:
            self.catalog.export_days(export, self.days)
        if not self.catalog_failed:
            self.catalog.mark_sound()
        self.catalog.close()

    def _remove_stale_temporaries(self) -> None:
        for path in self.archive.remove_stale_temporaries():
            logger.warning("Removed %s, left by a writer that was killed", path)

    def write(self, article: Article) -> tuple[Path, str, bool]:
        """The file, its catalog entry and the site files it links to; returns the path, the
        outcome (new, updated, unchanged) and whether it moved. A failure is an
        :class:`ArchiveWriteError` whose cause is the ``OSError`` or ``sqlite3.Error``."""
        assert article.published is not None
        path = self.archive.post_path(article.published, article.article_id, article.post_prefix)
        try:
            # The site files the post links to first: a post that is written and cataloged
            # is archived, and must not be reported "not archived" for a page after it.
            if self.scaffold is not None:
                self.scaffold.ensure_site()
                self.scaffold.ensure_category(article.category, article.tag)
            self.archive.make_folder(path.parent)
            data, outcome = self._store(path, article)
            moved = self._record(article, path, data)
        except OSError as exc:
            raise ArchiveWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
        except sqlite3.Error as exc:  # the catalog shares the archive's disk
            self.catalog_failed = True
            raise ArchiveWriteError(f"cannot catalog {path}: {exc}") from exc
        return path, outcome, moved

    def _store(self, path: Path, article: Article) -> tuple[bytes, str]:
        try:
            existing = path.read_bytes()
        except FileNotFoundError:
            data = self.serialize(article)
            if not self.shared:
                self.archive.replace(path, data)
                return data, "new"
            # Workers of one run may race on an article that two list pages link to: the
            # first to create the file archived it; the others compare with its bytes.
            if self.archive.create(path, data, fsync=True):
                return data, "new"
            existing = path.read_bytes()
        recorded = _front_matter(existing)
        self._refuse_another_article(path, recorded, article)
        recorded_url = recorded.get("source_url")
        if isinstance(recorded_url, str) and recorded_url != article.url:
            article.url = recorded_url  # the same article under another of its URLs
        data = self.serialize(article)
        if data == existing:
            return data, "unchanged"
        self.archive.replace(path, data)
        return data, "updated"

    def _refuse_another_article(
        self, path: Path, recorded: dict[str, Any], article: Article
    ) -> None:
        """Raise :class:`IdentityConflict` when the post at ``path`` is another article's."""
        if self.catalog is not None:
            for owner in self.catalog.at_path(self.archive.relative(path)):
                if (owner.site, owner.article_id) != (article.site, article.article_id):
                    raise IdentityConflict(
                        f"{path} holds {owner.site} article {owner.article_id} ({owner.url}); "
                        f"not replaced by {article.site} article {article.article_id}"
                    )
        if not _is_post_of(recorded, article):
            raise IdentityConflict(
                f"{path} holds article {recorded.get('article_id')} "
                f"({recorded.get('source_url')}); not replaced by {article.url}"
            )

    def _record(self, article: Article, path: Path, data: bytes) -> bool:
        """Record the article in the catalog; True when it moved (its date was corrected)."""
        if self.catalog is None:
            return False
        relative = self.archive.relative(path)
        assert article.published is not None and article.title
        entry = CatalogEntry(
            site=article.site,
            article_id=article.article_id,
            url=article.url,
            title=article.title,
            published=article.published.isoformat(),
            source=article.source,
            category=article.category,
            path=relative,
            content_hash=content_hash(data),
            complete=not article.missing_pages,
        )
        if article.capture is not None:
            entry.warc_file, entry.warc_offset = article.capture.file, article.capture.offset
            entry.warc_digest = article.capture.digest
        text = searchable_text(article.title, split_post(data.decode("utf-8"))[1])
        previous = self.catalog.record(entry, datetime.now(BEIJING), text)
        self.days.add(entry.published[:10])
        if previous is None or previous.path == relative:
            return False
        # The publication date was corrected, or the file renamed: it lives elsewhere now.
        self.days.add(previous.published[:10])
        self._remove_old_post(previous, article)
        return True

    def _remove_old_post(self, previous: CatalogEntry, article: Article) -> None:
        """Delete the article's file at its earlier path when it is this article's own: not
        outside the archive (a forged row), nor a file that another row or another article
        claims (archives written before names carried the site)."""
        assert self.catalog is not None
        try:
            old = self.archive.post_at(previous.path)
            existing = old.read_bytes()
        except FileNotFoundError:
            return
        except OutsideArchive as exc:
            logger.error("Not deleted: the catalog's earlier path of %s: %s", article.url, exc)
            return
        if self.catalog.at_path(previous.path) or not _is_post_of(_front_matter(existing), article):
            logger.warning("Kept %s: it may hold another article than %s", old, article.url)
            return
        old.unlink()


def _front_matter(post: bytes) -> dict[str, Any]:
    """An archived post's front matter; empty when it is unreadable."""
    try:
        return read_front_matter(post)
    except ValueError:  # a damaged file is rewritten whole
        return {}


def _is_post_of(recorded: dict[str, Any], article: Article) -> bool:
    """Whether a post's front matter (``recorded``) may be ``article``'s: the same ID and,
    for IDs unique only on their host, the same host. A damaged post (nothing readable)
    is anyone's, to be rewritten whole."""
    recorded_id = recorded.get("article_id")
    if recorded_id is not None and str(recorded_id) != article.article_id:
        return False
    recorded_url = recorded.get("source_url")
    if article.identity_host and isinstance(recorded_url, str):
        return (urlsplit(recorded_url).hostname or "").lower() == article.identity_host
    return True
