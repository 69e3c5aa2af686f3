"""Article IDs, the names of the archive folder's parts, and where an article lives in it.

The names are the layout of docs/archive-format.md; :class:`crawler.archive.folder.Archive`
joins them to an archive's folder for the rest of the crawler.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from crawler.reading.dates import BEIJING

POSTS_DIR = "_posts"  # YYYY/MM/DD/<post>.md
ASSETS_DIR = "assets"  # published with the posts: images/<sha1>.<type>
CATEGORY_DIR = "category"  # a page and a feed per category, Jekyll's
CATALOG_DIR = "_catalog"  # catalog.sqlite and the JSON Lines export
WARC_DIR = "_warc"  # the captures
SITE_DIR = "_site"  # the built site (scrapy buildsite)
BUILD_DIR = "_build"  # the site build's parts and state
LOCK_FILE = ".lock"  # held by the run writing the archive

_MAX_ID = 80
_SAFE_ID = re.compile(rf"^[A-Za-z0-9_-]{{1,{_MAX_ID}}}$")
_URL_SEGMENT_ID = re.compile(r"^(?=.*\d)[A-Za-z0-9_-]{4,80}$")
_GENERIC_NAMES = {"index", "c", "content", "article", "detail", "default", "news", "show", "page"}


def is_safe_article_id(article_id: str) -> bool:
    """IDs become file names: ASCII letters, digits, ``_`` and ``-`` only, at most 80."""
    return bool(_SAFE_ID.match(article_id)) and article_id.strip("-_") != ""


def article_id_from_url(url: str) -> str:
    """An ID for a page no site rule recognises, unique to the URL.

    The file name's stem when it is distinctive (holds a digit): ``content_37319243.htm``
    gives ``content_37319243``; behind a generic file name (``index.html``, ``c.html``) the
    folder's: ``/20240513/abc123/index.html`` gives ``abc123``. Otherwise (``a.html``, a
    query string) ``u`` and 16 hex digits of the URL's SHA-1: two articles of one folder
    must never share an ID, and so a file.
    """
    parts = urlsplit(url)
    segments = [segment for segment in PurePosixPath(parts.path).parts if segment != "/"]
    if segments and not parts.query:
        stem = segments[-1].split(".")[0]
        if stem.lower() in _GENERIC_NAMES and len(segments) > 1:
            stem = segments[-2]
        if _URL_SEGMENT_ID.match(stem) and is_safe_article_id(stem):
            return stem
    return "u" + hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]


def host_article_id(url: str, article_id: str) -> str:
    """``<host>-<id>`` (``www-site-a-org-content_12345``): the ID of a page read by rules that
    serve every site (the generic reader), whose own ID is unique only on its host.

    The host's dots and any other character unsafe in a file name become ``-``. When host
    and ID together are too long for an ID, the host is cut and the ID replaced by ``u`` and
    16 hex digits of the URL's SHA-1.
    """
    host = (urlsplit(url).hostname or "").lower()  # Scrapy's URLs hold IDNA (ASCII) names
    slug = re.sub(r"[^a-z0-9-]+", "-", host).strip("-") or "nohost"
    combined = f"{slug}-{article_id}"
    if len(combined) <= _MAX_ID:
        return combined
    digest = hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]
    return f"{slug[: _MAX_ID - 18]}-u{digest}"


def article_path(archive_dir: Path, published: datetime, article_id: str, prefix: str = "") -> Path:
    """``<archive>/_posts/YYYY/MM/DD/YYYY-MM-DD-[<prefix>-]<id>.md``, dated in Beijing time.

    ``prefix`` (the site profile's ``post_prefix``) keeps apart articles of two sites that
    happen to share an ID and a day.
    """
    if not is_safe_article_id(article_id):
        raise ValueError(f"unsafe article ID {article_id!r}")
    if prefix and not is_safe_article_id(prefix):
        raise ValueError(f"unsafe file name prefix {prefix!r}")
    day = published.astimezone(BEIJING)
    name = f"{prefix}-{article_id}" if prefix else article_id
    folder = archive_dir / POSTS_DIR / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    return folder / f"{day:%Y-%m-%d}-{name}.md"
