"""Publication dates as Chinese news pages write them, read as Beijing time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
# Real UTC offsets run from -12:00 to +14:00.
_MAX_OFFSET_HOURS = 14

# A time of day may say whose clock it is: "2012年12月10日, 格林尼治标准时间10:41" is UTC.
_CLOCKS = {"GMT": UTC, "UTC": UTC, "北京时间": BEIJING} | {
    name: UTC for name in ("格林尼治标准时间", "格林威治标准时间", "格林尼治时间", "格林威治时间")
}

# Year, month and day may be split by "-", "/", ".", 年/月/日 or bare spaces (Xinhua's
# 2021+ header renders "2024 05/09 22:27:02" from separate spans).
_DATE_TIME = re.compile(
    r"(?P<year>(?:19|20)\d\d)\s*[-/.年\s]\s*(?P<month>\d{1,2})\s*[-/.月\s]\s*(?P<day>\d{1,2})"
    r"(?!\d)\s*日?"
    r"(?:\s*[T\s,，]?\s*(?P<clock>北京时间|格林[尼威]治(?:标准)?时间|GMT|UTC)?"
    r"\s*(?P<hour>\d{1,2})\s*[:：时]\s*(?P<minute>\d{2})"
    r"(?:\s*[:：分]\s*(?P<second>\d{2}))?(?:\.\d+)?\s*秒?)?"
    r"\s*(?P<zone>Z|[+-]\d\d:?\d\d)?(?![\d:])"
)


def parse_published(text: str, *, require_time: bool = False) -> datetime | None:
    """Return the first date (and time, when given) in ``text`` as an aware Beijing datetime.

    A date without a zone is Beijing time; one with a zone is converted. Impossible
    dates (month 13, 31 April), times (24:61, 10:00:60) and offsets (+99:99, +2400) give
    ``None`` rather than a guess, so the next rule is tried; so does a date without a time
    of day when ``require_time`` is set.
    """
    match = _DATE_TIME.search(text)
    if match is None:
        return None
    parts = match.groupdict()
    if require_time and parts["hour"] is None:
        return None
    try:
        naive = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
        )
    except ValueError:
        return None
    zone = _zone(parts["zone"]) if parts["zone"] else _CLOCKS.get(parts["clock"], BEIJING)
    if zone is None:
        return None
    return naive.replace(tzinfo=zone).astimezone(BEIJING)


def _zone(text: str) -> timezone | None:
    """The zone of ``Z``, ``+0800`` or ``-04:00``; None for an offset no place uses."""
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > _MAX_OFFSET_HOURS or minutes > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text[0] == "-" else offset)


def date_strings(text: str, *, timed: bool) -> Iterator[str]:
    """The dates in ``text`` as ``parse_published`` reads them, time and zone included: those
    with a time of day (``timed``) or those without. A date written with an impossible time
    is not a bare date, so the day of ``2026-05-11 24:61`` is never taken at midnight."""
    for match in _DATE_TIME.finditer(text):
        if (match["hour"] is not None) == timed:
            yield match.group(0)


# A line that is only a date: bracketed too, a weekday, a time, or a month alone (（2023年5月）).
_DATE_ONLY = re.compile(
    r"^[（(]?(?:19|20)\d\d\s*[-/.年]\s*\d{1,2}\s*(?:[-/.月]\s*\d{1,2}\s*日?|月)"
    r"(?:\s*(?:星期|周)[一二三四五六日天])?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?[）)]?$"
)
# A date written relative to when the page was made: 1天前, 3小时前, 昨天
_RELATIVE = re.compile(r"^\s*(?:(?P<n>\d{1,3})\s*(?P<unit>天|小时|分钟)前|(?P<day>昨天|前天))")
_RELATIVE_UNITS = {"天": "days", "小时": "hours", "分钟": "minutes"}


def is_date_only(text: str) -> bool:
    """Whether ``text`` is a date and nothing else (a date line of its own)."""
    return _DATE_ONLY.match(text) is not None


def is_relative_date(text: str) -> bool:
    """Whether ``text`` starts with a relative date (``1天前``, ``3小时前``, ``昨天``)."""
    return _RELATIVE.search(text) is not None


def counted_back(text: str, made: datetime) -> str | None:
    """The date a relative date at the start of ``text`` means on a page made at ``made``:
    the day for days (昨天 is one back, 前天 two), the day and time for hours and minutes."""
    shown = _RELATIVE.search(text)
    if shown is None:
        return None
    if shown["day"]:
        unit, count = "天", 1 if shown["day"] == "昨天" else 2
    else:
        unit, count = shown["unit"], int(shown["n"])
    before = made - timedelta(**{_RELATIVE_UNITS[unit]: count})
    return before.strftime("%Y-%m-%d" if unit == "天" else "%Y-%m-%d %H:%M")


def without_dates(text: str) -> str:
    """``text`` with every date (and its time) it shows taken out."""
    return _DATE_TIME.sub(" ", text)


_FRONT_MATTER_FORM = "%Y-%m-%d %H:%M:%S %z"


def format_published(value: datetime) -> str:
    """Front-matter form: ``YYYY-MM-DD HH:MM:SS +0800``."""
    return value.astimezone(BEIJING).strftime(_FRONT_MATTER_FORM)


def parse_front_matter_date(value: object) -> datetime:
    """A post's ``date`` as :func:`format_published` writes it (or as YAML read it: a
    datetime); raises ValueError for anything else."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"date without a zone: {value}")
        return value.astimezone(BEIJING)
    return datetime.strptime(str(value), _FRONT_MATTER_FORM).astimezone(BEIJING)
