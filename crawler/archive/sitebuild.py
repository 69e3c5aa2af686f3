"""The archive's Jekyll site, built in parts so that its build time grows linearly with the posts.

Why parts. Jekyll 4.3 goes through the list of files it writes three times per build
(cleaning the destination, checking for conflicting URLs, writing) with
``Site#each_site_file``, which skips duplicates by ``Array#include?`` over every file seen so
far, each comparison a ``Document#<=>``: N files cost N²/2 comparisons, three times (5,000
posts: 30 of the build's 38 s; 20,000: over ten minutes). Nothing in a site's configuration
avoids it, so the archive is never handed to Jekyll whole:

- **post parts**: the posts of whole days of one month, at most ``part_posts`` of them (a
  busier day is a part of its own), with a by-date page per day (``/archive/YYYY/MM/DD.html``);
- **the root**: the archive's own pages (home, ``archive.html``, category pages, feeds and
  anything the user added), which see only the posts they list: the newest ``ROOT_POSTS``
  overall and of each category. Their post pages are left to the post parts;
- **images**: ``assets/images`` is linked into the site as it is (Jekyll would only copy it).

Each part is a ``jekyll build`` of a folder of hard links (``_build/work/<part>/src``: the
layouts, includes, data and the part's posts) into a fresh folder whose files then move into
``_site``. ``_build/state.json`` keeps, per day folder, a fingerprint of its posts (names,
sizes, modification times) with each post's date and categories, and per part its
fingerprint and files: a build with ``changed_only`` rebuilds the parts whose fingerprint
moved and nothing else.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from crawler.archive.atomic import write_atomically
from crawler.archive.exporter import read_front_matter
from crawler.archive.lock import acquire
from crawler.archive.paths import ASSETS_DIR, BUILD_DIR, POSTS_DIR, SITE_DIR
from crawler.reading import yamlio
from crawler.reading.dates import parse_front_matter_date

STATE_FILE = "state.json"
CONFIG_FILE = "_config.yml"
# Bumped when a change here changes what a part produces: every part is rebuilt once.
FORMAT = 1
# The home page lists the newest 100 posts, a category page and feed the newest of the category.
ROOT_POSTS = 100
TEMPLATE_DIRS = ("_layouts", "_includes", "_data", "_sass")
IMAGES_DIR = Path(ASSETS_DIR, "images")
DAY_PAGES_DIR = "archive"  # /archive/YYYY/MM/DD.html
# A page of the root listing the URLs of the posts it read: their pages are the parts' to write.
ROOT_POST_LIST = "buildsite-root-posts.txt"
ROOT_POST_LIST_PAGE = (
    "---\nlayout: null\n---\n{% for post in site.posts %}{{ post.url }}\n{% endfor %}"
)
# What every part's build adds to the archive's _config.yml. future: a post dated a little
# ahead of this machine's clock is published now, not at a later build (its part may not be
# rebuilt then). disable_disk_cache: no .jekyll-cache in the work folders.
PART_CONFIG = {"future": True, "disable_disk_cache": True}
_POST_NAME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)-.+\.(?:md|markdown|html)$")
_JEKYLL_CHATTER = re.compile(
    r"^\s*(?:Configuration file:|Source:|Destination:|Incremental build:|Generating\.\.\."
    r"|done in |Auto-regeneration:|$)"
)
_NO_HARD_LINKS = {errno.EPERM, errno.EMLINK, errno.EXDEV, errno.EOPNOTSUPP}


class JekyllMissing(Exception):
    """The ``jekyll`` command is not installed (or not where the settings say)."""


@dataclass(slots=True)
class Post:
    name: str
    published: float  # POSIX time: the posts are ranked as Jekyll orders them
    categories: list[str]


@dataclass(slots=True)
class Day:
    """One day folder of ``_posts`` (``YYYY/MM/DD``) and what its posts say."""

    key: str  # "2025/03/01"
    fingerprint: str
    posts: list[Post]

    @property
    def date(self) -> str:
        return self.key.replace("/", "-")

    @property
    def page(self) -> str:
        """The by-date page's path in the site."""
        return f"{DAY_PAGES_DIR}/{self.key}.html"


@dataclass(slots=True)
class Part:
    """What one ``jekyll build`` makes: the posts and day pages of ``days``, or (``root``)
    the archive's own pages with the newest posts (``posts``)."""

    name: str
    days: list[Day]
    fingerprint: str = ""
    root: bool = False
    posts: list[tuple[Day, Post]] = field(default_factory=list)

    @property
    def post_count(self) -> int:
        return len(self.posts) if self.root else sum(len(day.posts) for day in self.days)


@dataclass(slots=True)
class PartOutcome:
    """How one part's ``jekyll build`` ended."""

    returncode: int
    output: str
    seconds: float


@dataclass(slots=True)
class BuildReport:
    parts: int = 0
    built: int = 0
    posts: int = 0
    failed: list[str] = field(default_factory=list)


class SiteBuilder:
    """Builds ``<archive>/_site`` from the archive folder in parts (see the module's notes).

    ``say`` receives one line per finished part and per Jekyll warning.
    """

    def __init__(
        self,
        archive_dir: Path,
        *,
        jekyll: str = "jekyll",
        part_posts: int = 1000,
        jobs: int = 1,
        say: Callable[[str], None] = print,
    ):
        self.archive_dir = archive_dir
        self.jekyll = jekyll
        self.part_posts = max(1, part_posts)
        self.jobs = max(1, jobs)
        self.say = say
        self.build_dir = archive_dir / BUILD_DIR
        self.site_dir = archive_dir / SITE_DIR

    def build(self, *, changed_only: bool = False) -> BuildReport:
        """Build every part, or (``changed_only``) those whose inputs changed since the last
        build; raises :class:`JekyllMissing`, or :class:`ArchiveBusy` while another build
        of this archive runs."""
        jekyll = shutil.which(self.jekyll)
        if jekyll is None:
            raise JekyllMissing(
                f"jekyll not found ({self.jekyll!r}): install it (apt-get install jekyll) "
                "or name it with -s BUILDSITE_JEKYLL=PATH"
            )
        with acquire(self.build_dir, 0):
            return self._build(jekyll, changed_only)

    def _build(self, jekyll: str, changed_only: bool) -> BuildReport:
        state = _load_state(self.build_dir / STATE_FILE)
        days = scan_days(self.archive_dir / POSTS_DIR, state.get("days", {}))
        parts = self.plan(days)
        built_parts: dict[str, Any] = state.get("parts", {})
        todo = [
            part
            for part in parts
            if not changed_only
            or built_parts.get(part.name, {}).get("fingerprint") != part.fingerprint
        ]
        report = BuildReport(parts=len(parts), posts=sum(len(day.posts) for day in days))
        planned = {part.name for part in parts}
        for name in [name for name in built_parts if name not in planned]:
            self._remove_files(built_parts.pop(name)["files"])
        work = self.build_dir / "work"
        shutil.rmtree(work, ignore_errors=True)  # what a killed build left
        try:
            for part, outcome in self._run_parts(jekyll, todo, work):
                self._finish(part, outcome, built_parts, report, len(todo))
        finally:
            shutil.rmtree(work, ignore_errors=True)
            new_state = {
                "format": FORMAT,
                "days": {day.key: _day_record(day) for day in days},
                "parts": built_parts,
                "images": self._link_images(state.get("images", ""), changed_only),
            }
            write_atomically(
                self.build_dir / STATE_FILE,
                json.dumps(new_state, ensure_ascii=False).encode("utf-8"),
                fsync=False,
            )
        if not changed_only:
            self._prune(built_parts)
        return report

    def plan(self, days: list[Day]) -> list[Part]:
        """The post parts (whole days of one month, at most ``part_posts`` posts unless one
        day has more) and the root, last, with their fingerprints."""
        shared = _fingerprint(
            _stats(self.archive_dir, _tree_files(self.archive_dir, [CONFIG_FILE, *TEMPLATE_DIRS]))
        )
        parts: list[Part] = []
        current: list[Day] = []
        count = 0
        for day in days:
            if current and (
                current[0].key[:7] != day.key[:7] or count + len(day.posts) > self.part_posts
            ):
                parts.append(_post_part(current, shared))
                current, count = [], 0
            current.append(day)
            count += len(day.posts)
        if current:
            parts.append(_post_part(current, shared))
        root = Part("root", days, root=True, posts=newest_posts(days, ROOT_POSTS))
        root.fingerprint = _fingerprint(
            [
                FORMAT,
                shared,
                _stats(self.archive_dir, self._root_files()),
                sorted({(day.key, day.fingerprint) for day, _post in root.posts}),
                [post.name for _day, post in root.posts],
                archive_months(days),
            ]
        )
        return [*parts, root]

    def _root_files(self) -> list[str]:
        """The archive's own files that the root part publishes: its top-level files and
        folders, but not the downloaded images (linked as they are) nor ``_`` and ``.`` ones."""
        entries = sorted(
            entry.name
            for entry in os.scandir(self.archive_dir)
            if not entry.name.startswith(("_", "."))
        )
        return list(_tree_files(self.archive_dir, entries, skip=IMAGES_DIR.as_posix()))

    def _run_parts(
        self, jekyll: str, parts: list[Part], work: Path
    ) -> Iterator[tuple[Part, PartOutcome]]:
        """Stage and build ``parts``, ``jobs`` at a time; yields each with Jekyll's outcome as
        it finishes, the root last (its pages are told apart from the parts' then)."""
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures: dict[Future[PartOutcome], Part] = {
                pool.submit(self._build_part, jekyll, part, work / part.name): part
                for part in parts
            }
            root_outcome = None
            for future in as_completed(futures):
                part = futures[future]
                if part.root:
                    root_outcome = (part, future.result())
                else:
                    yield part, future.result()
            if root_outcome is not None:
                yield root_outcome

    def _build_part(self, jekyll: str, part: Part, work: Path) -> PartOutcome:
        started = time.monotonic()
        configs = self._stage(part, work)
        result = subprocess.run(
            [jekyll, "build", "--source", "src", "--destination", "site", "--config", configs],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        return PartOutcome(result.returncode, result.stdout, time.monotonic() - started)

    def _stage(self, part: Part, work: Path) -> str:
        """The part's source folder (hard links) and config; returns Jekyll's --config."""
        src = work / "src"
        for relative in _tree_files(self.archive_dir, TEMPLATE_DIRS):
            _link(self.archive_dir / relative, src / relative)
        extra: dict[str, Any] = dict(PART_CONFIG)
        if part.root:
            for relative in self._root_files():
                _link(self.archive_dir / relative, src / relative)
            for day, post in part.posts:
                _link(
                    self.archive_dir / POSTS_DIR / day.key / post.name,
                    src / POSTS_DIR / day.key / post.name,
                )
            (src / ROOT_POST_LIST).write_text(ROOT_POST_LIST_PAGE, encoding="utf-8")
            extra["archive_months"] = archive_months(part.days)
        else:
            for day in part.days:
                for post in day.posts:
                    _link(
                        self.archive_dir / POSTS_DIR / day.key / post.name,
                        src / POSTS_DIR / day.key / post.name,
                    )
                page = src / day.page
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(
                    f'---\nlayout: day\ntitle: "{day.date}"\nday: "{day.date}"\n---\n',
                    encoding="utf-8",
                )
        (work / "part.yml").write_text(
            yaml.dump(extra, Dumper=yamlio.SafeDumper, allow_unicode=True), encoding="utf-8"
        )
        config = self.archive_dir / CONFIG_FILE
        if config.is_symlink() or not config.is_file():  # links are not followed, as below
            return "part.yml"
        _link(config, work / "site.yml")
        return "site.yml,part.yml"

    def _finish(
        self,
        part: Part,
        outcome: PartOutcome,
        built_parts: dict[str, Any],
        report: BuildReport,
        total: int,
    ) -> None:
        """Move a built part's files into the site, record it and say so."""
        notes = [
            line.strip() for line in outcome.output.splitlines() if not _JEKYLL_CHATTER.match(line)
        ]
        report.built += 1
        counter = f"[{report.built}/{total}]"
        if outcome.returncode != 0:
            report.failed.append(part.name)
            self.say(
                f"{counter} {part.name}: jekyll failed (exit {outcome.returncode}); "
                "the site keeps this part's earlier pages"
            )
            for line in notes[-20:]:
                self.say(f"    {line}")
            return
        for line in notes:
            self.say(f"    {part.name}: {line}")
        out = self.build_dir / "work" / part.name / "site"
        files = sorted(
            path.relative_to(out).as_posix()
            for path in out.rglob("*")
            if path.is_file() or path.is_symlink()
        )
        if part.root:
            files = self._root_outputs(out, files, built_parts)
        previous = set(built_parts.get(part.name, {}).get("files", []))
        self._remove_files(previous.difference(files))
        _move_files(out, self.site_dir, files)
        built_parts[part.name] = {"fingerprint": part.fingerprint, "files": files}
        what = "root pages" if part.root else f"{len(part.days)} day(s)"
        self.say(
            f"{counter} {part.name}: {what}, {part.post_count:,} posts, {outcome.seconds:.1f} s"
        )

    def _root_outputs(self, out: Path, files: list[str], built_parts: dict[str, Any]) -> list[str]:
        """The root's own files: not the pages of the posts it read (the parts write those),
        nor the list of them, nor any other part's file."""
        listed = (out / ROOT_POST_LIST).read_text(encoding="utf-8").split()
        (out / ROOT_POST_LIST).unlink()
        others = {f for name, part in built_parts.items() if name != "root" for f in part["files"]}
        skipped = {_url_file(url) for url in listed} | others | {ROOT_POST_LIST}
        return [relative for relative in files if relative not in skipped]

    def _remove_files(self, files: Iterable[str]) -> None:
        for relative in files:
            (self.site_dir / relative).unlink(missing_ok=True)

    def _link_images(self, previous: str, changed_only: bool) -> str:
        """Link the downloaded images into the site (written once, never changed: a new one
        changes the folder's time); returns the fingerprint recorded for the next build."""
        images = self.archive_dir / IMAGES_DIR
        if not images.is_dir():
            return ""
        fingerprint = f"{FORMAT}:{images.stat().st_mtime_ns}"
        if changed_only and fingerprint == previous:
            return fingerprint
        for relative in _tree_files(self.archive_dir, [IMAGES_DIR.as_posix()]):
            target = self.site_dir / relative
            if not (target.exists() and target.samefile(self.archive_dir / relative)):
                target.parent.mkdir(parents=True, exist_ok=True)
                temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                _link(self.archive_dir / relative, temporary)
                temporary.replace(target)
        return fingerprint

    def _prune(self, built_parts: dict[str, Any]) -> None:
        """After a full build: remove what no part made (posts deleted since, files of
        earlier builds), as Jekyll's own clean-up would, keeping ``keep_files``."""
        claimed = {f for part in built_parts.values() for f in part["files"]}
        claimed.update(_tree_files(self.archive_dir, [IMAGES_DIR.as_posix()]))
        keep = tuple(_site_config(self.archive_dir).get("keep_files") or [".git", ".svn"])
        for folder, _subfolders, names in os.walk(self.site_dir, topdown=False):
            relative_folder = Path(folder).relative_to(self.site_dir)
            for name in names:
                relative = (relative_folder / name).as_posix()
                if relative not in claimed and not relative.startswith(keep):
                    (Path(folder) / name).unlink()
            if folder != str(self.site_dir) and not any(Path(folder).iterdir()):
                Path(folder).rmdir()


def scan_days(posts_dir: Path, known: dict[str, Any]) -> list[Day]:
    """The day folders of ``posts_dir`` in date order. A folder whose posts have the same
    names, sizes and times as in ``known`` (the last build's records) is not read again."""
    days = []
    for key in _day_keys(posts_dir):
        folder = posts_dir / key
        stats = sorted(
            (
                entry.name,
                entry.stat(follow_symlinks=False).st_size,
                entry.stat(follow_symlinks=False).st_mtime_ns,
            )
            for entry in os.scandir(folder)
            if _POST_NAME.match(entry.name) and entry.is_file(follow_symlinks=False)
        )
        if not stats:
            continue
        fingerprint = _fingerprint(stats)
        record = known.get(key)
        if record is not None and record.get("fingerprint") == fingerprint:
            posts = [
                Post(name, published, categories) for name, published, categories in record["posts"]
            ]
        else:
            posts = [_read_post(folder / name) for name, _size, _mtime in stats]
        days.append(Day(key, fingerprint, posts))
    return days


def newest_posts(days: list[Day], count: int) -> list[tuple[Day, Post]]:
    """The newest ``count`` posts, and the newest ``count`` of each category, newest first."""
    ranked = sorted(
        ((day, post) for day in days for post in day.posts),
        key=lambda pair: (pair[1].published, pair[1].name),
        reverse=True,
    )
    chosen = []
    per_category: Counter[str] = Counter()
    for rank, (day, post) in enumerate(ranked):
        if rank < count or any(per_category[c] < count for c in post.categories):
            chosen.append((day, post))
        per_category.update(post.categories)
    return chosen


def archive_months(days: list[Day]) -> list[dict[str, Any]]:
    """The by-date index the root's ``archive.html`` shows (``site.archive_months``):
    months newest first, each with its days, their pages and post counts."""
    months: dict[str, list[dict[str, Any]]] = {}
    for day in reversed(days):
        months.setdefault(day.date[:7], []).append(
            {"date": day.date, "url": f"/{day.page}", "posts": len(day.posts)}
        )
    return [{"month": month, "days": entries} for month, entries in months.items()]


def _post_part(days: list[Day], shared: str) -> Part:
    first, last = days[0].date, days[-1].date
    name = first if first == last else f"{first}_{last[8:]}"
    fingerprint = _fingerprint([FORMAT, shared, [(day.key, day.fingerprint) for day in days]])
    return Part(name, list(days), fingerprint)


def _day_keys(posts_dir: Path) -> list[str]:
    """``YYYY/MM/DD`` of every day folder (real folders only, not links), in order."""
    keys = []
    for year in _subfolders(posts_dir, 4):
        for month in _subfolders(posts_dir / year, 2):
            for day in _subfolders(posts_dir / year / month, 2):
                keys.append(f"{year}/{month}/{day}")
    return keys


def _subfolders(folder: Path, digits: int) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(
        entry.name
        for entry in os.scandir(folder)
        if len(entry.name) == digits
        and entry.name.isdigit()
        and entry.is_dir(follow_symlinks=False)
    )


def _read_post(path: Path) -> Post:
    """The date and categories a post's front matter gives (as Jekyll reads them)."""
    try:
        meta = read_front_matter(path.read_bytes())
    except ValueError:  # Jekyll reports the post; it is counted, not ranked
        meta = {}
    categories = meta.get("categories", meta.get("category")) or []
    if isinstance(categories, str):
        categories = categories.split()
    return Post(path.name, _post_time(meta.get("date"), path.name), [str(c) for c in categories])


def _post_time(value: object, name: str) -> float:
    try:
        return parse_front_matter_date(value).timestamp()
    except ValueError:  # no usable date: the file name's day, as Jekyll falls back to
        match = _POST_NAME.match(name)
        assert match is not None
        return datetime(*(int(group) for group in match.groups())).timestamp()


def _day_record(day: Day) -> dict[str, Any]:
    return {
        "fingerprint": day.fingerprint,
        "posts": [[post.name, post.published, post.categories] for post in day.posts],
    }


def _load_state(path: Path) -> dict[str, Any]:
    """The last build's records; none (everything is built) when missing, unreadable or
    written by another version of this module."""
    try:
        state = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) and state.get("format") == FORMAT else {}


def _tree_files(root: Path, entries: Iterable[str], skip: str = "") -> Iterator[str]:
    """Every regular file under ``root/<entry>`` (or the entry itself), relative to ``root``,
    but not under ``skip``. Links are not followed: a link planted in the archive must not
    publish what it points at."""
    for entry in entries:
        top = root / entry
        if top.is_symlink():
            continue
        if top.is_file():
            yield entry
            continue
        for folder, subfolders, names in os.walk(top):
            base = Path(folder).relative_to(root)
            subfolders[:] = [name for name in subfolders if (base / name).as_posix() != skip]
            for name in names:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    yield (base / name).as_posix()


def _stats(root: Path, files: Iterable[str]) -> list[tuple[str, int, int]]:
    """Name, size and modification time of ``files`` (relative to ``root``)."""
    stats = []
    for relative in files:
        stat = (root / relative).stat()
        stats.append((relative, stat.st_size, stat.st_mtime_ns))
    return stats


def _fingerprint(value: object) -> str:
    return hashlib.sha1(json.dumps(value, ensure_ascii=False).encode("utf-8")).hexdigest()


def _link(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (the file as it is now, without a copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        shutil.copy2(source, target)  # a file system without hard links


def _move_files(out: Path, site: Path, files: list[str]) -> None:
    """Move the built ``files`` from ``out`` into ``site``, each replacing its earlier
    version in one rename (a reader sees the old page or the new one)."""
    made: set[Path] = set()
    for relative in files:
        target = site / relative
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        try:
            (out / relative).replace(target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # _site links to another disk: a copy beside the page, renamed over it
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            shutil.copy2(out / relative, temporary)
            temporary.replace(target)


def _url_file(url: str) -> str:
    """The file of a post's page in the site, from its URL (as Jekyll's Document#destination)."""
    path = unquote(url).lstrip("/")
    if not path or path.endswith("/"):
        return f"{path}index.html"
    return path if path.endswith(".html") else f"{path}.html"


def _site_config(archive_dir: Path) -> dict[str, Any]:
    try:
        config = yamlio.safe_load((archive_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return config if isinstance(config, dict) else {}
