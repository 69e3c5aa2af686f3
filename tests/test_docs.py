"""The documents say what the code does: every command is in the README's everyday table, and
the archive format's layout names everything a run puts in the archive folder."""

import re
import subprocess
import sys

from conftest import PROJECT, run_scrapy

README = (PROJECT / "README.md").read_text(encoding="utf-8")
FORMAT = (PROJECT / "docs" / "archive-format.md").read_text(encoding="utf-8")
# Scrapy's own commands that a user of this project has no use for in everyday work.
SCRAPY_TOOLS = {"bench", "check", "edit", "fetch", "genspider", "parse", "runspider", "settings",
                "shell", "startproject", "version", "view"}  # fmt: skip


# The code's packages, whose modules the README's map names.
PACKAGES = ("crawler", "spiders", "pipelines")


def everyday_table() -> str:
    section = README.split("## Everyday use", 1)[1]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_the_readme_lists_every_command():
    result = run_scrapy("-h")
    commands = set(re.findall(r"^  (\w+) ", result.stdout, flags=re.M)) - SCRAPY_TOOLS
    assert {"catalog", "search", "reindex", "buildsite", "scrape", "crawl"} <= commands
    table = everyday_table()
    assert {name for name in commands if f"`scrapy {name}" not in table} == set()


def module_map() -> dict[str, str]:
    """The README's "How it is built" map: each entry's lines (continuations included) by the
    path it starts with, ``crawler/reading/``, ``crawler/settings.py``, ``spiders/``."""
    block = README.split("## How it is built", 1)[1].split("```")[1]
    entries: dict[str, str] = {}
    top = key = ""
    for line in filter(str.strip, block.splitlines()):
        indent = len(line) - len(line.lstrip())
        if indent > 2:  # the entry's description goes on
            entries[key] += "\n" + line
            continue
        key = line.split()[0] if indent == 0 else top + line.split()[0]
        top = key if indent == 0 else top
        entries[key] = line
    return entries


def test_the_readme_names_every_module_in_its_folder():
    entries = module_map()
    # crawler's own modules have entries of their own (``items.py drops.py   …``)
    own = [text for key, text in entries.items() if re.fullmatch(r"crawler/\w+\.py", key)]
    unnamed = []
    modules = (module for package in PACKAGES for module in (PROJECT / package).rglob("*.py"))
    for module in sorted(modules):
        path = module.relative_to(PROJECT).as_posix()
        folder = path.rsplit("/", 1)[0] + "/"
        if module.stem == "__init__":
            continue
        if folder == "crawler/":
            named = any(f"{module.name} " in text.split("   ")[0] + " " for text in own)
        else:
            named = re.search(rf"\b{module.stem}\b", entries.get(folder, "")) is not None
        if not named:
            unnamed.append(path)
    assert unnamed == []


def test_the_readme_says_how_long_the_tests_take():
    said = re.search(r"The whole suite \(about ([\d,]+) tests\b[^)]*\) takes about \d+ min", README)
    assert said, "the README should say how many tests there are and how long they take"
    collect = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    listed = subprocess.run(collect, cwd=PROJECT, capture_output=True, text=True, check=True)
    collected = int(re.search(r"^(\d+) tests collected", listed.stdout, flags=re.M).group(1))
    # the README's round figure stays within a tenth of the suite
    assert abs(int(said.group(1).replace(",", "")) - collected) <= collected / 10, collected


def test_the_format_layout_names_all_that_a_run_writes(tmp_path):
    archive = tmp_path / "archive"
    assert run_scrapy("demo", "-s", f"ARCHIVE_DIR={archive}").returncode == 0
    layout = FORMAT.split("## Layout", 1)[1].split("```")[1]
    written = {path.name for path in archive.iterdir()}
    assert {"_posts", "assets", "_catalog", "_warc", ".lock", "_config.yml"} <= written
    assert {name for name in written if name not in layout} == set()


def test_the_format_makes_no_promise_by_issue_number():
    assert re.findall(r"\bissue \d+", FORMAT, flags=re.I) == []
