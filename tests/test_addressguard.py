"""The address guard (issue 12, case 4): no request to loopback, private, link-local or cloud
metadata addresses, whatever the spelling, after DNS resolution and on every redirect hop; for
images and articles alike. Unit tables for the address rules, then real ``scrapy scrape``
subprocesses through the loopback fault proxy (which answers every URL, internal ones too, and
counts what it was asked: an internal URL asked for is a request the guard let through)."""

from __future__ import annotations

import asyncio
import re
from ipaddress import ip_address
from pathlib import Path

import pytest
from archive_checks import posts, stats_of
from conftest import (
    LOCAL,
    project_crawler,
    read_post,
    run_scrapy,
    run_scrapy_hooked,
)
from faultserver import PNG_IMAGE, Body, FaultProxy, Redirect
from scrapy import Request
from test_hostile_input import PARAGRAPHS, generic_page, xinhua_page, xinhua_url

from crawler.downloadermiddlewares import addressguard as guard_module
from crawler.downloadermiddlewares.addressguard import (
    AddressGuardMiddleware,
    AllowedHosts,
    RefusedRequest,
    address_kind,
    literal_address,
)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: judged as the IPv4 address
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("240.0.0.1", "private"),  # Python counts the reserved 240/4 as private too
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("202.108.119.193", None),
    ],
)
def test_address_kind(address, kind):
    assert address_kind(ip_address(address)) == kind


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # a 32-bit number
        ("0x7f.1", "127.0.0.1"),  # hexadecimal, two parts
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("127.1", "127.0.0.1"),
        ("::1", "::1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("www.news.cn", None),
        ("163.com", None),
        ("localhost", None),  # a name: resolved, not read
    ],
)
def test_literal_address_reads_every_spelling_a_resolver_accepts(host, address):
    expected = ip_address(address) if address else None
    assert literal_address(host) == expected


def test_allowed_hosts_are_names_addresses_or_networks():
    allowed = AllowedHosts(["127.0.0.1", "10.0.0.0/8", "Intranet.Example.org.", " "])
    assert allowed.names == {"intranet.example.org"}
    assert allowed.covers(ip_address("127.0.0.1")) and allowed.covers(ip_address("10.9.8.7"))
    assert not allowed.covers(ip_address("127.0.0.2"))


def refusal(url: str, *allowed: str) -> str | None:
    """The guard's answer to a request for ``url``: None (let through) or the refusal."""
    crawler = project_crawler(FETCH_ALLOWED_HOSTS=list(allowed))
    crawler.stats.open_spider()
    guard = AddressGuardMiddleware.from_crawler(crawler)
    try:
        asyncio.run(guard.process_request(Request(url)))
    except RefusedRequest as refused:
        return str(refused)
    return None


@pytest.mark.parametrize(
    ("url", "allowed", "expected"),
    [
        ("http://127.0.0.1:8080/a.png", (), "refused: loopback address 127.0.0.1"),
        ("http://2130706433/a.png", (), "refused: 2130706433 is loopback address 127.0.0.1"),
        ("http://0x7f.1/", (), "refused: 0x7f.1 is loopback address 127.0.0.1"),
        ("http://[::1]:81/", (), "refused: loopback address ::1"),
        ("http://169.254.169.254/latest/", (), "refused: cloud metadata address 169.254.169.254"),
        ("http://[fd00:ec2::254]/", (), "refused: cloud metadata address fd00:ec2::254"),
        ("ftp://8.8.8.8/x", (), "refused: not an http(s) URL (ftp scheme)"),
        ("file:///etc/passwd", (), "refused: not an http(s) URL (file scheme)"),
        ("http://127.0.0.1:8080/a.png", ("127.0.0.1",), None),
        ("http://0x7f.1/", ("127.0.0.0/8",), None),
        ("http://8.8.8.8/a.png", (), None),
    ],
)
def test_guard_decides_literal_addresses_without_resolving(url, allowed, expected):
    assert refusal(url, *allowed) == expected


def test_a_name_a_proxy_fetches_is_not_resolved_here(monkeypatch):
    """Through a proxy the proxy resolves the name: this machine sends no DNS query (a test
    suite behind a loopback proxy must not reach any resolver); without one, it is resolved."""
    asked: list[str] = []
    monkeypatch.setattr(guard_module, "resolve", lambda host: asked.append(host) or [])
    crawler = project_crawler()
    proxied = AddressGuardMiddleware(crawler, AllowedHosts([]), {"http"})
    direct = AddressGuardMiddleware(crawler, AllowedHosts([]), set())
    asyncio.run(proxied.process_request(Request("http://www.example-news.cn/a.html")))
    assert asked == []
    with pytest.raises(RefusedRequest):  # written addresses are judged all the same
        asyncio.run(proxied.process_request(Request("http://2130706433/a.html")))
    # without a proxy this machine connects, and so resolves the name first
    assert not direct._through_proxy(Request("http://www.example-news.cn/a.html"), "http", "x")
    assert proxied._through_proxy(Request("http://www.example-news.cn/a.html"), "http", "x")


def test_no_proxy_hosts_are_fetched_directly_and_decided_once_per_host(monkeypatch):
    """A host ``no_proxy`` names is connected to by this machine (so judged by its address),
    as Scrapy's proxy middleware decides; urllib is asked once per host, not per request."""
    asked: list[str] = []
    monkeypatch.setattr(
        guard_module, "proxy_bypass", lambda host: asked.append(host) or host.startswith("direct.")
    )
    guard = AddressGuardMiddleware(project_crawler(), AllowedHosts([]), {"http"})
    for _ in range(3):
        for host in ("direct.example-news.cn", "www.example-news.cn"):
            through = guard._through_proxy(Request(f"http://{host}/a.html"), "http", host)
            assert through is (host == "www.example-news.cn")
    assert asked == ["direct.example-news.cn", "www.example-news.cn"]
    # a request's own proxy (meta) decides for that request alone
    assert not guard._through_proxy(
        Request("http://www.example-news.cn/a.html", meta={"proxy": None}),
        "http",
        "www.example-news.cn",
    )


# --- real scrapes -----------------------------------------------------------------------------

PORT = 1  # internal URLs name a port nobody listens on: only the proxy could answer them
INTERNAL_IMAGES = {
    "loopback": f"http://127.0.0.1:{PORT}/secret.png",
    "name-of-loopback": "http://localhost/secret.png",  # loopback by definition (RFC 6761)
    "decimal": "http://2130706433/secret.png",
    "short-hex": "http://0x7f.1/secret.png",
    "ipv6-loopback": "http://[::1]/secret.png",
    "metadata": "http://169.254.169.254/latest/meta-data/secret.png",
    "metadata-ipv6": "http://[fd00:ec2::254]/latest/meta-data/secret.png",
    "private": "http://10.0.0.1/secret.png",
}
PUBLIC_IMAGE = "http://img.news.cn/ok.png"
# a public image URL that redirects to the cloud metadata address: not followed (by default
# images follow no redirect: Scrapy's MEDIA_ALLOW_REDIRECTS), and when they do the guard judges
# the hop
MOVED_IMAGE, MOVED_TO = "http://img.news.cn/moved.png", "http://169.254.169.254/moved-secret.png"


def scrape(tmp_path: Path, proxy: FaultProxy, *urls: str, settings: tuple[str, ...] = ()):
    archive = tmp_path / "archive"
    return archive, run_scrapy(
        "scrape",
        *urls,
        "-s",
        f"ARCHIVE_DIR={archive}",
        "-s",
        "RETRY_ENABLED=False",
        "-s",
        "DOWNLOAD_TIMEOUT=3",
        "-L",
        "INFO",  # the stats
        *LOCAL,
        *settings,
        proxy=proxy,
    )


@pytest.mark.parametrize("follow", [False, True], ids=["redirects-off", "redirects-on"])
def test_internal_image_urls_are_refused_and_public_ones_kept(tmp_path, follow):
    images = [*INTERNAL_IMAGES.values(), "//127.0.0.1:1/relative.png", MOVED_IMAGE, PUBLIC_IMAGE]
    paragraphs = (*PARAGRAPHS, *(f'<p><img src="{src}"></p>' for src in images))
    article = xinhua_url(1)
    faults = {article: Body(xinhua_page("内网图片", paragraphs).encode(), "text/html")}
    # The proxy would serve every one of them, as a careless crawler's proxy would.
    faults |= {url: Body(PNG_IMAGE, "image/png") for url in INTERNAL_IMAGES.values()}
    faults |= {"http://127.0.0.1:1/relative.png": Body(PNG_IMAGE, "image/png")}
    faults |= {PUBLIC_IMAGE: Body(PNG_IMAGE, "image/png"), MOVED_TO: Body(PNG_IMAGE, "image/png")}
    faults |= {MOVED_IMAGE: Redirect(MOVED_TO)}
    proxy = FaultProxy(None, faults).start()
    try:
        archive, result = scrape(
            tmp_path, proxy, article, settings=("-s", f"MEDIA_ALLOW_REDIRECTS={follow}")
        )
    finally:
        proxy.stop()

    assert result.returncode == 0, result.stderr
    assert [url for url in proxy.requests if "secret" in url or "relative" in url] == []
    assert proxy.count(PUBLIC_IMAGE) == 1
    (kept,) = (archive / "assets" / "images").iterdir()
    assert kept.read_bytes() == PNG_IMAGE
    _, body = read_post(Path(result.stdout.split()[0]))
    for url in [*INTERNAL_IMAGES.values(), MOVED_IMAGE]:  # not fetched: the original URL stays
        assert f'<img src="{url}">' in body
    assert proxy.count(MOVED_IMAGE) == 1  # the redirect was answered; its target never asked
    stats = stats_of(result.stderr)
    assert stats["fetch/refused/loopback"] == 6  # 4 spellings, a name, a protocol-relative URL
    assert stats["fetch/refused/cloud-metadata"] == 2 + follow  # the redirect's hop
    assert stats["fetch/refused/private"] == 1
    refused = re.findall(r"WARNING: Refused to fetch (\S+): (.*)", result.stderr)
    assert len(refused) == 9 + follow  # one line each
    assert (
        INTERNAL_IMAGES["name-of-loopback"],
        "localhost is a loopback name",
    ) in refused


def test_article_redirected_to_an_internal_address_is_not_fetched(tmp_path):
    article, internal = xinhua_url(2), "http://127.0.0.1:1/admin/c.html"
    page = xinhua_page("内网页面").encode()
    proxy = FaultProxy(None, {article: Redirect(internal), internal: Body(page)}).start()
    try:
        archive, result = scrape(tmp_path, proxy, article)
    finally:
        proxy.stop()
    assert result.returncode == 1 and posts(archive) == []
    assert proxy.count(internal) == 0
    assert result.stderr.splitlines()[-1] == (
        f"not archived: {article}: refused: loopback address 127.0.0.1 (redirected to {internal})"
    )
    assert stats_of(result.stderr)["fetch/refused/loopback"] == 1


def test_article_on_a_name_that_resolves_to_loopback_is_not_fetched(tmp_path):
    article = "http://localhost/politics/20260601/00000000000000000000000000000003/c.html"
    proxy = FaultProxy(None, {article: Body(xinhua_page("本机页面").encode())}).start()
    try:
        archive, result = scrape(tmp_path, proxy, article)
    finally:
        proxy.stop()
    assert result.returncode == 1 and posts(archive) == []
    assert proxy.requests == []  # not even robots.txt
    assert result.stderr.splitlines()[-1] == (
        f"not archived: {article}: refused: localhost is a loopback name"
    )


def test_allowed_hosts_let_a_named_address_through(tmp_path):
    image, article = "http://127.0.0.1:1/photo.png", xinhua_url(4)
    page = xinhua_page("允许的内网图片", (*PARAGRAPHS, f'<p><img src="{image}"></p>'))
    faults = {article: Body(page.encode()), image: Body(PNG_IMAGE, "image/png")}
    proxy = FaultProxy(None, faults).start()
    try:
        refused_archive, refused = scrape(tmp_path / "refused", proxy, article)
        assert proxy.count(image) == 0
        allowed_archive, allowed = scrape(
            tmp_path / "allowed", proxy, article, settings=("-s", "FETCH_ALLOWED_HOSTS=127.0.0.1")
        )
        assert proxy.count(image) == 1
    finally:
        proxy.stop()
    assert refused.returncode == 0 and allowed.returncode == 0, allowed.stderr
    assert not (refused_archive / "assets" / "images").exists()
    kept = [path.read_bytes() for path in (allowed_archive / "assets" / "images").iterdir()]
    assert kept == [PNG_IMAGE]


# A ``scrapy`` subprocess whose system resolver is a table (STAGED_NAMES=name=address,…), so
# that the names a test needs resolve without any DNS query; any other name fails to resolve.
STAGED_RESOLVER = r"""
import os, socket, sys
from ipaddress import ip_address

names = dict(entry.split("=") for entry in os.environ["STAGED_NAMES"].split(","))

def lookup(host):
    try:
        return str(ip_address(host))
    except ValueError:
        pass
    if host not in names:
        raise socket.gaierror(socket.EAI_NONAME, f"{host}: not a staged name")
    return names[host]

def getaddrinfo(host, port, *args, **kwargs):
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (lookup(host), port or 0))]

socket.getaddrinfo, socket.gethostbyname = getaddrinfo, lookup
socket.gethostbyname_ex = lambda host: (host, [], [lookup(host)])

from scrapy.cmdline import execute
sys.argv = ["scrapy", *sys.argv[1:]]
execute()
"""


def scrape_with_staged_names(archive: Path, names: str, *args: str):
    """``scrapy scrape ARGS`` without a proxy (this machine connects, and so resolves the
    names itself) through :data:`STAGED_RESOLVER`."""
    result = run_scrapy_hooked(
        STAGED_RESOLVER,
        "scrape",
        *args,
        "-s",
        f"ARCHIVE_DIR={archive}",
        env={"STAGED_NAMES": names},
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_a_name_that_resolves_to_an_internal_address_is_refused(tmp_path):
    """Without a proxy the guard resolves the name and judges its addresses: loopback and
    cloud metadata are refused before any request; an allowed address is fetched."""
    page = "/news/2024/0308/content_1.htm"
    server = FaultProxy(None, {page: Body(generic_page("内网名字").encode())}).start()
    port = server.url.rsplit(":", 1)[1]
    intranet = f"http://intranet.example-news.cn:{port}{page}"
    metadata = f"http://metadata.example-news.cn:{port}{page}"
    names = "intranet.example-news.cn=127.0.0.1,metadata.example-news.cn=169.254.169.254"
    try:
        refused = scrape_with_staged_names(tmp_path / "refused", names, intranet, metadata, *LOCAL)
        assert server.requests == []  # robots.txt included
        allowed = scrape_with_staged_names(
            tmp_path / "allowed", names, intranet, *LOCAL, "-s", "FETCH_ALLOWED_HOSTS=127.0.0.0/8"
        )
    finally:
        server.stop()
    assert refused.returncode == 1 and posts(tmp_path / "refused") == []
    lines = refused.stderr.splitlines()
    assert (
        f"not archived: {intranet}: refused: intranet.example-news.cn resolves to loopback "
        "address 127.0.0.1"
    ) in lines
    assert (
        f"not archived: {metadata}: refused: metadata.example-news.cn resolves to cloud "
        "metadata address 169.254.169.254"
    ) in lines
    assert allowed.returncode == 0, allowed.stderr
    assert server.count(page) == 1
    (written,) = posts(tmp_path / "allowed")
    assert read_post(written)[0]["title"] == "内网名字"
