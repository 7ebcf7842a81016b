"""The FAISS store's on-disk BM25 (rag/index/faiss/postings.py, bm25.py) against the in-memory LexicalIndex.

Oracle: LexicalIndex over the live chunks, built directly, gives the same hits, scores, restored
queries and sentence coverage as the store's segments -- one base, a base plus deltas and
tombstones, and a base whose fields are split into 16 partitions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.index.faiss import postings
from rag.index.faiss.store import IndexStore
from rag.index.lexical import LexicalIndex
from rag.text.chunking import passage_text
from rag.types import Chunk, Document
from tests.fakes import HashEmbedder

EMBEDDER = HashEmbedder(dim=16)
TEXTS = [
    "Phở Hà Nội nấu bằng xương bò và bánh phở.",
    "Bún bò Huế có vị cay, sả và mắm ruốc.",
    "Huế là cố đô của Việt Nam bên sông Hương.",
    "Điều 5. Thủ tục đăng ký kết hôn tại Ủy ban nhân dân.",
    "Hà Nội là thủ đô; Hồ Gươm ở trung tâm Hà Nội.",
    "Cơm tấm Sài Gòn ăn với sườn nướng.",
    "Đà Nẵng có cầu Rồng bắc qua sông Hàn.",
    "Năm 1010, vua Lý Thái Tổ dời đô về Thăng Long.",
]
QUERIES = ["phở Hà Nội", "pho ha noi", "bún bò Huế", "thu tuc dang ky ket hon", "sông", "nam nao doi do", "xyz"]


def _add(store: IndexStore, n: int) -> None:
    source = f"doc-{n}.txt"
    text = TEXTS[n % len(TEXTS)] + f" Bản số {n}."
    doc = Document(source=source, title=f"Tài liệu {n}", text=text, sha256=f"{n:064d}")
    chunk = Chunk(f"{source}-00000", source, doc.title, text, 0, len(text), len(text.split()))
    store.add(doc, [chunk], EMBEDDER.embed_passages([text]))


def _answers(lexical: object, chunks: list[Chunk], id_of: dict[int, str], *, expected: bool = False) -> list[object]:
    texts = [c.text for c in chunks]
    out: list[object] = []
    for q in QUERIES:
        hits = sorted(lexical.search(q, 20), key=lambda h: (-round(h[1], 4), h[0]))  # LexicalIndex: ties unordered
        out.append([id_of[i] for i, _ in hits])
        scores, coverage = [s for _, s in hits], lexical.coverage(q, texts)
        # float32 sums, added in another order
        out.append(pytest.approx(scores, rel=1e-6) if expected else scores)
        out.append(lexical.restore_diacritics(q))
        out.append(pytest.approx(coverage, rel=1e-6) if expected else coverage)
    return out


def _chunk_ids(store: IndexStore) -> dict[int, str]:
    return {
        i: c.chunk_id
        for source, record in store.documents.items()
        for i, c in zip(record.ids, store.chunks_of(source), strict=True)
    }


def _oracle(store: IndexStore) -> list[object]:
    """LexicalIndex over the store's live chunks (their passage text), added in chunk-id order."""
    reference = LexicalIndex()
    by_id = {
        i: c
        for source, record in store.documents.items()
        for i, c in zip(record.ids, store.chunks_of(source), strict=True)
    }
    for i in sorted(by_id):
        reference.add(i, passage_text(by_id[i]))
    return _answers(reference, store.chunks(), _chunk_ids(store), expected=True)


def _store_answers(store: IndexStore) -> list[object]:
    return _answers(store.lexical(), store.chunks(), _chunk_ids(store))


@pytest.mark.parametrize("large_field", [postings.LARGE_FIELD, 1])
def test_segments_score_as_lexical_index(tmp_path: Path, monkeypatch, large_field: int) -> None:
    monkeypatch.setattr(postings, "LARGE_FIELD", large_field)  # 1: every field of a written segment partitioned
    store = IndexStore(tmp_path / "idx", model_id=EMBEDDER.model_id, dim=16, chunking={})
    for n in range(24):
        _add(store, n)
    store.save()
    loaded = IndexStore.load(store.path)
    assert loaded.lexical()._sources[0][0].partitions == (16 if large_field == 1 else 1)  # noqa: SLF001
    assert loaded.lexical()._saved_weights("exact")  # noqa: SLF001 - one base: the stored weights
    assert _store_answers(loaded) == _oracle(loaded)
    for n in (3, 7, 11):
        loaded.remove(f"doc-{n}.txt")
    for n in range(24, 30):
        _add(loaded, n)
    loaded.save(compact=False)
    loaded.remove("doc-25.txt")  # unsaved tombstone in a delta, and chunks still in memory
    _add(loaded, 30)
    assert not loaded.lexical()._saved_weights("exact")  # noqa: SLF001 - deltas: the exact path
    assert _store_answers(loaded) == _oracle(loaded)
    assert loaded.restore_diacritics("nam nao doi do") == "năm nào dời đô"
    loaded.save(compact=True)
    assert _store_answers(IndexStore.load(store.path)) == _oracle(loaded)
