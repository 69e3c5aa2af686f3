"""Stage 7: keep article images: download them into the archive and point the body at them."""

from __future__ import annotations

import hashlib
import html
import logging
import re
from io import BytesIO
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline, FSFilesStore
from scrapy.pipelines.media import MediaPipeline
from scrapy.utils.defer import ensure_awaitable
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from crawler.atomic import write_atomically
from crawler.items import Article

logger = logging.getLogger(__name__)
_IMAGE_SRC = re.compile(r'<img src="([^"]+)">')
_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".svg"}


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
        return deferToThread(write_atomically, Path(self.basedir) / path, buf.getvalue())


class ImagePipeline(FilesPipeline):
    """Downloads the images of each article with Scrapy's media pipeline into
    ``<ARCHIVE_DIR>/assets/images/<sha1 of URL>.<ext>`` and rewrites their ``src`` to the
    local copy (``ARCHIVE_SITE_URL`` + ``/assets/images/…``), so the archive outlives the
    news site's image servers. A download that fails, or an answer that is not an image,
    keeps the original URL and is counted as ``images/failed``. Downloads go through the
    crawl's own downloader: robots.txt, throttling, proxy and size cap apply.
    """

    STORE_SCHEMES: ClassVar[dict[str, Any]] = {
        **FilesPipeline.STORE_SCHEMES,
        "": AtomicFilesStore,
        "file": AtomicFilesStore,
    }

    def __init__(self, store_uri: str, *, crawler: Crawler, site_url: str):
        super().__init__(store_uri, crawler=crawler)
        self.site_url = site_url.rstrip("/")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ImagePipeline:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_IMAGES"):
            raise NotConfigured("ARCHIVE_IMAGES is off: article images keep their original URLs")
        if settings.getbool("ARCHIVE_TO_STDOUT"):
            raise NotConfigured("nothing is archived (ARCHIVE_TO_STDOUT)")
        store = Path(settings["ARCHIVE_DIR"]).resolve() / "assets"
        try:
            return cls(str(store), crawler=crawler, site_url=settings["ARCHIVE_SITE_URL"])
        except OSError as exc:  # the archive pipeline reports an unwritable archive
            raise NotConfigured(f"cannot keep images in {store}: {exc.strerror or exc}") from exc

    def get_media_requests(self, item: Any, info: MediaPipeline.SpiderInfo) -> list[Request]:
        if not isinstance(item, Article):
            return []
        urls = dict.fromkeys(
            html.unescape(src) for p in item.paragraphs for src in _IMAGE_SRC.findall(p)
        )
        return [Request(url, callback=NO_CALLBACK) for url in urls]

    async def media_downloaded(
        self,
        response: Response,
        request: Request,
        info: MediaPipeline.SpiderInfo,
        *,
        item: Any = None,
    ) -> Any:
        # A missing or non-image answer is an expected outcome, not an error with a traceback.
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if response.status != 200 or not response.body or not content_type.startswith("image/"):
            logger.info(
                "Image not kept (HTTP %d, %s): %s", response.status, content_type, request.url
            )
            return {"url": request.url, "path": None, "checksum": None, "status": "failed"}
        path = self.file_path(request, response=response, info=info, item=item)
        try:
            checksum = await ensure_awaitable(
                self.file_downloaded(response, request, info, item=item)
            )
        except OSError as exc:  # a full disk, a file where a folder should be
            logger.warning("Image not kept (%s): %s", exc.strerror or exc, request.url)
            return {"url": request.url, "path": None, "checksum": None, "status": "failed"}
        self.inc_stats("downloaded")
        return {"url": request.url, "path": path, "checksum": checksum, "status": "downloaded"}

    def media_failed(
        self, failure: Failure, request: Request, info: MediaPipeline.SpiderInfo
    ) -> None:
        # Timeouts, resets, oversize answers: an image not kept, counted in item_completed;
        # not an error with a traceback (Scrapy's default) that would fail the run's checks.
        logger.info("Image not kept (%s): %s", failure.getErrorMessage(), request.url)
        return None

    def file_path(
        self,
        request: Request,
        response: Response | None = None,
        info: MediaPipeline.SpiderInfo | None = None,
        *,
        item: Any = None,
    ) -> str:
        digest = hashlib.sha1(request.url.encode("utf-8")).hexdigest()  # a name, not security
        extension = PurePosixPath(request.url.split("?")[0]).suffix.lower()
        return f"images/{digest}{extension if extension in _EXTENSIONS else ''}"

    def item_completed(self, results: list[Any], item: Any, info: MediaPipeline.SpiderInfo) -> Any:
        if not isinstance(item, Article) or not results:
            return item
        local: dict[str, str] = {}
        for ok, result in results:
            if ok and result and result["path"]:
                local[result["url"]] = f"{self.site_url}/assets/{result['path']}"
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("images/downloaded", len(local))
        if failed := len(results) - len(local):
            self.crawler.stats.inc_value("images/failed", failed)
            logger.warning("%d image(s) of %s kept their original URL", failed, item.url)

        def replace(match: re.Match[str]) -> str:
            url = html.unescape(match.group(1))
            return f'<img src="{html.escape(local[url])}">' if url in local else match.group(0)

        item.paragraphs = [_IMAGE_SRC.sub(replace, paragraph) for paragraph in item.paragraphs]
        return item
