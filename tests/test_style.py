"""The code base stays ruff clean (lint and format), checked with the rest of the suite."""

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
