"""Atomic file replacement: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


class OutsideArchive(OSError):
    """A path leads out of the archive's real folder (a symbolic link inside it, ``..``)."""


def inside(root: Path, path: Path) -> Path:
    """``path``, once checked to resolve inside ``root``'s real folder (symbolic links
    followed, missing parts taken as they are named); raises :class:`OutsideArchive`.

    A link planted in the archive (``_posts/2026 -> /etc``) must not carry a write, a
    move or a delete outside it; ``root`` itself may be a link (an archive on another disk).
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath((real_root, real)) != real_root:
        raise OutsideArchive(f"{path} leads out of the archive (to {real}): refused")
    return path


def write_atomically(
    path: Path,
    data: bytes,
    *,
    fsync: bool = True,
    make_parents: bool = True,
    root: Path | None = None,
) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.
    With ``root``, ``path`` must stay inside it (see :func:`inside`)."""
    with replaced_atomically(path, fsync=fsync, make_parents=make_parents, root=root) as file:
        file.write(data)


@contextmanager
def replaced_atomically(
    path: Path, *, fsync: bool = True, make_parents: bool = True, root: Path | None = None
) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into, streamed; renamed over ``path``
    when the block ends, removed if it raises. With ``root``, ``path`` must stay inside it.

    The temporary name starts with a dot so that Jekyll and globbing readers skip it.
    """
    if root is not None:
        inside(root, path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            if fsync:
                file.flush()
                os.fsync(file.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def create_atomically(path: Path, data: bytes, *, root: Path, fsync: bool = False) -> bool:
    """Create ``path`` with ``data`` unless it exists; never replaces a file. Returns True
    when this call created it. ``path`` must stay inside ``root`` (see :func:`inside`).

    The content is complete before the name appears (a hard link of a finished
    temporary file), and the link fails if someone else created the file first.
    """
    inside(root, path).parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with temporary.open("wb") as file:
        file.write(data)
        if fsync:
            file.flush()
            os.fsync(file.fileno())
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


# Beside the swept folder: when the last sweep that met no running writer began.
SWEEP_MARKER = ".temporaries-swept"
_CLOCK_SLACK_NS = 2 * 10**9  # folder times come from a coarse kernel clock


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete temporary files that a killed writer left under ``folder``.

    A temporary file names its writer's pid (``.<name>.<pid>.<token>.tmp``); one whose
    process no longer runs on this machine will never be renamed into place.

    Creating a file sets its folder's modification time, so a temporary file left since the
    last sweep is in a folder modified since: only those folders are read, and those with
    subfolders to look into (a Linux folder's link count is 2 plus its subfolders), not the
    archive's hundreds of thousands of posts on every run. ``SWEEP_MARKER``'s time says
    when that sweep began; it moves only when no running writer's file was met, since that
    writer may be killed later and leave it.
    """
    marker = folder / SWEEP_MARKER
    since = _swept_since(marker)
    started = time.time_ns()
    removed: list[Path] = []
    running = False
    for directory, names in _changed_folders(folder, since):
        for name in names:
            pid = _writer_pid(name)
            if pid is None:
                continue
            if _running(pid):
                running = True
                continue
            path = directory / name
            path.unlink(missing_ok=True)
            removed.append(path)
    if not running:
        _mark_swept(marker, started)
    return removed


def _swept_since(marker: Path) -> int:
    """From when (ns) folders may hold temporary files that no sweep has seen: 0 (all of
    them) without a marker, or with anything but a plain file in its place."""
    try:
        marker_stat = marker.lstat()
    except FileNotFoundError:
        return 0
    if not stat.S_ISREG(marker_stat.st_mode):
        return 0
    return marker_stat.st_mtime_ns - _CLOCK_SLACK_NS


def _mark_swept(marker: Path, started: int) -> None:
    """Set the marker's time to ``started``; never through a link planted in its place."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(marker, flags, 0o644)
    except OSError:  # a link or a folder there: the next sweep reads every folder again
        return
    try:
        os.utime(descriptor, ns=(started, started))
    finally:
        os.close(descriptor)


def _writer_pid(name: str) -> int | None:
    """The pid in a temporary file's name (``.<name>.<pid>.<token>.tmp``); None for others."""
    parts = name.rsplit(".", 3)
    if name.startswith(".") and len(parts) == 4 and parts[3] == "tmp" and parts[1].isdigit():
        return int(parts[1])
    return None


def _changed_folders(root: Path, since: int) -> Iterator[tuple[Path, list[str]]]:
    """Each folder under ``root`` (itself included) modified at or after ``since`` (ns), with
    the names of its dot-files; folders not followed through links."""
    stack = [(root, root.stat())]
    while stack:
        folder, folder_stat = stack.pop()
        changed = folder_stat.st_mtime_ns >= since
        if folder_stat.st_nlink == 2:  # no subfolder: only its own dot-files matter
            if changed:
                with os.scandir(folder) as entries:
                    yield folder, [entry.name for entry in entries if entry.name[0] == "."]
            continue
        dot_files = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), entry.stat(follow_symlinks=False)))
                elif changed and entry.name[0] == ".":
                    dot_files.append(entry.name)
        if changed:
            yield folder, dot_files


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True
