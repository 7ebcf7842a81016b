"""One contract, two stores: every test runs against the FAISS store, a real Milvus Lite file and a
Milvus server (Milvus Lite's own gRPC server, `python -m milvus_lite server`, started for the session).

Oracles: dense hits equal numpy brute force; lexical hits equal LexicalIndex's BM25 computed
directly; what is saved comes back from a fresh process-side open; an unfinished write is invisible.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ConfigError, IndexMismatchError, StoreUnavailableError
from rag.index.base import Store, StoreOptions, new_store, open_store, store_kind
from rag.index.lexical import LexicalIndex
from rag.text.chunking import passage_text
from rag.types import Chunk, Document
from tests.fakes import HashEmbedder

DIM = 16
CHUNKING = {"max_tokens": 200, "overlap_tokens": 40}
EMBEDDER = HashEmbedder(dim=DIM)
DOCS = {
    "pho.txt": ["Phở Hà Nội nấu bằng xương bò.", "Bánh phở làm từ gạo tẻ.", "Hà Nội có nhiều quán phở."],
    "hue.txt": ["Bún bò Huế có vị cay.", "Huế là cố đô của Việt Nam."],
    "luat.txt": ["Điều 5. Thủ tục đăng ký kết hôn.", "Khoản 2. Hồ sơ gồm tờ khai 河內."],
}
QUERIES = ["phở Hà Nội", "pho ha noi", "bún bò Huế", "thu tuc dang ky", "cố đô", "河內", "Việt Nam"]


_SERVER: dict[str, str] = {}  # the session's Milvus server URI, once started


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - yields a URI
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tmp_path_factory.mktemp("milvus-server")
    cmd = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data), "--host", "127.0.0.1"]
    server = subprocess.Popen([*cmd, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    _SERVER["uri"] = f"http://127.0.0.1:{port}"
    yield _SERVER["uri"]
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(params=["faiss", "milvus", "milvus-server"])
def kind(request) -> str:
    if request.param == "milvus-server":
        request.getfixturevalue("milvus_server")
    return request.param


def _make(kind: str, path: Path, model_id: str = EMBEDDER.model_id) -> Store:
    options = StoreOptions(milvus_uri=_SERVER["uri"]) if kind == "milvus-server" else None
    store = kind.removesuffix("-server")
    return new_store(path, kind=store, model_id=model_id, dim=DIM, chunking=CHUNKING, options=options)


def _chunks(source: str, texts: list[str], *, pages: bool = False) -> tuple[Document, list[Chunk]]:
    doc = Document(source=source, title=f"Tài liệu {source}", text=" ".join(texts), sha256=source * 2)
    chunks, start = [], 0
    for i, text in enumerate(texts):
        page = (i + 1, i + 2) if pages else (None, None)
        end = start + len(text)
        chunks.append(Chunk(f"{source}-{i:05d}", source, doc.title, text, start, end, 7, f"Mục {i}", *page))
        start += len(text) + 1
    return doc, chunks


def _fill(store: Store) -> None:
    for source, texts in DOCS.items():
        doc, chunks = _chunks(source, texts, pages=source == "luat.txt")
        store.add(doc, chunks, EMBEDDER.embed_passages([passage_text(c) for c in chunks]), size=10, mtime_ns=20)


def _all_chunks() -> list[Chunk]:
    return [c for source, texts in DOCS.items() for c in _chunks(source, texts, pages=source == "luat.txt")[1]]


def _ids(hits: list[tuple[Chunk, float]]) -> list[str]:
    return [c.chunk_id for c, _ in hits]


def test_dense_search_equals_brute_force(kind: str, tmp_path: Path) -> None:
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    chunks = _all_chunks()
    vectors = EMBEDDER.embed_passages([passage_text(c) for c in chunks])
    for query in QUERIES:
        q = EMBEDDER.embed_query(query)
        scores = vectors @ q
        order = np.argsort(-scores, kind="stable")[:4]
        hits = store.search(q, 4)
        assert _ids(hits) == [chunks[i].chunk_id for i in order]
        np.testing.assert_allclose([s for _, s in hits], scores[order], rtol=1e-5, atol=1e-6)


def test_lexical_search_equals_our_bm25(kind: str, tmp_path: Path) -> None:
    """Syllables, pairs and the folded fields, with LexicalIndex's weights: the same scores in both stores."""
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    store.save()
    reference = LexicalIndex()
    chunks = _all_chunks()
    for i, chunk in enumerate(chunks):
        reference.add(i, passage_text(chunk))
    for query in QUERIES:
        expected = [(chunks[i].chunk_id, round(s, 4)) for i, s in reference.search(query, 5)]
        got = [(c.chunk_id, round(s, 4)) for c, s in store.search_lexical(query, 5)]
        assert sorted(got, key=lambda x: (-x[1], x[0])) == sorted(expected, key=lambda x: (-x[1], x[0])), query
    assert _ids(store.search_lexical("thu tuc dang ky", 1)) == ["luat.txt-00000"]  # unaccented: the folded field
    assert store.search_lexical("xyz", 3) == []


def test_saved_chunks_come_back_exactly(kind: str, tmp_path: Path) -> None:
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    store.save()
    reopened = open_store(tmp_path / "idx")
    assert store_kind(tmp_path / "idx") == kind.removesuffix("-server")
    assert type(reopened) is type(store)
    assert len(reopened) == 7
    assert reopened.chunks() == _all_chunks()  # text, offsets, location, pages (None where absent)
    assert reopened.chunks_of("luat.txt")[1].page == 2 and reopened.chunks_of("hue.txt")[0].page is None
    assert reopened.documents["hue.txt"].ids == store.documents["hue.txt"].ids
    assert (reopened.documents["hue.txt"].size, reopened.documents["hue.txt"].mtime_ns) == (10, 20)
    q = EMBEDDER.embed_query("cố đô Huế")
    assert _ids(reopened.search(q, 3)) == _ids(store.search(q, 3))
    assert _ids(reopened.search_lexical("pho ha noi", 3)) == _ids(store.search_lexical("pho ha noi", 3))


def test_replace_and_remove_show_at_once_and_after_reopening(kind: str, tmp_path: Path) -> None:
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    store.save()
    doc, chunks = _chunks("hue.txt", ["Huế mùa mưa rất buồn."])
    store.add(doc, chunks, EMBEDDER.embed_passages([passage_text(chunks[0])]))
    assert store.remove("pho.txt") is True
    assert store.remove("pho.txt") is False
    assert len(store) == 3
    assert [c.chunk_id for c in store.chunks_of("hue.txt")] == ["hue.txt-00000"]
    assert "pho.txt-00000" not in _ids(store.search_lexical("phở Hà Nội", 10))
    assert "pho.txt-00000" not in _ids(store.search(EMBEDDER.embed_query("phở Hà Nội"), 10))
    store.save()
    reopened = open_store(tmp_path / "idx")
    assert sorted(reopened.documents) == ["hue.txt", "luat.txt"]
    assert [c.text for c in reopened.chunks_of("hue.txt")] == ["Huế mùa mưa rất buồn."]
    assert _ids(reopened.search_lexical("Huế", 10)) == ["hue.txt-00000"]
    assert len(reopened.search(EMBEDDER.embed_query("phở"), 10)) == 3


def test_unsaved_changes_are_invisible_and_gone_after_a_crash(kind: str, tmp_path: Path) -> None:
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    store.save()
    doc, chunks = _chunks("moi.txt", ["Cơm tấm Sài Gòn."])
    store.add(doc, chunks, EMBEDDER.embed_passages([passage_text(chunks[0])]))
    store.remove("hue.txt")
    reader = open_store(tmp_path / "idx")  # what another process sees before the save
    assert sorted(reader.documents) == ["hue.txt", "luat.txt", "pho.txt"]
    assert _ids(reader.search_lexical("Cơm tấm", 5)) == []
    del store  # killed before saving
    writer = open_store(tmp_path / "idx")
    doc, chunks = _chunks("khac.txt", ["Cơm tấm và bún bò."])
    writer.add(doc, chunks, EMBEDDER.embed_passages([passage_text(chunks[0])]))  # reuses the crashed run's ids
    writer.save()
    after = open_store(tmp_path / "idx")
    assert sorted(after.documents) == ["hue.txt", "khac.txt", "luat.txt", "pho.txt"]
    assert _ids(after.search_lexical("Cơm tấm", 5)) == ["khac.txt-00000"]
    assert len(after) == 8 and len(after.search(EMBEDDER.embed_query("cơm"), 20)) == 8


def test_coverage_and_restoration_use_the_collection(kind: str, tmp_path: Path) -> None:
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    store.save()
    for s in (store, open_store(tmp_path / "idx")):
        assert s.restore_diacritics("pho ha noi") == "phở hà nội"
        assert s.restore_diacritics("Thu tuc dang ky") == "Thủ tục đăng ký"
        coverage = s.coverage("thủ tục đăng ký hồ sơ", ["Điều 5. Thủ tục đăng ký kết hôn.", "Không liên quan."])
        assert coverage[1] == 0.0 and 0.6 < coverage[0] < 1.0
    reference = LexicalIndex()
    for i, chunk in enumerate(_all_chunks()):
        reference.add(i, passage_text(chunk))
    texts = [c.text for c in _all_chunks()]
    np.testing.assert_allclose(store.coverage("Hà Nội phở", texts), reference.coverage("Hà Nội phở", texts))


def test_embedder_check_names_both_models(kind: str, tmp_path: Path) -> None:
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    store.save()
    mismatch = r"built with hash-embedder \(dim 16\), settings ask for e5 \(dim 384\)"
    with pytest.raises(IndexMismatchError, match=mismatch):
        open_store(tmp_path / "idx").check_compatible("e5", 384)
    with pytest.raises(IndexMismatchError, match="dim 8"):
        store.search(np.ones(8, dtype=np.float32), 3)


def test_manifest_records_the_store(kind: str, tmp_path: Path) -> None:
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    store.save()
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["store"], manifest["n_chunks"], manifest["n_documents"]) == (kind.removesuffix("-server"), 7, 3)
    assert manifest["embedder"] == {"model_id": EMBEDDER.model_id, "dim": DIM}


def test_rebuild_replaces_the_index_only_when_saved(kind: str, tmp_path: Path) -> None:
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    store.save()
    fresh = _make(kind, tmp_path / "idx")  # --rebuild
    doc, chunks = _chunks("moi.txt", ["Cơm tấm Sài Gòn."])
    fresh.add(doc, chunks, EMBEDDER.embed_passages([passage_text(chunks[0])]))
    assert sorted(open_store(tmp_path / "idx").documents) == ["hue.txt", "luat.txt", "pho.txt"]
    fresh.save()
    rebuilt = open_store(tmp_path / "idx")
    assert sorted(rebuilt.documents) == ["moi.txt"]
    assert [c.text for c in rebuilt.chunks()] == ["Cơm tấm Sài Gòn."]
    assert _ids(rebuilt.search_lexical("phở", 5)) == []


# ---------------------------------------------------------------- Milvus only: where it lives
def test_unreachable_milvus_server_gives_one_line_naming_it(tmp_path: Path) -> None:
    store = new_store(
        tmp_path / "idx",
        kind="milvus",
        model_id="m",
        dim=DIM,
        chunking=CHUNKING,
        options=StoreOptions(milvus_uri="http://127.0.0.1:9"),
    )
    doc, chunks = _chunks("a.txt", ["Một đoạn."])
    with pytest.raises(StoreUnavailableError, match=r"^cannot reach Milvus at http://127\.0\.0\.1:9 \(") as e:
        store.add(doc, chunks, EMBEDDER.embed_passages(["Một đoạn."]))
    assert "\n" not in str(e.value) and "milvus_uri" in str(e.value)


def test_wrong_milvus_uri_is_refused_before_connecting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"milvus_uri 'localhost:19530' is neither a Milvus Lite file"):
        new_store(
            tmp_path / "idx",
            kind="milvus",
            model_id="m",
            dim=DIM,
            chunking=CHUNKING,
            options=StoreOptions(milvus_uri="localhost:19530"),
        )
    with pytest.raises(ConfigError, match="store 'qdrant' is unknown: use one of faiss, milvus"):
        new_store(tmp_path / "idx", kind="qdrant", model_id="m", dim=DIM, chunking=CHUNKING)


def test_milvus_lite_file_in_a_missing_folder_names_it(tmp_path: Path) -> None:
    uri = str(tmp_path / "nowhere" / "x.db")
    options = StoreOptions(milvus_uri=uri)
    store = new_store(tmp_path / "idx", kind="milvus", model_id="m", dim=DIM, chunking=CHUNKING, options=options)
    doc, chunks = _chunks("a.txt", ["Một đoạn."])
    with pytest.raises(
        StoreUnavailableError, match=rf"^Milvus Lite file {uri}: folder {tmp_path / 'nowhere'} does not exist"
    ):
        store.add(doc, chunks, EMBEDDER.embed_passages(["Một đoạn."]))


def test_milvus_candidates_from_the_folded_field_alone_score_the_same(tmp_path: Path, monkeypatch) -> None:
    """Candidates found through one sparse field are still scored on all the query's fields."""
    import rag.index.milvus.store

    monkeypatch.setattr(rag.index.milvus.store, "CANDIDATE_FIELDS", ("folded",))
    store = _make("milvus", tmp_path / "idx")
    _fill(store)
    store.save()
    reopened = open_store(tmp_path / "idx")
    assert reopened.candidate_fields == ("folded",)
    reference = LexicalIndex()
    chunks = _all_chunks()
    for i, chunk in enumerate(chunks):
        reference.add(i, passage_text(chunk))
    for query in QUERIES:
        expected = sorted((-round(s, 4), chunks[i].chunk_id) for i, s in reference.search(query, 5))
        assert sorted((-round(s, 4), c.chunk_id) for c, s in reopened.search_lexical(query, 5)) == expected, query


def test_milvus_switches_to_ivf_sq8_at_the_threshold_and_still_finds_each_vector(tmp_path: Path) -> None:
    options = StoreOptions(ann_threshold=500, nprobe=128)
    store = new_store(tmp_path / "idx", kind="milvus", model_id="m", dim=DIM, chunking=CHUNKING, options=options)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((600, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for d in range(60):
        chunks = [Chunk(f"d{d}-{i}", f"d{d}.txt", "t", f"đoạn {d} {i}", 0, 9) for i in range(10)]
        store.add(Document(f"d{d}.txt", "t", "", "0" * 64), chunks, vectors[d * 10 : d * 10 + 10])
    store.save()
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["milvus"]["dense_index"] == "IVF_SQ8"
    reopened = open_store(tmp_path / "idx", options)
    found = [reopened.search(vectors[i], 1)[0][0].chunk_id for i in range(0, 600, 37)]
    assert found == [f"d{i // 10}-{i % 10}" for i in range(0, 600, 37)]


def test_milvus_lite_file_open_in_another_process_is_one_line_naming_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    store = _make("milvus", tmp_path / "idx")
    _fill(store)
    store.save()
    store.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from rag.index.base import open_store; s = open_store({str(tmp_path / 'idx')!r}); "
         "print('open', flush=True); input()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "open\n"
        with pytest.raises(StoreUnavailableError, match=r"milvus\.db is open in another process, and Milvus Lite") as e:
            open_store(tmp_path / "idx")
        assert "\n" not in str(e.value)
    finally:
        holder.communicate("\n", timeout=20)
    assert len(open_store(tmp_path / "idx")) == 7  # free again once that process is gone


def test_a_reader_opened_before_a_removal_is_committed_sees_the_rest(kind: str, tmp_path: Path) -> None:
    store = _make(kind, tmp_path / "idx")
    _fill(store)
    store.save()
    reader = open_store(tmp_path / "idx")
    writer = open_store(tmp_path / "idx")
    writer.remove("hue.txt")
    writer.save()
    assert [c.chunk_id for c in reader.chunks_of("pho.txt")] == ["pho.txt-00000", "pho.txt-00001", "pho.txt-00002"]
    # (its BM25 statistics may be those of either state: Milvus readers read term counts as committed)
    assert sorted(c.chunk_id for c, _ in reader.search_lexical("phở Hà Nội", 2)) == ["pho.txt-00000", "pho.txt-00002"]
    assert sorted(open_store(tmp_path / "idx").documents) == ["luat.txt", "pho.txt"]
