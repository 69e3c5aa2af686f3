"""The sweep of temporary files left by killed writers reads the folders changed since the
last sweep, not every file of the archive, and still finds every such file."""

import os
from pathlib import Path

import pytest

from crawler.archive import atomic
from crawler.archive.atomic import SWEEP_MARKER, remove_stale_temporaries

DEAD = 4_194_305  # above the largest pid Linux gives (pid_max is at most 2**22)


def temporary(folder: Path, name: str, pid: int = DEAD) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{name}.{pid}.abcd1234.tmp"
    path.write_text("half")
    return path


@pytest.fixture
def read_folders(monkeypatch) -> list[Path]:
    """The folders whose entries the sweep lists."""
    read: list[Path] = []
    scandir = os.scandir

    def recording(path):
        read.append(Path(path))
        return scandir(path)

    monkeypatch.setattr(atomic.os, "scandir", recording)
    return read


def test_the_first_sweep_reads_everything_later_ones_only_changed_folders(tmp_path, read_folders):
    days = [tmp_path / "_posts" / "2026" / "05" / f"{day:02d}" for day in (10, 11, 12)]
    stale = [temporary(day, f"2026-05-{day.name}-x.md") for day in days]
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(stale)  # no marker yet
    assert set(days) <= set(read_folders)
    long_ago = 1_000_000_000
    for day in days:
        os.utime(day, ns=(long_ago, long_ago))  # not written since

    read_folders.clear()
    later = temporary(days[1], "2026-05-11-y.md")  # a run killed since
    assert remove_stale_temporaries(tmp_path) == [later]
    assert days[1] in read_folders  # changed: read
    assert days[0] not in read_folders and days[2] not in read_folders  # neither read nor listed


def test_a_running_writers_file_holds_the_marker_back(tmp_path):
    alive = temporary(tmp_path / "_posts", "post.md", pid=os.getpid())
    assert remove_stale_temporaries(tmp_path) == []
    assert alive.exists() and not (tmp_path / SWEEP_MARKER).exists()  # read everything again
    alive.unlink()
    remove_stale_temporaries(tmp_path)
    assert (tmp_path / SWEEP_MARKER).is_file()


def test_a_link_in_the_markers_place_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("not the archive's")
    before = outside.stat().st_mtime_ns
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / SWEEP_MARKER).symlink_to(outside)
    stale = temporary(archive / "_posts", "post.md")
    assert remove_stale_temporaries(archive) == [stale]
    assert remove_stale_temporaries(archive) == []
    assert outside.stat().st_mtime_ns == before and (archive / SWEEP_MARKER).is_symlink()
