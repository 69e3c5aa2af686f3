"""A deterministic Xinhua-style site of N articles, for benchmarks and crawl tests.

Column pages (``http://www.news.cn/col<k>/``) list about 100 articles each (and, with
``linked_columns``, link every column in a navigation bar, as real column pages do). Articles alternate between the 2021+ layout on www.news.cn
(``/col<k>/YYYYMMDD/<32 hex>/c.html``) and the old layout on www.xinhuanet.com
(``/col<k>/YYYY-MM/DD/c_<digits>.htm``); every 25th article has a second page
(``c.html?page=2``) and every 10th an image (served too). Pages are padded with the navigation,
scripts and related-news lists real pages carry, to about 46 KB like real ones.

The text is generated from a small vocabulary: it reads as Chinese news-like filler
and is written for this project. The same ``n``, ``version``, ``edited`` and
``removed`` always give the same bytes. Files are laid out for
:class:`crawler.replay.ReplayProxy` (``<root>/<host>/<path>``, ``?q`` → ``__q``).
"""

from __future__ import annotations

import argparse
import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

from PIL import Image

from crawler.replay import site_path

PER_COLUMN = 100
FIRST_DAY = datetime(2025, 3, 1, 8, 0, 0)
_WORDS = [
    "春耕",
    "农机",
    "合作社",
    "产业链",
    "数字经济",
    "新能源",
    "港口",
    "物流",
    "乡村",
    "文旅",
    "科技",
    "创新",
    "研发",
    "制造",
    "出口",
    "消费",
    "市场",
    "企业",
    "项目",
    "生态",
    "湿地",
    "候鸟",
    "气象",
    "降水",
    "高铁",
    "航线",
    "医疗",
    "教育",
    "社区",
    "养老",
    "文化",
    "博物馆",
    "非遗",
    "体育",
    "赛事",
    "志愿者",
    "基层",
    "治理",
    "服务",
    "质量",
    "标准",
    "人才",
    "就业",
    "收入",
    "海关",
    "口岸",
    "冷链",
    "仓储",
    "粮食",
    "种子",
    "灌溉",
    "电网",
    "储能",
    "光伏",
    "风电",
    "算力",
    "数据",
    "平台",
    "安全",
    "应急",
]
_PAD_SCRIPT = "var _pageConfig = {" + ", ".join(f'"k{i}": "v{i}"' for i in range(120)) + "};"


@dataclass(frozen=True, slots=True)
class GeneratedArticle:
    index: int
    url: str
    article_id: str
    title: str
    published: datetime
    pages: int


def article(index: int) -> GeneratedArticle:
    """The ``index``-th article's identity (URL, ID, date) — the same in every version."""
    column = index // PER_COLUMN
    # 37 minutes apart: 20,000 articles span about 17 months, all in the past.
    published = FIRST_DAY + timedelta(minutes=37 * index, seconds=index % 53)
    digest = hashlib.md5(f"article-{index}".encode()).hexdigest()
    rng = random.Random(index)
    title = "".join(rng.sample(_WORDS, 3)) + f"观察（{index}）"
    pages = 2 if index % 25 == 7 else 1
    if index % 5 == 4:  # old layout
        article_id = f"c_{1120000000 + index}"
        url = f"http://www.xinhuanet.com/col{column}/{published:%Y-%m/%d}/{article_id}.htm"
    else:
        article_id = digest
        url = f"http://www.news.cn/col{column}/{published:%Y%m%d}/{digest}/c.html"
    return GeneratedArticle(index, url, article_id, title, published, pages)


def paragraphs(index: int, version: int, page: int) -> list[str]:
    rng = random.Random(f"{index}-{page}")
    count = rng.randint(4, 9)
    texts = []
    for number in range(count):
        words = "，".join("".join(rng.sample(_WORDS, 3)) for _ in range(rng.randint(5, 12)))
        texts.append(f"第{page}页第{number + 1}段：{words}。")
    if version > 1:
        texts.append(f"（更正：第{version}版对本文数据作了更新。）")
    return texts


def _padding(rng: random.Random) -> str:
    items = "".join(
        f'<li><a href="/other/{rng.getrandbits(64):016x}.html">{"".join(rng.sample(_WORDS, 4))}</a>'
        f'<div class="left publish-time">2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)} 10:00:00</div></li>'
        for _ in range(60)
    )
    nav = "".join(f'<a href="/nav{i}/">栏目{i}</a>' for i in range(80))
    return f'<div class="nav">{nav}</div><ul class="related">{items}</ul><script>{_PAD_SCRIPT * 20}</script>'


def new_layout(item: GeneratedArticle, body: list[str], pager: str) -> str:
    day = item.published
    rng = random.Random(item.index)
    ps = "".join(f"<p>\u3000\u3000{text}</p>" for text in body)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="source" content="新华网">'
        f"<title>{item.title}-新华网</title></head><body>"
        f'<div class="header domPC"><div class="header-time left"><span class="year"><em>{day:%Y}</em></span>'
        f'<span class="day"><em>{day:%m}</em>/<em>{day:%d}</em></span><span class="time">{day:%H:%M:%S}</span></div>'
        f'<div class="source">来源：新华网</div><div class="head-line clearfix"><h1><span class="title">{item.title}</span></h1></div></div>'
        f'<div class="main"><div id="detail"><span id="detailContent">{ps}{pager}</span>'
        f'<div id="articleEdit"><span class="editor">【责任编辑:王编辑】</span></div></div></div>'
        f"{_padding(rng)}</body></html>"
    )


def old_layout(item: GeneratedArticle, body: list[str], pager: str) -> str:
    rng = random.Random(item.index)
    ps = "".join(f"<p>\u3000\u3000{text}</p>" for text in body)
    return (
        f'<html><head><meta charset="utf-8"><title>{item.title}-新华网</title></head><body>'
        f'<div class="h-news"><div class="h-title">{item.title}</div><div class="h-info">'
        f'<span class="h-time">{item.published:%Y-%m-%d %H:%M:%S}</span><span>来源：<em id="source">新华网</em></span></div></div>'
        f'<div id="p-detail">{ps}{pager}<div class="p-tags"><span class="p-jc">责任编辑： 李编辑</span></div></div>'
        f"{_padding(rng)}</body></html>"
    )


def page_html(item: GeneratedArticle, version: int, page: int) -> str:
    body = paragraphs(item.index, version if page == 1 else 1, page)
    if item.index % 10 == 3 and page == 1:
        body.insert(1, "")  # image paragraph
    layout = old_layout if _is_old(item) else new_layout
    pager = ""
    if item.pages > 1 and page == 1:
        second = continuation_url(item).rsplit("/", 1)[1]
        pager = (
            f'<div id="div_currpage"><a href="{second}">2</a></div>'
            if _is_old(item)
            else f'<center class="xinhuaPager"><a href="{second}">2</a></center>'
        )
    html = layout(item, body, pager)
    if item.index % 10 == 3 and page == 1:
        html = html.replace("<p>\u3000\u3000</p>", f'<p><img src="{image_name(item)}"></p>', 1)
    return html


def image_name(item: GeneratedArticle) -> str:
    return f"photo_{item.index}.jpg"


def _is_old(item: GeneratedArticle) -> bool:
    return item.article_id.startswith("c_")


def continuation_url(item: GeneratedArticle) -> str:
    """Page 2 of a two-page article: ``c_<id>_2.htm`` (old layout) or ``c.html?page=2``."""
    return item.url.replace(".htm", "_2.htm") if _is_old(item) else item.url + "?page=2"


def generate(
    root: Path,
    n: int,
    *,
    version: int = 1,
    edited: Iterable[int] = (),
    removed: Iterable[int] = (),
    linked_columns: bool = False,
) -> list[str]:
    """Write the site under ``root``; returns the start URLs (the column pages).

    ``edited`` articles get the given ``version``'s text (a correction paragraph);
    ``removed`` ones vanish from the lists and the server (404).
    """
    edited, removed = set(edited), set(removed)
    columns: dict[int, list[GeneratedArticle]] = {}
    for index in range(n):
        item = article(index)
        if index in removed:
            continue
        columns.setdefault(index // PER_COLUMN, []).append(item)
        _write(root, item.url, page_html(item, version if index in edited else 1, 1))
        if item.pages > 1:
            _write(root, continuation_url(item), page_html(item, 1, 2))
        if index % 10 == 3:
            _write_bytes(root, item.url.rsplit("/", 1)[0] + "/" + image_name(item), _jpeg(index))
    start_urls = [f"http://www.news.cn/col{column}/" for column in columns]
    columns_nav = "".join(f'<a href="{url}">栏目{n}</a>' for n, url in enumerate(start_urls))
    nav = f'<div class="nav">{columns_nav}</div>' if linked_columns else ""
    for url, items in zip(start_urls, columns.values(), strict=True):
        links = "".join(
            f'<div class="item"><div class="tit"><a href="{item.url}">{item.title}</a></div>'
            f'<div class="time">{item.published:%Y-%m-%d}</div></div>'
            for item in reversed(items)
        )
        page = f'{nav}<div id="content-list">{links}</div>'
        _write(root, url, f"<html><body>{page}</body></html>")
    for host in ("www.news.cn", "www.xinhuanet.com"):
        _write(root, f"http://{host}/robots.txt", "User-agent: *\nAllow: /\n")
    return start_urls


def _jpeg(index: int) -> bytes:
    """A few KB of real JPEG (the crawler keeps only images whose bytes are one): one grey
    pixel and a comment that makes each index's file different."""
    comment = hashlib.sha256(str(index).encode()).hexdigest() * 64
    out = BytesIO()
    Image.new("L", (1, 1), 128).save(out, "JPEG", comment=comment)
    return out.getvalue()


def _write(root: Path, url: str, text: str) -> None:
    _write_bytes(root, url, text.encode("utf-8"))


def _write_bytes(root: Path, url: str, data: bytes) -> None:
    target = site_path(root, url)
    assert target is not None, url
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    urls = generate(args.root, args.n)
    print("\n".join(urls))


if __name__ == "__main__":
    main()
