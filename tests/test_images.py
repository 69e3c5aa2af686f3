"""Article images (issue 12, cases 5 and 6): only raster images whose bytes are what they are
get into ``assets/images/``, named by their real type, and one article's images are bounded
in number and bytes. A table for the type check, then real ``scrapy scrape`` subprocesses
through the loopback fault proxy."""

from __future__ import annotations

import re
import struct
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from archive_checks import check_archive, stats_of
from conftest import LOCAL, read_post, run_scrapy
from faultserver import PNG_IMAGE, Body, FaultProxy
from PIL import Image
from test_hostile_input import PARAGRAPHS, xinhua_page, xinhua_url

from pipelines.images import RejectedImage, raster_extension

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def picture(kind: str, size: tuple[int, int] = (2, 2), **options: object) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, kind, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "extension"),
    [("JPEG", ".jpg"), ("PNG", ".png"), ("GIF", ".gif"), ("WEBP", ".webp"), ("BMP", ".bmp")],
)
def test_raster_images_are_named_by_their_bytes(kind, extension):
    assert raster_extension(picture(kind)) == extension


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (SVG, "not_raster"),
        (b'<?xml version="1.0"?>' + SVG, "not_raster"),
        (HTML, "not_raster"),
        (b"", "not_raster"),
        (picture("TIFF"), "not_raster"),  # not a format kept: browsers do not show it
        (b"\x89PNG\r\n\x1a\n" + SVG, "not_raster"),  # a PNG signature before a script
        (b"GIF89a" + SVG, "not_raster"),
        (PNG_IMAGE[:40], "not_raster"),  # cut inside its header
        (PNG_IMAGE[:30] + b"\0" * 4 + PNG_IMAGE[34:], "not_raster"),  # a header with a wrong CRC
        (PNG_IMAGE[:-12], "broken"),  # the end missing
        (picture("JPEG")[:100], "broken"),
    ],
)
def test_anything_else_is_rejected(data, kind):
    with pytest.raises(RejectedImage) as rejected:
        raster_extension(data)
    assert rejected.value.kind == kind


def test_an_image_of_too_many_pixels_is_rejected():
    # A PNG header announcing 20000 x 20000 pixels: a reader's browser would need 1.6 GB.
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 6, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
    with pytest.raises(RejectedImage) as rejected:
        raster_extension(bomb)
    assert rejected.value.kind == "too_many_pixels"


# --- real scrapes -----------------------------------------------------------------------------


def scrape_article(tmp_path: Path, images: dict[str, Body], *settings: str):
    """``scrapy scrape`` of one article showing ``images`` (URL → how it is served)."""
    article = xinhua_url(1)
    page = xinhua_page("图片文章", (*PARAGRAPHS, *(f'<p><img src="{url}"></p>' for url in images)))
    proxy = FaultProxy(None, {article: Body(page.encode()), **images}).start()
    archive = tmp_path / "archive"
    try:
        result = run_scrapy(
            "scrape",
            article,
            "-s",
            f"ARCHIVE_DIR={archive}",
            "-L",
            "INFO",
            *LOCAL,
            *settings,
            proxy=proxy,
        )
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    _, body = read_post(Path(result.stdout.split()[0]))
    return archive, body, stats_of(result.stderr), proxy


def stored(archive: Path) -> dict[str, bytes]:
    folder = archive / "assets" / "images"
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}


def test_only_real_raster_images_are_stored_and_by_their_real_type(tmp_path):
    jpeg = picture("JPEG")
    images = {
        "http://img.news.cn/evil.svg": Body(SVG, "image/svg+xml"),
        "http://img.news.cn/fake.png": Body(SVG, "image/png"),  # an SVG claiming to be a PNG
        "http://img.news.cn/page.jpg": Body(HTML, "image/jpeg"),
        "http://img.news.cn/cut.png": Body(PNG_IMAGE[:40], "image/png"),
        "http://img.news.cn/photo.png": Body(jpeg, "image/png"),  # a JPEG under a .png name
        "http://img.news.cn/photo": Body(PNG_IMAGE, "image/png"),  # no extension at all
    }
    archive, body, stats, _ = scrape_article(tmp_path, images)

    kept = stored(archive)
    assert sorted(kept.values()) == sorted([jpeg, PNG_IMAGE])
    assert {Path(name).suffix for name in kept} == {".jpg", ".png"}
    assert kept[next(n for n in kept if n.endswith(".jpg"))] == jpeg
    for data in kept.values():
        assert b"<script" not in data and b"<svg" not in data
    for url in list(images)[:4]:  # not kept: the original URL stays
        assert f'<img src="{url}">' in body
    assert len(re.findall(r'<img src="/assets/images/[0-9a-f]{40}\.(?:jpg|png)">', body)) == 2
    assert stats["images/rejected/not_raster"] == 4
    assert stats["images/failed"] == 4 and stats["images/downloaded"] == 2
    check_archive(archive)


def test_a_kept_image_is_not_fetched_again_but_an_old_unchecked_copy_is(tmp_path):
    images = {"http://img.news.cn/a.png": Body(PNG_IMAGE, "image/png")}
    archive, _, _, proxy = scrape_article(tmp_path, images)
    (name,) = stored(archive)
    assert proxy.count("http://img.news.cn/a.png") == 1
    _, body, stats, proxy = scrape_article(tmp_path, images)
    assert proxy.count("http://img.news.cn/a.png") == 0  # the archive's copy serves
    assert f'<img src="/assets/images/{name}">' in body and stats["images/downloaded"] == 1
    # A copy an older version stored from the URL's extension, with other bytes in it.
    (archive / "assets" / "images" / name).write_bytes(SVG)
    _, body, stats, proxy = scrape_article(tmp_path, images)
    assert proxy.count("http://img.news.cn/a.png") == 1
    assert stored(archive) == {name: PNG_IMAGE}


def test_images_beyond_the_article_budget_keep_their_urls(tmp_path):
    photos = {f"http://img.news.cn/{i}.jpg": picture("JPEG", (40 + i, 40)) for i in range(6)}
    images = {url: Body(data, "image/jpeg") for url, data in photos.items()}
    biggest = max(len(data) for data in photos.values())
    archive, body, stats, proxy = scrape_article(
        tmp_path,
        images,
        "-s",
        "ARCHIVE_IMAGES_MAX_PER_ARTICLE=4",
        "-s",
        f"ARCHIVE_IMAGES_MAX_BYTES_PER_ARTICLE={3 * biggest}",
    )
    urls = list(photos)
    assert [proxy.count(url) for url in urls[4:]] == [0, 0]  # past the count: not requested
    kept = stored(archive)
    assert len(kept) == 3 and sum(map(len, kept.values())) <= 3 * biggest
    assert stats["images/budget_exceeded"] == 3 and stats["images/downloaded"] == 3
    assert "images/failed" not in stats
    local = re.findall(r'<img src="/assets/images/[^"]+">', body)
    original = [url for url in urls if f'<img src="{url}">' in body]
    assert len(local) == 3 and len(original) == 3 and set(urls[4:]) <= set(original)
