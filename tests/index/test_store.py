"""The persisted index: FAISS equals brute force, save/load round-trips, locking, generations, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexCorruptError, IndexLockedError, IndexMismatchError, IndexNotFoundError
from rag.index.faiss import chunk_file
from rag.index.faiss.store import FORMAT_VERSION, IndexStore
from rag.types import Chunk, Document

DIM = 16
CHUNKING = {"max_tokens": 200, "overlap_tokens": 40}


def _unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _doc(source: str, n_chunks: int, *, sha: str = "0" * 64) -> tuple[Document, list[Chunk]]:
    doc = Document(source=source, title=f"Tiêu đề {source}", text="x" * (10 * n_chunks), sha256=sha)
    chunks = [
        Chunk(f"{source}-{i:05d}", source, doc.title, f"Đoạn {i} của {source}", 10 * i, 10 * i + 10, 4)
        for i in range(n_chunks)
    ]
    return doc, chunks


def _store(path: Path, model_id: str = "hash-embedder") -> IndexStore:
    return IndexStore(path, model_id=model_id, dim=DIM, chunking=CHUNKING)


@pytest.fixture
def filled(tmp_path: Path) -> tuple[IndexStore, np.ndarray, list[Chunk]]:
    """A store with three documents (7, 5 and 8 chunks) of random unit vectors."""
    rng = np.random.default_rng(7)
    store = _store(tmp_path / "idx")
    all_vectors, all_chunks = [], []
    for source, n in (("a.txt", 7), ("b.txt", 5), ("c.txt", 8)):
        doc, chunks = _doc(source, n)
        vectors = _unit_vectors(rng, n)
        store.add(doc, chunks, vectors)
        all_vectors.append(vectors)
        all_chunks.extend(chunks)
    return store, np.concatenate(all_vectors), all_chunks


def _brute_force(vectors: np.ndarray, chunks: list[Chunk], query: np.ndarray, k: int) -> list[tuple[str, float]]:
    scores = vectors @ query
    order = np.argsort(-scores, kind="stable")[:k]
    return [(chunks[i].chunk_id, float(scores[i])) for i in order]


def _ids_scores(hits: list[tuple[Chunk, float]]) -> tuple[list[str], np.ndarray]:
    return [c.chunk_id for c, _ in hits], np.array([s for _, s in hits])


@pytest.mark.parametrize("k", [1, 3, 5, 20, 50])
def test_search_equals_numpy_brute_force(filled, k: int) -> None:
    store, vectors, chunks = filled
    queries = _unit_vectors(np.random.default_rng(k), 10)
    for query in queries:
        expected = _brute_force(vectors, chunks, query, k)
        ids, scores = _ids_scores(store.search(query, k))
        assert ids == [cid for cid, _ in expected]
        np.testing.assert_allclose(scores, [s for _, s in expected], rtol=0, atol=1e-5)
    assert len(store.search(queries[0], k)) == min(k, 20)


def test_search_of_empty_store_and_zero_k(tmp_path: Path, filled) -> None:
    query = _unit_vectors(np.random.default_rng(1), 1)[0]
    assert _store(tmp_path / "empty").search(query, 4) == []
    assert filled[0].search(query, 0) == []


def test_save_load_round_trip(filled) -> None:
    store, _, chunks = filled
    store.save()
    loaded = IndexStore.load(store.path)
    assert loaded.chunks() == chunks
    assert (loaded.model_id, loaded.dim, loaded.chunking) == ("hash-embedder", DIM, CHUNKING)
    assert {s: r.to_dict() for s, r in loaded.documents.items()} == {s: r.to_dict() for s, r in store.documents.items()}
    for query in _unit_vectors(np.random.default_rng(3), 5):
        assert loaded.search(query, 6) == store.search(query, 6)


def test_add_same_source_replaces(filled) -> None:
    store, _, _ = filled
    rng = np.random.default_rng(11)
    doc, chunks = _doc("b.txt", 2, sha="1" * 64)
    vectors = _unit_vectors(rng, 2)
    store.add(doc, chunks, vectors)
    assert len(store) == 7 + 2 + 8
    assert [c.chunk_id for c in store.chunks_of("b.txt")] == ["b.txt-00000", "b.txt-00001"]
    assert store.documents["b.txt"].sha256 == "1" * 64
    assert store.documents["b.txt"].ids == [20, 21]  # fresh ids; the old five are gone
    top_chunk, top_score = store.search(vectors[1], 1)[0]
    assert top_chunk.chunk_id == "b.txt-00001"
    assert top_score == pytest.approx(1.0, abs=1e-5)


def test_remove(filled) -> None:
    store, vectors, chunks = filled
    assert store.remove("a.txt") is True
    assert store.remove("a.txt") is False
    assert store.remove("missing.txt") is False
    assert len(store) == 13
    assert sorted(store.documents) == ["b.txt", "c.txt"]
    assert store.chunks_of("a.txt") == []
    query = vectors[0]  # a chunk of a.txt: no longer findable
    ids, _ = _ids_scores(store.search(query, 20))
    assert [i for i in ids if i.startswith("a.txt")] == []
    assert ids == [cid for cid, _ in _brute_force(vectors[7:], chunks[7:], query, 20)]


def test_add_rejects_wrong_dim_and_count(tmp_path: Path) -> None:
    store = _store(tmp_path / "idx")
    doc, chunks = _doc("a.txt", 2)
    with pytest.raises(IndexMismatchError, match="dim 8"):
        store.add(doc, chunks, np.zeros((2, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="2 chunks but 3 vectors"):
        store.add(doc, chunks, np.zeros((3, DIM), dtype=np.float32))


def test_manifest_contents(filled) -> None:
    store, _, _ = filled
    store.save()
    manifest = json.loads((store.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == FORMAT_VERSION == 3
    assert manifest["embedder"] == {"model_id": "hash-embedder", "dim": DIM}
    assert manifest["chunking"] == CHUNKING
    assert (manifest["n_chunks"], manifest["n_documents"], manifest["next_id"]) == (20, 3, 20)
    assert manifest["segments"] == [
        {
            "generation": 1,
            "kind": "base",
            "chunks": 20,
            "tombstones": 0,
            "files": {
                "vectors": "vectors-000001.faiss",
                "chunks": "chunks-000001.arr",
                "lexical": "lexical-000001.arr",
                "documents": "documents-000001.json",
            },
        }
    ]
    documents = json.loads((store.path / "documents-000001.json").read_text(encoding="utf-8"))
    assert documents["documents"]["b.txt"] == {"sha256": "0" * 64, "title": "Tiêu đề b.txt", "ids": [7, 8, 9, 10, 11]}
    assert (documents["removed"], documents["tombstones"]) == ([], [])


def test_check_compatible_names_both_models_and_fix(tmp_path: Path) -> None:
    store = _store(tmp_path / "idx", model_id="multilingual-e5-small")
    store.check_compatible("multilingual-e5-small", DIM)  # same model: no error
    with pytest.raises(IndexMismatchError) as info:
        store.check_compatible("bge-m3", 1024)
    message = str(info.value)
    assert "multilingual-e5-small (dim 16)" in message
    assert "bge-m3 (dim 1024)" in message
    assert "rag ingest --rebuild" in message


def test_load_of_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "idx").mkdir()
    assert IndexStore.exists(tmp_path / "idx") is False
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        IndexStore.load(tmp_path / "idx")


def test_second_writer_lock_is_refused(tmp_path: Path) -> None:
    first, second = _store(tmp_path / "idx"), _store(tmp_path / "idx")
    with first.writer_lock():
        with pytest.raises(IndexLockedError, match="another process is writing"):
            with second.writer_lock():
                pass
    with second.writer_lock():  # released: a new writer gets it
        assert (tmp_path / "idx" / ".lock").is_file() is True


def test_only_the_live_segments_files_remain(filled) -> None:
    store, _, _ = filled
    for _ in range(3):
        store.save()  # the second and third have nothing to write
    store.remove("a.txt")  # 7 of 20 chunks: above a quarter of the base, so this save compacts
    store.save()
    names = sorted(p.name for p in store.path.iterdir())
    assert names == [
        ".readers",  # the readers' lock (empty): see rag/index/files.py
        "chunks-000002.arr",
        "documents-000002.json",
        "lexical-000002.arr",
        "manifest.json",
        "vectors-000002.faiss",
    ]
    assert len(IndexStore.load(store.path)) == 13


def test_generation_continues_after_load(filled) -> None:
    store, _, _ = filled
    store.save()
    loaded = IndexStore.load(store.path)
    loaded.remove("b.txt")  # 5 of 20 chunks: a delta segment
    loaded.save()
    manifest = json.loads((store.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["generation"] == 2
    assert [(s["kind"], s["chunks"], s["tombstones"]) for s in manifest["segments"]] == [
        ("base", 20, 0),
        ("delta", 0, 5),
    ]
    assert sorted(p.name for p in store.path.glob("*-*.*")) == [
        "chunks-000001.arr",
        "chunks-000002.arr",
        "documents-000001.json",
        "documents-000002.json",
        "lexical-000001.arr",
        "lexical-000002.arr",
        "vectors-000001.faiss",
        "vectors-000002.npz",
    ]


def test_corrupt_chunks_file(filled) -> None:
    store, _, _ = filled
    store.save()
    (store.path / "chunks-000001.arr").write_text('{"fields": ["id", "chunk_id"], "rows": [[0, ', encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=r"chunks-000001.arr is damaged \(no array footer"):
        IndexStore.load(store.path)


def test_truncated_chunks_file(filled) -> None:
    store, _, _ = filled
    store.save()
    path = store.path / "chunks-000001.arr"
    path.write_bytes(path.read_bytes()[:-100])  # cut short: the footer is gone
    with pytest.raises(IndexCorruptError, match="chunks-000001.arr is damaged"):
        IndexStore.load(store.path)


def test_chunk_file_with_fewer_rows_than_the_postings(filled) -> None:
    store, _, chunks = filled
    store.save()
    first_five = {i: c for i, c in enumerate(chunks[:5])}
    chunk_file.write(store.path / "chunks-000001.arr", [], first_five)
    with pytest.raises(IndexCorruptError, match="chunks-000001.arr holds 5 chunks but lexical-000001.arr 20 rows"):
        IndexStore.load(store.path)


def test_missing_vectors_file(filled) -> None:
    store, _, _ = filled
    store.save()
    (store.path / "vectors-000001.faiss").unlink()
    with pytest.raises(IndexCorruptError, match="vectors-000001.faiss is missing"):
        IndexStore.load(store.path)


def test_unreadable_manifest_and_other_format_version(filled) -> None:
    store, _, _ = filled
    store.save()
    manifest_path = store.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps({**manifest, "format_version": 99}), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="format version 99"):
        IndexStore.load(store.path)
    manifest_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="rag ingest --rebuild"):
        IndexStore.load(store.path)


def test_large_collection_switches_to_ivf_with_high_recall(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((40, DIM)).astype(np.float32)
    vectors = centers[rng.integers(0, 40, 3000)] + 0.3 * rng.standard_normal((3000, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = IndexStore(
        tmp_path / "big", model_id="hash-embedder", dim=DIM, chunking=CHUNKING, ann_threshold=2000, nprobe=16
    )
    for d in range(30):
        doc = Document(source=f"d{d}.txt", title="", text="x", sha256=str(d))
        chunks = [Chunk(f"d{d}-{i}", doc.source, "", f"chunk {d} {i}", 0, 1) for i in range(100)]
        store.add(doc, chunks, vectors[d * 100 : (d + 1) * 100])
    store.save()
    manifest = json.loads((store.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["faiss"] == "IndexIVFScalarQuantizer(nlist=256, SQ8, nprobe=16)"
    loaded = IndexStore.load(store.path, nprobe=16)
    queries = vectors[rng.choice(3000, 50, replace=False)]
    found = 0
    for q in queries:
        exact = set(np.argsort(-(vectors @ q))[:10].tolist())
        got = {int(c.chunk_id.split("-")[0][1:]) * 100 + int(c.chunk_id.split("-")[1]) for c, _ in loaded.search(q, 10)}
        found += len(exact & got)
    assert found / 500 >= 0.9
    loaded.remove("d0.txt")
    assert all(not c.chunk_id.startswith("d0-") for c, _ in loaded.search(vectors[5], 10))
    assert len(loaded) == 2900
