"""Project commands (``COMMANDS_MODULE``): ``scrape`` and ``demo``."""

from typing import Any

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings


def prefer_settings(settings: BaseSettings, values: dict[str, Any]) -> None:
    """Apply a command's own defaults over the project's settings, but not over ``-s``.

    Scrapy ranks a command's ``default_settings`` below the project's, so commands whose
    defaults must win (a quiet log, no throttling for a local server) set them here.
    """
    for name, value in values.items():
        if settings.getpriority(name) < SETTINGS_PRIORITIES["cmdline"]:
            settings.set(name, value, priority="cmdline")
