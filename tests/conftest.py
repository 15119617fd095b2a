"""Shared pytest options and fixtures."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

GOLDEN_ROOT = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", default=False,
        help="Rewrite the golden files under tests/golden/ from the current output, then review the diff.")


@dataclass(frozen=True)
class Golden:
    """Byte-for-byte comparison of a produced folder with its committed copy.

    With ``--update-golden`` the committed copy is replaced instead (the tests that use this
    fixture build their output with a fixed clock, so regenerating is deterministic).
    """

    root: Path
    update: bool

    def check_tree(self, name: str, produced: Path) -> None:
        expected = self.root / name
        if self.update:
            shutil.rmtree(expected, ignore_errors=True)
            shutil.copytree(produced, expected)
        want = {p.relative_to(expected).as_posix() for p in expected.rglob("*") if p.is_file()}
        got = {p.relative_to(produced).as_posix() for p in produced.rglob("*") if p.is_file()}
        assert got == want, f"files differ from tests/golden/{name}: extra {sorted(got - want)}, missing {sorted(want - got)}"
        for rel in sorted(want):
            assert (produced / rel).read_bytes() == (expected / rel).read_bytes(), (
                f"{rel} differs from tests/golden/{name}/{rel} (run pytest --update-golden to accept)")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(GOLDEN_ROOT, bool(request.config.getoption("--update-golden")))
