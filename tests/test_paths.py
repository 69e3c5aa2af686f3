from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.dates import BEIJING
from crawler.paths import article_id_from_url, article_path, is_safe_article_id


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
