"""copy_index: an index moved between stores answers the same, without embedding again."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.index.base import new_store, open_store, store_kind
from rag.index.transfer import copy_index
from rag.text.chunking import passage_text
from tests.index.test_store_contract import CHUNKING, DIM, EMBEDDER, QUERIES, _all_chunks, _fill


@pytest.mark.parametrize(("source_kind", "target_kind"), [("faiss", "milvus"), ("milvus", "faiss")])
def test_copy_keeps_chunks_vectors_records_and_rankings(tmp_path: Path, source_kind: str, target_kind: str) -> None:
    source = new_store(tmp_path / "a", kind=source_kind, model_id=EMBEDDER.model_id, dim=DIM, chunking=CHUNKING)
    _fill(source)
    source.save()
    assert copy_index(tmp_path / "a", tmp_path / "b", kind=target_kind) == 7
    copied = open_store(tmp_path / "b")
    assert store_kind(tmp_path / "b") == target_kind
    assert copied.chunks() == _all_chunks()
    assert {s: r.fields() for s, r in copied.documents.items()} == {s: r.fields() for s, r in source.documents.items()}
    assert (
        copied.vectors_of("hue.txt").tolist()
        == EMBEDDER.embed_passages([passage_text(c) for c in _all_chunks()[3:5]]).tolist()
    )
    for query in QUERIES:  # lexical ties may come in either order: compare (score, id) sorted
        assert _scored(copied.search_lexical(query, 4)) == _scored(source.search_lexical(query, 4))
        vector = EMBEDDER.embed_query(query)
        assert [c.chunk_id for c, _ in copied.search(vector, 4)] == [c.chunk_id for c, _ in source.search(vector, 4)]


def test_copy_refuses_an_existing_target(tmp_path: Path) -> None:
    source = new_store(tmp_path / "a", kind="faiss", model_id=EMBEDDER.model_id, dim=DIM, chunking=CHUNKING)
    _fill(source)
    source.save()
    with pytest.raises(ConfigError, match="onto itself"):
        copy_index(tmp_path / "a", tmp_path / "a", kind="milvus")
    copy_index(tmp_path / "a", tmp_path / "b", kind="faiss")
    with pytest.raises(ConfigError, match=r"b already holds an index: remove it or choose another folder"):
        copy_index(tmp_path / "a", tmp_path / "b", kind="milvus")


def _scored(hits: list) -> list[tuple[float, str]]:
    return sorted((-round(score, 4), chunk.chunk_id) for chunk, score in hits)
