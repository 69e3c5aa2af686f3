"""Finding articles in the catalog: filters by date, site, source, category and title, and
full-text search of titles and bodies, Chinese included.

The text of each article (its title and the text of its body's paragraphs, from the post)
is kept in the catalog's ``article_text`` table and indexed by an SQLite FTS5 table,
``article_search``, with the ``trigram`` tokenizer: every run of three characters is a
term, so any substring can be found without a word segmenter, which Chinese would need.
The index keeps no positions (``detail=none``, a third of the size): it names the articles
that hold all of a query's trigrams, and a ``LIKE`` over their text keeps those that hold
the query itself. A query of one or two characters has no trigram of its own: the index's
vocabulary (``fts5vocab``) lists the trigrams that begin with it, and the articles holding
any of those are checked the same way. Each text ends in a blank line, so that every
character of it begins a trigram.

The trigram tokenizer came with SQLite 3.34 (2020). With an older SQLite the text is kept
all the same and searched by a scan of every article's text (slow on a large archive);
``scrapy reindex`` under a newer one builds the index.
"""

from __future__ import annotations

import functools
import html
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

_TEXT_TABLE = """
CREATE TABLE IF NOT EXISTS article_text (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    article_id TEXT NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (site, article_id)
);
"""
# Kept in step with article_text by store_text() and clear_text(), not by triggers: a
# catalog opened by an SQLite without the tokenizer must still take articles.
_SEARCH_INDEX = """
CREATE VIRTUAL TABLE IF NOT EXISTS article_search USING fts5(
    text, content='article_text', content_rowid='id', tokenize='trigram', detail='none'
);
CREATE VIRTUAL TABLE IF NOT EXISTS article_terms USING fts5vocab(article_search, row);
"""
_TAG = re.compile(r"<[^>]*>")
_AFTER_ALL = "~"  # sorts after every publication time (ISO 8601)
_AFTER_EVERY_TERM = "\U0010ffff"  # sorts after any term that begins with a given prefix
_ESCAPE = "\\"


@functools.cache
def trigram_search_available() -> bool:
    """Whether the SQLite that Python links has FTS5 and its trigram tokenizer (3.34+)."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(text, tokenize='trigram')")
    except sqlite3.OperationalError:  # no such module: fts5, or no such tokenizer
        return False
    finally:
        probe.close()
    return True


def create_text_index(connection: sqlite3.Connection) -> bool:
    """Create the text table and, when this SQLite can, its full-text index (in catalogs of
    earlier versions too: their articles get their text from ``scrapy reindex``). Returns
    whether the index is there to use."""
    connection.executescript(_TEXT_TABLE)
    if not trigram_search_available():
        return False
    existed = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'article_search'"
    ).fetchone()
    connection.executescript(_SEARCH_INDEX)
    if not existed:  # text kept by an SQLite without the tokenizer is indexed now
        connection.execute("INSERT INTO article_search (article_search) VALUES ('rebuild')")
    return True


def searchable_text(title: str, body: str) -> str:
    """What search reads of a post: its title, then the text of each line of its body's HTML
    (up to the first blank line: the format's contract), a line each; a blank line ends it."""
    lines = [
        title,
        *(html.unescape(_TAG.sub("", line)) for line in body.partition("\n\n")[0].splitlines()),
    ]
    return "\n".join(" ".join(line.split()) for line in lines if line.strip()) + "\n\n"


def store_text(
    connection: sqlite3.Connection, site: str, article_id: str, text: str, indexed: bool
) -> None:
    """Keep an article's text (and index it when ``indexed``), in the caller's transaction."""
    old = connection.execute(
        "SELECT id, text FROM article_text WHERE site = ? AND article_id = ?", (site, article_id)
    ).fetchone()
    if old is not None and old[1] == text:
        return
    if old is None:
        rowid = connection.execute(
            "INSERT INTO article_text (site, article_id, text) VALUES (?, ?, ?)",
            (site, article_id, text),
        ).lastrowid
    else:
        rowid = old[0]
        if indexed:  # an external-content index is told the old text to forget
            connection.execute(
                "INSERT INTO article_search (article_search, rowid, text) VALUES ('delete', ?, ?)",
                (rowid, old[1]),
            )
        connection.execute("UPDATE article_text SET text = ? WHERE id = ?", (text, rowid))
    if indexed:
        connection.execute("INSERT INTO article_search (rowid, text) VALUES (?, ?)", (rowid, text))


def clear_text(connection: sqlite3.Connection, indexed: bool) -> None:
    """Forget every article's text, in the caller's transaction."""
    connection.execute("DELETE FROM article_text")
    if indexed:
        connection.execute("INSERT INTO article_search (article_search) VALUES ('delete-all')")


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """Which articles of the catalog to list; every field given must hold (None: any).

    ``since`` and ``until`` are publication days in Beijing time, both included; ``title``
    is a piece of the title; each of ``words`` is a piece of the title or the body
    (full-text search). ASCII letters match whatever their case."""

    since: date | None = None
    until: date | None = None
    site: str | None = None
    source: str | None = None
    category: str | None = None
    title: str | None = None
    words: tuple[str, ...] = ()

    def sql(self, connection: sqlite3.Connection, indexed: bool) -> tuple[str, list[Any]]:
        """A condition over the catalog's ``articles a`` and its parameters. The publication
        bounds come first, always: the catalog's index by publication time serves them."""
        until = (self.until + timedelta(days=1)).isoformat() if self.until else _AFTER_ALL
        conditions = ["a.published >= ?", "a.published < ?"]
        params: list[Any] = [self.since.isoformat() if self.since else "", until]
        for column in ("site", "source", "category"):
            if (value := getattr(self, column)) is not None:
                conditions.append(f"a.{column} = ?")
                params.append(value)
        if self.title:
            conditions.append(f"a.title LIKE ? ESCAPE '{_ESCAPE}'")
            params.append(_containing(self.title))
        for word in self.words:
            found, found_params = _text_search(connection, word, indexed)
            conditions.append(f"(a.site, a.article_id) IN ({found})")
            params += found_params
        return " AND ".join(conditions), params


def _text_search(connection: sqlite3.Connection, text: str, indexed: bool) -> tuple[str, list[Any]]:
    """A query of the ``(site, article_id)`` of the articles whose text holds ``text``."""
    if not indexed:
        return f"SELECT site, article_id FROM article_text WHERE text LIKE ? ESCAPE '{_ESCAPE}'", [
            _containing(text)
        ]
    match = _trigrams_of(text) if len(text) >= 3 else _trigrams_beginning(connection, text)
    if not match:  # no trigram begins with it: no article holds it
        return "SELECT NULL, NULL WHERE 0", []
    return (
        "SELECT t.site, t.article_id FROM article_search s JOIN article_text t ON t.id = s.rowid "
        f"WHERE article_search MATCH ? AND t.text LIKE ? ESCAPE '{_ESCAPE}'",
        [match, _containing(text)],
    )


def _trigrams_of(text: str) -> str:
    """An FTS5 query for the articles holding every trigram of ``text`` (3+ characters)."""
    trigrams = sorted({text[i : i + 3].lower() for i in range(len(text) - 2)})
    return " AND ".join(_quoted(trigram) for trigram in trigrams)


def _trigrams_beginning(connection: sqlite3.Connection, text: str) -> str:
    """An FTS5 query for the articles holding a trigram that begins with ``text`` (1 or 2
    characters); empty when no indexed trigram does."""
    prefix = text.lower()  # the tokenizer folds case
    terms = connection.execute(
        "SELECT term FROM article_terms WHERE term >= ? AND term < ?",
        (prefix, prefix + _AFTER_EVERY_TERM),
    )
    return " OR ".join(_quoted(term) for (term,) in terms)


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _containing(text: str) -> str:
    """A LIKE pattern for values that contain ``text``, its wildcards escaped."""
    escaped = (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )
    return f"%{escaped}%"
