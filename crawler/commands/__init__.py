"""Project commands (``COMMANDS_MODULE``): ``scrape`` and ``demo``."""

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler.extensions.summary import write_failed_start
from crawler.urls import is_http_url


def prefer_settings(settings: BaseSettings, values: dict[str, Any]) -> None:
    """Apply a command's own defaults over the project's settings, but not over ``-s``.

    Scrapy ranks a command's ``default_settings`` below the project's, so commands whose
    defaults must win (a quiet log, no throttling for a local server) set them here.
    """
    for name, value in values.items():
        if settings.getpriority(name) < SETTINGS_PRIORITIES["cmdline"]:
            settings.set(name, value, priority="cmdline")


def leave_out(settings: BaseSettings, components: dict[str, list[str]]) -> None:
    """Take components that a command's runs never use out of their lists (``EXTENSIONS``,
    ``ITEM_PIPELINES`` …: setting → import paths), so that they are neither built nor
    reported as disabled."""
    # By import path, as crawler/settings.py names them: loading the classes to compare them
    # (set_in_component_priority_dict) would import Twisted's reactor before Scrapy picks it.
    for setting, paths in components.items():
        listed = settings.getdict(setting)
        listed.update(dict.fromkeys(paths))
        settings.set(setting, listed, settings.getpriority(setting) or 0)


def require_http_urls(urls: Iterable[str], argument: str) -> None:
    """A usage error (exit 2, one line) naming the first of ``urls`` that is not an http(s)
    URL, before any crawl starts: only web pages are archived."""
    for url in urls:
        if not is_http_url(url):
            raise UsageError(f"{argument}: not an http(s) URL: {url!r}")


def require_archive_dir(settings: BaseSettings) -> None:
    """A usage error for an empty or blank ``ARCHIVE_DIR``, before anything is written: it
    would mean the current folder, where the archive's files would land among others.
    ``RUN_SUMMARY_FILE``, when set, says that the run failed."""
    if str(settings.get("ARCHIVE_DIR") or "").strip():
        return
    write_failed_start(settings, "archive_dir_empty")
    raise UsageError("ARCHIVE_DIR is empty: name the archive's folder, e.g. -s ARCHIVE_DIR=archive")


@contextmanager
def reader_may_stop_early(command: ScrapyCommand) -> Iterator[None]:
    """Standard output that its reader may stop reading (``scrapy catalog | head``): the
    command then ends quietly with exit status 141, as a Unix tool killed by SIGPIPE does."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would fail again flushing stdout at exit, with a message: point it elsewhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        command.exitcode = 128 + 13  # SIGPIPE
