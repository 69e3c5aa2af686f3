"""Spider loader that gives every site profile its own crawl spider.

``scrapy crawl people`` works as soon as ``crawler/sites/people.yaml`` exists: the
loader adds a :class:`~spiders.site.SiteSpider` subclass named after each profile
that has start URLs, next to the spiders found in ``SPIDER_MODULES``. Spiders that a
command runs for the user (``urls``, behind ``scrapy scrape``) say ``listed = False`` and stay
out of ``scrapy list``, which names what ``scrapy crawl`` is for.

Scrapy builds the loader before any command runs, so a broken profile ends every command
here, with one line naming the file and the error (exit status 2, a usage error), rather
than a traceback.
"""

from __future__ import annotations

import sys

from scrapy.settings import BaseSettings
from scrapy.spiderloader import SpiderLoader

from crawler.reading.profiles import ProfileError, SiteProfiles
from spiders.site import SiteSpider


class ProfileSpiderLoader(SpiderLoader):
    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        try:
            profiles = SiteProfiles.from_settings(settings)  # before any crawl: its own reading
        except ProfileError as error:
            print(f"Site profile error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        for name in profiles:
            if profiles[name].start_urls and name not in self._spiders:
                self._spiders[name] = site_spider(name)

    def list(self) -> list[str]:
        spiders = self._spiders.items()
        return sorted(name for name, spider in spiders if getattr(spider, "listed", True))


def site_spider(site: str) -> type[SiteSpider]:
    """A crawl spider class for one site profile."""
    class_name = "".join(part.title() for part in site.split("_")) + "Spider"
    return type(class_name, (SiteSpider,), {"name": site, "site": site, "__module__": __name__})
