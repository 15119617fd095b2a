"""The README is part of the product: its reference blocks match the code, its commands are real."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli import build_parser
from bot.config import env_name, setting_fields
from bot.docs import render_readme

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_generated_blocks_are_up_to_date() -> None:
    assert render_readme(README) == README, "run: python -m bot.docs README.md"


def test_every_setting_is_documented_with_its_environment_name() -> None:
    for f in setting_fields():
        if f.type.startswith("dict"):  # tables are set in the file only
            assert f"| `{f.name}` | — (file only) |" in README, f.name
        else:
            assert f"`{env_name(f)}`" in README, f.name


def test_every_cli_verb_is_documented() -> None:
    verbs = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for verb in verbs:
        assert f"newsbot {verb}" in README, verb


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one() -> None:
    assert "make run" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))]
    assert commands == ["make test"]


def test_procfile_runs_the_worker() -> None:
    assert (ROOT / "Procfile").read_text(encoding="utf-8").strip() == "worker: python -m bot run"
    assert "web: python -m bot run --http 0.0.0.0:$PORT" in README


def test_linked_docs_exist() -> None:
    """Every docs/ link in the README leads to a file, and to a heading of it when it names one."""
    for link in re.findall(r"\]\((docs/[^)]+)\)", README):
        path, _, anchor = link.partition("#")
        assert (ROOT / path).is_file(), link
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(encoding="utf-8"), re.MULTILINE)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor in slugs, link
