"""A misbehaving loopback HTTP proxy for reliability tests.

Like :class:`crawler.replay.ReplayProxy` it receives absolute-URL proxy requests
(``http_proxy=http://127.0.0.1:PORT``; http only, ``CONNECT`` is refused) and serves
``<root>/<host>/<path>`` at the real URLs (``/`` → ``index.html``, ``?q`` → ``__q``).
Unlike it, a table of faults decides how chosen URLs misbehave::

    proxy = FaultProxy(site, {
        "http://www.news.cn/col0/.../c.html": Status(503, times=2),  # then the page
        "http://www.news.cn/slow/*": Trickle(interval=0.2),          # a prefix
    }).start()

A fault is looked up by the full URL, then the URL without its query, then the longest
key ending in ``*`` that prefixes the URL. :meth:`FaultProxy.count` tells how often a
URL was requested (retries included); :attr:`FaultProxy.requests` lists them in order.

Every fault stops by itself: waits are capped (:data:`MAX_HOLD`) and end at once when
the proxy stops, streamed bodies are bounded in size, redirect chains and generated
pages end after a limit, idle connections time out. Only 127.0.0.1 is bound.
"""

from __future__ import annotations

import gzip
import io
import mimetypes
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from crawler.replay import LoopbackProxy

MAX_HOLD = 30.0  # no fault keeps a connection longer than this, whatever it is told
MAX_BODY = 512 * 1024 * 1024  # nor streams more than this
_FILLER = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>filler</title></head><body>"
    + "<p>填充文字。</p>" * 400
    + "</body></html>"
).encode()


def _png(width: int = 1, height: int = 1) -> bytes:
    """A valid, tiny RGBA PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + b"\xff\x00\x00\xff" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG_IMAGE = _png()
# A PNG followed by binary noise: not HTML, whatever the Content-Type header says.
PNG_BYTES = PNG_IMAGE + bytes(range(256)) * 16
PDF_BYTES = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\nstream\n"
    + bytes(range(256)) * 8
    + b"\nendstream\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


class Fault:
    """How one URL misbehaves. :meth:`respond` answers the request, or returns False to let
    the normal page be served (a burst that is over, say)."""

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        raise NotImplementedError


@dataclass
class Status(Fault):
    """Answer ``code`` to the first ``times`` requests (all when None), then serve normally."""

    code: int
    times: int | None = None
    body: bytes = b"<html><body>server error</body></html>"

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        if self.times is not None and attempt > self.times:
            return False
        handler.send_bytes(self.code, self.body)
        return True


@dataclass
class Hang(Fault):
    """Read the request, answer nothing for ``seconds``, then close the connection."""

    seconds: float = 5.0

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        handler.hold(self.seconds)
        handler.close_connection = True
        return True


@dataclass
class Reset(Fault):
    """Headers for the whole page, ``after`` bytes of it, then a TCP reset (RST)."""

    after: int = 1024

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        body = handler.page(url)
        handler.send_head(200, len(body), _content_type_for(url))
        handler.write(body[: self.after])
        handler.reset()
        return True


@dataclass
class Truncate(Fault):
    """A ``Content-Length`` of the whole page, only ``send`` bytes, then a clean close."""

    send: int = 1024

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        body = handler.page(url)
        handler.send_head(200, len(body), _content_type_for(url))
        handler.write(body[: self.send])
        handler.close_connection = True
        return True


@dataclass
class Trickle(Fault):
    """The page, ``chunk`` bytes every ``interval`` seconds (stops when the client leaves)."""

    chunk: int = 512
    interval: float = 0.1

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        body = handler.page(url)
        handler.send_head(200, len(body), _content_type_for(url))
        spent = 0.0
        for start in range(0, len(body), self.chunk):
            if not handler.write(body[start : start + self.chunk]):
                break
            if spent >= MAX_HOLD or not handler.hold(self.interval):
                break
            spent += self.interval
        handler.close_connection = True
        return True


@dataclass
class Redirect(Fault):
    """A redirect to ``location`` (absolute, or relative to the URL)."""

    location: str
    status: int = 302

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        handler.send_response(self.status)
        handler.send_header("Location", self.location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return True


@dataclass
class RedirectChain(Fault):
    """``URL`` → ``URL?hop=1`` → ``URL?hop=2`` …: a redirect loop that never repeats a URL
    (so no duplicate filter can end it), until ``limit`` hops, then 404."""

    limit: int = 50

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        parts = urlsplit(url)
        hop = int(parts.query.removeprefix("hop=")) if parts.query.startswith("hop=") else 0
        if hop >= self.limit:
            handler.send_bytes(404, b"end of the chain")
            return True
        base = url.split("?", 1)[0]
        return Redirect(f"{base}?hop={hop + 1}").respond(handler, url, attempt)


@dataclass
class Oversize(Fault):
    """An HTML page of ``size`` bytes, streamed in chunks, with a ``Content-Length`` or
    (``declare_length=False``) without one, ending at connection close."""

    size: int
    declare_length: bool = True

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        size = min(self.size, MAX_BODY)
        handler.send_head(200, size if self.declare_length else None, "text/html; charset=utf-8")
        head = b"<html><body><p>" + "很长的页面。".encode() * 10
        handler.write(head)
        sent, block = len(head), b"x" * 65536
        while sent < size:
            piece = block[: size - sent]
            if not handler.write(piece):
                break
            sent += len(piece)
        handler.close_connection = True
        return True


@dataclass
class GzipBomb(Fault):
    """``Content-Encoding: gzip`` over a small payload that inflates to ``inflated`` bytes."""

    inflated: int = 256 * 1024 * 1024

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        payload = gzip_bomb(min(self.inflated, MAX_BODY))
        handler.send_head(200, len(payload), "text/html", {"Content-Encoding": "gzip"})
        handler.write(payload)
        return True


@dataclass
class Body(Fault):
    """Exactly these bytes with this ``Content-Type`` (an empty 200, a PNG as text/html …)."""

    data: bytes
    content_type: str = "text/html"
    status: int = 200

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        handler.send_bytes(self.status, self.data, self.content_type)
        return True


@dataclass
class Generated(Fault):
    """Pages made on request: ``page(url)`` gives the HTML, or None for a 404."""

    page: Callable[[str], str | None]
    content_type: str = "text/html; charset=utf-8"

    def respond(self, handler: _Handler, url: str, attempt: int) -> bool:
        html = self.page(url)
        if html is None:
            handler.send_bytes(404, b"not found")
        else:
            handler.send_bytes(200, html.encode("utf-8"), self.content_type)
        return True


def calendar_trap(
    base: str, first: date, article_for_day: Callable[[int], str | None], limit: int = 1000
) -> Generated:
    """A day-by-day archive that never ends: ``<base>YYYYMMDD/`` links the next day's page
    and the article ``article_for_day(n)`` (n days after ``first``). Pages exist up to
    ``limit`` days on; a crawler that follows them all is what the trap catches."""

    def page(url: str) -> str | None:
        stamp = url.removeprefix(base).strip("/")
        if not (len(stamp) == 8 and stamp.isdigit()):
            return None
        day = date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))
        n = (day - first).days
        if not 0 <= n < limit:
            return None
        following = day + timedelta(days=1)
        article = article_for_day(n)
        link = f'<a href="{article}">当天文章</a>' if article else ""
        return (
            f"<html><body><h1>{day:%Y年%m月%d日}</h1>{link}"
            f'<a href="{base}{following:%Y%m%d}/">下一天</a></body></html>'
        )

    return Generated(page)


@lru_cache(maxsize=4)
def gzip_bomb(inflated: int) -> bytes:
    """A gzip stream of ``inflated`` bytes of HTML-ish filler (about 1/1000 of the size)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip wrapper
    out = io.BytesIO()
    out.write(compressor.compress(b"<html><body><p>"))
    block = b" " * (1024 * 1024)
    for _ in range(inflated // len(block)):
        out.write(compressor.compress(block))
    out.write(compressor.flush())
    return out.getvalue()


def _content_type(path: Path) -> str:
    """As the replay proxy: pages as ``text/html`` without a charset, the rest by extension."""
    name = path.name.split("__")[0]
    if name.endswith((".htm", ".html")):
        return "text/html"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _content_type_for(url: str) -> str:
    path = urlsplit(url).path or "/"
    name = "index.html" if path.endswith("/") else path.rsplit("/", 1)[-1]
    return _content_type(Path(name))


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy  # set on the subclass made by FaultProxy.start
    timeout = 10  # idle or stalled clients are dropped: no thread waits for ever

    def do_GET(self) -> None:
        url = self.path
        attempt = self.proxy._record(url)
        fault = self.proxy.fault_for(url)
        try:
            if fault is not None and fault.respond(self, url, attempt):
                return
            path = self.proxy.file_for(url)
            if path is None:
                self.send_bytes(404, b"not found")
                return
            self.send_bytes(200, path.read_bytes(), _content_type(path))
        except OSError:
            self.close_connection = True  # the client went away: nothing more to do

    def do_CONNECT(self) -> None:
        self.send_error(501, "https is not served; request the http:// URL")

    def log_message(self, format: str, *args: object) -> None:
        pass

    # --- building blocks for faults
    def page(self, url: str) -> bytes:
        path = self.proxy.file_for(url)
        return path.read_bytes() if path is not None else _FILLER

    def send_head(
        self,
        status: int,
        length: int | None,
        content_type: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def send_bytes(self, status: int, body: bytes, content_type: str = "text/html") -> None:
        self.send_head(status, len(body), content_type)
        self.write(body)

    def write(self, data: bytes) -> bool:
        """Send ``data``; False when the client has gone."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        return True

    def hold(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (capped); False when the proxy is stopping."""
        return not self.proxy._stopping.wait(min(seconds, MAX_HOLD))

    def reset(self) -> None:
        """Abort the connection with a TCP RST instead of a clean close."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


@dataclass
class FaultProxy(LoopbackProxy):
    """Serves ``root`` with ``faults`` on 127.0.0.1 from :meth:`start` until :meth:`stop`."""

    root: Path | None = None
    faults: dict[str, Fault] = field(default_factory=dict)
    port: int = 0
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = self.root.resolve() if self.root is not None else None
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = None

    def count(self, url: str) -> int:
        """How many times ``url`` was requested (retries and redirects to it included)."""
        with self._lock:
            return self._counts[url]

    def count_prefix(self, prefix: str) -> int:
        with self._lock:
            return sum(n for url, n in self._counts.items() if url.startswith(prefix))

    def _record(self, url: str) -> int:
        with self._lock:
            self.requests.append(url)
            self._counts[url] += 1
            return self._counts[url]

    def fault_for(self, url: str) -> Fault | None:
        if url in self.faults:
            return self.faults[url]
        bare = url.split("?", 1)[0]
        if bare in self.faults:
            return self.faults[bare]
        prefixes = [key for key in self.faults if key.endswith("*") and url.startswith(key[:-1])]
        return self.faults[max(prefixes, key=len)] if prefixes else None

    def start(self) -> FaultProxy:
        self.serve(type("Handler", (_Handler,), {"proxy": self}))
        return self

    def stop(self) -> None:
        self._stopping.set()  # ends every hold at once
        super().stop()


def gunzip_size(payload: bytes) -> int:
    """The inflated size of a gzip payload (for checking :func:`gzip_bomb` in tests)."""
    total = 0
    with gzip.GzipFile(fileobj=io.BytesIO(payload)) as stream:
        while chunk := stream.read(1024 * 1024):
            total += len(chunk)
    return total
