"""The archive's lock: one writer per archive, or the workers of one distributed crawl together.

:func:`acquire` takes a ``flock`` on ``<ARCHIVE_DIR>/.lock``; the kernel drops it when the
process ends, however it ends, so a killed run leaves no stale lock. A crawl holds it from
the spider's opening to its closing (crawler/extensions/archive_lock.py); ``scrapy reindex``
and the repair of a damaged catalog while they work; the site build locks its own folder.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from datetime import datetime
from pathlib import Path
from typing import IO

from crawler.archive.atomic import OutsideArchive
from crawler.archive.paths import LOCK_FILE
from crawler.reading.dates import BEIJING


class ArchiveBusy(Exception):
    """Another process holds the archive's lock."""


def acquire(archive_dir: Path, wait: float, *, shared: bool = False) -> IO[str]:
    """Lock ``archive_dir`` for this process (waiting up to ``wait`` seconds); returns the
    open lock file, which holds the lock until it is closed or the process ends.

    ``shared``: the workers of one distributed crawl hold the lock together; a
    single-process run, which takes it exclusively, waits for all of them (or they for it).
    """
    archive_dir.mkdir(parents=True, exist_ok=True)
    handle = _open_lock_file(archive_dir / LOCK_FILE)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise ArchiveBusy(holder) from None
            time.sleep(0.2)
    if not shared:  # the holder's name, for the message a blocked run prints
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} since {datetime.now(BEIJING).isoformat(timespec='seconds')}\n"
        )
        handle.flush()
    return handle


def _open_lock_file(path: Path) -> IO[str]:
    """The lock file, created if missing. A symbolic link, or a file with other hard links,
    is refused (:class:`OutsideArchive`): the holder's name is written into the lock file,
    and a planted ``.lock`` must not make a run overwrite the file it leads to."""
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutsideArchive(f"{path} is a symbolic link: refused") from None
        raise
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(descriptor)
        raise OutsideArchive(f"{path} is not a file of the archive's own: refused")
    return os.fdopen(descriptor, "a+", encoding="utf-8")
