"""End-of-run monitors fail a run whose field health collapsed."""

import json
import re

from conftest import run_scrapy

from benchmarks.sitegen import generate

LOCAL = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0"]


def crawl(tmp_path, replay, site):
    summary = tmp_path / "summary.json"
    result = run_scrapy(
        "crawl",
        "xinhua",
        "-a",
        "start_urls=http://www.news.cn/col0/",
        "-s",
        f"ARCHIVE_DIR={tmp_path / 'archive'}",
        "-s",
        f"RUN_SUMMARY_FILE={summary}",
        *LOCAL,
        proxy=replay(site),
    )
    return result, json.loads(summary.read_text())


def test_healthy_run_passes_its_monitors(tmp_path, replay):
    generate(tmp_path / "site", 30)
    result, summary = crawl(tmp_path, replay, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert summary["new"] == 30
    assert "[Spidermon] OK" in result.stderr and "FAIL:" not in result.stderr


def test_run_whose_dates_vanished_fails(tmp_path, replay):
    """The site 'changed its layout': no page shows a date any more."""
    site = tmp_path / "site"
    generate(site, 30)
    for page in site.rglob("c*.htm*"):
        html = page.read_text(encoding="utf-8")
        html = re.sub(r'<div class="header-time left">.*?</div>', "", html)
        html = re.sub(r'<span class="h-time">.*?</span>', "", html)
        page.write_text(html, encoding="utf-8")
    result, _ = crawl(tmp_path, replay, site)
    # The generic fallbacks still find a date (a sidebar's), which is exactly why the
    # share of dates read by the site's own rules is watched.
    assert result.returncode == 1
    assert "FAIL: Field health" in result.stderr
    assert "xinhua published: own rules served 0% of 30" in result.stderr
