"""An index written in store format 2 (before chunk texts and postings moved to mapped files)
loads with the answers the format-2 store gave, and its next save rewrites it in format 3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.index.faiss.store import IndexStore
from rag.index.transfer import copy_index
from tests.fakes import HashEmbedder

FIXTURE = Path(__file__).parents[1] / "fixtures" / "index-format2"
EMBEDDER = HashEmbedder(dim=16)


def _answers(store: IndexStore) -> dict:
    """What make_expected.py recorded, computed by this store."""
    out = {}
    for q in json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8")):
        out[q] = {
            "dense": [[c.chunk_id, round(s, 5)] for c, s in store.search(EMBEDDER.embed_query(q), 10)],
            "lexical": [[c.chunk_id, round(s, 5)] for c, s in store.search_lexical(q, 10)],
            "restored": store.restore_diacritics(q),
            "coverage": [round(x, 5) for x in store.coverage(q, [c.text for c in store.chunks()])],
        }
    return out


@pytest.fixture
def old_index(tmp_path: Path) -> Path:
    index = tmp_path / "old"
    shutil.copytree(FIXTURE, index, ignore=shutil.ignore_patterns("*.py", "*.md", "expected.json"))
    return index


def test_format2_index_answers_as_the_format2_store_did(old_index: Path, caplog) -> None:
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    store = IndexStore.load(old_index)
    assert "is in store format 2: its chunk texts and BM25 rows are read into memory" in caplog.text
    assert sorted(store.documents) == ["da-nang.txt", "ha-noi.txt", "hue.md"]
    assert expected["sông Hương"]["lexical"] == [["hue.md-00000", 2.77271], ["da-nang.txt-00000", 0.88387]]
    assert expected["cau rong song han"]["restored"] == "cầu rồng sông hàn"
    assert _answers(store) == expected


def test_next_save_rewrites_format2_as_format3_with_the_same_answers(old_index: Path) -> None:
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    store = IndexStore.load(old_index)
    store.save()  # nothing changed, but there is no format-3 base: this save writes one
    manifest = json.loads((old_index / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["format_version"], manifest["next_id"], manifest["n_chunks"]) == (3, 7, 4)
    assert [(s["kind"], s["chunks"]) for s in manifest["segments"]] == [("base", 4)]
    assert sorted(p.name for p in old_index.iterdir() if not p.name.startswith(".")) == [
        "chunks-000003.arr",
        "documents-000003.json",
        "lexical-000003.arr",
        "manifest.json",
        "vectors-000003.faiss",
    ]
    assert _answers(store) == expected  # served from the new files
    assert _answers(IndexStore.load(old_index)) == expected


def test_copy_index_writes_a_format3_copy_with_the_same_answers(old_index: Path, tmp_path: Path) -> None:
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    assert copy_index(old_index, tmp_path / "new", kind="faiss") == 4
    manifest = json.loads((tmp_path / "new" / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["format_version"], manifest["n_chunks"]) == (3, 4)
    assert _answers(IndexStore.load(tmp_path / "new")) == expected
    assert json.loads((old_index / "manifest.json").read_text(encoding="utf-8"))["format_version"] == 2
