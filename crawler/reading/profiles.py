"""Site profiles: the per-site rules, read from YAML files under ``crawler/sites/``.

A profile says which URLs are articles (and how to read the article ID from them),
which pages list articles, how multi-page articles continue, and, per field, the
ordered selectors to try. Every profile's field rules are followed by those of the
``generic`` profile (meta tags, OpenGraph, JSON-LD), which also serves URLs that no
site profile claims.

Each file is checked against ``crawler/sites/profile.schema.json``, which declares and
documents every key; a profile that does not conform is a :class:`ProfileError`. A profile
also names its layout eras (``layouts:``), each with its dates and golden page, and its rules
say which layouts they read: tests hold the two together, extraction does not use them.

A crawl reads its profiles once: every component gets the same :class:`SiteProfiles` from
:func:`profiles_of` (the crawl's ``Crawler``); the next crawl reads the folder again, so an
edited profile takes effect there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from crawler.archive.paths import article_id_from_url, host_article_id
from crawler.reading import yamlio

GENERIC = "generic"
FIELDS = ("title", "published", "source", "author", "editor", "body")
RULE_KINDS = ("css", "xpath", "jsonld", "regex", "heuristic")
# The declared format of a profile, beside the profiles: every key, its type and meaning.
SCHEMA_FILE = "profile.schema.json"


class ProfileError(ValueError):
    """A site profile file is malformed; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One way to find a field.

    ``css`` / ``xpath``: a selector; ``jsonld``: a key path in the page's JSON-LD;
    ``regex``: a pattern over the page source whose group ``value`` (or group 1) is the
    value, unescaped as a JavaScript string with ``decode: js``; ``heuristic``: one of
    the built-in generic strategies in :mod:`crawler.reading.heuristics`.
    """

    kind: str
    query: str
    name: str  # "<profile>:<field>[<index>]", recorded as the field's provenance
    strip_suffix: bool = False  # the value is a page title that may end with the site's name
    decode: str | None = None
    layouts: tuple[str, ...] = ()  # the named layouts whose pages the rule reads

    @property
    def reads_metadata(self) -> bool:
        """Whether the rule reads what the page says about itself (JSON-LD, ``<meta>``, data
        in its scripts) rather than what it shows its reader."""
        return self.kind in {"jsonld", "regex"} or "meta[" in self.query or "//meta" in self.query


@dataclass(frozen=True, slots=True)
class Continuation:
    """How a multi-page article links its next pages."""

    links: tuple[str, ...]
    pattern: re.Pattern[str]
    max_pages: int


@dataclass(frozen=True, slots=True)
class Datasource:
    """JSON list files named by an id found in a list page (Xinhua's ``ds_<id>.json``)."""

    selector: str
    pattern: re.Pattern[str]
    url: str  # relative to the list page, with {id}


@dataclass(frozen=True, slots=True)
class Layout:
    """One layout era of a site's article pages: the publication days it serves (None: open
    or not known) and its golden page, ``tests/fixtures/extraction/<fixture>.html``."""

    name: str
    fixture: str
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True, slots=True)
class SiteProfile:
    name: str
    domains: tuple[str, ...]
    start_urls: tuple[str, ...]
    article_urls: tuple[re.Pattern[str], ...]
    list_urls: tuple[re.Pattern[str], ...]
    title_suffixes: tuple[re.Pattern[str], ...]
    default_category: str
    default_tag: str
    fields: dict[str, tuple[FieldRule, ...]]
    body_exclude: tuple[str, ...] = ()
    drop_lines: tuple[re.Pattern[str], ...] = ()
    continuation: Continuation | None = None
    datasources: tuple[Datasource, ...] = ()
    page_number: re.Pattern[str] | None = None  # the list page's number: group "page"
    max_list_pages: int = 10
    trailing_drop_lines: tuple[re.Pattern[str], ...] = ()
    # A paragraph that ends the article: it and all after it are furniture (相关链接 …).
    body_end_lines: tuple[re.Pattern[str], ...] = ()
    # What an article's file is named after its date (key ``post_prefix``: the profile's
    # name unless the profile says otherwise): articles of two sites never share a file.
    post_prefix: str = ""
    # The page's host is part of the article ID (key ``host_in_article_id``): for rules that
    # read every site, where an ID is unique only on its host.
    host_in_article_id: bool = False
    layouts: tuple[Layout, ...] = ()

    def claims(self, url: str) -> bool:
        """True when the URL's host is one of the profile's domains or a subdomain of one."""
        return self.claim_length(url) > 0

    def claim_length(self, url: str) -> int:
        """Length of the longest profile domain the URL's host belongs to (0: none)."""
        host = (urlsplit(url).hostname or "").lower()
        matches = [len(d) for d in self.domains if host == d or host.endswith("." + d)]
        return max(matches, default=0)

    def article_id(self, url: str) -> str | None:
        """The site's own article ID when ``url`` is an article URL of this site."""
        for pattern in self.article_urls:
            match = pattern.search(url)
            if match:
                return match.group("id")
        return None

    def page_article_id(self, url: str) -> str:
        """The ID of the article at ``url``, read with this profile: the site's own ID,
        else one made from the URL (:func:`article_id_from_url`); prefixed with the host
        when the profile says so (:func:`host_article_id`)."""
        article_id = self.article_id(url) or article_id_from_url(url)
        return host_article_id(url, article_id) if self.host_in_article_id else article_id

    def identity_host(self, url: str) -> str:
        """The host that belongs to the identity of the article at ``url`` (with
        ``host_in_article_id``), else ""."""
        return (urlsplit(url).hostname or "").lower() if self.host_in_article_id else ""

    def is_list_page(self, url: str) -> bool:
        return any(pattern.search(url) for pattern in self.list_urls)


class SiteProfiles:
    """All profiles of a folder, looked up by name or by URL."""

    def __init__(self, profiles: Iterable[SiteProfile]):
        self._by_name = {profile.name: profile for profile in profiles}
        if GENERIC not in self._by_name:
            raise ProfileError(f"no {GENERIC!r} profile: it holds the fallback rules")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SiteProfiles:
        """The profiles of the folder ``SITE_PROFILES_DIR`` names, read now. A crawl's
        components share one reading instead: see :func:`profiles_of`."""
        return cls.from_folder(settings["SITE_PROFILES_DIR"])

    @classmethod
    def from_folder(cls, folder: str | Path | Traversable | None = None) -> SiteProfiles:
        """The profiles (``*.yaml``) of ``folder``, read now; None or "" (the
        ``SITE_PROFILES_DIR`` default) means the profiles packaged with the crawler, see
        :func:`packaged_profiles`."""
        root: Path | Traversable
        if not folder:
            root = packaged_profiles()
        else:
            root = Path(folder) if isinstance(folder, str) else folder
        generic_path = root / f"{GENERIC}.yaml"
        if not generic_path.is_file():
            raise ProfileError(f"{generic_path} is missing: it holds the fallback rules")
        generic = load_profile(generic_path)
        others = sorted(
            (
                path
                for path in root.iterdir()
                if path.name.endswith(".yaml") and path.name != generic_path.name and path.is_file()
            ),
            key=lambda path: path.name,
        )
        return cls([generic, *(load_profile(path, generic) for path in others)])

    def __getitem__(self, name: str) -> SiteProfile:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no site profile named {name!r}; known: {', '.join(self)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._by_name))

    def for_url(self, url: str) -> SiteProfile:
        """The site profile claiming ``url`` most specifically (``beijing.gov.cn`` before
        ``gov.cn``), or the generic one."""
        best, best_length = self._by_name[GENERIC], 0
        for profile in self._by_name.values():
            length = profile.claim_length(url) if profile.name != GENERIC else 0
            if length > best_length:
                best, best_length = profile, length
        return best


class Crawl(Protocol):
    """What :func:`profiles_of` needs of a crawl: its settings (Scrapy's ``Crawler`` has them)."""

    @property
    def settings(self) -> Mapping[str, Any]: ...


# The profiles each running crawl read; an entry goes with its crawl.
_OF_CRAWL: WeakKeyDictionary[Crawl, SiteProfiles] = WeakKeyDictionary()


def profiles_of(crawl: Crawl) -> SiteProfiles:
    """The site profiles of ``crawl``: read from its ``SITE_PROFILES_DIR`` when the first of
    its components (spider, pipelines) asks, then the same object for every other. A new
    crawl reads the folder again: an edited profile takes effect in the next crawl."""
    if crawl not in _OF_CRAWL:
        _OF_CRAWL[crawl] = SiteProfiles.from_settings(crawl.settings)
    return _OF_CRAWL[crawl]


def _one_line(error: yaml.YAMLError) -> str:
    """A YAML error as one line: where (line and column in the file) and what."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {error.problem}"
    return " ".join(str(error).split())


def packaged_profiles() -> Traversable:
    """``crawler/sites/`` as package data: a folder in a source checkout or an installed
    package, a folder inside the zip file when the project runs from an egg (Scrapyd)."""
    return files("crawler") / "sites"


def load_profile(path: Path | Traversable, generic: SiteProfile | None = None) -> SiteProfile:
    """Read one YAML profile, checked against the schema; field rules get the generic
    profile's rules appended."""
    try:
        data = yamlio.json_types_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: {_one_line(exc)}") from exc
    error = best_match(profile_validator().iter_errors(data))
    if error is not None:
        raise _schema_error(path, error)
    try:
        return _build_profile(data, generic)
    except _KeyProblem as problem:
        raise ProfileError(f"{path}: {problem.where}: {problem}") from None


@cache
def profile_validator() -> Draft202012Validator:
    """The schema's validator, built once: it checks dates and regular expressions too."""
    schema = json.loads((packaged_profiles() / SCHEMA_FILE).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker(("date", "regex")))


class _KeyProblem(ValueError):
    """What the schema cannot say: a key's value disagrees with another key's."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where


def _schema_error(path: Path | Traversable, error: ValidationError) -> ProfileError:
    keys = list(error.absolute_path)
    if "dependentSchemas" in error.schema_path:  # a rule's second kind: name the rule
        keys.pop()
    return ProfileError(f"{path}: {_where(keys)}{_reason(error)}")


def _where(keys: Iterable[str | int]) -> str:
    """``fields.title[2]: `` for the keys leading to a value; nothing for the whole file."""
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else key
    return f"{text}: " if text else ""


# JSON Schema's types and Python's, as a YAML file's author knows them
_YAML_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "dict": "a mapping",
    "list": "a list",
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "NoneType": "nothing",
}


def _reason(error: ValidationError) -> str:
    """The schema error in words, on one line."""
    if error.validator == "additionalProperties":
        known = ", ".join(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"unknown key {', '.join(map(repr, unknown))} (known: {known})"
    if error.validator == "anyOf" or "dependentSchemas" in error.schema_path:
        return f"a rule needs exactly one of {', '.join(RULE_KINDS)}"
    if error.validator == "type":
        expected, found = (
            _YAML_TYPES.get(name, name)
            for name in (str(error.validator_value), type(error.instance).__name__)
        )
        return f"expected {expected}, not {found}"
    if error.validator == "format" and error.cause is not None:
        return f"{error.instance!r} is not a valid {error.validator_value}: {error.cause}"
    if error.validator == "not":
        return f"{error.instance!r} is not allowed here"
    if error.validator == "pattern":  # the regex says little: the key's description says why
        return f"{error.message}; {_description(error)}"
    return error.message


def _description(error: ValidationError) -> str:
    """The description of the key whose value failed, from the schema."""
    schema, description = profile_validator().schema, ""
    for key in error.schema_path:
        schema = schema[key]
        if isinstance(schema, dict):
            description = schema.get("description", description)
    return description


def _build_profile(data: dict[str, Any], generic: SiteProfile | None) -> SiteProfile:
    name = data["name"]
    layouts = _layouts(data.get("layouts", {}))
    declared = {layout.name for layout in layouts}
    fields = {
        field_name: _rules(name, field_name, data.get("fields", {}).get(field_name, []), declared)
        + (generic.fields[field_name] if generic and name != GENERIC else ())
        for field_name in FIELDS
    }
    continuation = data.get("continuation")
    return SiteProfile(
        name=name,
        domains=tuple(data.get("domains", ())),
        start_urls=tuple(data.get("start_urls", ())),
        article_urls=_patterns(data.get("article_urls", ())),
        list_urls=_patterns(data.get("list_urls", ())),
        title_suffixes=_patterns(data.get("title_suffixes", ()))
        + (generic.title_suffixes if generic and name != GENERIC else ()),
        default_category=data["default_category"],
        default_tag=data["default_tag"],
        fields=fields,
        body_exclude=tuple(data.get("body_exclude", ()))
        + (generic.body_exclude if generic and name != GENERIC else ()),
        drop_lines=_patterns(data.get("drop_lines", ()))
        + (generic.drop_lines if generic and name != GENERIC else ()),
        continuation=Continuation(
            links=tuple(continuation["links"]),
            pattern=re.compile(continuation["pattern"]),
            max_pages=continuation.get("max_pages", 20),
        )
        if continuation
        else None,
        datasources=tuple(
            Datasource(item["selector"], re.compile(item["pattern"]), item["url"])
            for item in data.get("datasources", ())
        ),
        page_number=re.compile(data["page_number"]) if "page_number" in data else None,
        max_list_pages=data.get("max_list_pages", 10),
        trailing_drop_lines=_patterns(data.get("trailing_drop_lines", ()))
        + (generic.trailing_drop_lines if generic and name != GENERIC else ()),
        body_end_lines=_patterns(data.get("body_end_lines", ()))
        + (generic.body_end_lines if generic and name != GENERIC else ()),
        post_prefix=data.get("post_prefix", name),
        host_in_article_id=data.get("host_in_article_id", False),
        layouts=layouts,
    )


def _patterns(values: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(value) for value in values)


def _layouts(entries: dict[str, dict[str, str]]) -> tuple[Layout, ...]:
    layouts = []
    for name, entry in entries.items():
        since, until = (_day(entry.get(key)) for key in ("from", "until"))
        if since and until and since > until:
            raise _KeyProblem(f"layouts.{name}", f"from {since} is after until {until}")
        layouts.append(Layout(name, entry["fixture"], since, until))
    return tuple(layouts)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _rules(
    profile: str, field_name: str, entries: list[dict[str, Any]], layouts: set[str]
) -> tuple[FieldRule, ...]:
    rules = []
    for index, entry in enumerate(entries):
        kind = next(kind for kind in RULE_KINDS if kind in entry)
        unknown = [name for name in entry.get("layouts", ()) if name not in layouts]
        if unknown:
            raise _KeyProblem(
                f"fields.{field_name}[{index}].layouts",
                f"no layout {unknown[0]!r} in this profile's layouts "
                f"({', '.join(sorted(layouts)) or 'none declared'})",
            )
        rules.append(
            FieldRule(
                kind,
                entry[kind],
                f"{profile}:{field_name}[{index}]",
                entry.get("strip_suffix", False),
                entry.get("decode"),
                tuple(entry.get("layouts", ())),
            )
        )
    return tuple(rules)
