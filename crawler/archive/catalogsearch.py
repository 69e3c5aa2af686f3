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

The index is not always the shorter way. A pair of characters common to most articles has
trigrams that name most of the archive; when the other filters (a day, a source) leave
fewer articles than the index would name, those articles' texts are checked instead, in
the catalog's order. The vocabulary says how many articles each trigram names, and the
count of the filters' articles stops one past that: choosing is cheap. Both ways find the
same articles.

Texts join the index in batches, not one by one: FTS5 writes a segment of its index at the
end of each transaction, and a crawl commits each article in its own. A stored text waits
in ``article_text_unindexed`` until :func:`index_waiting_texts` indexes the batch in one
transaction (the catalog calls it every few hundred texts and at the end of a run);
search reads the waiting texts themselves, so it finds every article all the same, also
while a crawl runs or after one was killed.

The trigram tokenizer came with SQLite 3.34 (2020). With an older SQLite the text is kept
all the same and searched by a scan of every article's text (slow on a large archive);
``scrapy reindex`` under a newer one builds the index.
"""

from __future__ import annotations

import functools
import html
import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import date, timedelta
from operator import attrgetter
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
CREATE TABLE IF NOT EXISTS article_text_unindexed (id INTEGER PRIMARY KEY);
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
) -> bool:
    """Keep an article's text, in the caller's transaction; when ``indexed``, it waits for
    the index (:func:`index_waiting_texts`). Returns whether the text is new or changed."""
    old = connection.execute(
        "SELECT id, text FROM article_text WHERE site = ? AND article_id = ?", (site, article_id)
    ).fetchone()
    if old is not None and old[1] == text:
        return False
    if old is None:
        rowid = connection.execute(
            "INSERT INTO article_text (site, article_id, text) VALUES (?, ?, ?)",
            (site, article_id, text),
        ).lastrowid
    else:
        rowid = old[0]
        if indexed and not _waiting(connection, rowid):
            # an external-content index is told the old text to forget
            connection.execute(
                "INSERT INTO article_search (article_search, rowid, text) VALUES ('delete', ?, ?)",
                (rowid, old[1]),
            )
        connection.execute("UPDATE article_text SET text = ? WHERE id = ?", (text, rowid))
    if indexed:
        connection.execute("INSERT OR IGNORE INTO article_text_unindexed VALUES (?)", (rowid,))
    return True


def index_waiting_texts(connection: sqlite3.Connection) -> None:
    """Index the texts that wait for it, in the caller's transaction."""
    connection.execute(
        "INSERT INTO article_search (rowid, text) SELECT t.id, t.text FROM article_text t "
        "JOIN article_text_unindexed w ON w.id = t.id"
    )
    connection.execute("DELETE FROM article_text_unindexed")


def count_waiting_texts(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT count(*) FROM article_text_unindexed").fetchone()[0])


def _waiting(connection: sqlite3.Connection, rowid: int) -> bool:
    found = connection.execute("SELECT 1 FROM article_text_unindexed WHERE id = ?", (rowid,))
    return found.fetchone() is not None


def clear_text(connection: sqlite3.Connection, indexed: bool) -> None:
    """Forget every article's text, in the caller's transaction."""
    connection.execute("DELETE FROM article_text")
    if indexed:
        connection.execute("INSERT INTO article_search (article_search) VALUES ('delete-all')")
        connection.execute("DELETE FROM article_text_unindexed")


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
        # Counted to choose how to search the text: what the catalog's indexes answer (a
        # title is read from each row).
        indexed_where, indexed_params = " AND ".join(conditions), list(params)
        if self.title:
            conditions.append(f"a.title LIKE ? ESCAPE '{_ESCAPE}'")
            params.append(_containing(self.title))
        if self.words:
            lookup = None
            if indexed:
                lookup = _selective_lookup(connection, self.words, indexed_where, indexed_params)
            found, found_params = _text_condition(self.words, lookup)
            conditions.append(found)
            params += found_params
        return " AND ".join(conditions), params


@dataclass(frozen=True, slots=True)
class _IndexLookup:
    """An FTS5 query of the index for the articles that may hold a word (empty: no indexed
    one can), and how many articles it names at most, with the texts waiting for the index
    (each of them may)."""

    match: str
    at_most: int


def _selective_lookup(
    connection: sqlite3.Connection, words: tuple[str, ...], where: str, params: list[Any]
) -> _IndexLookup | None:
    """The index's lookup of the word it names the fewest articles for, when that is fewer
    than the articles for which ``where`` holds; None when reading those articles' text is
    the shorter way. Either way each candidate's text is read, so the count decides; it
    stops one past the lookup's, so it never reads more rows than the lookup names."""
    lookup = min((_index_lookup(connection, word) for word in words), key=attrgetter("at_most"))
    lookup = replace(lookup, at_most=lookup.at_most + count_waiting_texts(connection))
    left = connection.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM articles a WHERE {where} LIMIT ?)",
        [*params, lookup.at_most + 1],
    ).fetchone()[0]
    return lookup if left > lookup.at_most else None


def _text_condition(words: tuple[str, ...], lookup: _IndexLookup | None) -> tuple[str, list[Any]]:
    """A condition over ``articles a`` that holds when the article's text holds every word:
    over the articles that ``lookup`` names, or, without one, over each article the other
    conditions leave (SQLite reads them in the catalog's order and checks each one's text).
    Both find the same articles: the index names every article that holds the word, but
    those whose text waits for it, which are read all the same."""
    holds = " AND ".join([f"t.text LIKE ? ESCAPE '{_ESCAPE}'"] * len(words))
    patterns = [_containing(word) for word in words]
    if lookup is None:
        return (
            "EXISTS (SELECT 1 FROM article_text t "
            f"WHERE t.site = a.site AND t.article_id = a.article_id AND {holds})",
            patterns,
        )
    candidates = "SELECT id FROM article_text_unindexed"  # not in the index yet
    if lookup.match:
        candidates += " UNION ALL SELECT rowid FROM article_search WHERE article_search MATCH ?"
    return (
        "(a.site, a.article_id) IN (SELECT t.site, t.article_id FROM article_text t "
        f"WHERE t.id IN ({candidates}) AND {holds})",
        [lookup.match, *patterns] if lookup.match else patterns,
    )


def _index_lookup(connection: sqlite3.Connection, word: str) -> _IndexLookup:
    """The index's lookup for ``word``; how many articles hold each trigram comes from the
    index's vocabulary."""
    folded = _folded(word)
    if len(folded) >= 3:
        return _trigrams_of(connection, folded)
    return _trigrams_beginning(connection, folded)


def _trigrams_of(connection: sqlite3.Connection, text: str) -> _IndexLookup:
    """The articles holding every trigram of ``text`` (3+ characters, folded)."""
    trigrams = sorted({text[i : i + 3] for i in range(len(text) - 2)})
    articles = dict(
        connection.execute(
            f"SELECT term, doc FROM article_terms WHERE term IN ({', '.join('?' * len(trigrams))})",
            trigrams,
        ).fetchall()
    )
    return _IndexLookup(
        " AND ".join(_quoted(trigram) for trigram in trigrams),
        min(articles.get(trigram, 0) for trigram in trigrams),
    )


def _trigrams_beginning(connection: sqlite3.Connection, text: str) -> _IndexLookup:
    """The articles holding a trigram that begins with ``text`` (1 or 2 characters, folded:
    it has no trigram of its own); none when no indexed trigram does."""
    terms = connection.execute(
        "SELECT term, doc FROM article_terms WHERE term >= ? AND term < ?",
        (text, text + _AFTER_EVERY_TERM),
    ).fetchall()
    return _IndexLookup(
        " OR ".join(_quoted(term) for term, _ in terms), sum(articles for _, articles in terms)
    )


def _folded(text: str) -> str:
    """``text`` with its letters' case folded as the trigram tokenizer folds the text it
    indexes (its terms are folded): Unicode's simple case folding, one character for one.
    ``str.casefold`` alone turns ß into ss, ``str.lower`` alone keeps ſ and µ."""
    return "".join(_folded_letter(char) for char in text)


def _folded_letter(char: str) -> str:
    for folded in (char.casefold(), char.lower()):
        if len(folded) == 1:
            return folded
    return char


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _containing(text: str) -> str:
    """A LIKE pattern for values that contain ``text``, its wildcards escaped."""
    escaped = (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )
    return f"%{escaped}%"
