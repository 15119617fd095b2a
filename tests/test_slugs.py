"""Slugs are readable, unique, stable and can never leave feeds/."""

from __future__ import annotations

import pytest

from bot.slugs import MAX_SLUG_BYTES, assign_slugs, slugify, slugify_path


@pytest.mark.parametrize(
    ("name", "unicode_slug", "ascii_slug"),
    [
        ("新媒体", "新媒体", "xin-mei-ti"),
        ("趣头条", "趣头条", "qu-tou-tiao"),
        ("Hello World!", "hello-world", "hello-world"),
        ("ＡＢＣ　全角", "abc-全角", "abc-quan-jiao"),
        ("Straße", "straße", "strasse"),
        ("हिन्दी", "हिन्दी", "hindii"),  # combining marks are part of the word
        ("Nei.st", "nei-st", "nei-st"),
        ("北方网新闻", "北方网新闻", "bei-fang-wang-xin-wen"),
    ],
)
def test_readable_slugs(name: str, unicode_slug: str, ascii_slug: str) -> None:
    assert slugify(name, "unicode", {}) == unicode_slug
    assert slugify(name, "ascii", {}) == ascii_slug


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("../../etc/passwd", "etc-passwd"),
        ("..", "untitled"),
        (".hidden", "hidden"),
        ("a/b\\c", "a-b-c"),
        ("", "untitled"),
        ("   ", "untitled"),
        ("🚀🚀", "untitled"),
        ("\x00\x1f", "untitled"),
        ("CON", "con-x"),
        ("nul", "nul-x"),
        ("com1", "com1-x"),
        ("feeds/../../x", "feeds-x"),
        ("C:\\Windows", "c-windows"),
    ],
)
def test_hostile_names_become_safe_slugs(hostile: str, expected: str) -> None:
    slug = slugify(hostile, "unicode", {})
    assert slug == expected
    assert "/" not in slug and "\\" not in slug and ".." not in slug and not slug.startswith(".")


@pytest.mark.parametrize("name", ["a" * 300, "新" * 100, "word " * 60])
def test_long_names_are_cut_with_a_hash_that_keeps_them_apart(name: str) -> None:
    slug = slugify(name, "unicode", {})
    other = slugify(name + "!different tail", "unicode", {})
    assert len(slug.encode("utf-8")) <= MAX_SLUG_BYTES
    slug.encode("utf-8").decode("utf-8")  # never cut inside a character
    assert slug != other


def test_slug_map_wins_but_is_still_made_safe() -> None:
    slug_map = {"新媒体": "new-media", "坏": "../../../etc", "编程/码农网": "coding-mnw"}
    assert slugify("新媒体", "unicode", slug_map) == "new-media"
    assert slugify("坏", "unicode", slug_map) == "etc"
    assert slugify_path(("新媒体", "趣头条"), "unicode", slug_map) == "new-media-趣头条"
    assert slugify_path(("编程", "码农网"), "unicode", slug_map) == "coding-mnw"


def test_category_paths_get_one_slug_per_full_path() -> None:
    slugs = assign_slugs([("新媒体",), ("新媒体", "趣头条"), ("新媒体", "趣头条", "分类")])
    assert slugs == {("新媒体",): "新媒体", ("新媒体", "趣头条"): "新媒体-趣头条",
                     ("新媒体", "趣头条", "分类"): "新媒体-趣头条-分类"}


def test_clashing_names_get_distinct_numbered_slugs_in_name_order() -> None:
    slugs = assign_slugs(["C++", "C#", "c", "C"], "unicode", {})
    assert slugs == {"C": "c", "C#": "c-2", "C++": "c-3", "c": "c-4"}
    assert assign_slugs(["c", "C", "C++", "C#"], "unicode", {}) == slugs  # input order is irrelevant


def test_a_new_clashing_name_never_takes_an_existing_slug() -> None:
    before = assign_slugs(["C++"], "unicode", {})
    assert before == {"C++": "c"}
    after = assign_slugs(["C++", "C#"], "unicode", {}, keep={"C++": "c"})
    assert after == {"C++": "c", "C#": "c-2"}  # C# sorts first but C++ keeps its feed URL


def test_kept_slugs_yield_to_changed_settings() -> None:
    after = assign_slugs(["新媒体"], "ascii", {}, keep={"新媒体": "新媒体"})
    assert after == {"新媒体": "xin-mei-ti"}


def test_taken_slugs_are_never_assigned() -> None:
    assert assign_slugs(["All"], "unicode", {}, taken={"all"}) == {"All": "all-2"}


def test_flat_and_path_keys_with_the_same_text_do_not_share_a_slug() -> None:
    slugs = assign_slugs([("a/b",), ("a", "b")], "unicode", {})
    assert len(set(slugs.values())) == 2
