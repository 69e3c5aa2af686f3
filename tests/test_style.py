"""The code base stays ruff clean (lint and format), checked with the rest of the suite."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT, require

RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    ruff = str(RUFF) if RUFF.exists() else shutil.which("ruff")
    require(ruff is not None, "ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [ruff, *command], cwd=PROJECT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_dependencies_run_one_way():
    """spiders/ and pipelines/ use crawler/; nothing in crawler/ imports them."""
    wrong = {
        f"{path.relative_to(PROJECT)}: {name}"
        for path in (PROJECT / "crawler").rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in {"spiders", "pipelines"}
    }
    assert wrong == set()


def test_crawler_keeps_a_handful_of_top_level_modules():
    """The rest sit in rooms named for one job each (docs/architecture.md)."""
    top = sorted(path.stem for path in (PROJECT / "crawler").glob("*.py"))
    assert len(top) <= 10, top
