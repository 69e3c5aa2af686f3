"""Site profiles: every one loads, claims its own URLs, and the most specific claim wins."""

import pytest
from conftest import project_crawler

from crawler.profiles import GENERIC, SiteProfiles, packaged_profiles


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


def test_a_folder_is_read_once_until_a_file_changes(tmp_path):
    for source in packaged_profiles().iterdir():
        if source.name.endswith(".yaml"):
            (tmp_path / source.name).write_bytes(source.read_bytes())
    first = SiteProfiles.from_folder(tmp_path)
    assert SiteProfiles.from_folder(str(tmp_path)) is first  # the start-up's later asks
    xinhua = tmp_path / "xinhua.yaml"
    xinhua.write_text(xinhua.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert SiteProfiles.from_folder(tmp_path) is not first
