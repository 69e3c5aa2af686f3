"""The generic rules on differently built pages of sites without a profile (fixtures written
for this project): meta/OpenGraph, a logo in <h1>, <br>-separated bodies, JSON-LD only,
and an old table layout whose <meta> source disagrees with the visible one."""

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, project_crawler

from crawler.items import RawPage
from pipelines.extract import ExtractPipeline
from pipelines.normalise import NormalisePipeline

CASES = sorted((FIXTURES / "generic").glob("*.json"))


@pytest.fixture(scope="module")
def stages():
    crawler = project_crawler()
    return ExtractPipeline.from_crawler(crawler), NormalisePipeline.from_crawler(crawler)


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_generic_extraction(stages, case: Path):
    expected = json.loads(case.read_text(encoding="utf-8"))
    html = case.with_suffix(".html").read_text(encoding="utf-8")
    extract, normalise = stages
    article = normalise.process_item(
        extract.process_item(RawPage(url=expected["url"], html=html, site="generic"))
    )
    assert article.title == expected["title"]
    assert article.published.isoformat() == expected["published"]
    assert article.source == expected["source"]
    assert article.paragraphs == expected["paragraphs"]
    assert set(article.provenance) >= {"title", "published", "body"}
    assert all(rule.startswith("generic:") for rule in article.provenance.values())


def test_at_least_five_generic_pages():
    assert len(CASES) >= 5
