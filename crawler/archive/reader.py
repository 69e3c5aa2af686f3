"""Reading the archive from Python: its articles, one file at a time, by date range.

::

    from datetime import date
    from crawler.archive.reader import iter_articles

    for article in iter_articles("archive", since=date(2026, 5, 1), until=date(2026, 5, 31)):
        print(article.published, article.title, article.path)

Only the ``_posts/YYYY/MM/DD/`` folders of the days asked for are opened, in date order, and
only one day's posts are held at a time, so reading the last week of a large archive costs
a week. Front matter is read by the exporter's own reader; the format is the contract in
docs/archive-format.md ("Reading the archive from Python").
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from crawler.archive.exporter import read_post
from crawler.archive.paths import POSTS_DIR
from crawler.reading.dates import BEIJING, parse_published

logger = logging.getLogger(__name__)
# Keys without which a file is no article (docs/archive-format.md, "Front matter").
REQUIRED_KEYS = ("title", "date", "categories", "source_url", "article_id")
_YEAR, _MONTH_OR_DAY = re.compile(r"\d{4}", re.ASCII), re.compile(r"\d{2}", re.ASCII)


@dataclass(frozen=True, slots=True)
class ArchivedArticle:
    """One archived post: the fields of its front matter, its file and its HTML body."""

    title: str
    published: datetime  # aware, in Beijing time (+08:00)
    source: str | None
    source_url: str
    article_id: str
    category: str
    tags: tuple[str, ...]
    author: str | None
    editor: str | None
    path: Path
    # The <p> lines and the source line, without the URL and back links that follow them.
    # Braces are the character references &#123; and &#125; (HTML, so they show as braces).
    body: str
    front_matter: dict[str, Any]  # every key, also those that later versions add


class DamagedPost(ValueError):
    """A file under ``_posts/`` that cannot be read as an article."""


def read_article(path: Path) -> ArchivedArticle:
    """The article in one post file (raises :class:`DamagedPost` naming what is wrong)."""
    try:
        meta, text = read_post(path.read_bytes())
    except OSError as exc:
        raise DamagedPost(f"cannot read it: {exc.strerror or exc}") from exc
    except ValueError as exc:  # not UTF-8, no front matter, bad YAML
        raise DamagedPost(str(exc)) from exc
    missing = [key for key in REQUIRED_KEYS if not _names(meta.get(key))]
    if missing:
        raise DamagedPost(f"no {', '.join(missing)} in the front matter")
    published = parse_published(str(meta["date"]))
    if published is None:
        raise DamagedPost(f"unreadable date {meta['date']!r}")
    return ArchivedArticle(
        title=str(meta["title"]),
        published=published,
        source=_optional(meta, "source"),
        source_url=str(meta["source_url"]),
        article_id=str(meta["article_id"]),
        category=_names(meta["categories"])[0],
        tags=_names(meta.get("tags")),
        author=_optional(meta, "author"),
        editor=_optional(meta, "editor"),
        path=path,
        body=text.partition("\n\n")[0],  # a blank line ends the HTML (the format's contract)
        front_matter=meta,
    )


def iter_articles(
    archive_dir: str | os.PathLike[str],
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    *,
    newest_first: bool = False,
) -> Iterator[ArchivedArticle]:
    """The archive's articles published from ``since`` to ``until`` (both included), oldest
    first (or newest first), one day's folder at a time.

    A ``date`` stands for the whole day in Beijing time, a ``datetime`` for an instant (it
    must be aware). A damaged post is skipped with a warning in the log; files whose names
    start with ``.`` (writes in progress) are not articles.
    """
    archive = Path(archive_dir)
    if not archive.is_dir():
        raise FileNotFoundError(f"no archive folder at {archive}")
    lowest = _instant(since, time.min) if since is not None else None
    highest = _instant(until, time.max) if until is not None else None
    days = (lowest.date() if lowest else None, highest.date() if highest else None)
    for folder in _day_folders(archive / POSTS_DIR, (), days, newest_first):
        day = []
        for path in folder.glob("*.md"):
            if path.name.startswith("."):
                continue
            try:
                article = read_article(path)
            except DamagedPost as exc:
                logger.warning("Skipped %s: %s", path, exc)
                continue
            if (lowest is None or article.published >= lowest) and (
                highest is None or article.published <= highest
            ):
                day.append(article)
        day.sort(key=lambda article: (article.published, article.path), reverse=newest_first)
        yield from day


def _day_folders(
    folder: Path,
    numbers: tuple[int, ...],
    days: tuple[date | None, date | None],
    newest_first: bool,
) -> Iterator[Path]:
    """``folder``'s year, month or day folders (``numbers`` says how deep it is) within
    ``days``, in order; a year or month outside them is not opened."""
    if len(numbers) == 3:
        yield folder
        return
    name = _YEAR if not numbers else _MONTH_OR_DAY
    try:
        children = [child for child in folder.iterdir() if name.fullmatch(child.name)]
    except (FileNotFoundError, NotADirectoryError):
        return
    first, last = ((day.year, day.month, day.day) if day else None for day in days)
    for child in sorted(children, key=lambda child: child.name, reverse=newest_first):
        key = (*numbers, int(child.name))
        if (first and key < first[: len(key)]) or (last and key > last[: len(key)]):
            continue
        if child.is_dir():
            yield from _day_folders(child, key, days, newest_first)


def _instant(bound: date | datetime, day_end: time) -> datetime:
    """A bound as an instant in Beijing time: a date starts (or ends) its Beijing day."""
    if isinstance(bound, datetime):
        if bound.tzinfo is None:
            raise ValueError(f"{bound} has no time zone: give an aware datetime or a date")
        return bound.astimezone(BEIJING)
    return datetime.combine(bound, day_end, BEIJING)


def _optional(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return str(value) if value else None


def _names(value: Any) -> tuple[str, ...]:
    """``categories`` and ``tags`` hold one name in our files; Jekyll also allows a list."""
    if isinstance(value, list):
        return tuple(str(item) for item in value if item)
    return (str(value),) if value else ()
