"""The documents say what the code does: every command is in the README's everyday table, and
the archive format's layout names everything a run puts in the archive folder."""

import re

from conftest import PROJECT, run_scrapy

README = (PROJECT / "README.md").read_text(encoding="utf-8")
FORMAT = (PROJECT / "docs" / "archive-format.md").read_text(encoding="utf-8")
# Scrapy's own commands that a user of this project has no use for in everyday work.
SCRAPY_TOOLS = {"bench", "check", "edit", "fetch", "genspider", "parse", "runspider", "settings",
                "shell", "startproject", "version", "view"}  # fmt: skip


def everyday_table() -> str:
    section = README.split("## Everyday use", 1)[1]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_the_readme_lists_every_command():
    result = run_scrapy("-h")
    commands = set(re.findall(r"^  (\w+) ", result.stdout, flags=re.M)) - SCRAPY_TOOLS
    assert {"catalog", "search", "reindex", "buildsite", "scrape", "crawl"} <= commands
    table = everyday_table()
    assert {name for name in commands if f"`scrapy {name}" not in table} == set()


def test_the_format_layout_names_all_that_a_run_writes(tmp_path):
    archive = tmp_path / "archive"
    assert run_scrapy("demo", "-s", f"ARCHIVE_DIR={archive}").returncode == 0
    layout = FORMAT.split("## Layout", 1)[1].split("```")[1]
    written = {path.name for path in archive.iterdir()}
    assert {"_posts", "assets", "_catalog", "_warc", ".lock", "_config.yml"} <= written
    assert {name for name in written if name not in layout} == set()


def test_the_format_makes_no_promise_by_issue_number():
    assert re.findall(r"\bissue \d+", FORMAT, flags=re.I) == []
