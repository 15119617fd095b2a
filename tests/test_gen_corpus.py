"""The benchmark corpus generator (bench/gen_corpus.py) writes parseable, reproducible articles."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import frontmatter
import pytest

GEN_PATH = Path(__file__).resolve().parent.parent / "bench" / "gen_corpus.py"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_corpus", GEN_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generates_parseable_articles(gen: ModuleType, tmp_path: Path) -> None:
    paths = gen.generate(tmp_path, 50, seed=1)
    assert len(paths) == 50
    assert sorted(paths) == sorted(tmp_path.iterdir())
    for path in paths:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
        assert 3 * 1024 <= len(post.content.encode("utf-8")) <= 6 * 1024, path.name
        assert isinstance(post.get("title"), str) and post["title"], path.name
        categories = post.get("categories")
        assert categories, path.name
        assert isinstance(categories, (str, list)), path.name
    assert len({p.read_bytes() for p in paths}) == 50  # no two files are identical


def test_same_seed_same_bytes(gen: ModuleType, tmp_path: Path) -> None:
    first = gen.generate(tmp_path / "a", 50, seed=5)
    second = gen.generate(tmp_path / "b", 50, seed=5)
    assert [p.name for p in first] == [p.name for p in second]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    other = gen.generate(tmp_path / "c", 50, seed=6)
    assert [p.read_bytes() for p in first] != [p.read_bytes() for p in other]


def test_start_index_appends_new_files(gen: ModuleType, tmp_path: Path) -> None:
    whole = gen.generate(tmp_path / "whole", 30, seed=2)
    gen.generate(tmp_path / "parts", 20, seed=2)
    added = gen.generate(tmp_path / "parts", 10, seed=2, start_index=20)
    assert [p.name for p in added] == [p.name for p in whole[20:]]
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == sorted(p.name for p in whole)
    for p in whole:
        assert (tmp_path / "parts" / p.name).read_bytes() == p.read_bytes()
