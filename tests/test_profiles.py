"""Site profiles: every one loads, claims its own URLs, and the most specific claim wins; the
schema refuses a malformed profile with one line naming the file and the key."""

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import PROJECT, project_crawler, run_scrapy
from jsonschema import Draft202012Validator

from crawler.reading.extraction import TEXT_HEURISTICS
from crawler.reading.profiles import (
    FIELDS,
    GENERIC,
    RULE_KINDS,
    ProfileError,
    SiteProfiles,
    load_profile,
    packaged_profiles,
    profile_validator,
    profiles_of,
)


@pytest.fixture(scope="module")
def profiles():
    return SiteProfiles.from_folder(project_crawler().settings["SITE_PROFILES_DIR"])


@pytest.mark.parametrize(
    ("url", "site", "article_id"),
    [
        (
            "https://www.news.cn/politics/leaders/20240509/3dd6e33cc6d749fbaae01fea337ff400/c.html",
            "xinhua",
            "3dd6e33cc6d749fbaae01fea337ff400",
        ),
        ("http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm", "xinhua", "c_1125327450"),
        (
            "http://www.he.news.cn/20240515/d59c39d4160a4fe4b3084c3e4abfb450/c.html",
            "xinhua",
            "d59c39d4160a4fe4b3084c3e4abfb450",
        ),
        (
            "http://finance.people.com.cn/n1/2024/0510/c1004-40232587.html",
            "people",
            "c1004-40232587",
        ),
        (
            "https://finance.eastmoney.com/a/202405103071234567.html",
            "eastmoney",
            "202405103071234567",
        ),
        (
            "https://news.cctv.com/2026/06/25/ARTIFiTBDMPpFiGg80NaU8s0260625.shtml",
            "cctv",
            "ARTIFiTBDMPpFiGg80NaU8s0260625",
        ),
        ("https://politics.gmw.cn/2024-05/13/content_37319243.htm", "gmw", "content_37319243"),
        ("https://www.example.org/news/1.html", GENERIC, None),
    ],
)
def test_article_urls(profiles, url, site, article_id):
    profile = profiles.for_url(url)
    assert profile.name == site
    assert profile.article_id(url) == article_id


def test_continuation_pages_are_not_articles(profiles):
    xinhua = profiles["xinhua"]
    assert (
        xinhua.article_id(
            "http://www.he.news.cn/20240515/d59c39d4160a4fe4b3084c3e4abfb450/c.html?page=2"
        )
        is None
    )
    assert xinhua.article_id("http://www.xinhuanet.com/world/2019-12/10/c_1125327450_2.htm") is None


def test_every_profile_has_what_a_crawl_needs(profiles):
    for name in profiles:
        profile = profiles[name]
        if name == GENERIC:
            continue
        assert profile.domains and profile.article_urls, name
        assert profile.start_urls, f"{name}: scrapy crawl {name} needs start URLs"
        assert all(
            profile.claims(url) or profile.is_list_page(url) for url in profile.start_urls
        ), name


def test_a_crawl_reads_the_folder_once_and_the_next_crawl_again(tmp_path):
    for source in packaged_profiles().iterdir():
        if source.name.endswith(".yaml"):
            (tmp_path / source.name).write_bytes(source.read_bytes())
    crawl = project_crawler(SITE_PROFILES_DIR=str(tmp_path))
    first = profiles_of(crawl)
    assert profiles_of(crawl) is first  # the start-up's later asks
    xinhua = tmp_path / "xinhua.yaml"
    xinhua.write_text(xinhua.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert profiles_of(project_crawler(SITE_PROFILES_DIR=str(tmp_path))) is not first


SCHEMA = profile_validator().schema
MINIMAL = "name: site\ndefault_category: news\ndefault_tag: 新闻\n"


def test_the_schema_is_a_json_schema():
    Draft202012Validator.check_schema(SCHEMA)


def test_every_shipped_profile_validates():
    for path in packaged_profiles().iterdir():
        if path.name.endswith(".yaml"):
            load_profile(path)  # raises ProfileError


def test_the_schema_names_the_fields_rule_kinds_and_heuristics_the_code_reads():
    fields = SCHEMA["properties"]["fields"]["properties"]
    assert tuple(fields) == FIELDS
    assert [option["required"][0] for option in SCHEMA["$defs"]["rule"]["anyOf"]] == list(
        RULE_KINDS
    )
    heuristics = {
        field: spec["items"]["properties"]["heuristic"].get("enum", [])
        for field, spec in fields.items()
    }
    assert {name for names in heuristics.values() for name in names} == {
        *TEXT_HEURISTICS,
        "densest_block",
    }
    assert heuristics["body"] == ["densest_block"]


def test_unset_keys_take_the_schemas_defaults(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(
        MINIMAL + "continuation: {links: [a], pattern: x}\nfields: {title: [css: h1]}\n",
        encoding="utf-8",
    )
    profile = load_profile(path)
    properties, rule = SCHEMA["properties"], SCHEMA["$defs"]["rule"]["properties"]
    assert profile.max_list_pages == properties["max_list_pages"]["default"]
    assert profile.host_in_article_id is properties["host_in_article_id"]["default"]
    assert profile.continuation is not None
    assert (
        profile.continuation.max_pages
        == properties["continuation"]["properties"]["max_pages"]["default"]
    )
    assert profile.fields["title"][0].strip_suffix is rule["strip_suffix"]["default"]
    assert profile.post_prefix == "site" and profile.layouts == ()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("domian: [a.com]\n", "unknown key 'domian' (known: name, domains, "),
        ("fields:\n  titel: []\n", "fields: unknown key 'titel' (known: title, published, "),
        (
            "fields:\n  title:\n    - css: a\n      strip_sufix: true\n",
            "fields.title[0]: unknown key 'strip_sufix' (known: css, ",
        ),
        (
            "fields:\n  title:\n    - css: a\n    - css: b\n    - css: c\n      xpath: d\n",
            "fields.title[2]: a rule needs exactly one of css, xpath, jsonld, regex, heuristic",
        ),
        (
            "fields:\n  title:\n    - strip_suffix: true\n",
            "fields.title[0]: a rule needs exactly one of css, xpath, jsonld, regex, heuristic",
        ),
        (
            "fields:\n  title:\n    - heuristic: visible_date\n",
            "fields.title[0].heuristic: 'visible_date' is not one of ['headline', 'confirmed_title_cut']",
        ),
        (
            "fields:\n  author:\n    - heuristic: headline\n",
            "fields.author[0].heuristic: 'headline' is not allowed here",
        ),
        (
            "fields:\n  title:\n    - 'h1'\n",
            "fields.title[0]: expected a mapping, not a string",
        ),
        (
            "fields:\n  body:\n    - regex: 'a(.*)'\n      decode: python\n",
            "fields.body[0].decode: 'python' is not one of ['js']",
        ),
        (
            "drop_lines: ['^ok', '(unclosed']\n",
            "drop_lines[1]: '(unclosed' is not a valid regex: missing ), unterminated subpattern",
        ),
        (
            "article_urls: ['^https://a/(\\d+)$']\n",
            "article_urls[0]: '^https://a/(\\\\d+)$' does not match '\\\\(\\\\?P<id>'; Regular "
            "expressions of article URLs, each with a named group `id`",
        ),
        ("max_list_pages: ten\n", "max_list_pages: expected an integer, not a string"),
        ("domains: a.com\n", "domains: expected a list, not a string"),
        ("continuation:\n  links: [a]\n", "continuation: 'pattern' is a required property"),
        (
            "layouts:\n  site-2021:\n    from: 2021-13-01\n    fixture: site\n",
            "layouts.site-2021.from: '2021-13-01' is not a valid date: month must be in 1..12",
        ),
        (
            "layouts:\n  site-2021:\n    from: 2021-03-01\n    until: 2020-12-31\n    fixture: site\n",
            "layouts.site-2021: from 2021-03-01 is after until 2020-12-31",
        ),
        (
            "layouts:\n  site-2021:\n    until: 2021-01-01\n",
            "layouts.site-2021: 'fixture' is a required property",
        ),
        (
            "layouts:\n  site-2021:\n    fixture: site\n    util: 2021-01-01\n",
            "layouts.site-2021: unknown key 'util' (known: from, until, fixture, description)",
        ),
        (
            "layouts:\n  site-2021: {fixture: site}\nfields:\n  title:\n    - css: h1\n"
            "      layouts: [site-2012]\n",
            "fields.title[0].layouts: no layout 'site-2012' in this profile's layouts (site-2021)",
        ),
    ],
)
def test_a_malformed_profile_is_one_line_naming_the_file_and_the_key(tmp_path, yaml_text, message):
    path = tmp_path / "site.yaml"
    path.write_text(MINIMAL + yaml_text, encoding="utf-8")
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    assert str(error.value).startswith(f"{path}: {message}")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a mapping, not nothing"),
        ("- a\n", "expected a mapping, not a list"),
        ("name: site\n", "'default_category' is a required"),
    ],
)
def test_a_profile_that_is_not_one_names_the_file(tmp_path, text, message):
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=f"^{path}: {message}"):
        load_profile(path)


# The key tables of docs/site-profiles.md are made from the schema's descriptions.
DOC = PROJECT / "docs" / "site-profiles.md"
DOC_BEGIN = "<!-- keys: made from crawler/sites/profile.schema.json by tests/test_profiles.py -->"
DOC_END = "<!-- end of keys -->"


def _value(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[1]
    if "enum" in spec:
        return " or ".join(f"`{value}`" for value in spec["enum"])
    if spec["type"] == "array":
        return "list of " + _value(spec["items"])
    if spec["type"] == "object":
        values = spec.get("additionalProperties")
        return f"mapping of names to {_value(values)}" if isinstance(values, dict) else "mapping"
    return spec.get("format", "text" if spec["type"] == "string" else spec["type"])


def _rows(schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, spec in schema["properties"].items():
        value = _value(spec) + (", required" if key in schema.get("required", ()) else "")
        value += f", default `{json.dumps(spec['default'])}`" if "default" in spec else ""
        meaning = spec["description"].replace("|", "\\|")
        yield f"| `{prefix}{key}` | {value} | {meaning} |"
        inner = spec.get("items", spec)
        if "properties" in inner and "$ref" not in inner:
            yield from _rows(inner, f"{prefix}{key}{'[]' if inner is not spec else ''}.")


def _table(schema: dict[str, Any]) -> str:
    return "\n".join(["| key | value | meaning |", "|---|---|---|", *_rows(schema)])


def key_tables() -> str:
    rule, layout = SCHEMA["$defs"]["rule"], SCHEMA["$defs"]["layout"]
    return "\n\n".join(
        [
            DOC_BEGIN,
            _table(SCHEMA),
            f"**A rule** (an item of `fields.<field>`). {rule['description']}",
            _table(rule),
            f"**A layout** (a value of `layouts`). {layout['description']}",
            _table(layout),
            DOC_END,
        ]
    )


def test_the_docs_key_tables_are_the_schemas():
    text = DOC.read_text(encoding="utf-8")
    shown = text[text.index(DOC_BEGIN) : text.index(DOC_END) + len(DOC_END)]
    assert shown == key_tables(), f"replace the key tables in {DOC} with:\n{key_tables()}"


@pytest.mark.parametrize("command", [["crawl", "xinhua"], ["list"]])
def test_a_broken_profile_stops_every_command_with_one_line(tmp_path, command):
    profiles = tmp_path / "sites"
    shutil.copytree(PROJECT / "crawler" / "sites", profiles)
    (profiles / "xinhua.yaml").write_text("name: xinhua\ndomains: [news.cn\n", encoding="utf-8")
    settings = ["-s", f"SITE_PROFILES_DIR={profiles}", "-s", f"ARCHIVE_DIR={tmp_path / 'a'}"]
    result = run_scrapy(*command, *settings)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"Site profile error: {profiles / 'xinhua.yaml'}: line 3, column 1: "
        "did not find expected ',' or ']'"
    ]
    assert not (tmp_path / "a").exists()
