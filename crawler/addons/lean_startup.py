"""Start-up cost of every run: components that are switched off are not even imported."""

from __future__ import annotations

from scrapy.settings import BaseSettings

# (switch, component list, component): Scrapy imports every class its component lists
# name, to normalise them, before a switched-off one declines to run.
_SWITCHED_COMPONENTS = (
    (
        "REMOTE_CONTROL_ENABLED",  # imports aiohttp: ~80 ms
        "EXTENSIONS_BASE",
        "scrapy.extensions.remote_control.RemoteControl",
    ),
    (
        "COOKIES_ENABLED",  # imports tldextract: ~30 ms
        "DOWNLOADER_MIDDLEWARES_BASE",
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
    ),
)


class LeanStartupAddon:
    """A Scrapy add-on: leaves components whose switch is off out of Scrapy's base lists.

    A scheduled run that finds nothing new is mostly start-up; importing components that
    will not run was a seventh of it. Behaviour is unchanged: with the switch on (say
    ``-s COOKIES_ENABLED=True``) the component is listed, imported and run as usual.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        for switch, components, path in _SWITCHED_COMPONENTS:
            if settings.getbool(switch):
                continue
            listed = settings.getdict(components)
            if listed.pop(path, None) is not None:
                settings.set(components, listed, priority=settings.getpriority(components) or 0)
