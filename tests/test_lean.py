"""crawler/lean.py: Scrapy's components with less overhead, and the same results."""

import pytest
from conftest import project_crawler
from scrapy import Request
from scrapy.downloadermiddlewares.httpproxy import HttpProxyMiddleware
from scrapy.statscollectors import MemoryStatsCollector

from crawler import lean
from crawler.lean import HostProxyMiddleware, LeanStatsCollector
from spiders.urls import UrlsSpider


def test_the_project_counts_with_the_lean_collector():
    crawler = project_crawler(UrlsSpider)
    assert crawler.settings["STATS_CLASS"] == "crawler.lean.LeanStatsCollector"
    stats = LeanStatsCollector(crawler)
    stats.inc_value("pages")
    stats.inc_value("pages", 2)
    stats.max_value("largest", 5)
    stats.max_value("largest", 3)
    stats.min_value("smallest", 5)
    stats.min_value("smallest", 3)
    stats.set_value("reason", "finished")
    assert stats.get_stats() == {"pages": 3, "largest": 5, "smallest": 3, "reason": "finished"}
    assert stats.get_value("missing", 7) == 7
    assert isinstance(stats, MemoryStatsCollector)
    assert type(stats).__getattribute__ is object.__getattribute__  # no hook per access


ENVIRONMENTS = [
    {"http_proxy": "http://127.0.0.1:8888"},
    {"http_proxy": "http://user:secret@127.0.0.1:8888", "https_proxy": "http://127.0.0.1:9999"},
    {"http_proxy": "http://127.0.0.1:8888", "no_proxy": "news.cn,localhost"},
    {"http_proxy": "http://127.0.0.1:8888", "no_proxy": "*"},
    {},
]
REQUESTS = [
    ("http://www.news.cn/politics/", {}),
    ("https://www.news.cn/politics/", {}),
    ("http://finance.eastmoney.com/a/1.html", {}),
    ("ftp://files.example.org/a.txt", {}),
    ("http://www.news.cn/politics/", {"proxy": "http://other:1@127.0.0.1:7777"}),
    ("http://www.news.cn/politics/", {"proxy": None}),
]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_proxy_decisions_are_scrapys(monkeypatch, environment):
    for name in ("http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    scrapys, ours = HttpProxyMiddleware(), HostProxyMiddleware()
    for url, meta in REQUESTS:
        for _ in range(2):  # the second time from the per-host answer
            expected, actual = Request(url, meta=dict(meta)), Request(url, meta=dict(meta))
            scrapys.process_request(expected)
            ours.process_request(actual)
            assert actual.meta == expected.meta, (url, meta)
            assert actual.headers == expected.headers, (url, meta)


def test_no_proxy_is_looked_up_once_per_host(monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:8888")
    asked: list[str] = []
    monkeypatch.setattr(lean, "proxy_bypass", lambda host: asked.append(host) or False)
    middleware = HostProxyMiddleware()
    for path in ("a", "b", "c"):
        middleware.process_request(Request(f"http://www.news.cn/{path}"))
    middleware.process_request(Request("http://finance.eastmoney.com/a/1.html"))
    assert asked == ["www.news.cn", "finance.eastmoney.com"]
