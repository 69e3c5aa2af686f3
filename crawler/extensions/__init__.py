"""Scrapy extensions (built from_crawler, listed in EXTENSIONS): run summary, progress, field
health, fetch-failure log, GC tuning, end-of-run monitors.
"""
