from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.archive.paths import (
    article_id_from_url,
    article_path,
    host_article_id,
    is_safe_article_id,
)
from crawler.reading.dates import BEIJING


@pytest.mark.parametrize(
    ("article_id", "safe"),
    [
        ("c_1128638927", True),
        ("3dd6e33cc6d749fbaae01fea337ff400", True),
        ("content-37319243", True),
        ("../etc/passwd", False),
        ("/abs", False),
        ("a b", False),
        ("新闻", False),
        ("", False),
        ("---", False),
        ("x" * 81, False),
    ],
)
def test_is_safe_article_id(article_id, safe):
    assert is_safe_article_id(article_id) is safe


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://politics.gmw.cn/2024-05/13/content_37319243.htm", "content_37319243"),
        ("http://www.example.com/news/20240513/abc123/index.html", "abc123"),
        ("http://www.example.com/a/b/c.html?id=..%2F..", None),
        ("http://www.example.com/news/2024/0308/a.html", None),  # not the date folder "0308"
        ("http://www.example.com/20240513/0a1b2c3d/c.html", "0a1b2c3d"),
    ],
)
def test_article_id_from_url(url, expected):
    article_id = article_id_from_url(url)
    assert is_safe_article_id(article_id)
    if expected:
        assert article_id == expected
    else:
        assert article_id.startswith("u") and len(article_id) == 17


def test_article_path_uses_beijing_date():
    # 20:00 UTC on 9 May is 04:00 on 10 May in Beijing.
    published = datetime(2024, 5, 9, 20, 0, tzinfo=UTC)
    path = article_path(Path("archive"), published, "c_1")
    assert path == Path("archive/_posts/2024/05/10/2024-05-10-c_1.md")
    assert published.astimezone(BEIJING).date().isoformat() == "2024-05-10"


def test_article_path_refuses_unsafe_ids():
    published = datetime(2024, 5, 9, tzinfo=timezone(timedelta(hours=8)))
    with pytest.raises(ValueError):
        article_path(Path("archive"), published, "../../x")


@pytest.mark.parametrize(
    ("url", "article_id", "expected"),
    [
        (
            "http://www.site-a.org/news/content_12345.htm",
            "content_12345",
            "www-site-a-org-content_12345",
        ),
        ("http://WWW.Site-B.org:8080/x/1234.html", "1234", "www-site-b-org-1234"),
        ("http://127.0.0.1/x/abcd1.html", "abcd1", "127-0-0-1-abcd1"),
        ("http://[::1]/x/abcd1.html", "abcd1", "1-abcd1"),
    ],
)
def test_host_article_id(url, article_id, expected):
    assert host_article_id(url, article_id) == expected


def test_host_article_id_stays_a_safe_id_on_long_hosts():
    host = "a" * 60 + "." + "b" * 60 + ".example.org"
    long_a = host_article_id(f"http://{host}/x/{'1' * 70}.htm", "1" * 70)
    long_b = host_article_id(f"http://{host}/y/{'1' * 70}.htm", "1" * 70)
    assert is_safe_article_id(long_a) and is_safe_article_id(long_b) and long_a != long_b


def test_article_path_puts_the_prefix_between_date_and_id():
    published = datetime(2026, 5, 11, 10, 0, tzinfo=BEIJING)
    path = article_path(Path("archive"), published, "content_1", "gmw")
    assert path == Path("archive/_posts/2026/05/11/2026-05-11-gmw-content_1.md")
    with pytest.raises(ValueError):
        article_path(Path("archive"), published, "content_1", "../x")
