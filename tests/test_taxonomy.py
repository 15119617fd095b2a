"""Which generator's rules a file's categories and tags follow, and what they then read as."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from bot.config import Settings
from bot.taxonomy import categories_of, category_style, tags_of

HEXO_FRONT = {"categories": ["新媒体", "趣头条"], "tags": "a b"}


def settings(**overrides: Any) -> Settings:
    return Settings(**({"site_url": "https://example.com/"} | overrides))


@pytest.mark.parametrize(
    ("overrides", "source", "kind", "style"),
    [
        # an explicit category_style always wins
        ({"category_style": "hexo"}, "2021-01-01-p.md", "toml", "hexo"),
        ({"category_style": "jekyll"}, "p.md", "yaml", "jekyll"),
        # TOML front matter is Hugo's alone; permalink=hugo / jekyll are deliberate choices
        ({}, "2021-01-01-p.md", "toml", "hugo"),
        ({"permalink": "hugo"}, "blog/p.md", "yaml", "hugo"),
        ({"permalink": "jekyll"}, "p.md", "yaml", "jekyll"),
        ({"permalink": "jekyll", "articles_dir": Path("/site/source/_posts")}, "p.md", "yaml", "jekyll"),
        # a Hexo posts folder beats a dated file name (Hexo sites date their file names too)
        ({"articles_dir": Path("/site/source/_posts")}, "2021-01-01-p.md", "yaml", "hexo"),
        ({"articles_dir": Path("blog/source/_posts/")}, "2021/2021-01-01-p.md", "yaml", "hexo"),
        ({"articles_dir": Path("/site")}, "source/_posts/2021-01-01-p.md", "yaml", "hexo"),
        # Jekyll: a _posts folder or a dated file name
        ({"articles_dir": Path("/site")}, "news/_posts/p.md", "yaml", "jekyll"),
        ({"articles_dir": Path("/site/_posts")}, "2021-01-01-p.md", "yaml", "jekyll"),
        ({}, "2021-01-01-p.md", "yaml", "jekyll"),
        ({"articles_dir": Path("/site/sources/_posts")}, "2021-01-01-p.md", "yaml", "jekyll"),
        # otherwise Hexo (the default permalink "hexo" is no signal either way)
        ({}, "p.md", "yaml", "hexo"),
        ({}, "000_seed.txt", "none", "hexo"),
        ({"articles_dir": Path("/site/source/_posts")}, "p.md", "yaml", "hexo"),
    ],
)
def test_auto_category_style_precedence(overrides: dict[str, Any], source: str, kind: str, style: str) -> None:
    assert category_style(settings(**overrides), PurePosixPath(source), kind) == style


def test_a_dated_hexo_post_keeps_its_hierarchy_and_one_tag() -> None:
    s = settings(permalink="hexo", articles_dir=Path("/blog/source/_posts"))
    path = PurePosixPath("2021-12-20-news.md")
    style = category_style(s, path, "yaml")
    assert categories_of(HEXO_FRONT, path, style, str(path)) == (("新媒体", "趣头条"),)
    assert tags_of(HEXO_FRONT, style, str(path)) == ("a b",)


def test_the_same_file_in_a_jekyll_site_reads_as_flat_names() -> None:
    s = settings(articles_dir=Path("/blog/_posts"))
    path = PurePosixPath("2021-12-20-news.md")
    style = category_style(s, path, "yaml")
    assert categories_of(HEXO_FRONT, path, style, str(path)) == (("新媒体",), ("趣头条",))
    assert tags_of(HEXO_FRONT, style, str(path)) == ("a", "b")
