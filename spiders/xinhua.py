"""``scrapy crawl xinhua``: the scheduled crawl of Xinhua's columns (crawler/sites/xinhua.yaml)."""

from spiders.site import SiteSpider


class XinhuaSpider(SiteSpider):
    name = "xinhua"
    site = "xinhua"
