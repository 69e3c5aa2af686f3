"""A loopback HTTP proxy that answers requests from a folder of saved pages.

Point the crawler at it with ``http_proxy=http://127.0.0.1:PORT`` and it fetches
``http://www.news.cn/...`` as it would live, but from ``<root>/www.news.cn/...``
on disk. This is how the demo site and the end-to-end tests run offline at the
real sites' URLs. A URL ending in ``/`` is served from ``index.html``; a query
string ``?q`` from the file named ``<path>__<q>``. Nothing is ever forwarded.
"""

from __future__ import annotations

import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    # A crawl with no download delay opens many connections at once; the default listen
    # backlog (5) drops them, and every refused connection costs the crawler a retry.
    request_queue_size = 128


class LoopbackProxy:
    """The lifecycle of a proxy-style HTTP server on 127.0.0.1: :meth:`serve` a request
    handler class, read :attr:`url`, :meth:`stop`. Subclasses decide the answers."""

    root: Path | None
    port: int
    _server: LoopbackServer | None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the proxy first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def file_for(self, url: str) -> Path | None:
        """The file answering ``url``, or None (never a path outside ``root``)."""
        path = site_path(self.root, url) if self.root is not None else None
        return path if path is not None and path.is_file() else None

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = LoopbackServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ReplayProxy(LoopbackProxy):
    """Serves ``root`` on 127.0.0.1 from :meth:`start` until :meth:`stop`."""

    def __init__(self, root: Path, port: int = 0):
        self.root = root.resolve()
        self.port = port
        self.requests: list[str] = []
        self._server = None

    def start(self) -> ReplayProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.requests.append(self.path)
                path = proxy.file_for(self.path)
                if path is None:
                    self.send_error(404)
                    return
                body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", _content_type(path))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_CONNECT(self) -> None:
                self.send_error(501, "https is not replayed; request the http:// URL")

            def log_message(self, format: str, *args: object) -> None:
                pass  # the crawler logs its own requests

        self.serve(Handler)
        return self


def _content_type(path: Path) -> str:
    name = path.name.split("__")[0]
    if name.endswith((".htm", ".html")):
        return "text/html"  # no charset: the page's own <meta> decides, as on the real sites
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def site_path(root: Path, url: str) -> Path | None:
    """Where a replayed site keeps ``url``: ``<root>/<host>/<path>``, ``index.html`` for a
    folder, ``<path>__<query>`` for a query; None for a URL without a host or one whose
    path would leave ``root``. The one statement of the layout, for servers and generators."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    path = unquote(parts.path or "/")
    if path.endswith("/"):
        path += "index.html"
    if parts.query:
        path += "__" + parts.query
    root = root.resolve()
    candidate = (root / parts.hostname.lower() / path.lstrip("/")).resolve()
    return candidate if candidate.is_relative_to(root) else None
