"""Site profiles: the per-site rules, read from YAML files under ``crawler/sites/``.

A profile says which URLs are articles (and how to read the article ID from them),
which pages list articles, how multi-page articles continue, and, per field, the
ordered selectors to try. Every profile's field rules are followed by those of the
``generic`` profile (meta tags, OpenGraph, JSON-LD), which also serves URLs that no
site profile claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from crawler import yamlio
from crawler.paths import article_id_from_url, host_article_id, is_safe_article_id

GENERIC = "generic"
FIELDS = ("title", "published", "source", "author", "editor", "body")
# The built-in strategies a profile may name with ``heuristic:``, per field.
HEURISTICS = {
    "title": ("headline", "confirmed_title_cut"),
    "published": ("visible_date",),
    "source": ("visible_source",),
    "body": ("densest_block",),
}


class ProfileError(ValueError):
    """A site profile file is malformed; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One way to find a field.

    ``css`` / ``xpath``: a selector; ``jsonld``: a key path in the page's JSON-LD;
    ``regex``: a pattern over the page source whose group ``value`` (or group 1) is the
    value, unescaped as a JavaScript string with ``decode: js``; ``heuristic``: one of
    the built-in generic strategies in :mod:`crawler.heuristics`.
    """

    kind: str
    query: str
    name: str  # "<profile>:<field>[<index>]", recorded as the field's provenance
    strip_suffix: bool = False  # the value is a page title that may end with the site's name
    decode: str | None = None

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
    def from_folder(cls, folder: str | Path | Traversable | None = None) -> SiteProfiles:
        """The profiles (``*.yaml``) of ``folder``; None or "" (the ``SITE_PROFILES_DIR``
        default) means the profiles packaged with the crawler, see :func:`packaged_profiles`.

        The spider loader, the spider and two pipelines each ask for them when a crawl
        starts: the folder is read once, and again only when one of its files changes.
        """
        root: Path | Traversable
        if not folder:
            root = packaged_profiles()
        else:
            root = Path(folder) if isinstance(folder, str) else folder
        key = (str(root), _folder_state(root))
        if key not in _LOADED:
            _LOADED[key] = cls._read(root)
        return _LOADED[key]

    @classmethod
    def _read(cls, root: Path | Traversable) -> SiteProfiles:
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


_LOADED: dict[tuple[str, tuple[tuple[str, int, int], ...]], SiteProfiles] = {}


def _folder_state(root: Path | Traversable) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of each YAML file: what a loaded folder depends on.
    Nothing for a folder inside a zip file (an egg deployed to Scrapyd never changes)."""
    if not isinstance(root, Path) or not root.is_dir():
        return ()
    stats = ((path.name, path.stat()) for path in root.glob("*.yaml"))
    return tuple(sorted((name, stat.st_size, stat.st_mtime_ns) for name, stat in stats))


def packaged_profiles() -> Traversable:
    """``crawler/sites/`` as package data: a folder in a source checkout or an installed
    package, a folder inside the zip file when the project runs from an egg (Scrapyd)."""
    return files("crawler") / "sites"


def load_profile(path: Path | Traversable, generic: SiteProfile | None = None) -> SiteProfile:
    """Read one YAML profile; field rules get the generic profile's rules appended."""
    try:
        data = yamlio.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping of keys")
    try:
        return _build_profile(data, generic)
    except (KeyError, TypeError, re.error) as exc:
        raise ProfileError(f"{path}: bad or missing key: {exc}") from exc


def _build_profile(data: dict[str, Any], generic: SiteProfile | None) -> SiteProfile:
    name = data["name"]
    fields = {
        field_name: _rules(name, field_name, data.get("fields", {}).get(field_name, []))
        + (generic.fields[field_name] if generic and name != GENERIC else ())
        for field_name in FIELDS
    }
    unknown = set(data.get("fields", {})) - set(FIELDS)
    if unknown:
        raise KeyError(f"fields.{sorted(unknown)[0]} (known: {', '.join(FIELDS)})")
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
            max_pages=int(continuation.get("max_pages", 20)),
        )
        if continuation
        else None,
        datasources=tuple(
            Datasource(item["selector"], re.compile(item["pattern"]), item["url"])
            for item in data.get("datasources", ())
        ),
        page_number=re.compile(data["page_number"]) if data.get("page_number") else None,
        max_list_pages=int(data.get("max_list_pages", 10)),
        trailing_drop_lines=_patterns(data.get("trailing_drop_lines", ()))
        + (generic.trailing_drop_lines if generic and name != GENERIC else ()),
        body_end_lines=_patterns(data.get("body_end_lines", ()))
        + (generic.body_end_lines if generic and name != GENERIC else ()),
        post_prefix=_post_prefix(data.get("post_prefix", name)),
        host_in_article_id=bool(data.get("host_in_article_id", False)),
    )


def _post_prefix(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not is_safe_article_id(value):
        raise KeyError(f"post_prefix {value!r}: ASCII letters, digits, _ and - only, or empty")
    return value


def _patterns(values: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(value) for value in values)


RULE_KINDS = ("css", "xpath", "jsonld", "regex", "heuristic")
RULE_OPTIONS = {"strip_suffix", "decode"}


def _rules(profile: str, field_name: str, entries: list[dict[str, Any]]) -> tuple[FieldRule, ...]:
    rules = []
    for index, entry in enumerate(entries):
        where = f"fields.{field_name}[{index}]"
        kinds = [kind for kind in RULE_KINDS if kind in entry]
        if len(kinds) != 1 or set(entry) - set(RULE_KINDS) - RULE_OPTIONS:
            raise KeyError(f"{where} needs exactly one of {', '.join(RULE_KINDS)}")
        kind, query = kinds[0], entry[kinds[0]]
        if kind == "regex":
            re.compile(query)
        if kind == "heuristic" and query not in HEURISTICS.get(field_name, ()):
            raise KeyError(f"{where}: no heuristic {query!r} for {field_name}")
        if entry.get("decode") not in (None, "js"):
            raise KeyError(f"{where}: decode must be js")
        rules.append(
            FieldRule(
                kind,
                query,
                f"{profile}:{field_name}[{index}]",
                bool(entry.get("strip_suffix", False)),
                entry.get("decode"),
            )
        )
    return tuple(rules)
