"""The archive folder (``ARCHIVE_DIR``): where each of its parts lives, and writes kept in it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from crawler.archive.atomic import (
    create_atomically,
    inside,
    remove_stale_temporaries,
    write_atomically,
)
from crawler.archive.catalog import DATABASE, JSONL_EXPORT, JSONL_EXPORT_DIR, Catalog, open_catalog
from crawler.archive.jekyll import SiteScaffold
from crawler.archive.lock import acquire
from crawler.archive.paths import (
    ASSETS_DIR,
    CATALOG_DIR,
    POSTS_DIR,
    SITE_DIR,
    WARC_DIR,
    article_path,
)
from crawler.reading.profiles import SiteProfiles


class Archive:
    """One archive folder and its layout (docs/archive-format.md).

    Components and commands ask it where a part of the folder is (posts, catalog, images,
    captures, the built site) and where an article's post goes, and get the catalog, the
    lock and the Jekyll site files from it, instead of joining folder names of their own.
    Its writes, creations and deletions stay inside the folder's real path: a symbolic link
    planted in it (``_posts/2026 -> /etc``) makes them fail with
    :class:`~crawler.archive.atomic.OutsideArchive`. The folder itself may be a link (an
    archive on another disk).
    """

    def __init__(self, root: Path):
        self.root = root
        # Folders made (or found) inside the archive by this object: a post's write checks
        # its folder once, not each time (a link planted while files are written is beyond
        # any check; the rename that places a file never follows one).
        self._made: set[Path] = set()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Archive:
        """The archive ``ARCHIVE_DIR`` names."""
        return cls(Path(settings["ARCHIVE_DIR"]))

    def resolved(self) -> Archive:
        """The same archive by its real path: links to the folder followed, none inside it."""
        return Archive(self.root.resolve())

    @property
    def posts(self) -> Path:
        return self.root / POSTS_DIR

    @property
    def assets(self) -> Path:
        """What the site publishes besides the posts: ``images/``."""
        return self.root / ASSETS_DIR

    @property
    def catalog_database(self) -> Path:
        return self.root / CATALOG_DIR / DATABASE

    @property
    def catalog_export(self) -> Path:
        """The catalog's JSON Lines export, one file per publication day (YYYY/MM/DD.jsonl)."""
        return self.root / CATALOG_DIR / JSONL_EXPORT_DIR

    @property
    def old_catalog_export(self) -> Path:
        """The export of earlier versions, one file: replaced by :attr:`catalog_export`."""
        return self.root / CATALOG_DIR / JSONL_EXPORT

    @property
    def warc(self) -> Path:
        return self.root / WARC_DIR

    @property
    def built_site(self) -> Path:
        """The Jekyll site built from the folder (``scrapy buildsite``)."""
        return self.root / SITE_DIR

    def post_path(self, published: datetime, article_id: str, prefix: str = "") -> Path:
        """Where an article's post lives (:func:`~crawler.archive.paths.article_path`)."""
        return article_path(self.root, published, article_id, prefix)

    def relative(self, path: Path) -> str:
        """``path`` as the catalog records it: relative to the folder, with ``/``."""
        return path.relative_to(self.root).as_posix()

    def post_at(self, relative: str) -> Path:
        """The file at a path the catalog records, once checked to lie inside the folder (a
        forged row must not lead a read or a delete out of it)."""
        return inside(self.root, self.root / relative)

    def make_folder(self, folder: Path) -> None:
        """Create ``folder`` (and its parents) inside the archive, unless this object did."""
        if folder not in self._made:
            inside(self.root, folder).mkdir(parents=True, exist_ok=True)
            self._made.add(folder)

    def replace(self, path: Path, data: bytes) -> None:
        """Write ``path`` whole, in a folder that exists (a temporary file renamed over it)."""
        if path.parent in self._made:
            write_atomically(path, data, make_parents=False)
        else:
            write_atomically(path, data, make_parents=False, root=self.root)

    def create(self, path: Path, data: bytes, *, fsync: bool = False) -> bool:
        """Create ``path`` with ``data`` unless it exists; True when this call created it (of
        several processes creating it at once, one is told so)."""
        return create_atomically(path, data, root=self.root, fsync=fsync)

    def check_writable(self) -> None:
        """Write a probe file into the folder (created when missing) and remove it: raises the
        ``OSError`` of a full, read-only or missing archive, before any other error can
        stand for it."""
        probe = self.root / f".write-probe.{os.getpid()}"
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomically(probe, b"\0" * 4096)
        probe.unlink()

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporary files killed writers left; returns them."""
        return remove_stale_temporaries(self.root)

    def catalog(self) -> Catalog:
        """The catalog, opened as it is (created when missing)."""
        return Catalog(self.root)

    def open_catalog(self, profiles: SiteProfiles, lock_wait: float) -> Catalog:
        """The catalog, checked, and rebuilt from the posts first when it is damaged
        (:func:`~crawler.archive.catalog.open_catalog`)."""
        return open_catalog(self.root, profiles, lock_wait)

    def scaffold(self) -> SiteScaffold:
        """The Jekyll site files of the folder, created on demand."""
        return SiteScaffold(self.root)

    def lock(self, wait: float, *, shared: bool = False) -> IO[str]:
        """The archive's lock, held until the returned file is closed
        (:func:`~crawler.archive.lock.acquire`)."""
        return acquire(self.root, wait, shared=shared)
