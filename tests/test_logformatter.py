"""ArchiveLogFormatter: per-page lines only where LOG_LEVEL shows them; drops name the URL."""

import logging

import pytest
from conftest import project_crawler
from scrapy import Request
from scrapy.http import HtmlResponse

from crawler.drops import MissingDate
from crawler.items import Article, RawPage
from crawler.logformatter import ArchiveLogFormatter

URL = "http://www.news.cn/politics/20260511/0a1b2c3d4e5f40718293a4b5c6d7e8f9/c.html"


def formatter(log_level):
    crawler = project_crawler(LOG_LEVEL=log_level)
    return ArchiveLogFormatter.from_crawler(crawler), crawler


@pytest.mark.parametrize("log_level", ["DEBUG", "debug", logging.DEBUG, "NOSUCHLEVEL"])
def test_page_lines_are_built_where_debug_is_shown(log_level):
    logformatter, crawler = formatter(log_level)
    request = Request(URL)
    response = HtmlResponse(URL, body=b"<html></html>", request=request)
    crawled = logformatter.crawled(request, response, crawler.spider)
    assert crawled["level"] == logging.DEBUG and "Crawled" in crawled["msg"]
    item = Article(url=URL, site="xinhua", article_id="x")
    scraped = logformatter.scraped(item, response, crawler.spider)
    assert scraped["msg"] % scraped["args"] == f"Archived {URL} -> None"


@pytest.mark.parametrize("log_level", ["INFO", "warning", logging.ERROR])
def test_page_lines_are_not_built_below_the_log_level(log_level):
    logformatter, crawler = formatter(log_level)
    request = Request(URL)
    response = HtmlResponse(URL, body=b"<html></html>", request=request)
    assert logformatter.crawled(request, response, crawler.spider) is None
    item = Article(url=URL, site="xinhua", article_id="x")
    assert logformatter.scraped(item, response, crawler.spider) is None


def test_a_drop_names_its_reason_and_url_whatever_the_level():
    logformatter, crawler = formatter("INFO")
    item = Article(url=URL, site="xinhua", article_id="x")

    class Spider:
        pass

    spider = Spider()
    spider.crawler = crawler
    dropped = logformatter.dropped(item, MissingDate("no publication date found"), None, spider)
    assert dropped["msg"] % dropped["args"] == (
        f"Dropped (MissingDate): no publication date found <{URL}>"
    )


def test_an_item_error_names_the_url_not_the_page():
    logformatter, crawler = formatter("INFO")
    item = RawPage(url=URL, html="<html>" + "填充" * 100_000 + "</html>", site="xinhua")
    logged = logformatter.item_error(item, RecursionError("too deep"), None, crawler.spider)
    assert logged["msg"] % logged["args"] == f"Error processing {URL}"
