"""LeanStartupAddon: switched-off components are not listed (so not imported); on, they are."""

from scrapy.settings import Settings

from crawler.addons.lean_startup import LeanStartupAddon

COOKIES = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
REMOTE_CONTROL = "scrapy.extensions.remote_control.RemoteControl"


def listed(**switches) -> tuple[bool, bool]:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in switches.items():
        settings.set(name, value, priority="cmdline")
    LeanStartupAddon().update_settings(settings)
    return (
        COOKIES in settings.getdict("DOWNLOADER_MIDDLEWARES_BASE"),
        REMOTE_CONTROL in settings.getdict("EXTENSIONS_BASE"),
    )


def test_switched_off_components_are_left_out():
    assert listed() == (False, False)


def test_switched_on_components_stay():
    assert listed(COOKIES_ENABLED=True) == (True, False)
    assert listed(REMOTE_CONTROL_ENABLED=True) == (False, True)
