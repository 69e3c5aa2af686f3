"""nginx as a loopback proxy-style static server for the benchmark site.

Serves ``<root>/<host>/<path>`` for absolute-URL proxy requests, like crawler/replay.py
but in C: ``?q`` maps to the file ``<path>__q`` and a folder to its ``index.html``.
Debian: ``apt-get install -y nginx-light``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

CONFIG = """
worker_processes 1;
daemon off;
pid {state}/nginx.pid;
error_log {state}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format url 'http://$host$request_uri';
    access_log {state}/access.log url;
    types {{ text/html html htm; application/json json; image/jpeg jpg; text/plain txt; }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    client_body_temp_path {state}/body; proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi; uwsgi_temp_path {state}/uwsgi; scgi_temp_path {state}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root}/$host;
        location / {{
            if ($args) {{ rewrite ^(.*)$ $1__$args? last; }}
            try_files $uri $uri/index.html =404;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.state = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def available() -> bool:
        return shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()

    def start(self) -> Nginx:
        config = self.state / "nginx.conf"
        config.write_text(CONFIG.format(state=self.state, port=self.port, root=self.root))
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen([binary, "-c", str(config), "-p", str(self.state)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start; see {self.state}/error.log")

    @property
    def requests(self) -> list[str]:
        """The URL of every request served so far, in order (as ReplayProxy.requests)."""
        log = self.state / "access.log"
        return log.read_text(encoding="utf-8").split() if log.exists() else []

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.state, ignore_errors=True)
