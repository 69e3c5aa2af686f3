"""Canonical article URLs: one article, one URL, whatever link led to it."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only say where a reader came from.
_TRACKING = re.compile(
    r"^(?:utm_\w+|spm|from|source|share\w*|isappinstalled|scene|clicktime|enterid|wd|eqid|"
    r"timestamp|ts|_|f|tt_from|tt_medium|app|appid|channel|wxshare\w*|s_trans|ivk_sa)$",
    re.I,
)


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an absolute http(s) URL with a host: the only kind that is fetched
    and archived (not ``file:``, ``ftp:``, a bare path or a port out of range)."""
    if canonical_url(url) is None:
        return False
    parts = urlsplit(url.strip())
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)


def canonical_url(url: str) -> str | None:
    """``url`` without its fragment, tracking parameters and default port, host lowercased;
    None when it is malformed (a port out of range, a broken IPv6 host)."""
    try:
        return _canonical(url)
    except ValueError:
        return None


def _canonical(url: str) -> str:
    parts = urlsplit(url.strip())
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING.match(key)
    ]
    host = (parts.hostname or "").lower()
    if parts.port and parts.port not in (80, 443):
        host += f":{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query), ""))
