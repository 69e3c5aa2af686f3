"""A name resolver for crawls in a subprocess that must meet a DNS failure without a lookup:
``-s TWISTED_DNS_RESOLVER=tests.offline_dns.NoNameResolves`` (the subprocess runs in the
project's folder, where ``tests`` imports as a namespace package). Every name fails as a
name unknown to DNS would, and no DNS server is asked; name the host in
``FETCH_ALLOWED_HOSTS`` too, so that the address guard does not resolve it either."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from twisted.internet.defer import Deferred, fail
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

RESOLVER = "tests.offline_dns.NoNameResolves"


@implementer(IResolverSimple)
class NoNameResolves:
    """Scrapy's ``TWISTED_DNS_RESOLVER`` interface (``from_crawler``, ``install_on_reactor``)
    over a resolver that knows no name."""

    def __init__(self, reactor: Any):
        self.reactor = reactor

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> Self:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        return fail(DNSLookupError(name))
