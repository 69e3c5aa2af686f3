"""Downloader middleware that keeps the crawler off internal networks (server-side request
forgery): a page or an image URL must not make it fetch from loopback, the local network or
a cloud metadata service and publish what it got.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.request import getproxies, proxy_bypass

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.threads import deferToThread

logger = logging.getLogger(__name__)

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# Cloud instance metadata (AWS, GCP, Azure; AWS over IPv6; Alibaba Cloud): credentials live there.
_METADATA = frozenset(
    ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
# In this order, so that 127.0.0.1 reads "loopback", not the broader "private".
_KINDS = (
    ("loopback", "is_loopback"),
    ("link-local", "is_link_local"),
    ("unspecified", "is_unspecified"),
    ("multicast", "is_multicast"),
    ("private", "is_private"),
    ("reserved", "is_reserved"),
)


class RefusedRequest(IgnoreRequest):
    """The address guard refused to fetch a URL; the message says why."""


def address_kind(address: Address) -> str | None:
    """Why no request may go to ``address`` (``"loopback"``, ``"cloud metadata"``, …), or
    None for a public address. An IPv4-mapped IPv6 address is judged as the IPv4 one."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in _METADATA:
        return "cloud metadata"
    for kind, test in _KINDS:
        if getattr(address, test):
            return kind
    return None if address.is_global else "non-public"


def literal_address(host: str) -> Address | None:
    """The address a host that is written as one stands for, in every spelling a resolver
    or proxy accepts: IPv6, dotted quads, and the old IPv4 forms (``2130706433``,
    ``0x7f.1``, ``0177.0.0.1``, ``127.1``), which ``inet_aton`` reads. None for a name."""
    try:
        return ip_address(host)
    except ValueError:
        pass
    try:
        return IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return None


def resolve(host: str) -> list[Address]:
    """The addresses the system resolver gives ``host`` (hosts file, then DNS, as configured);
    empty when it gives none (an offline machine, a name only a proxy knows)."""
    try:
        answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError; UnicodeError: bad IDNA
        return []
    return [ip_address(answer[4][0].split("%", 1)[0]) for answer in answers]


class AllowedHosts:
    """``FETCH_ALLOWED_HOSTS``: host names (matched as written in the URL, not resolved) and
    addresses or networks (``127.0.0.1``, ``10.0.0.0/8``) that may be fetched all the same."""

    def __init__(self, entries: Iterable[str]):
        self.names: set[str] = set()
        self.networks: list[Network] = []
        for entry in (e.strip().lower().rstrip(".") for e in entries):
            try:
                self.networks.append(ip_network(entry, strict=False))
            except ValueError:
                if entry:
                    self.names.add(entry)

    def covers(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


class AddressGuardMiddleware:
    """Refuses requests whose URL is not http(s), or whose host is, or resolves to, a loopback,
    private, link-local, unspecified, multicast, reserved or cloud metadata address. Article
    pages, continuation pages, images and robots.txt alike; and every redirect hop, since
    Scrapy's redirect middleware sends each new request through the downloader middlewares.

    The decision is about the URL's host, also when a proxy fetches it (a proxy would reach
    the same internal host): an address written in the URL, in any spelling, and the
    ``localhost`` names are judged in every case. A name is resolved with the system resolver
    (once per host and run) only when this machine will connect to it itself; through a
    proxy the proxy resolves it, and this machine sends no DNS query of its own (the proxy
    is where names that lead inside must be refused). A name that does not resolve here is
    let through, to Scrapy's own DNS lookup, which then fails with its own error. Hosts in
    ``FETCH_ALLOWED_HOSTS`` pass unresolved (a test server on 127.0.0.1, an intranet; the
    demo names the hosts its replay proxy answers). The connection
    itself resolves the name again (Scrapy's resolver, or the proxy's): a name whose answer
    changes between the two (DNS rebinding) is beyond this check, which is the crawler's own
    rule, not a firewall.

    A refused request fails with :class:`RefusedRequest` (the errback says why), is counted
    as ``fetch/refused/<kind>`` and logged as one warning.
    """

    def __init__(self, crawler: Crawler, allowed: AllowedHosts, proxied_schemes: set[str]):
        self.crawler = crawler
        self.allowed = allowed
        self.proxied_schemes = proxied_schemes
        self._verdicts: dict[tuple[str, bool], tuple[str, str] | None] = {}
        self._bypassed: dict[str, bool] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        # The proxies Scrapy's HttpProxyMiddleware will use: read from the environment at
        # start, as it does.
        enabled = crawler.settings.getbool("HTTPPROXY_ENABLED")
        schemes = set(getproxies()) & {"http", "https"} if enabled else set()
        return cls(crawler, AllowedHosts(crawler.settings.getlist("FETCH_ALLOWED_HOSTS")), schemes)

    def _through_proxy(self, request: Request, scheme: str, host: str) -> bool:
        """Whether a proxy fetches this request (and so resolves its host, not this machine)."""
        if "proxy" in request.meta:
            return bool(request.meta["proxy"])
        if scheme not in self.proxied_schemes:
            return False
        # urllib reads the whole environment for each answer: once per host is enough, as
        # the proxies themselves are read once, at start
        if host not in self._bypassed:
            self._bypassed[host] = bool(proxy_bypass(host))
        return not self._bypassed[host]

    async def process_request(self, request: Request) -> None:
        url = urlparse_cached(request)
        if url.scheme not in {"http", "https"}:
            self._refuse(request, "scheme", f"not an http(s) URL ({url.scheme or 'no'} scheme)")
        host = (url.hostname or "").rstrip(".")
        if host in self.allowed.names:
            return
        key = (host, self._through_proxy(request, url.scheme, host))
        if key not in self._verdicts:
            self._verdicts[key] = await self._verdict(*key)
        if (verdict := self._verdicts[key]) is not None:
            self._refuse(request, *verdict)

    async def _verdict(self, host: str, proxied: bool) -> tuple[str, str] | None:
        if not host:
            return "no-host", "no host in the URL"
        if host == "localhost" or host.endswith(".localhost"):  # loopback by definition
            return "loopback", f"{host} is a loopback name"
        address = literal_address(host)
        if address is not None:
            addresses, spelled = [address], "" if str(address) == host else f"{host} is "
        elif proxied:
            return None  # the proxy resolves the name: this machine asks no DNS server
        else:
            resolving = deferToThread(resolve, host)  # getaddrinfo blocks
            addresses, spelled = await maybe_deferred_to_future(resolving), f"{host} resolves to "
        for address in addresses:
            kind = address_kind(address)
            if kind is not None and not self.allowed.covers(address):
                return kind, f"{spelled}{kind} address {address}"
        return None

    def _refuse(self, request: Request, kind: str, why: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"fetch/refused/{kind.replace(' ', '-')}")
        logger.warning("Refused to fetch %s: %s", request.url, why)
        raise RefusedRequest(f"refused: {why}")
