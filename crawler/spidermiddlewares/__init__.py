"""Scrapy spider middlewares (SPIDER_MIDDLEWARES)."""
