"""Article IDs and where an article lives in the archive."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from crawler.dates import BEIJING

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
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


def article_path(archive_dir: Path, published: datetime, article_id: str) -> Path:
    """``<archive>/_posts/YYYY/MM/DD/YYYY-MM-DD-<id>.md``, dated in Beijing time."""
    if not is_safe_article_id(article_id):
        raise ValueError(f"unsafe article ID {article_id!r}")
    day = published.astimezone(BEIJING)
    return (
        archive_dir
        / "_posts"
        / f"{day:%Y}"
        / f"{day:%m}"
        / f"{day:%d}"
        / f"{day:%Y-%m-%d}-{article_id}.md"
    )
