import pytest

from crawler.urls import canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://www.news.cn/politics/20240509/abc/c.html",
            "http://www.news.cn/politics/20240509/abc/c.html",
        ),
        ("https://WWW.News.CN/a/c.html#comments", "https://www.news.cn/a/c.html"),
        (
            "https://www.news.cn/a/c.html?utm_source=wechat&from=timeline",
            "https://www.news.cn/a/c.html",
        ),
        ("https://www.news.cn/a/c.html?page=2&spm=1.2", "https://www.news.cn/a/c.html?page=2"),
        ("http://www.news.cn:80/a/c.html", "http://www.news.cn/a/c.html"),
        ("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/a"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected
