"""Real posts from Jekyll, Hexo and Hugo sites (../shared/corpus) and the two seeds.

Every file is either parsed or reported with a reason; samples were checked by hand against
the files and against what each generator would show.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.models import Article
from bot.reader import parse_article
from bot.scanner import current_articles, scan
from bot.state import State

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"
NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))
SEED_IMAGE = ("https://cors.zfour.workers.dev/?http://static.1sapp.com/qupost/img/2021/12/20/"
              "ef0f5ca7da7dbe56277473dc7c2ff1f4.jpeg")

def settings(folder: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {"articles_dir": folder, "site_url": "https://example.com/", "timezone": "Asia/Shanghai",
                            "include": ["*.md", "*.markdown", "*.html", "*.txt"]}
    return Settings(**(base | overrides))


def read(path: Path, source: str, **overrides: Any) -> Article:
    return parse_article(path.read_bytes(), source, path.stat().st_mtime, settings(path.parent, **overrides), "h")


# (folder, files the generator would not publish as drafts, bad files with the reason they give)
EXPECTED = [
    ("beyond1993-hexo-nested", 0, {}),
    ("coredns-hugo-toml", 0, {}),
    ("daichangya-hexo", 0, {}),
    ("finews-jekyll-sample", 0, {"_posts/-202205262391921712.md": "unreadable date: cannot read '+0800' as a date"}),
    ("houbb-jekyll", 11, {}),
    ("oped2-jekyll-news", 0, {}),
]


@pytest.mark.parametrize(("folder", "drafts", "bad"), EXPECTED)
def test_every_corpus_file_is_parsed_or_reported(folder: str, drafts: int, bad: dict[str, str]) -> None:
    root = CORPUS / folder
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    state = State()
    report = scan(settings(root), state, NOW)
    assert {b.source: b.reason for b in report.bad} == bad
    assert len(report.new) + len(report.bad) + drafts == len(files)
    articles = current_articles(state)
    assert all(a.title and a.url.startswith("https://example.com/") and a.published_at.tzinfo for a in articles)
    assert len({a.url for a in articles}) == len({a.id for a in articles}) == len(articles)


@pytest.mark.parametrize(
    ("rel", "title", "published", "categories", "tags"),
    [
        # houbb: file-name date differs from the front matter, single-digit month, "+0800"
        ("houbb-jekyll/2019-04-01-database-time-seriers-06-01-vm-intro.md",
         "时序数据库-06-01-vm VictoriaMetrics 快速、经济高效的监控解决方案和时间序列数据库",
         datetime(2019, 4, 1, 19, 24, 57, tzinfo=CST), (("Database",),),
         ("database", "dis-database", "distributed", "time-series", "monitor", "sf")),
        ("houbb-jekyll/2023-02-22-net-06-net-tcp-04-package.md", "NET 网络专题汇总-06-04-TCP 实战抓包分析",
         datetime(2023, 2, 22, tzinfo=CST), (("Net",),), ("net", "tcp", "sh")),
        # oped2: ISO with .000Z; flow lists with spaces
        ("oped2-jekyll-news/2020-07-13-極權之下，我們的恐懼、抵抗與愛.md", "極權之下，我們的恐懼、抵抗與愛",
         datetime(2020, 7, 13, 12, 13, 49, tzinfo=timezone.utc), (("Matters",),), ("Matters",)),
        # daichangya (Hexo): a 2-element list is parent > child; zone-less date in the site zone
        ("daichangya-hexo/Concurrent-Mark-Sweep-CMS-Collector.md", "Concurrent Mark Sweep (CMS) Collector",
         datetime(2024, 10, 31, 22, 1, 51, tzinfo=CST), (("jvm", "javagc"),), ("最新文章",)),
        # beyond1993: "title: 1092" is an int; "tags:" is null
        ("beyond1993-hexo-nested/LeetCode/1092.md", "1092", datetime(2019, 6, 30, 20, 58, 1, tzinfo=CST),
         (("LeetCode",),), ()),
        # coredns: TOML, CRLF, quoted string date with an offset
        ("coredns-hugo-toml/blog/dnstap.md", "Logging with dnstap", datetime(2017, 8, 3, 10, 25, 28, tzinfo=timezone(timedelta(hours=2))),
         (), ("dnstap", "log", "plugin")),
        # finews: zone-less date, site time zone Asia/Shanghai
        ("finews-jekyll-sample/_posts/2021-12-08-202112082206735975.md", "国家知识产权局：打击非正常专利申请和商标恶意抢注行为",
         datetime(2021, 12, 8, 10, 39, 1, tzinfo=CST), (("emnews",),), ("东财滚动新闻",)),
    ],
)
def test_hand_checked_samples(rel: str, title: str, published: datetime, categories: tuple[tuple[str, ...], ...],
                              tags: tuple[str, ...]) -> None:
    a = read(CORPUS / rel, rel.split("/", 1)[1])
    assert (a.title, a.published_at, a.categories, a.tags) == (title, published, categories, tags)
    assert a.published_at.utcoffset() == published.utcoffset()


def test_hand_checked_details() -> None:
    hexo = read(CORPUS / "daichangya-hexo/Concurrent-Mark-Sweep-CMS-Collector.md", "Concurrent-Mark-Sweep-CMS-Collector.md")
    assert hexo.url == "https://example.com/archives/Concurrent-Mark-Sweep-CMS-Collector/"  # front-matter permalink
    assert hexo.uid == "1333" and hexo.author == "daichangya"
    assert hexo.summary.startswith("并发标记扫描（CMS）收集器")
    cover = read(CORPUS / "daichangya-hexo/HTTP-xie-yi-ji-chu-MiniTomcat-xi-lie-ke.md", "HTTP-xie-yi-ji-chu-MiniTomcat-xi-lie-ke.md")
    assert cover.image_url == "https://mdanimage.oss-cn-shenzhen.aliyuncs.com/MiniTomcat314.jpg"
    assert "服务器（例如 Tomcat）" in cover.summary  # the folded multi-line excerpt, on one line
    oped = read(CORPUS / "oped2-jekyll-news/2020-07-13-極權之下，我們的恐懼、抵抗與愛.md", "2020-07-13-x.md")
    assert oped.author == "張潔平"
    assert oped.image_url == "https://assets.matters.news/embed/21fce9bb-addd-4987-bc0b-36d6606949b9.jpeg"
    draft = read(CORPUS / "houbb-jekyll/2017-08-09-apacke-kafka-23-autoOffsetReset.md", "2017-08-09-a.md")
    assert draft.is_draft  # published: false


def test_seed_000_hexo_reads_like_hexo() -> None:
    path = next(SEEDS.glob("000_*.txt"))
    a = read(path, path.name)
    assert a.title == "炎陵县与国网株洲供电公司签订智慧绿色能源互联网工作推进协议"
    assert a.categories == (("新媒体", "趣头条", "分类"),)
    assert a.tags == ()
    assert a.published_at == datetime(2021, 12, 20, 5, 10, 31, tzinfo=timezone.utc)
    assert a.published_at.utcoffset() == timedelta(0)  # GMT kept, not shifted to the site zone
    assert a.image_url == SEED_IMAGE
    assert a.author == "趣头条"


def test_seed_004_jekyll_reads_like_jekyll() -> None:
    path = next(SEEDS.glob("004_*.txt"))
    a = read(path, path.name)
    assert a.title == "天津电力发布2022年“助产业 惠民生 促双碳”电力服务三十条举措"
    assert a.categories == (("beifangwang",),)
    assert a.tags == ("北方网新闻",)
    assert a.published_at == datetime(2022, 2, 17, 19, 34, 59, tzinfo=CST)
    assert a.published_at.utcoffset() == timedelta(hours=8)
    assert a.image_url is None  # no image key and no <img> in the body


def test_seeds_scan_as_a_site_folder() -> None:
    state = State()
    report = scan(settings(SEEDS, include=["*.txt"]), state, NOW)
    assert len(report.new) == 2 and report.bad == ()


def test_coredns_with_the_hugo_preset_gets_hugos_section_urls() -> None:
    """Hugo's default URL is /<section>/<file>/: blog/dnstap.md and plugins/dnstap.md are two pages."""
    root = CORPUS / "coredns-hugo-toml"
    state = State()
    report = scan(settings(root, permalink="hugo"), state, NOW)
    assert report.bad == ()
    urls = {a.source: a.url for a in current_articles(state)}
    assert urls["blog/dnstap.md"] == "https://example.com/blog/dnstap/"
    assert urls["plugins/dnstap.md"] == "https://example.com/plugins/dnstap/"
    assert len(set(urls.values())) == len(urls)
