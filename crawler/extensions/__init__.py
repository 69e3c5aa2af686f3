"""Scrapy extensions (built from_crawler, listed in EXTENSIONS): the archive's lock and git
history, run summary, progress, field health, fetch-failure log, GC tuning, end-of-run monitors.
"""
