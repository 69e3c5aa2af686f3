"""End-of-run monitors fail a run whose field health collapsed."""

import json
import re
import subprocess
import sys

import pytest
from conftest import LOCAL, PROJECT, crawl_args, project_crawler, run_scrapy
from scrapy.exceptions import NotConfigured

from benchmarks.sitegen import generate
from crawler import settings as project_settings
from crawler.extensions.monitors import SPIDERMON_EXTENSION, CloseMonitorRunner


def crawl(tmp_path, replay, site, *settings):
    summary = tmp_path / "summary.json"
    args = crawl_args(
        tmp_path / "archive", ["http://www.news.cn/col0/"], "-s", f"RUN_SUMMARY_FILE={summary}"
    )
    result = run_scrapy(*args, *LOCAL, *settings, proxy=replay(site))
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


def test_with_spidermons_own_extension_the_monitors_run_once(tmp_path, replay):
    generate(tmp_path / "site", 30)
    extensions = json.dumps({**project_settings.EXTENSIONS, SPIDERMON_EXTENSION: 531})
    result, _ = crawl(tmp_path, replay, tmp_path / "site", "-s", f"EXTENSIONS={extensions}")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("[Spidermon] OK") == 4  # monitors and three action steps, once


def test_the_runner_steps_aside_for_spidermons_extension_or_when_switched_off():
    with pytest.raises(NotConfigured):
        CloseMonitorRunner.from_crawler(project_crawler(EXTENSIONS={SPIDERMON_EXTENSION: 1}))
    with pytest.raises(NotConfigured):
        CloseMonitorRunner.from_crawler(project_crawler(SPIDERMON_ENABLED=False))
    assert CloseMonitorRunner.from_crawler(project_crawler()).suites


def test_start_up_does_not_import_spidermons_expression_monitors():
    # Spidermon's Scrapy extension imports them, and with them their schema machinery (~60 ms
    # a run). (jsonschema itself is imported now: site profiles are checked against theirs.)
    probe = (
        "import sys, crawler.extensions.monitors; "
        "print('spidermon.python.monitors' in sys.modules "
        "or 'spidermon.contrib.scrapy.extensions' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
