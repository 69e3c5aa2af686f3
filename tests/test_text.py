import re

import pytest

from crawler.reading.text import (
    author_from_text,
    clean_names,
    clean_source,
    clean_title,
    editor_from_text,
    strip_control_characters,
)

XINHUA_SUFFIX = re.compile(r"\s*[-_|｜]\s*新华网.*$")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("\n 产业链稳了\n ", "产业链稳了"),
        ("产业链稳了-新华网", "产业链稳了"),
        ("产业链稳了 - 新华网", "产业链稳了"),
        ("数字农机助力生产-新华网河北频道-新华网", "数字农机助力生产"),
        ("微视频｜“新”在中国", "微视频｜“新”在中国"),
        ("line\nbreak\u2028and\x07bell", "line break andbell"),
    ],
)
def test_clean_title(title, expected):
    assert clean_title(title, [XINHUA_SUFFIX]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("来源：新华社", "新华社"),
        ("\n来源：\n新华社\n", "新华社"),
        (" 新华网", "新华网"),
        ("2024-05-15 08:58:52来源：新华网", "新华网"),
        ("来源: 经济参考报 | 作者：张三", "经济参考报"),
        ("文章来源：人民日报", "人民日报"),
        ("", ""),
    ],
)
def test_clean_source(text, expected):
    assert clean_source(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("【责任编辑:吴咏玲\r\n】", "吴咏玲"),
        ("【纠错】 责任编辑： 尹世杰", "尹世杰"),
        ("[作者: 刘满仓 　责任编辑: 杨丹宇 ]", "杨丹宇"),
        ("没有编辑", None),
    ],
)
def test_editor_from_text(text, expected):
    assert editor_from_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[作者: 刘满仓 　责任编辑: 杨丹宇 ]", "刘满仓"),
        ("新华社巴黎12月9日电（记者唐霁）法国9日", "唐霁"),
        ("新华社东京9月15日电（记者陈泽安　蓝建中）据", "陈泽安、蓝建中"),
        ("【责任编辑:吴咏玲】", None),
        ("作者：2909", None),
    ],
)
def test_author_from_text(text, expected):
    assert author_from_text(text) == expected


def test_clean_names_joins_with_dunhao():
    assert clean_names(" 何山 张梦洁 ") == "何山、张梦洁"


def test_strip_control_characters_keeps_text():
    assert strip_control_characters("a\x00b\tc\x85d\ud800") == "ab c d"
