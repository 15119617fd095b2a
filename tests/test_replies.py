"""Admin replies always fit Telegram's message limit, whatever the text."""

from __future__ import annotations

import html

import pytest

from bot.replies import LIMIT, escape_fit, split_lines, units


def visible(chunks: list[str]) -> str:
    return html.unescape("\n".join(chunks))


@pytest.mark.parametrize("line", ["plain ascii", "中文标题", "emoji 🔥🔥", "a & b < c > d", "<b>bold</b> and <code>x</code>"])
def test_short_lines_are_joined_into_one_message(line: str) -> None:
    assert split_lines([line] * 3) == ["\n".join([line] * 3)]


@pytest.mark.parametrize("unit", ["x", "中", "🔥", "&amp;"])
def test_many_lines_split_at_line_boundaries_within_the_limit(unit: str) -> None:
    lines = [f"{i:04d} " + unit * 50 for i in range(400)]
    chunks = split_lines(lines)
    assert len(chunks) > 1
    assert all(units(c) <= LIMIT for c in chunks)
    assert "\n".join(chunks).split("\n") == lines  # nothing lost, nothing cut mid-line


@pytest.mark.parametrize("unit", ["x", "中", "🔥", "&"])
def test_one_huge_line_is_cut_into_pieces_that_fit(unit: str) -> None:
    line = html.escape(unit * 10_000, quote=False)
    chunks = split_lines([line], limit=1000)
    assert all(units(c) <= 1000 for c in chunks)
    assert visible(chunks).replace("\n", "") == unit * 10_000


def test_a_huge_line_loses_its_markup_rather_than_breaking_it() -> None:
    chunks = split_lines(["<b>" + "y" * 3000 + "</b>"], limit=1000)
    assert all("<" not in c for c in chunks) and visible(chunks).replace("\n", "") == "y" * 3000


def test_escape_fit_escapes_and_cuts_with_an_ellipsis() -> None:
    assert escape_fit("a<b", 10) == "a&lt;b"
    cut = escape_fit("&" * 100, 12)
    assert cut == "&amp;&amp;…" and units(cut) <= 12


def test_empty_input_still_gives_a_sendable_message() -> None:
    assert split_lines([]) == ["(nothing)"]
