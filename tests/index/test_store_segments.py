"""Incremental saves: a delta per save, tombstones, compaction, crash safety, and the format-1 upgrade."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.index.faiss.store import IndexStore
from rag.types import Chunk, Document
from tests.fakes import HashEmbedder

DIM = 16
CHUNKING = {"max_tokens": 200, "overlap_tokens": 40}
FIXTURE = Path(__file__).parents[1] / "fixtures" / "index-format1"
PLACES = ["Hà Nội", "Huế", "Đà Nẵng", "Sài Gòn", "Cần Thơ", "Hải Phòng", "Nha Trang", "Đà Lạt", "Vinh", "Quy Nhơn"]
FOODS = ["phở", "bún bò", "mì Quảng", "cơm tấm", "lẩu mắm", "bánh đa cua", "bún chả cá", "bánh căn", "cháo lươn"]
QUERIES = ["phở Hà Nội", "bún bò Huế ngon", "món đặc sản Đà Nẵng", "cơm tấm", "bánh", "quan ăn so 7", "lẩu mắm Cần Thơ"]
EMBEDDER = HashEmbedder(dim=DIM)


def _texts(n: int, version: int = 0) -> list[str]:
    place = PLACES[n % len(PLACES)]
    return [
        f"{place} có món {FOODS[(n + i + version) % len(FOODS)]} ở quán số {n} đoạn {i} bản {version}."
        for i in range(1 + n % 3)
    ]


def _add(store: IndexStore, n: int, version: int = 0) -> None:
    source = f"tai-lieu-{n:04d}.txt"
    texts = _texts(n, version)
    doc = Document(source=source, title=f"Tài liệu {n}", text=" ".join(texts), sha256=f"{n:032d}{version:032d}")
    chunks = [Chunk(f"{source}-{i:05d}", source, doc.title, t, 0, len(t), len(t.split())) for i, t in enumerate(texts)]
    store.add(doc, chunks, EMBEDDER.embed_passages(texts))


def _store(path: Path, n_docs: int, **options: float) -> IndexStore:
    store = IndexStore(path, model_id=EMBEDDER.model_id, dim=DIM, chunking=CHUNKING, **options)
    for n in range(n_docs):
        _add(store, n)
    return store


def _results(store: IndexStore) -> list[list[tuple[str, float]]]:
    """Every query's hits over the whole collection, dense then lexical, as (chunk id, score) rounded to
    1e-5 and ordered by score then id, so only a real difference in a score or a hit set shows."""
    out = []
    for q in QUERIES:
        for hits in (store.search(EMBEDDER.embed_query(q), len(store)), store.search_lexical(q, len(store))):
            out.append(sorted(((c.chunk_id, round(s, 5)) for c, s in hits), key=lambda x: (-x[1], x[0])))
    return out


def _fresh_like(store: IndexStore, path: Path) -> IndexStore:
    """A store built from scratch with the documents store holds now, in the order of their chunk ids."""
    fresh = IndexStore(path, model_id=EMBEDDER.model_id, dim=DIM, chunking=CHUNKING)
    by_first_id = sorted(store.documents.items(), key=lambda item: min(item[1].ids))
    for source, record in by_first_id:
        chunks = store.chunks_of(source)
        doc = Document(source=source, title=record.title, text="", sha256=record.sha256)
        fresh.add(doc, chunks, EMBEDDER.embed_passages([c.text for c in chunks]))
    return fresh


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def _snapshot(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in path.iterdir()}


def _bytes_written(path: Path, before: dict[str, int]) -> int:
    """Total size of the files a save created or replaced (the manifest included)."""
    return sum(p.stat().st_size for p in path.iterdir() if before.get(p.name) != p.stat().st_mtime_ns)


def test_bytes_written_by_a_one_document_change_do_not_depend_on_index_size(tmp_path: Path) -> None:
    written = {}
    for n_docs in (60, 600):
        store = _store(tmp_path / f"idx{n_docs}", n_docs)
        store.save()
        base = sum(p.stat().st_size for p in store.path.iterdir())
        before = _snapshot(store.path)
        store.remove("tai-lieu-0004.txt")  # two chunks
        store.save()
        removed = _bytes_written(store.path, before)
        before = _snapshot(store.path)
        _add(store, 9999)  # one chunk
        store.save()
        added = _bytes_written(store.path, before)
        written[n_docs] = (base, removed, added)
        loaded = IndexStore.load(store.path)
        assert [s["kind"] for s in _manifest(store.path)["segments"]] == ["base", "delta", "delta"]
        assert (len(loaded), "tai-lieu-0004.txt" in loaded.documents, "tai-lieu-9999.txt" in loaded.documents) == (
            len(store),
            False,
            True,
        )
    (small_base, small_removed, small_added), (large_base, large_removed, large_added) = written[60], written[600]
    assert large_base > 9 * small_base  # the larger index is about ten times larger on disk
    # what differs is only the width of numbers (ids, counts) in the JSON files
    assert abs(large_removed - small_removed) <= 32
    assert abs(large_added - small_added) <= 32
    assert large_removed < large_base / 50 and large_added < large_base / 50


def test_base_plus_deltas_plus_tombstones_loads_the_same_results_as_a_fresh_index(tmp_path: Path) -> None:
    store = _store(tmp_path / "idx", 30, compact_fraction=10.0)  # never compacts on its own here
    store.save()
    rounds = [
        lambda: store.remove("tai-lieu-0003.txt"),
        lambda: _add(store, 7, version=1),  # replaced: its old chunks become tombstones
        lambda: _add(store, 31),
        lambda: (store.remove("tai-lieu-0031.txt"), _add(store, 32), _add(store, 12, version=2)),
        lambda: store.remove("tai-lieu-0000.txt"),
    ]
    for change in rounds:
        change()
        store.save()
    manifest = _manifest(store.path)
    assert [(s["kind"], s["chunks"], s["tombstones"]) for s in manifest["segments"]] == [
        ("base", 60, 0),  # documents of 1, 2, 3, 1, 2, 3... chunks
        ("delta", 0, 1),  # document 3 (1 chunk) removed
        ("delta", 2, 2),  # document 7 replaced: 2 new chunks, its 2 saved ones deleted
        ("delta", 2, 0),  # document 31 added
        ("delta", 4, 3),  # 31 removed (2), 32 added (3 chunks), 12 replaced (1 for 1)
        ("delta", 0, 1),  # document 0 removed
    ]
    loaded = IndexStore.load(store.path)
    assert loaded.chunks() == store.chunks()
    assert {s: r.to_dict() for s, r in loaded.documents.items()} == {s: r.to_dict() for s, r in store.documents.items()}
    assert _results(loaded) == _results(store)
    assert _results(loaded) == _results(_fresh_like(store, tmp_path / "fresh"))
    assert sorted(loaded.documents) == sorted(f"tai-lieu-{n:04d}.txt" for n in [*range(1, 30), 32] if n != 3)
    assert [c.text for c in loaded.chunks_of("tai-lieu-0012.txt")] == _texts(12, version=2)


def test_compaction_triggers_above_the_fraction_and_keeps_results(tmp_path: Path) -> None:
    store = _store(tmp_path / "idx", 20)  # 1+2+3 chunks per document: 39 chunks
    store.save()
    assert len(store) == 39
    store.remove("tai-lieu-0002.txt")  # 3 chunks
    store.save()
    for n in (20, 21, 22):  # 3 + 1 + 2 chunks: 9 pending, 39 / 4 = 9.75
        _add(store, n)
    store.save()
    assert [s["kind"] for s in _manifest(store.path)["segments"]] == ["base", "delta", "delta"]
    assert store.compaction_due() is False
    _add(store, 23)  # 3 more chunks: 12 > 9.75
    assert store.compaction_due() is True
    expected = _results(store)
    store.save()
    manifest = _manifest(store.path)
    assert [(s["generation"], s["kind"], s["chunks"]) for s in manifest["segments"]] == [(4, "base", 45)]
    assert sorted(p.name for p in store.path.glob("*-*.*")) == [
        "chunks-000004.arr",
        "documents-000004.json",
        "lexical-000004.arr",
        "vectors-000004.faiss",
    ]
    loaded = IndexStore.load(store.path)
    assert _results(loaded) == expected == _results(_fresh_like(store, tmp_path / "fresh"))


def test_compaction_after_max_deltas_and_on_request(tmp_path: Path) -> None:
    store = _store(tmp_path / "idx", 40, max_deltas=2)
    store.save()
    kinds = []
    for n in (40, 41, 42):
        _add(store, n)
        store.save()
        kinds.append([s["kind"] for s in _manifest(store.path)["segments"]])
    assert kinds == [["base", "delta"], ["base", "delta", "delta"], ["base"]]
    _add(store, 43)
    store.save(compact=True)
    assert [(s["kind"], s["chunks"]) for s in _manifest(store.path)["segments"]] == [("base", len(store))]


def test_a_save_with_nothing_changed_writes_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path / "idx", 5)
    store.save()
    before = _snapshot(store.path)
    store.save()
    IndexStore.load(store.path).save()
    assert _snapshot(store.path) == before


def test_record_edited_in_place_is_saved(tmp_path: Path) -> None:
    """rag ingest refreshes size and mtime of a file whose hash is unchanged, in place."""
    store = _store(tmp_path / "idx", 10)
    store.save()
    record = store.documents["tai-lieu-0005.txt"]
    record.size, record.mtime_ns = 123, 456
    store.save()
    assert [(s["kind"], s["chunks"], s["tombstones"]) for s in _manifest(store.path)["segments"]][1] == (
        "delta",
        0,
        0,
    )
    loaded = IndexStore.load(store.path).documents["tai-lieu-0005.txt"]
    assert (loaded.size, loaded.mtime_ns, loaded.ids) == (123, 456, record.ids)


def test_crash_before_the_manifest_keeps_the_previous_state_and_the_next_save_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path / "idx", 30)
    store.save()
    manifest = (store.path / "manifest.json").read_bytes()
    expected = _results(IndexStore.load(store.path))
    store.remove("tai-lieu-0001.txt")
    _add(store, 50)

    def crash(self: IndexStore, gen: int, segments: list) -> None:
        raise OSError("simulated crash before the manifest swap")

    monkeypatch.setattr(IndexStore, "_write_manifest", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.save()
    monkeypatch.undo()
    strays = sorted(p.name for p in store.path.glob("*-000002.*"))
    assert strays == ["chunks-000002.arr", "documents-000002.json", "lexical-000002.arr", "vectors-000002.npz"]
    (store.path / ".chunks-000002.json.tmp").write_text("cut short", encoding="utf-8")  # a write cut mid-file
    assert (store.path / "manifest.json").read_bytes() == manifest
    assert _results(IndexStore.load(store.path)) == expected  # the previous complete state

    reopened = IndexStore.load(store.path)  # a later run, after the crash
    reopened.remove("tai-lieu-0002.txt")
    reopened.save()
    assert sorted(p.name for p in store.path.glob("*-00000[23].*")) == [
        "chunks-000003.arr",
        "documents-000003.json",
        "lexical-000003.arr",
        "vectors-000003.npz",
    ]
    assert sorted(p.name for p in store.path.glob(".*")) == [".readers"]  # no temporary file is left
    assert sorted(IndexStore.load(store.path).documents)[:3] == [
        "tai-lieu-0000.txt",
        "tai-lieu-0001.txt",
        "tai-lieu-0003.txt",
    ]


def test_format1_index_loads_and_the_next_save_upgrades_it(tmp_path: Path) -> None:
    index = tmp_path / "old"
    shutil.copytree(FIXTURE, index, ignore=shutil.ignore_patterns("*.py", "*.md"))
    assert _manifest(index)["format_version"] == 1
    store = IndexStore.load(index)
    assert sorted(store.documents) == ["da-nang.txt", "ha-noi.txt", "hue.md"]
    assert [c.text for c in store.chunks_of("hue.md")] == ["Huế là cố đô của triều Nguyễn bên sông Hương."]
    assert store.documents["ha-noi.txt"].ids == [0, 1]
    [(chunk, score)] = store.search(EMBEDDER.embed_query("Hồ Gươm nằm ở trung tâm Hà Nội."), 1)
    assert (chunk.chunk_id, round(score, 4)) == ("ha-noi.txt-00001", 1.0)
    assert [c.chunk_id for c, _ in store.search_lexical("cầu Rồng", 3)] == ["da-nang.txt-00000"]
    expected = _results(store)

    _add(store, 1)
    store.save()  # no format-3 base yet: this save writes one
    manifest = _manifest(index)
    assert (manifest["format_version"], manifest["next_id"]) == (3, 9)
    assert [(s["kind"], s["chunks"]) for s in manifest["segments"]] == [("base", 6)]
    assert sorted(p.name for p in index.iterdir() if p.name.endswith((".jsonl", ".faiss"))) == ["vectors-000003.faiss"]
    upgraded = IndexStore.load(index)
    upgraded.remove("tai-lieu-0001.txt")
    assert _results(upgraded) == expected


def test_ivf_base_takes_delta_segments(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((600, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = IndexStore(tmp_path / "ivf", model_id="x", dim=DIM, chunking=CHUNKING, ann_threshold=500, nprobe=128)
    for d in range(6):
        doc = Document(source=f"d{d}.txt", title="", text="", sha256=str(d))
        chunks = [Chunk(f"d{d}-{i}", doc.source, "", f"đoạn {d} {i}", 0, 1) for i in range(100)]
        store.add(doc, chunks, vectors[d * 100 : (d + 1) * 100])
    store.save()
    assert _manifest(store.path)["faiss"] == "IndexIVFScalarQuantizer(nlist=128, SQ8, nprobe=128)"
    new = Document(source="moi.txt", title="", text="", sha256="m")
    store.add(new, [Chunk("moi-0", "moi.txt", "", "đoạn mới", 0, 1)], vectors[:1] * -1)
    store.remove("d5.txt")
    store.save()
    assert [(s["kind"], s["chunks"], s["tombstones"]) for s in _manifest(store.path)["segments"]] == [
        ("base", 600, 0),
        ("delta", 1, 100),
    ]
    loaded = IndexStore.load(store.path, nprobe=128)
    assert len(loaded) == 501
    [(chunk, score)] = loaded.search(-vectors[0], 1)
    assert (chunk.chunk_id, score) == ("moi-0", pytest.approx(1.0, abs=0.02))
    assert [c.chunk_id for c, _ in loaded.search(vectors[550], 500) if c.source == "d5.txt"] == []
