"""The archive's captures: what the servers sent, kept as WARC files (ISO 28500) in
``<ARCHIVE_DIR>/_warc/``, read with warcio.

Every archived article page, continuation pages included, is kept as a ``response`` record
followed by the ``request`` record that asked for it (docs/archive-format.md, "Captures").
Each record is a gzip member of its own, appended with one write: a process killed in the
middle leaves at most a truncated last member, which the readers here skip with a warning.
The records are laid out here, their HTTP headers serialised by warcio's
``StatusAndHeaders``: warcio's own writer builds each record through temporary files and
hashes every body a second time, which cost the crawl more than the compression did.

A file belongs to the process that writes it (its name holds the time it was opened, the
host and the process ID, and it is created exclusively), so that workers sharing an archive
never write into one file, and no process ever appends after another's truncated end. A
writer moves to a new file at midnight (UTC, like ``WARC-Date``) and past
``ARCHIVE_WARC_MAX_BYTES``. Files sit in one folder per month: ``_warc/2026-05/…``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import random
import re
import socket
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.client import responses
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from isal import isal_zlib
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, iso_date_to_datetime

from crawler.archive.atomic import inside
from crawler.archive.catalog import CatalogEntry
from crawler.archive.paths import WARC_DIR
from crawler.items import Capture, HttpExchange
from crawler.reading.profiles import SiteProfiles

logger = logging.getLogger(__name__)

# Extension fields of the project's response records (WARC 1.1 allows named fields of one's
# own): a continuation page names the record of its article's first page, and the first
# page lists the continuation pages that could not be fetched.
CONTINUES = "X-Continuation-Of"
MISSING_PAGE = "X-Missing-Page"
# ISA-L's level 2 (its default): a fifth of the CPU time of zlib's level 3, for as many
# bytes on generated pages and 4% more on real ones (benchmarks/README.md). Its members are
# ordinary gzip, which any reader inflates.
_GZIP_LEVEL = 2
_HASH_SLICE = 2047  # bytes: below hashlib's threshold for letting other threads run
_CONTENT_TYPES = {
    "warcinfo": "application/warc-fields",
    "response": "application/http; msgtype=response",
    "request": "application/http; msgtype=request",
}
# Headers that describe the bytes on the wire, not the body kept: Scrapy decompressed and
# de-chunked it.
_WIRE_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


class DamagedCapture(ValueError):
    """A WARC record that cannot be read where the catalog says it is."""


def payload_digest(body: bytes) -> str:
    """A ``WARC-Payload-Digest`` value: SHA-1, in Base32, as warcio and Heritrix write it."""
    return _sha1_value(body)


def _sha1_value(data: bytes) -> str:
    """The SHA-1 of ``data`` as a digest field's value. Hashed in slices smaller than the
    2048 bytes from which hashlib lets other threads run meanwhile: the capture runs in the
    crawl's event loop, which would then wait for them to hand the interpreter back
    (benchmarks/README.md)."""
    digest = hashlib.sha1()
    view = memoryview(data)
    for start in range(0, len(view), _HASH_SLICE):
        digest.update(view[start : start + _HASH_SLICE])
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


def capture_digest(exchanges: list[HttpExchange]) -> str:
    """The digests of an article's pages, in reading order: equal digests, equal capture."""
    return " ".join(payload_digest(exchange.body) for exchange in exchanges)


class WarcWriter:
    """Appends articles' captures to this process's WARC file in ``folder`` (``_warc/``),
    opened at the first capture. Not thread-safe: one thread uses it."""

    def __init__(self, archive_dir: Path, *, max_bytes: int, software: str):
        self.archive_dir = archive_dir
        self.folder = archive_dir / WARC_DIR
        self.max_bytes = max_bytes
        self.software = software
        self.host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"
        self._descriptor: int | None = None
        self._name = ""  # relative to the folder
        self._day: date | None = None  # UTC
        self._size = 0
        self._serial = 0

    def write_article(self, exchanges: list[HttpExchange], missing_pages: list[str]) -> Capture:
        """Write the response and request records of an article's pages (first page first);
        returns where the first page's response record starts."""
        now = datetime.now(UTC)
        if self._descriptor is None or self._size >= self.max_bytes or self._day != now.date():
            self._open_next(now)
        offset = self._size
        first_id = ""
        digests = []
        for exchange in exchanges:
            warc_date = _warc_date_value(exchange.date)
            digest = payload_digest(exchange.body)
            digests.append(digest)
            # No WARC-Block-Digest (optional): it would hash the body a second time.
            fields = [("WARC-Payload-Digest", digest)]
            if first_id:
                fields.append((CONTINUES, first_id))
            else:
                fields += [(MISSING_PAGE, url) for url in missing_pages]
            response_id, response = _response_record(exchange, warc_date, fields)
            first_id = first_id or response_id
            self._append(response)
            self._append(_request_record(exchange, warc_date, response_id))
        return Capture(self._name, offset, " ".join(digests))

    def close(self) -> None:
        if self._descriptor is not None:
            os.fsync(self._descriptor)
            os.close(self._descriptor)
            self._descriptor = None

    def _open_next(self, now: datetime) -> None:
        self.close()
        month = inside(self.archive_dir, self.folder / now.strftime("%Y-%m"))
        month.mkdir(parents=True, exist_ok=True)
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        while True:  # never into an existing file: it may end with another's truncated record
            name = f"{stamp}-{self.host}-{os.getpid()}-{self._serial:05d}.warc.gz"
            self._serial += 1
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
            try:
                self._descriptor = os.open(month / name, flags | os.O_NOFOLLOW, 0o644)
                break
            except FileExistsError:
                continue
        self._name, self._day, self._size = f"{month.name}/{name}", now.date(), 0
        info = f"software: {self.software}\r\nformat: WARC File Format 1.1\r\n"
        block = f"{info}hostname: {self.host}\r\n".encode()
        fields = [("WARC-Filename", name), ("WARC-Block-Digest", _sha1_value(block))]
        self._append(_record("warcinfo", "", _warc_date_value(now), fields, block)[1])

    def _append(self, record: bytes) -> None:
        member = isal_zlib.compress(record, _GZIP_LEVEL, wbits=zlib.MAX_WBITS | 16)
        assert self._descriptor is not None
        view = memoryview(member)
        while view:  # one write, normally; a short write is finished before anything else
            written = os.write(self._descriptor, view)
            view = view[written:]
            self._size += written


def _warc_date_value(moment: datetime) -> str:
    return datetime_to_iso_date(moment.replace(tzinfo=None), use_micros=True)


def _response_record(
    exchange: HttpExchange, warc_date: str, fields: list[tuple[str, str]]
) -> tuple[str, bytes]:
    headers = [(k, v) for k, v in exchange.headers if k.lower() not in _WIRE_HEADERS]
    headers.append(("Content-Length", str(len(exchange.body))))
    status = f"{exchange.status} {responses.get(exchange.status, '')}".strip()
    http_headers = StatusAndHeaders(status, headers, protocol=exchange.protocol)
    http_headers.compute_headers_buffer()  # as warcio's writer: non-ASCII values %-encoded
    block = (http_headers.headers_buff, exchange.body)
    return _record("response", exchange.url, warc_date, fields, *block)


def _request_record(exchange: HttpExchange, warc_date: str, response_id: str) -> bytes:
    parts = urlsplit(exchange.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("Host", parts.netloc), *exchange.request_headers]
    http_headers = StatusAndHeaders(
        f"{exchange.method} {target} HTTP/1.1", headers, is_http_request=True
    )
    http_headers.compute_headers_buffer()
    block = http_headers.headers_buff
    fields = [("WARC-Concurrent-To", response_id), ("WARC-Block-Digest", _sha1_value(block))]
    return _record("request", exchange.url, warc_date, fields, block)[1]


def _record(
    kind: str, url: str, warc_date: str, fields: list[tuple[str, str]], *block: bytes
) -> tuple[str, bytes]:
    """A WARC record and its ID: the header block (UTF-8, as warcio writes it) with the
    caller's fields (a digest among them), then the content block made of ``block`` (an
    HTTP message's headers and body)."""
    # Not uuid4(): os.urandom lets other threads take the interpreter, as hashlib does
    # (_sha1_value). random is seeded from it, and again in a forked child.
    record_id = f"<urn:uuid:{uuid.UUID(int=random.getrandbits(128), version=4)}>"
    named = [
        ("WARC-Type", kind),
        ("WARC-Record-ID", record_id),
        ("WARC-Date", warc_date),
        *([("WARC-Target-URI", url)] if url else []),
        *fields,
        ("Content-Type", _CONTENT_TYPES[kind]),
        ("Content-Length", str(sum(len(part) for part in block))),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in named)
    return record_id, b"".join((f"WARC/1.1\r\n{head}\r\n".encode(), *block, b"\r\n\r\n"))


@dataclass(slots=True)
class CapturedPage:
    """An HTTP response kept in a WARC file: what a page is read from instead of the web."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # the payload, with any content and transfer encoding undone
    date: datetime
    record_id: str
    continues: str = ""  # the record ID of its article's first page (a continuation page)
    missing_pages: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        for key, value in self.headers:
            if key.lower() == "content-type":
                return value.split(";")[0].strip().lower()
        return ""

    def exchange(self) -> HttpExchange:
        """The exchange to capture again (an import into this archive)."""
        return HttpExchange(self.url, self.status, self.headers, self.body, self.date)


@dataclass(slots=True)
class WarcRecord:
    """One record of a WARC file, as :func:`iter_records` reads it."""

    offset: int  # of its gzip member, or of the record in an uncompressed file
    kind: str  # WARC-Type: response, request, warcinfo, …
    url: str
    digest_ok: bool | None  # None: the record declares no payload digest
    page: CapturedPage | None  # response records holding an HTTP response


def iter_records(stream: IO[bytes], name: str) -> Iterator[WarcRecord]:
    """Every whole record of a WARC stream, payload digests checked. A truncated record (a
    writer killed in the middle) ends the stream with one warning naming the file."""
    iterator = ArchiveIterator(stream, check_digests=True)
    offset = 0
    try:
        for record in iterator:
            page = _page(record)
            if record.raw_stream.limit:  # the block ended before its Content-Length
                _warn_truncated(name, iterator.get_record_offset())
                return
            offset = iterator.get_record_offset()
            yield WarcRecord(
                offset,
                record.rec_type,
                record.rec_headers.get_header("WARC-Target-URI") or "",
                record.digest_checker.passed,
                page,
            )
    except (ArchiveLoadFailed, EOFError, zlib.error) as exc:
        logger.debug("%s: %s", name, exc)
        _warn_truncated(name, offset)


def _warn_truncated(name: str, offset: int) -> None:
    logger.warning(
        "WARC file %s: the record at or after offset %d is incomplete (a run killed while "
        "writing it); skipped",
        name,
        offset,
    )


def _page(record: ArcWarcRecord) -> CapturedPage | None:
    """The response in a response record (its whole body read, so that the digest is
    checked); None for other records."""
    if record.rec_type != "response" or record.http_headers is None:
        record.raw_stream.read()
        return None
    body = record.content_stream().read()
    headers = record.rec_headers
    status = record.http_headers.get_statuscode()
    return CapturedPage(
        url=headers.get_header("WARC-Target-URI") or "",
        status=int(status) if status and status.isdigit() else 0,
        headers=list(record.http_headers.headers),
        body=body,
        date=_warc_date(headers.get_header("WARC-Date")),
        record_id=headers.get_header("WARC-Record-ID") or "",
        continues=headers.get_header(CONTINUES) or "",
        missing_pages=[value for key, value in headers.headers if key == MISSING_PAGE],
    )


def _warc_date(value: str | None) -> datetime:
    try:
        return iso_date_to_datetime(value).replace(tzinfo=UTC) if value else datetime.now(UTC)
    except ValueError:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WarcSource:
    """A WARC file, or one inside a WACZ package (``member``: its name in the zip)."""

    path: Path
    member: str = ""

    def __str__(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        if not self.member:
            with self.path.open("rb") as file:
                yield file
            return
        with zipfile.ZipFile(self.path) as package, package.open(self.member) as stream:
            yield stream


def sources(path: Path) -> list[WarcSource]:
    """The WARC files of a ``.warc``, ``.warc.gz`` or ``.wacz`` file: a WACZ is a zip whose
    ``archive/`` folder holds them."""
    if path.suffix.lower() != ".wacz":
        return [WarcSource(path)]
    with zipfile.ZipFile(path) as package:
        names = package.namelist()
    return [
        WarcSource(path, name)
        for name in sorted(names)
        if name.startswith("archive/") and name.endswith((".warc", ".warc.gz"))
    ]


def iter_source_records(source: WarcSource) -> Iterator[WarcRecord]:
    with source.open() as stream:
        yield from iter_records(stream, str(source))


def read_article_pages(source: WarcSource, offset: int, count: int = 0) -> list[CapturedPage]:
    """The pages of the article whose first page's response record starts at ``offset``:
    that page, then the continuation pages that follow it and name it; ``count`` of them
    when the caller knows how many there are (no record past them is read). Raises
    :class:`DamagedCapture` when there is no whole response record there."""
    pages: list[CapturedPage] = []
    try:
        with source.open() as stream:
            stream.seek(offset)
            for record in iter_records(stream, str(source)):
                if record.kind == "request":
                    continue
                page = record.page
                first_id = pages[0].record_id if pages else ""
                if page is None or page.continues != first_id:
                    break  # the next article, or the end of this one's records
                pages.append(page)
                if len(pages) == count:
                    break
    except (OSError, zipfile.BadZipFile) as exc:
        raise DamagedCapture(f"cannot read {source}: {exc}") from exc
    if not pages:
        raise DamagedCapture(f"no article's response record at offset {offset} of {source}")
    return pages


def warc_files(archive_dir: Path) -> list[Path]:
    """The archive's own WARC files, oldest first (their names start with the time)."""
    folder = archive_dir / WARC_DIR
    return sorted(folder.glob("*/*.warc.gz"), key=lambda path: path.name)


def verify_captures(
    archive_dir: Path, entries: Iterable[CatalogEntry], profiles: SiteProfiles
) -> tuple[int, list[str]]:
    """Check the archive's captures: every record's payload digest, and every catalog entry's
    capture (the file exists, a response record of the article's first page starts at the
    offset, and it is of the entry's URL or another URL of the same article). Returns the
    number of records read and one line per problem."""
    problems: list[str] = []
    first_pages: dict[tuple[str, int], str] = {}  # (file, offset) → URL
    count = 0
    for path in warc_files(archive_dir):
        name = path.relative_to(archive_dir / WARC_DIR).as_posix()
        for record in iter_source_records(WarcSource(path)):
            count += 1
            if record.digest_ok is False:
                problems.append(
                    f"{WARC_DIR}/{name} at {record.offset}: the payload does not match its "
                    f"WARC-Payload-Digest ({record.kind} of {record.url})"
                )
            if record.page is not None and not record.page.continues:
                first_pages[(name, record.offset)] = record.url
    for entry in entries:
        problem = _capture_problem(archive_dir, entry, first_pages, profiles)
        if problem:
            problems.append(f"{entry.path}: {problem}")
    return count, problems


def _capture_problem(
    archive_dir: Path,
    entry: CatalogEntry,
    first_pages: dict[tuple[str, int], str],
    profiles: SiteProfiles,
) -> str:
    if not entry.warc_file:
        return "no capture recorded"
    if not (archive_dir / WARC_DIR / entry.warc_file).is_file():
        return f"its capture's file {WARC_DIR}/{entry.warc_file} is missing"
    url = first_pages.get((entry.warc_file, entry.warc_offset))
    if url is None:
        return f"no whole response record at offset {entry.warc_offset} of {entry.warc_file}"
    if url != entry.url and profiles.for_url(url).page_article_id(url) != entry.article_id:
        return f"its capture is of {url}, not of {entry.url}"
    return ""
