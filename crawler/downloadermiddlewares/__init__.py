"""Scrapy downloader middlewares (DOWNLOADER_MIDDLEWARES)."""
