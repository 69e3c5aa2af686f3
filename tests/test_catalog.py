"""The catalog's JSON Lines export: every article once, with its revisions in order."""

import json
from datetime import datetime, timedelta

from crawler.archive.catalog import JSONL_EXPORT, Catalog, CatalogEntry
from crawler.reading.dates import BEIJING


def entry(article_id: str, published: str, content_hash: str, site: str = "xinhua"):
    return CatalogEntry(
        site=site,
        article_id=article_id,
        url=f"http://www.news.cn/{article_id}/c.html",
        title=f"标题 {article_id}",
        published=published,
        source="新华网",
        category="xinhuawang",
        path=f"_posts/{article_id}.md",
        content_hash=content_hash,
    )


def test_export_streams_articles_in_order_with_their_revisions(tmp_path):
    catalog = Catalog(tmp_path)
    start = datetime(2026, 11, 1, 8, 0, tzinfo=BEIJING)
    same_time = "2026-10-01T10:00:00+08:00"
    try:
        catalog.record(entry("b", same_time, "h1"), start)
        catalog.record(entry("a", same_time, "h1", site="people"), start)
        catalog.record(entry("c", "2026-09-30T09:00:00+08:00", "h1"), start)
        for day, content_hash in ((1, "h2"), (2, "h2"), (3, "h3")):  # two edits, one refetch
            catalog.record(entry("b", same_time, content_hash), start + timedelta(days=day))
        count = catalog.export_jsonl_file(tmp_path / JSONL_EXPORT)
    finally:
        catalog.close()

    lines = (tmp_path / JSONL_EXPORT).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert count == 3
    assert [(r["site"], r["article_id"]) for r in records] == [
        ("xinhua", "c"),  # oldest first; then by site and ID
        ("people", "a"),
        ("xinhua", "b"),
    ]
    assert [rev["content_hash"] for rev in records[2]["revisions"]] == ["h1", "h2", "h3"]
    assert [rev["archived_at"][:10] for rev in records[2]["revisions"]] == [
        "2026-11-01",
        "2026-11-02",
        "2026-11-04",
    ]
    assert [len(r["revisions"]) for r in records[:2]] == [1, 1]
    assert records[2]["title"] == "标题 b" and records[2]["content_hash"] == "h3"
    assert not list(tmp_path.glob(".*.tmp"))


def quick_checks(catalog: Catalog) -> list[str]:
    """The statements that read the whole database to check it, while ``damage()`` runs."""
    statements: list[str] = []
    catalog.connection.set_trace_callback(statements.append)
    catalog.damage()
    catalog.connection.set_trace_callback(None)
    return [statement for statement in statements if "quick_check" in statement]


def test_a_catalog_left_sound_by_a_run_is_not_read_whole_at_the_next_start(tmp_path):
    now = datetime(2026, 11, 1, 8, 0, tzinfo=BEIJING)
    catalog = Catalog(tmp_path)
    catalog.record(entry("a", "2026-10-01T10:00:00+08:00", "h1"), now)
    catalog.mark_sound()
    catalog.close()

    again = Catalog(tmp_path)
    assert quick_checks(again) == []  # the file as the run left it
    again.record(entry("b", "2026-10-02T10:00:00+08:00", "h2"), now)  # written since
    assert quick_checks(again) == ["PRAGMA quick_check"]
    again.close()
    assert quick_checks(Catalog(tmp_path)) == ["PRAGMA quick_check"]


def test_the_export_is_one_file_per_day_and_a_run_rewrites_only_its_days(tmp_path):
    now = datetime(2026, 11, 1, 8, 0, tzinfo=BEIJING)
    catalog = Catalog(tmp_path)
    for article_id, published in (("a", "2026-09-30T23:59:59+08:00"), ("b", "2026-10-01T00:00:00+08:00"),
                                  ("c", "2026-10-01T12:00:00+08:00")):  # fmt: skip
        catalog.record(entry(article_id, published, "h1"), now)
    folder = tmp_path / "articles"
    catalog.export_days(folder)
    day_files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*.jsonl")}
    assert sorted(day_files) == ["2026/09/30.jsonl", "2026/10/01.jsonl"]
    assert [json.loads(line)["article_id"] for line in day_files["2026/10/01.jsonl"].open()] == [
        "b",
        "c",
    ]
    untouched = day_files["2026/09/30.jsonl"].stat().st_mtime_ns

    catalog.record(entry("c", "2026-10-02T08:00:00+08:00", "h2"), now)  # its date corrected
    catalog.export_days(folder, {"2026-10-01", "2026-10-02"})
    assert day_files["2026/09/30.jsonl"].stat().st_mtime_ns == untouched
    assert day_files["2026/10/01.jsonl"].read_text(encoding="utf-8").count("\n") == 1
    assert (folder / "2026" / "10" / "02.jsonl").read_text(encoding="utf-8").count("\n") == 1
    catalog.connection.execute("DELETE FROM articles WHERE article_id = 'b'")
    catalog.export_days(folder, {"2026-10-01"})  # a day left without articles loses its file
    assert not day_files["2026/10/01.jsonl"].exists()
    catalog.close()
