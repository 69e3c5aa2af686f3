"""Checks of a built Jekyll site: its pages' links and text, and its Atom feeds."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import feedparser


class Page(HTMLParser):
    """Links, scripts, event handlers and text of a built page."""

    def __init__(self, html: str):
        super().__init__()
        self.links: list[str] = []
        self.feeds: list[str] = []
        self.sources: list[str] = []
        self.scripts = 0
        self.handlers: list[str] = []
        self.bad_tags: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag in {"iframe", "object", "embed", "svg", "frame", "form"}:
            self.bad_tags.append(tag)
        self.handlers += [name for name in attributes if name.startswith("on")]
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if tag == "link" and attributes.get("type") == "application/atom+xml":
            self.feeds.append(attributes.get("href") or "")
        if tag == "img":
            self.sources.append(attributes.get("src") or "")

    def handle_data(self, data):
        self.text.append(data)


def resolve(site: Path, page: Path, href: str) -> Path:
    path = urlsplit(href).path
    target = site / path.lstrip("/") if path.startswith("/") else (page.parent / path).resolve()
    return target / "index.html" if path.endswith("/") else target


ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def atom_problems(xml: bytes) -> list[str]:
    """What RFC 4287 requires of a feed and of its entries that ``xml`` lacks."""
    feed = ElementTree.fromstring(xml)
    if feed.tag != f"{ATOM}feed":
        return [f"the root is {feed.tag}"]
    problems = []
    entries = feed.findall(f"{ATOM}entry")
    for where, element in [("feed", feed), *((f"entry {n}", e) for n, e in enumerate(entries))]:
        for name in ("id", "title", "updated"):
            if len(element.findall(f"{ATOM}{name}")) != 1:
                problems.append(f"{where}: not one <{name}>")
        for ident in element.findall(f"{ATOM}id"):
            if not urlsplit(ident.text or "").scheme:
                problems.append(f"{where}: relative id {ident.text!r}")
        for stamp in element.findall(f"{ATOM}updated") + element.findall(f"{ATOM}published"):
            if not RFC3339.fullmatch(stamp.text or ""):
                problems.append(f"{where}: not an RFC 3339 date {stamp.text!r}")
        rels = [link.get("rel", "alternate") for link in element.findall(f"{ATOM}link")]
        if "alternate" not in rels or (where == "feed" and "self" not in rels):
            problems.append(f"{where}: links {rels}")
    if feed.find(f"{ATOM}author") is None:
        problems += [
            f"entry {n}: no author"
            for n, e in enumerate(entries)
            if e.find(f"{ATOM}author") is None
        ]
    return problems


def parsed_feed(path: Path) -> feedparser.FeedParserDict:
    xml = path.read_bytes()
    assert atom_problems(xml) == []
    feed = feedparser.parse(xml)
    assert not feed.bozo and feed.version == "atom10", feed.get("bozo_exception")
    return feed


def text_of(html: str) -> str:
    return "".join(Page(html).text)
