"""Crashes and unwritable archives (issue 6): nothing archived is ever damaged or lost.

(a) Real ``scrapy crawl`` subprocesses of a generated site are killed with SIGKILL, at seeded
random moments and, through a small hook, at the exact instants that matter (inside the atomic
write of a post, between the file and its catalog row, inside an image write); after each kill
every post is complete, the catalog agrees with the files, and the next run finishes the job.

(b) An archive folder under a regular file, on a read-only filesystem, and on a filesystem that
is full (a tiny tmpfs, mounted for the test: the tests run as root; where mounting is not
possible they skip locally and fail under CI): the run exits non-zero, says what is wrong,
leaves no partial file and does not touch what was archived.

docs/reliability.md lists the cases and outcomes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from archive_checks import (
    check_archive,
    exported_lines,
    posts,
    stats_of,
    summary_of,
    temporaries,
)
from conftest import (
    LOCAL,
    PROJECT,
    crawl_args,
    read_post,
    require,
    run_scrapy,
    run_scrapy_hooked,
    scrapy_env,
    without_monitor_reports,
)
from faultserver import FaultProxy

from benchmarks.sitegen import article, generate

# Slow enough that a 150-article crawl lasts a few seconds, so kills land mid-crawl.
PACED = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.02"]
PACED += ["-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]

# Runs ``scrapy`` with a hook that SIGKILLs the process at the N-th occurrence of an event
# (CRASH_AT=<event>:<N>): "write" truncates the temporary file of the N-th post to half, then
# dies before the rename (a crash in the middle of writing); "rename" dies just before the N-th
# post is renamed into place; "catalog" dies after the N-th post is in place, before its catalog
# row; "image" dies halfway through writing the N-th image file, however the store writes it.
CRASH_HOOK = r"""
import os, signal, sys
event, nth = os.environ["CRASH_AT"].split(":")
nth, seen = int(nth), [0]

def due():
    seen[0] += 1
    return seen[0] == nth

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if event in ("write", "rename"):
    def hooked(real):
        def move(src, dst, *args, **kwargs):
            if str(dst).endswith(".md") and due():
                if event == "write":
                    os.truncate(src, os.path.getsize(src) // 2)
                die()
            return real(src, dst, *args, **kwargs)
        return move
    os.replace, os.rename = hooked(os.replace), hooked(os.rename)
elif event == "catalog":
    from crawler.archive.catalog import Catalog
    record = Catalog.record
    def hooked_record(self, *args, **kwargs):
        if due():
            die()
        return record(self, *args, **kwargs)
    Catalog.record = hooked_record
elif event == "image":
    # Whatever the store does, and in whichever thread, the N-th image file written under
    # assets/images/ gets half its bytes, then the process dies: files opened there with
    # open(), io.open() (Path.write_bytes) or os.open() + os.fdopen() are watched.
    import builtins, io

    IMAGES = os.sep + os.path.join("assets", "images") + os.sep
    image_descriptors = set()

    class Half:
        def __init__(self, file):
            self._file = file
        def write(self, data):
            if due():
                self._file.write(data[: len(data) // 2])
                self._file.flush()
                die()
            return self._file.write(data)
        def __getattr__(self, name):
            return getattr(self._file, name)
        def __enter__(self):
            self._file.__enter__()
            return self
        def __exit__(self, *exc):
            return self._file.__exit__(*exc)

    def is_image(path):
        return isinstance(path, (str, os.PathLike)) and IMAGES in os.fspath(path)

    def watched_open(real):
        def opener(file, *args, **kwargs):
            opened = real(file, *args, **kwargs)
            return Half(opened) if is_image(file) else opened
        return opener

    real_os_open, real_fdopen = os.open, os.fdopen

    def os_open(path, *args, **kwargs):
        descriptor = real_os_open(path, *args, **kwargs)
        if is_image(path):
            image_descriptors.add(descriptor)
        return descriptor

    def fdopen(descriptor, *args, **kwargs):
        opened = real_fdopen(descriptor, *args, **kwargs)
        if descriptor in image_descriptors:
            image_descriptors.discard(descriptor)  # the number is reused once closed
            return Half(opened)
        return opened

    builtins.open, io.open = watched_open(builtins.open), watched_open(io.open)
    os.open, os.fdopen = os_open, fdopen
else:
    raise SystemExit(f"unknown CRASH_AT event {event!r}")

from scrapy.cmdline import execute
sys.argv = ["scrapy", *sys.argv[1:]]
execute()
"""


def crawl(archive: Path, start_urls: list[str], proxy: FaultProxy, *settings: str):
    summary = archive.parent / "summary.json"
    summary.unlink(missing_ok=True)
    result = run_scrapy(
        *crawl_args(archive, start_urls, "-s", f"RUN_SUMMARY_FILE={summary}", *LOCAL, *settings),
        proxy=proxy,
    )
    return result, summary_of(summary)


def crash(archive: Path, start_urls: list[str], proxy: FaultProxy, at: str, *settings: str):
    """A crawl that the hook kills at ``at`` (``event:N``); asserts that it was killed."""
    arguments = crawl_args(archive, start_urls, *LOCAL, *settings)
    result = run_scrapy_hooked(CRASH_HOOK, *arguments, proxy=proxy, env={"CRASH_AT": at})
    assert result.returncode == -signal.SIGKILL, f"the crash hook did not fire:\n{result.stderr}"
    return result


def digests(folder: Path, *, dot_files: bool = True) -> dict[str, str]:
    """sha256 of every regular file under ``folder`` (relative paths)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and (dot_files or not p.name.startswith("."))
    }


@pytest.fixture
def site(tmp_path) -> Iterator[tuple[FaultProxy, list[str], Path]]:
    """A generated site of 150 articles behind a (well-behaved) loopback proxy."""
    root = tmp_path / "site"
    start_urls = generate(root, 150)
    proxy = FaultProxy(root).start()
    yield proxy, start_urls, root
    proxy.stop()


# --- (a) kills at random moments ------------------------------------------------------------


def test_random_sigkills_lose_nothing(tmp_path, site):
    """Twelve crawls in a row on one archive, each killed at a seeded random moment (at
    startup, or a few posts into the run plus a random instant), then a run to the end."""
    proxy, start_urls, _ = site
    archive = tmp_path / "archive"
    rng = random.Random(20260601)
    orphans_seen: set[Path] = set()
    kills = 0
    for trial in range(12):
        before = len(posts(archive)) if archive.exists() else 0
        process = subprocess.Popen(
            [sys.executable, "-m", "scrapy", *crawl_args(archive, start_urls, *PACED)],
            cwd=PROJECT,
            env=scrapy_env(proxy),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if trial % 4 == 0:  # during startup: lock, stale-file cleanup, catalog opening
            time.sleep(rng.uniform(0.3, 1.2))
        else:  # after k more posts, at a random instant between two writes
            k = rng.randint(1, 12)
            deadline = time.monotonic() + 60
            while len(posts(archive)) < before + k and process.poll() is None:
                assert time.monotonic() < deadline, "the crawl stalled"
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.03))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
        # Complete posts only; a row for every file but the one written at the instant of
        # the kill (earlier ones wait for a run that gets to them: checked at the end).
        sound = check_archive(archive, max_orphans=150, temporaries_ok=True)
        assert len(set(sound.orphans) - orphans_seen) <= 1, sound.orphans
        orphans_seen.update(sound.orphans)
        for temporary in temporaries(archive):
            assert temporary.name.endswith(".tmp"), temporary
    assert kills >= 10

    result, summary = crawl(archive, start_urls, proxy)  # the run to the end
    assert result.returncode == 0, result.stderr
    assert summary["status"] == "ok"
    sound = check_archive(archive)  # no temporaries, no orphans: the kills are all repaired
    assert len(sound.files) == 150
    assert orphans_seen <= set(sound.files)
    assert len(exported_lines(archive)) == 150


# --- (a) kills at the instants that matter ----------------------------------------------------


def test_kill_in_the_middle_of_writing_a_post(tmp_path, site):
    proxy, start_urls, _ = site
    archive = tmp_path / "archive"
    crash(archive, start_urls, proxy, "write:3")
    files = posts(archive)
    assert len(files) == 2  # the third never appeared under its name
    (half,) = temporaries(archive)  # a dot-file that readers skip
    assert half.name.startswith(".") and half.name.endswith(".tmp")
    check_archive(archive, temporaries_ok=True)

    result, summary = crawl(archive, start_urls, proxy)
    assert result.returncode == 0, result.stderr
    assert f"Removed {half}" in result.stderr  # the killed writer's temporary file
    assert summary["new"] == 148 and summary["skipped"] == 2
    assert len(check_archive(archive).files) == 150


def test_kill_while_rewriting_a_post_keeps_the_old_version(tmp_path, site):
    proxy, start_urls, root = site
    archive = tmp_path / "archive"
    result, _ = crawl(archive, start_urls, proxy)
    assert result.returncode == 0, result.stderr
    before = digests(archive / "_posts")
    generate(root, 150, version=2, edited={10})  # a correction to one article

    revisit = ("-s", "INCREMENTAL_REVISIT_DAYS=100000")  # fetch every article again
    crash(archive, start_urls, proxy, "write:1", *revisit)
    assert digests(archive / "_posts", dot_files=False) == before  # old posts, byte for byte
    assert len(temporaries(archive)) == 1
    check_archive(archive, temporaries_ok=True)  # its catalog row still matches the old bytes

    result, summary = crawl(archive, start_urls, proxy, *revisit)
    assert result.returncode == 0, result.stderr
    assert (summary["updated"], summary["unchanged"]) == (1, 149)
    (edited,) = [p for p in posts(archive) if article(10).article_id in p.name]
    assert "更正" in read_post(edited)[1]
    check_archive(archive)


def test_kill_just_before_a_post_is_renamed(tmp_path, site):
    proxy, start_urls, _ = site
    archive = tmp_path / "archive"
    crash(archive, start_urls, proxy, "rename:5")
    assert len(posts(archive)) == 4 and len(temporaries(archive)) == 1
    (temporary,) = temporaries(archive)
    assert temporary.read_text(encoding="utf-8").endswith("[返回首页](/)\n")  # complete
    check_archive(archive, temporaries_ok=True)
    result, _ = crawl(archive, start_urls, proxy)
    assert result.returncode == 0, result.stderr
    assert len(check_archive(archive).files) == 150


def test_kill_between_a_post_and_its_catalog_row(tmp_path, site):
    proxy, start_urls, _ = site
    archive = tmp_path / "archive"
    crash(archive, start_urls, proxy, "catalog:4")
    sound = check_archive(archive, max_orphans=1)
    assert len(sound.files) == 4 and len(sound.orphans) == 1  # in place, not yet cataloged
    (orphan,) = sound.orphans
    orphan_bytes = orphan.read_bytes()

    result, summary = crawl(archive, start_urls, proxy)
    assert result.returncode == 0, result.stderr
    assert summary["skipped"] == 3  # the orphan is not in the catalog, so it is fetched again
    assert orphan.read_bytes() == orphan_bytes
    assert len(check_archive(archive).files) == 150  # and now it has its row


def test_kill_while_writing_an_image_leaves_no_broken_image(tmp_path, site):
    proxy, start_urls, root = site
    archive = tmp_path / "archive"
    served = {p.read_bytes() for p in root.rglob("*.jpg")}
    crash(archive, start_urls, proxy, "image:2", "-s", "ARCHIVE_IMAGES=True")
    half = [
        p for p in (archive / "assets").rglob("*") if p.is_file() and p.read_bytes() not in served
    ]
    assert half, "the kill did not land inside an image write"
    # Posts are written meanwhile by the archive's writer thread: the kill may also land
    # between one post and its catalog row (the one orphan any kill may leave, repaired below).
    check_archive(archive, max_orphans=1, temporaries_ok=True)

    result, _ = crawl(archive, start_urls, proxy, "-s", "ARCHIVE_IMAGES=True")
    assert result.returncode == 0, result.stderr
    check_archive(archive)
    kept = [p for p in (archive / "assets").rglob("*") if p.is_file()]
    assert len(kept) == 15  # every 10th of 150 articles has an image
    assert all(p.read_bytes() in served for p in kept), "a truncated image was kept"


# --- (b) archives that cannot be written -----------------------------------------------------


@pytest.fixture
def small_fs(tmp_path) -> Iterator[callable]:
    """Mount tiny tmpfs filesystems for the test (as root); unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        target = tmp_path / f"fs{len(mounted)}"
        target.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        require(result.returncode == 0, f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of ``folder``'s filesystem; returns the filler file."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(descriptor)
    for _ in range(64):  # the last bytes, one at a time
        try:
            with filler.open("ab") as file:
                file.write(b"\0")
        except OSError:
            break
    return filler


def unwritable_run(archive: Path, start_urls: list[str], proxy: FaultProxy, tmp_path: Path):
    """A crawl that must fail; it may log tracebacks (test_unwritable_archive_is_reported_clearly
    is about that), so it runs without run_scrapy's traceback check."""
    summary = tmp_path / "summary.json"
    summary.unlink(missing_ok=True)
    result = run_scrapy(
        *crawl_args(archive, start_urls, "-s", f"RUN_SUMMARY_FILE={summary}", *LOCAL),
        proxy=proxy,
        tracebacks_ok=True,
    )
    return result, summary_of(summary)


def test_archive_under_a_regular_file(tmp_path, site):
    proxy, start_urls, _ = site
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be\n")
    result, _ = unwritable_run(blocker / "archive", start_urls, proxy, tmp_path)
    assert result.returncode != 0
    assert "Not a directory" in result.stderr and str(blocker) in result.stderr
    assert blocker.read_text() == "a file where a folder should be\n"
    assert {p.name for p in tmp_path.iterdir()} - {"summary.json"} == {"blocker", "site"}


def test_read_only_archive_is_left_untouched(tmp_path, site, small_fs):
    proxy, start_urls, _root = site
    fs = small_fs("4m")
    archive = fs / "archive"
    result, _ = crawl(archive, start_urls[:1], proxy, "-s", "ARCHIVE_IMAGES=False")
    assert result.returncode == 0, result.stderr
    before = digests(archive)
    subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
    try:
        result, _ = unwritable_run(archive, start_urls, proxy, tmp_path)
        assert result.returncode != 0
        assert "Read-only file system" in result.stderr
        assert digests(archive) == before
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(fs)], check=True)
    result, _summary = crawl(archive, start_urls, proxy, "-s", "ARCHIVE_IMAGES=False")
    assert result.returncode == 0, result.stderr
    assert len(check_archive(archive).files) == 150


def test_full_disk_from_the_start(tmp_path, site, small_fs):
    proxy, start_urls, _root = site
    fs = small_fs("4m")
    archive = fs / "archive"
    result, _ = crawl(archive, start_urls[:1], proxy)  # the first column: 100 articles
    assert result.returncode == 0, result.stderr
    filler = fill(fs)
    before = digests(archive)

    result, _ = unwritable_run(archive, start_urls, proxy, tmp_path)
    assert result.returncode != 0
    assert "No space left on device" in result.stderr
    after = digests(archive)
    del before[".lock"]  # the run's own lock file: "pid N since …"
    assert {k: v for k, v in after.items() if k in before} == before  # nothing changed
    assert temporaries(archive) == []

    filler.unlink()  # (the checks open the catalog, which needs a little room)
    assert len(check_archive(archive).files) == 100
    result, summary = crawl(archive, start_urls, proxy)
    assert result.returncode == 0, result.stderr
    assert summary["new"] == 50
    assert len(check_archive(archive).files) == 150


def test_disk_filling_up_during_a_run(tmp_path, site, small_fs):
    proxy, start_urls, _ = site
    fs = small_fs("400k")  # room for some posts, not for 150
    archive = fs / "archive"
    result, _ = unwritable_run(archive, start_urls, proxy, tmp_path)
    stats = stats_of(result.stderr)
    written = len(posts(archive))
    assert 0 < written < 150
    assert result.returncode != 0
    assert stats["item_dropped_reasons_count/ArchiveWriteError"] >= 1
    assert "No space left on device" in result.stderr
    assert temporaries(archive) == []
    check_archive(archive, max_orphans=150)  # complete posts; rows may lag: the catalog is full too
    before = digests(archive / "_posts")

    subprocess.run(["mount", "-o", "remount,size=16m", str(fs)], check=True)  # more room
    result, _summary = crawl(archive, start_urls, proxy)
    assert result.returncode == 0, result.stderr
    assert len(check_archive(archive).files) == 150
    after = digests(archive / "_posts")
    assert {k: after[k] for k in before} == before  # what the full disk held was kept as it was


UNWRITABLE = ["under-a-file", "read-only", "full-from-the-start", "filling-up"]


@pytest.mark.parametrize("case", UNWRITABLE)
def test_unwritable_archive_is_reported_clearly(case, tmp_path, site, small_fs):
    proxy, start_urls, _ = site
    if case == "under-a-file":
        (tmp_path / "blocker").write_text("x")
        archive, problem = tmp_path / "blocker" / "archive", "Not a directory"
    else:
        fs = small_fs("400k" if case == "filling-up" else "4m")
        archive = fs / "archive"
        problem = "Read-only file system" if case == "read-only" else "No space left on device"
        if case != "filling-up":
            crawl(archive, start_urls[:1], proxy, "-s", "ARCHIVE_IMAGES=False")
        if case == "read-only":
            subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
        elif case == "full-from-the-start":
            fill(fs)
    try:
        result, summary = unwritable_run(archive, start_urls, proxy, tmp_path)
    finally:
        if case == "read-only":
            subprocess.run(["mount", "-o", "remount,rw", str(fs)], check=True)
    log = without_monitor_reports(result.stderr)
    assert result.returncode == 1
    # Image writes that fail as the disk fills log tracebacks of their own: see
    # test_image_that_cannot_be_written_logs_no_traceback.
    for block in log.split("Traceback (most recent call last):")[1:]:
        assert "scrapy/pipelines/files.py" in block.split("\n20", 1)[0], block
    assert any(problem in line and str(archive) in line for line in log.splitlines())
    assert summary is not None and summary["status"] == "failed", json.dumps(summary)
    assert summary["finish_reason"] == "archive_unwritable"


def test_image_that_cannot_be_written_logs_no_traceback(tmp_path, site):
    proxy, start_urls, _ = site
    archive = tmp_path / "archive"
    (archive / "assets").mkdir(parents=True)
    (archive / "assets" / "images").write_text("a file where the image folder should be\n")
    result, _ = unwritable_run(archive, start_urls, proxy, tmp_path)
    assert result.returncode == 0
    assert len(check_archive(archive).files) == 150  # the posts keep the images' own URLs
    stats = stats_of(result.stderr)
    assert stats["images/failed"] == 15 and stats.get("images/downloaded", 0) == 0
    assert "Traceback" not in without_monitor_reports(result.stderr)
