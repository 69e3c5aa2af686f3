"""Discovery and continuation logic of the spiders, on hand-made responses (no network)."""

import gc
import json
import weakref

import pytest
from conftest import project_crawler
from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.misc import is_generator_with_return_value

from crawler.items import RawPage
from spiders.loader import site_spider
from spiders.urls import UrlsSpider

HEX = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
DS = "ffeeddccbbaa99887766554433221100"


XinhuaSpider = site_spider("xinhua")


def spider(cls=XinhuaSpider, **kwargs):
    return cls.from_crawler(project_crawler(cls), **kwargs)


def html(url, body):
    return HtmlResponse(url, body=body.encode("utf-8"), encoding="utf-8", request=Request(url))


def requests_of(results):
    return [r for r in results if isinstance(r, Request)]


def test_column_page_yields_articles_lists_and_datasource():
    page = html(
        "https://www.news.cn/politics/",
        f"""<div id="content-list">
        <div class="item"><div class="tit"><a href="/politics/20260511/{HEX}/c.html">新</a></div></div>
        <div class="item"><div class="tit"><a href='http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm'>旧</a></div></div>
        <a href="/world/">国际</a> <a href="https://www.example.com/20260511/{HEX}/c.html">外站</a>
        <a href="javascript:void(0)">无</a> <a href="/politics/20260511/{HEX}/c.html#comments">重复</a>
        </div><div data="datasource:{DS}" datatype="ds" preview="ds_"></div>""",
    )
    results = requests_of(spider().parse_list(page, depth=0))
    articles = [r.url for r in results if r.callback.__name__ == "parse_article"]
    lists = [r.url for r in results if r.callback.__name__ == "parse_list"]
    assert articles == [
        f"https://www.news.cn/politics/20260511/{HEX}/c.html",
        "http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm",
        f"https://www.news.cn/politics/20260511/{HEX}/c.html",  # Scrapy's dupefilter drops it
    ]
    assert lists == ["https://www.news.cn/world/", f"https://www.news.cn/politics/ds_{DS}.json"]


def test_list_depth_is_limited():
    page = html("https://www.news.cn/politics/", '<a href="/world/">国际</a>')
    xinhua = spider()
    depth = xinhua.settings.getint("DISCOVERY_LIST_DEPTH")
    assert requests_of(xinhua.parse_list(page, depth=depth - 1))
    assert not requests_of(xinhua.parse_list(page, depth=depth))


def test_datasource_json_rows_become_article_requests():
    data = {
        "categoryName": "时政",
        "datasource": [
            {"contentId": f"20260512{HEX}", "publishUrl": f"/politics/20260512/{HEX}/c.html"},
            {
                "contentType": "Link",
                "linkUrls": [{"linkUrl": "http://www.news.cn/politics/zt/index.html"}],
            },
            {"publishUrl": f"20260513/{HEX[::-1]}/c.html"},
        ],
    }
    response = TextResponse(
        f"https://www.news.cn/politics/ds_{DS}.json",
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
    )
    urls = [r.url for r in requests_of(spider().parse_list(response, depth=0))]
    assert urls == [
        f"https://www.news.cn/politics/20260512/{HEX}/c.html",
        f"https://www.news.cn/politics/20260513/{HEX[::-1]}/c.html",
    ]


@pytest.mark.parametrize(("page", "more"), [(1, True), (10, False)])
def test_nodeart_jsonp_pages_on_until_the_limit(page, more):
    url = f"http://qc.wa.news.cn/nodeart/list?nid=113352&pgnum={page}&cnt=10&tp=1&orderby=1"
    body = '({"status":0,"data":{"list":[{"DocID":1125327450,"LinkUrl":"http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm"}]},"totalnum":300})'
    response = TextResponse(url, body=body.encode(), headers={"Content-Type": "text/javascript"})
    results = requests_of(spider().parse_list(response, depth=0))
    assert results[0].url == "http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm"
    next_pages = [r.url for r in results if r.callback.__name__ == "parse_list"]
    assert next_pages == ([url.replace(f"pgnum={page}", f"pgnum={page + 1}")] if more else [])


def test_empty_nodeart_page_stops_paging():
    url = "http://qc.wa.news.cn/nodeart/list?nid=113352&pgnum=3&cnt=10"
    response = TextResponse(
        url, body=b'({"status":-1,"data":null})', headers={"Content-Type": "text/javascript"}
    )
    assert requests_of(spider().parse_list(response, depth=0)) == []


def test_start_urls_argument_overrides_profile():
    xinhua = spider(start_urls="http://www.news.cn/milpro/, http://www.news.cn/tech/")
    assert xinhua.start_url_override == ["http://www.news.cn/milpro/", "http://www.news.cn/tech/"]


def test_multi_page_article_is_one_item_with_pages_in_order():
    url = f"http://www.he.news.cn/20240515/{HEX}/c.html"
    pager = '<center class="xinhuaPager"><span>1</span><a href="c.html?page=2">2</a><a href="c.html?page=3">3</a><a href="c.html?page=2">下一页</a></center>'
    xinhua = spider()
    first = list(xinhua.parse_article(html(url, f"<p>第一页</p>{pager}"), site="xinhua"))
    assert len(first) == 1 and isinstance(first[0], Request)
    second_request = first[0]
    assert second_request.url == url + "?page=2"
    second = list(
        xinhua.parse_continuation(
            html(second_request.url, "<p>第二页</p>"), **second_request.cb_kwargs
        )
    )
    third_request = second[0]
    assert third_request.url == url + "?page=3"
    (item,) = xinhua.parse_continuation(
        html(third_request.url, "<p>第三页</p>"), **third_request.cb_kwargs
    )
    assert isinstance(item, RawPage)
    assert [p.url for p in item.continuation_pages] == [url + "?page=2", url + "?page=3"]


def test_failed_continuation_page_is_recorded_not_fatal():
    url = "http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm"
    pager = '<div id="div_currpage"><a href="c_1125327450_2.htm">2</a><a href="c_999_2.htm">他文</a></div>'
    xinhua = spider()
    (request,) = xinhua.parse_article(html(url, f"<p>正文</p>{pager}"), site="xinhua")
    assert request.url.endswith("c_1125327450_2.htm")

    class Failure:
        def __init__(self, request):
            self.request = request

    (item,) = xinhua.continuation_failed(Failure(request))
    assert item.missing_pages == [request.url]


@pytest.mark.parametrize(
    ("url", "body", "may_continue"),
    [
        (f"http://www.he.news.cn/20240515/{HEX}/c.html", '<a href="c.html?page=2">2</a>', True),
        (f"http://www.he.news.cn/20240515/{HEX}/c.html", '<a href="c_1_2.htm">c-c</a>', False),
        ("http://www.xinhuanet.com/w/2019-12/10/c_11.htm", '<a href="c_11_2.htm">', True),
        ("http://www.xinhuanet.com/w/2019-12/10/c_11.htm", '<a href="c_11.htm?p=2">', True),
        ("http://www.people.com.cn/n1/2024/c1004-40.html", '<a href="c1004-40-2.html">', True),
        # the stem elsewhere, not continued: its own link, a longer ID, another extension
        (
            "http://www.xinhuanet.com/w/2019-12/10/c_11.htm",
            '<a href="c_11.htm">c_110 c_11.html?',
            False,
        ),
        ("http://www.xinhuanet.com/w/2019-12/10/c_11.htm", "", False),
    ],
)
def test_continuation_is_looked_for_only_where_the_page_may_link_one(url, body, may_continue):
    page = RawPage(url=url, html=body, site="xinhua")
    assert XinhuaSpider._may_continue(html(url, body), page) is may_continue


def test_non_html_article_response_is_skipped():
    url = f"http://www.news.cn/x/20260511/{HEX}/c.html"
    response = Response(url, body=b"\x89PNG", request=Request(url))
    assert list(spider().parse_article(response, site="xinhua")) == []


def test_urls_spider_takes_a_list_or_a_comma_string():
    assert spider(UrlsSpider, urls="http://a.cn/1.htm, http://b.cn/2.htm").urls == [
        "http://a.cn/1.htm",
        "http://b.cn/2.htm",
    ]
    assert spider(UrlsSpider, urls=["http://a.cn/1,2.htm"]).urls == ["http://a.cn/1,2.htm"]


def test_list_pages_numbered_in_the_path_go_on_while_they_list_articles():
    cctv = spider(site_spider("cctv"))
    url = "https://news.cctv.com/2019/07/gaiban/cmsdatainterface/page/news_1.jsonp"
    body = 'news({"data":{"list":[{"url":"https://news.cctv.com/2026/06/25/ARTIabcdefghijklmnopqrstu260625.shtml"}]}})'
    response = TextResponse(
        url, body=body.encode(), headers={"Content-Type": "text/html"}
    )  # JSONP served as HTML
    results = requests_of(cctv.parse_list(response, depth=0))
    assert [r.callback.__name__ for r in results] == ["parse_article", "parse_list"]
    assert results[1].url.endswith("/news_2.jsonp")


def test_zero_padded_page_numbers_keep_their_width():
    xinhua = spider()
    assert xinhua._next_list_page(
        "http://qc.wa.news.cn/nodeart/list?nid=1&pgnum=09&cnt=10"
    ).endswith("pgnum=10&cnt=10")


def test_people_multi_page_article_follows_its_dash_numbered_pages():
    people = spider(site_spider("people"))
    url = "http://culture.people.com.cn/n1/2019/0615/c1013-31153719.html"
    pager = (
        '<div class="zdfy clearfix"><a href="/n1/2019/0615/c1013-31153719.html">【1】</a>'
        '<a href="/n1/2019/0615/c1013-31153719-2.html">【2】</a><a href="/n1/2019/0615/c1013-31153719-3.html">【3】</a>'
        '<a href="/n1/2019/0614/c1013-31150000-2.html">他文</a></div>'
    )
    (request,) = people.parse_article(
        html(url, f"<div id='rwb_zw'><p>第一页</p>{pager}</div>"), site="people"
    )
    assert request.url == "http://culture.people.com.cn/n1/2019/0615/c1013-31153719-2.html"
    assert request.cb_kwargs["remaining"] == [
        "http://culture.people.com.cn/n1/2019/0615/c1013-31153719-3.html"
    ]


def test_parsed_list_and_continuation_pages_are_freed_without_the_cycle_collector():
    # A response's cached selector refers back to it: a cycle that kept every such page's
    # parsed tree (libxml2 memory Python's collector does not see) until a full collection.
    xinhua = spider()
    list_page = html("https://www.news.cn/politics/", f'<a href="/p/20260511/{HEX}/c.html">新</a>')
    url = "http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm"
    article = html(
        url, '<p>正文</p><div id="div_currpage"><a href="c_1125327450_2.htm">2</a></div>'
    )
    gc.disable()
    try:
        assert requests_of(xinhua.parse_list(list_page, depth=0))
        assert requests_of(xinhua.parse_article(article, site="xinhua"))
        freed = [weakref.ref(list_page), weakref.ref(article)]
        del list_page, article
        assert [ref() for ref in freed] == [None, None]
    finally:
        gc.enable()


@pytest.mark.parametrize("name", ["xinhua", "eastmoney", "generic", "urls"])
def test_no_callback_returns_a_value_from_a_generator(name):
    # Scrapy's own check, switched off at run time (WARN_ON_GENERATOR_RETURN_VALUE): a
    # value returned from a generator callback would be silently lost.
    cls = UrlsSpider if name == "urls" else site_spider(name)
    callbacks = [
        getattr(cls, attribute)
        for attribute in dir(cls)
        if attribute.startswith("parse") or attribute.endswith("_failed")
    ]
    assert len(callbacks) >= 4
    assert [c.__name__ for c in callbacks if is_generator_with_return_value(c)] == []
