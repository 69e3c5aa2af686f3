"""Scrapy project package of the Xinhua news archiver."""

__version__ = "0.1.0"
