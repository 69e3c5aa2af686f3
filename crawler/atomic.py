"""Atomic file replacement: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
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


def create_atomically(path: Path, data: bytes, *, root: Path) -> bool:
    """Create ``path`` with ``data`` unless it exists; never replaces a file. Returns True
    when this call created it. ``path`` must stay inside ``root`` (see :func:`inside`).

    The content is complete before the name appears (a hard link of a finished
    temporary file), and the link fails if someone else created the file first.
    """
    inside(root, path).parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    temporary.write_bytes(data)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete temporary files that a killed writer left under ``folder``.

    A temporary file names its writer's pid (``.<name>.<pid>.<token>.tmp``); one whose
    process no longer runs on this machine will never be renamed into place.
    """
    removed = []
    for path in folder.rglob(".*.tmp"):
        parts = path.name.rsplit(".", 3)
        if len(parts) == 4 and parts[1].isdigit() and not _running(int(parts[1])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True
