from conftest import project_crawler

from crawler.drops import MissingDate
from crawler.extensions.field_health import FieldHealthReport, field_counts, health_table
from crawler.items import Article


def test_field_health_shares_and_drops(caplog):
    crawler = project_crawler()
    stats = crawler.stats
    stats.set_value("extract/xinhua/title/primary", 3)
    stats.set_value("extract/xinhua/title/fallback", 1)
    stats.set_value("extract/xinhua/body/missing", 4)
    report = FieldHealthReport.from_crawler(crawler)
    report.item_dropped(Article(url="u", site="xinhua", article_id="c_1"), MissingDate("x"))
    with caplog.at_level("INFO"):
        report.spider_closed(spider=None)
    assert stats.get_value("extract/xinhua/title/primary_share") == 0.75
    assert stats.get_value("extract/xinhua/body/primary_share") == 0
    assert stats.get_value("drops/xinhua/MissingDate") == 1
    assert "xinhua/MissingDate 1" in caplog.text


def test_table_lists_fields_in_order():
    counts = field_counts(
        {
            "extract/a/body/primary": 1,
            "extract/a/title/missing": 2,
            "other/x": 5,
            "extract/a/title/x": 1,
        }
    )
    assert list(counts) == [("a", "title"), ("a", "body")]
    table = health_table(counts).splitlines()
    assert table[1].split() == ["a", "title", "0%", "0%", "100%", "2"]
