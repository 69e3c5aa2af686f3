from datetime import UTC, datetime

import pytest

from crawler.reading.dates import (
    BEIJING,
    counted_back,
    date_strings,
    format_published,
    is_date_only,
    is_relative_date,
    parse_front_matter_date,
    parse_published,
    without_dates,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-12-10 07:57:40", "2019-12-10 07:57:40"),
        (" 2019-12-10 07:57:40", "2019-12-10 07:57:40"),
        ("2024 05/09 22:27:02", "2024-05-09 22:27:02"),  # Xinhua 2021+ header spans
        # a clock named before the time: Greenwich time is UTC, 北京时间 is Beijing's
        ("2012年12月10日, 格林尼治标准时间10:41", "2012-12-10 18:41:00"),
        ("2012年12月10日 格林威治时间 10:41", "2012-12-10 18:41:00"),
        ("2024-05-20 GMT 10:00", "2024-05-20 18:00:00"),
        ("2024年5月20日 北京时间08:30", "2024-05-20 08:30:00"),
        ("2022 12 / 14 11:37:37", "2022-12-14 11:37:37"),
        ("2024年05月13日 13:48", "2024-05-13 13:48:00"),
        ("2024年5月3日13:48", "2024-05-03 13:48:00"),
        ("2024/05/13", "2024-05-13 00:00:00"),
        ("日期：2026-05-11", "2026-05-11 00:00:00"),
        ("2024-05-15 08:58:52来源：新华网", "2024-05-15 08:58:52"),
        ("2024-05-09T14:27:02Z", "2024-05-09 22:27:02"),
        ("2024-05-09T22:27:02+08:00", "2024-05-09 22:27:02"),
        ("2024-05-09T10:27:02-04:00", "2024-05-09 22:27:02"),
        ("2024-05-09T22:27:02.123+0800", "2024-05-09 22:27:02"),
        ("发布时间：2020年01月02日 09时30分", "2020-01-02 09:30:00"),
    ],
)
def test_parse_published(text, expected):
    parsed = parse_published(text)
    assert parsed is not None
    assert parsed.utcoffset().total_seconds() == 8 * 3600
    assert parsed.strftime("%Y-%m-%d %H:%M:%S") == expected


@pytest.mark.parametrize("text", ["", "no date here", "2024-13-01", "2023-02-30 10:00", "12:30"])
def test_parse_published_rejects(text):
    assert parse_published(text) is None


def test_format_published_is_beijing_time():
    value = datetime(2022, 5, 10, 16, 57, 30, tzinfo=BEIJING)
    assert format_published(value) == "2022-05-10 16:57:30 +0800"


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-11 10:00:00+99:99",  # no such offset: the rule gives nothing, never a ValueError
        "2026-05-11T10:00:00+2400",
        "2026-05-11 10:00:00-23:99",
        "2026-05-11 10:00:00+15:00",
        "2026-05-11 24:61",  # impossible times are not read as midnight
        "2026-05-11 10:00:60",
        "2026年05月11日 24时00分",
    ],
)
def test_parse_published_rejects_impossible_times_and_offsets(text):
    assert parse_published(text) is None
    assert parse_published(text, require_time=True) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-11T10:00:00+14:00", "2026-05-11 04:00:00"),  # Kiribati, the furthest east
        ("2026-05-11T10:00:00-12:00", "2026-05-12 06:00:00"),
        ("2026-05-11T10:00:00+05:45", "2026-05-11 12:15:00"),  # Nepal
    ],
)
def test_parse_published_accepts_real_offsets(text, expected):
    assert parse_published(text).strftime("%Y-%m-%d %H:%M:%S") == expected


@pytest.mark.parametrize(
    ("text", "timed", "expected"),
    [
        ("发布时间：2026-05-11 10:00:00+99:99 来源", True, ["2026-05-11 10:00:00+99:99"]),
        ("2026-05-11 24:61", False, []),  # its day is not a bare date
        ("2026-05-11 24:61", True, ["2026-05-11 24:61"]),
        ("更新于2026年5月11日", False, ["2026年5月11日"]),
        ("更新于2026年5月11日", True, []),
    ],
)
def test_date_strings_keep_time_and_zone_with_their_date(text, timed, expected):
    assert list(date_strings(text, timed=timed)) == expected


@pytest.mark.parametrize(
    "value",
    [
        datetime(2022, 5, 10, 16, 57, 30, tzinfo=BEIJING),
        datetime(2019, 12, 31, 20, 0, 0, tzinfo=UTC),  # another zone: read back in Beijing time
    ],
)
def test_front_matter_date_round_trips(value):
    written = format_published(value)
    assert parse_front_matter_date(written) == value
    assert parse_front_matter_date(value) == value  # as YAML hands it over: a datetime
    assert format_published(parse_front_matter_date(written)) == written


@pytest.mark.parametrize("value", ["2022-05-10", "2022-05-10 16:57:30", datetime(2022, 5, 10)])
def test_front_matter_date_needs_time_and_zone(value):
    with pytest.raises(ValueError):
        parse_front_matter_date(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-15 08:58 来源：新华网", "来源：新华网"),
        ("来源：人民日报 2024年05月15日", "来源：人民日报"),
    ],
)
def test_without_dates(text, expected):
    assert without_dates(text).strip() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014年5月21日", True),
        ("（2023年5月）", True),
        ("2021-04-08 星期四 08:19", True),
        ("2014年5月21日 本报记者覃剑长沙报道", False),
        ("5月21日", False),
    ],
)
def test_a_line_that_is_only_a_date(text, expected):
    assert is_date_only(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1天前", "2017-08-23"),
        ("昨天 ", "2017-08-23"),
        ("前天", "2017-08-22"),
        ("3小时前", "2017-08-24 00:13"),
        ("45分钟前", "2017-08-24 02:28"),
        ("2017-08-22", None),
    ],
)
def test_a_relative_date_counted_back(text, expected):
    made = datetime(2017, 8, 24, 3, 13, 39, tzinfo=BEIJING)
    assert counted_back(text, made) == expected
    assert is_relative_date(text) is (expected is not None)
