"""Stage 7: keep article images: download them into the archive and point the body at them."""

from __future__ import annotations

import hashlib
import html
import logging
import re
import struct
import warnings
from collections import Counter
from dataclasses import dataclass
from io import BytesIO
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image, UnidentifiedImageError
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline, FSFilesStore
from scrapy.pipelines.media import MediaPipeline
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from crawler.archive.atomic import write_atomically
from crawler.archive.folder import Archive
from crawler.items import Article

logger = logging.getLogger(__name__)
_IMAGE_SRC = re.compile(r'<img src="([^"]+)">')
# The raster formats kept (Pillow's names), and the extension a kept file gets. Not SVG: it
# is a document that can carry scripts. Not formats that browsers do not show.
RASTER_FORMATS = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "GIF": ".gif",
    "WEBP": ".webp",
    "AVIF": ".avif",
    "BMP": ".bmp",
}
_FORMAT_NAMES = "JPEG, PNG, GIF, WebP, AVIF or BMP"


class RejectedImage(Exception):
    """Downloaded bytes that are not kept as an image; ``kind`` names the reason in the stats
    (``images/rejected/<kind>``)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def raster_extension(data: bytes) -> str:
    """The extension of the raster image ``data`` is, by its bytes, whatever its URL or
    ``Content-Type`` claim: Pillow recognises the format from its signature and checks the
    file's structure (``verify()``, which decodes no pixels). Raises :class:`RejectedImage`
    for anything else (SVG, HTML, a truncated or forged file) and for images of more pixels
    than Pillow's decompression-bomb bound, which would exhaust a reader's browser.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=tuple(RASTER_FORMATS)) as image:
                image.verify()
                return RASTER_FORMATS[image.format or ""]
    except UnidentifiedImageError as exc:
        raise RejectedImage("not_raster", f"not a whole {_FORMAT_NAMES} image") from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise RejectedImage("too_many_pixels", "too many pixels") from exc
    # What Pillow raises on a damaged file of a known format.
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise RejectedImage("broken", f"broken image ({exc})") from exc


def image_path(url: str, extension: str) -> str:
    """Where the image at ``url`` is kept, under the store: named by its URL (a name, not
    security) and by the type its bytes are."""
    return f"images/{hashlib.sha1(url.encode('utf-8')).hexdigest()}{extension}"


class AtomicFilesStore(FSFilesStore):
    """Scrapy's file store, but a file appears complete or not at all: a crawl killed in the
    middle of writing an image must not leave a truncated one that later runs would keep.

    The write (create, fsync, rename: about a millisecond, all system calls) runs in the
    reactor's thread pool, not in the event loop that fetches and extracts pages.
    """

    def persist_file(
        self,
        path: str | PathLike[str],
        buf: BytesIO,
        info: MediaPipeline.SpiderInfo,
        meta: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Deferred[None]:
        target, archive = Path(self.basedir) / path, Path(self.basedir).parent
        return deferToThread(write_atomically, target, buf.getvalue(), root=archive)


@dataclass
class ImageBudget:
    """What an article's images may still take: bytes left, and images left out already."""

    bytes_left: int
    left_out: int = 0

    def spend(self, size: int) -> bool:
        """Take ``size`` bytes if they fit; False (and one more image left out) if not."""
        if size > self.bytes_left:
            self.left_out += 1
            return False
        self.bytes_left -= size
        return True


class ImagePipeline(FilesPipeline):
    """Downloads the images of each article with Scrapy's media pipeline into
    ``<ARCHIVE_DIR>/assets/images/<sha1 of URL>.<type>`` and rewrites their ``src`` to the
    local copy (``ARCHIVE_SITE_URL`` + ``/assets/images/…``), so the archive outlives the
    news site's image servers. Downloads go through the crawl's own downloader: robots.txt,
    throttling, proxy, size cap and the address guard
    (crawler/downloadermiddlewares/addressguard.py) apply.

    Only raster images whose bytes are what they are (:func:`raster_extension`) are kept, named
    by that type. An image that is not kept keeps its original URL: ``images/failed`` counts
    those whose download failed or was refused, or whose bytes are not a kept image (also
    counted as ``images/rejected/<kind>``); ``images/budget_exceeded`` those beyond the
    article's budget (``ARCHIVE_IMAGES_MAX_PER_ARTICLE`` images and
    ``ARCHIVE_IMAGES_MAX_BYTES_PER_ARTICLE`` bytes), which bounds what one page can make the
    crawler write.
    """

    STORE_SCHEMES: ClassVar[dict[str, Any]] = {
        **FilesPipeline.STORE_SCHEMES,
        "": AtomicFilesStore,
        "file": AtomicFilesStore,
    }

    def __init__(
        self,
        store_uri: str,
        *,
        crawler: Crawler,
        site_url: str,
        max_images: int,
        max_bytes: int,
    ):
        super().__init__(store_uri, crawler=crawler)
        self.site_url = site_url.rstrip("/")
        self.max_images = max_images
        self.max_bytes = max_bytes
        self._budgets: dict[int, ImageBudget] = {}  # by id() of the articles in progress

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ImagePipeline:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_IMAGES"):
            raise NotConfigured("ARCHIVE_IMAGES is off: article images keep their original URLs")
        if settings.getbool("ARCHIVE_TO_STDOUT"):
            raise NotConfigured("nothing is archived (ARCHIVE_TO_STDOUT)")
        # Not resolved through assets/: a link planted there is refused by the store's
        # writes (AtomicFilesStore), not followed out of the archive.
        store = Archive.from_settings(settings).resolved().assets
        try:
            return cls(
                str(store),
                crawler=crawler,
                site_url=settings["ARCHIVE_SITE_URL"],
                max_images=settings.getint("ARCHIVE_IMAGES_MAX_PER_ARTICLE"),
                max_bytes=settings.getint("ARCHIVE_IMAGES_MAX_BYTES_PER_ARTICLE"),
            )
        except OSError as exc:  # the archive pipeline reports an unwritable archive
            raise NotConfigured(f"cannot keep images in {store}: {exc.strerror or exc}") from exc

    def get_media_requests(self, item: Any, info: MediaPipeline.SpiderInfo) -> list[Request]:
        if not isinstance(item, Article):
            return []
        urls = list(
            dict.fromkeys(
                html.unescape(src) for p in item.paragraphs for src in _IMAGE_SRC.findall(p)
            )
        )
        self._budgets[id(item)] = ImageBudget(self.max_bytes, len(urls[self.max_images :]))
        return [Request(url, callback=NO_CALLBACK) for url in urls[: self.max_images]]

    async def media_to_download(
        self, request: Request, info: MediaPipeline.SpiderInfo, *, item: Any = None
    ) -> dict[str, Any] | None:
        """A copy the archive already holds is kept without downloading it again, once its
        bytes are checked like a download's (a copy from an older version may not pass)."""
        for extension in RASTER_FORMATS.values():
            path = image_path(request.url, extension)
            try:
                data = (Path(self.store.basedir) / path).read_bytes()
            except OSError:  # none yet, or a folder in the way: download it
                continue
            try:
                if raster_extension(data) == extension:
                    return self._keep(request, item, path, len(data), "uptodate")
            except RejectedImage:
                pass
        return None

    async def media_downloaded(
        self,
        response: Response,
        request: Request,
        info: MediaPipeline.SpiderInfo,
        *,
        item: Any = None,
    ) -> dict[str, Any]:
        # A missing or non-image answer is an expected outcome, not an error with a traceback.
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if response.status != 200 or not response.body or not content_type.startswith("image/"):
            logger.info(
                "Image not kept (HTTP %d, %s): %s", response.status, content_type, request.url
            )
            return _not_kept(request, "failed")
        try:
            path = image_path(request.url, raster_extension(response.body))
        except RejectedImage as rejected:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value(f"images/rejected/{rejected.kind}")
            logger.info("Image not kept (%s, %s): %s", rejected, content_type, request.url)
            return _not_kept(request, "failed")
        kept = self._keep(request, item, path, len(response.body), "downloaded")
        if kept["path"] is None:
            return kept
        try:
            await maybe_deferred_to_future(
                self.store.persist_file(path, BytesIO(response.body), info)
            )
        except OSError as exc:  # a full disk, a file where a folder should be
            logger.warning("Image not kept (%s): %s", exc.strerror or exc, request.url)
            return _not_kept(request, "failed")
        self.inc_stats("downloaded")
        return kept

    def media_failed(
        self, failure: Failure, request: Request, info: MediaPipeline.SpiderInfo
    ) -> None:
        # Timeouts, resets, oversize answers, refused addresses: an image not kept, counted in
        # item_completed; not an error with a traceback (Scrapy's default) that would fail the
        # run's checks.
        logger.info("Image not kept (%s): %s", failure.getErrorMessage(), request.url)
        return None

    def _keep(
        self, request: Request, item: Any, path: str, size: int, status: str
    ) -> dict[str, Any]:
        """The result for an image of ``size`` bytes at ``path``, if the article's byte
        budget still has room for it (spent here); else the result of an image not kept."""
        budget = self._budgets.get(id(item))
        if budget is not None and not budget.spend(size):
            return _not_kept(request, "budget")
        return {"url": request.url, "path": path, "checksum": None, "status": status}

    def item_completed(self, results: list[Any], item: Any, info: MediaPipeline.SpiderInfo) -> Any:
        if not isinstance(item, Article):
            return item
        budget = self._budgets.pop(id(item), None)
        local: dict[str, str] = {}
        statuses: Counter[str] = Counter()
        for ok, result in results:
            statuses[result["status"] if ok and result else "failed"] += 1
            if ok and result and result["path"]:
                local[result["url"]] = f"{self.site_url}/assets/{result['path']}"
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("images/downloaded", len(local))
        if failed := statuses["failed"]:
            self.crawler.stats.inc_value("images/failed", failed)
            logger.warning("%d image(s) of %s kept their original URL", failed, item.url)
        if budget is not None and budget.left_out:
            self._over_budget(item, budget.left_out)

        def replace(match: re.Match[str]) -> str:
            url = html.unescape(match.group(1))
            return f'<img src="{html.escape(local[url])}">' if url in local else match.group(0)

        item.paragraphs = [_IMAGE_SRC.sub(replace, paragraph) for paragraph in item.paragraphs]
        return item

    def _over_budget(self, item: Article, images: int) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("images/budget_exceeded", images)
        logger.warning(
            "%d image(s) of %s kept their original URL: over the budget of %d images and "
            "%d bytes per article (ARCHIVE_IMAGES_MAX_PER_ARTICLE, "
            "ARCHIVE_IMAGES_MAX_BYTES_PER_ARTICLE)",
            images,
            item.url,
            self.max_images,
            self.max_bytes,
        )


def _not_kept(request: Request, status: str) -> dict[str, Any]:
    return {"url": request.url, "path": None, "checksum": None, "status": status}
