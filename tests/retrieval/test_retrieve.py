"""Retrieval: weighted RRF, dense/lexical/hybrid modes against oracles, undiacritised queries,
NFC/NFD documents, persistence of the BM25 index; with the HashEmbedder fake."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ConfigError
from rag.index.faiss.store import IndexStore
from rag.ingest.pipeline import ingest
from rag.retrieval.retriever import HybridRetriever, RetrievalSettings, fuse, fuse_zscore
from rag.text.chunking import ChunkSettings, document_key, passage_text
from rag.types import Chunk, Document
from tests.fakes import HashEmbedder

DOCS = {
    "ket-hon.txt": [
        "Thủ tục đăng ký kết hôn tại Ủy ban nhân dân xã.",
        "Hai bên nam nữ nộp tờ khai đăng ký kết hôn.",
    ],
    "khai-sinh.txt": [
        "Hồ sơ đăng ký khai sinh cho trẻ em gồm giấy chứng sinh.",
        "Cha mẹ có trách nhiệm đi khai sinh cho con.",
    ],
    "ly-hon.txt": [
        "Thời hạn giải quyết ly hôn tại tòa án nhân dân.",
        "Tòa án hòa giải trước khi xử ly hôn.",
    ],
}
TITLES = {"ket-hon.txt": "Kết hôn", "khai-sinh.txt": "Khai sinh", "ly-hon.txt": "Ly hôn"}


def _chunk(cid: str, text: str = "") -> Chunk:
    return Chunk(cid, f"{cid}.txt", "", text or cid, 0, len(text or cid))


def _store(tmp_path: Path, embedder: HashEmbedder) -> tuple[IndexStore, np.ndarray, list[Chunk]]:
    """A store over DOCS; returns it with the stored vectors and chunks in insertion order."""
    store = IndexStore(tmp_path / "idx", model_id=embedder.model_id, dim=embedder.dim, chunking={"max_tokens": 200})
    all_vectors, all_chunks = [], []
    for source, texts in DOCS.items():
        key, title = source.removesuffix(".txt"), TITLES[source]
        doc = Document(source=source, title=title, text="\n".join(texts))
        chunks, pos = [], 0
        for i, text in enumerate(texts):
            chunks.append(Chunk(f"{key}-{i:05d}", source, title, text, pos, pos + len(text)))
            pos += len(text) + 1
        vectors = embedder.embed_passages([passage_text(c) for c in chunks])
        store.add(doc, chunks, vectors)
        all_vectors.append(vectors)
        all_chunks.extend(chunks)
    return store, np.concatenate(all_vectors), all_chunks


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def filled(tmp_path: Path, embedder: HashEmbedder) -> tuple[IndexStore, np.ndarray, list[Chunk]]:
    return _store(tmp_path, embedder)


def _retriever(store: IndexStore, embedder: HashEmbedder, **settings: object) -> HybridRetriever:
    return HybridRetriever(store, embedder, RetrievalSettings(**settings))


def _ids(hits: list) -> list[str]:  # noqa: ANN001 - Hits or (Chunk, score) pairs
    return [(h.chunk if hasattr(h, "chunk") else h[0]).chunk_id for h in hits]


# ---------------------------------------------------------------- fuse
def test_fuse_weighted_rrf_exact_scores() -> None:
    a, b, c, d = (_chunk(x) for x in "abcd")
    dense = [(a, 0.9), (b, 0.8), (c, 0.7)]
    lexical = [(c, 12.0), (a, 5.0), (d, 1.0)]
    fused = fuse([dense, lexical], [1.0, 0.5], 60)
    expected = {
        "a": 1.0 / 61 + 0.5 / 62,
        "c": 1.0 / 63 + 0.5 / 61,
        "b": 1.0 / 62,
        "d": 0.5 / 63,  # only in the lexical ranking
    }
    assert _ids(fused) == ["a", "c", "b", "d"]
    assert [s for _, s in fused] == pytest.approx([expected[x] for x in "acbd"], rel=1e-12)
    assert fused[0][0] is a


def test_fuse_weights_change_the_order() -> None:
    a, b = _chunk("a"), _chunk("b")
    fused = fuse([[(a, 1.0), (b, 0.5)], [(b, 3.0), (a, 1.0)]], [1.0, 2.0], 60)
    assert _ids(fused) == ["b", "a"]
    assert [s for _, s in fused] == pytest.approx([1 / 62 + 2 / 61, 1 / 61 + 2 / 62], rel=1e-12)


def test_fuse_ties_keep_the_first_ranking_order() -> None:
    a, b = _chunk("a"), _chunk("b")
    fused = fuse([[(a, 1.0), (b, 0.5)], [(b, 3.0), (a, 1.0)]], [1.0, 1.0], 0)
    assert _ids(fused) == ["a", "b"]
    assert [s for _, s in fused] == pytest.approx([1.5, 1.5])


def test_fuse_of_empty_rankings() -> None:
    assert fuse([[], []], [1.0, 1.0], 60) == []
    a = _chunk("a")
    assert fuse([[], [(a, 2.0)]], [1.0, 1.0], 60) == [(a, pytest.approx(1 / 61))]


# ---------------------------------------------------------------- settings
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mode": "bm25"}, "retrieval mode 'bm25' is unknown: use one of hybrid, dense, lexical"),
        ({"rrf_k": -1}, "rrf_k=-1 must be >= 0 and candidates=50 >= 1"),
        ({"candidates": 0}, "rrf_k=60 must be >= 0 and candidates=0 >= 1"),
    ],
)
def test_retrieval_settings_reject_bad_values(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        RetrievalSettings(**settings)
    assert str(info.value) == message


# ---------------------------------------------------------------- modes
@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
@pytest.mark.parametrize(
    ("query", "top"),
    [
        ("thủ tục đăng ký kết hôn", "ket-hon-00000"),
        ("khai sinh cho con", "khai-sinh-00001"),
        ("tòa án hòa giải ly hôn", "ly-hon-00001"),
    ],
)
def test_modes_find_the_expected_top_chunk(filled, embedder: HashEmbedder, mode: str, query: str, top: str) -> None:
    store = filled[0]
    hits = _retriever(store, embedder, mode=mode).search(query, 3)
    assert _ids(hits)[0] == top
    assert [h.rank for h in hits] == [1, 2, 3]


def test_dense_mode_equals_numpy_cosine_oracle(filled, embedder: HashEmbedder) -> None:
    store, vectors, chunks = filled
    retriever = _retriever(store, embedder, mode="dense")
    for query in ("thủ tục đăng ký kết hôn", "khai sinh", "tòa án nhân dân", "giấy chứng sinh trẻ em"):
        q = embedder.embed_query(query)
        scores = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
        order = np.argsort(-scores, kind="stable")[:4]
        hits = retriever.search(query, 4)
        assert _ids(hits) == [chunks[i].chunk_id for i in order]
        np.testing.assert_allclose([h.score for h in hits], scores[order], rtol=0, atol=1e-5)


def test_lexical_mode_equals_store_bm25(filled, embedder: HashEmbedder) -> None:
    store = filled[0]
    hits = _retriever(store, embedder, mode="lexical").search("đăng ký kết hôn", 10)
    expected = store.search_lexical("đăng ký kết hôn", 10)
    assert [(h.chunk.chunk_id, h.score) for h in hits] == [(c.chunk_id, s) for c, s in expected]
    # Only chunks sharing a term: both marriage chunks, the birth registration chunk ('đăng ký'),
    # both divorce chunks ('hôn', from the title 'Ly hôn' too); never the parents' duty chunk.
    assert _ids(hits)[:2] == ["ket-hon-00001", "ket-hon-00000"]
    assert sorted(_ids(hits)[2:]) == ["khai-sinh-00000", "ly-hon-00000", "ly-hon-00001"]


def test_hybrid_scores_are_rrf_of_both_rankings(filled, embedder: HashEmbedder) -> None:
    store = filled[0]
    query = "thủ tục đăng ký kết hôn"
    dense = _ids(_retriever(store, embedder, mode="dense").search(query, 6))
    lexical = _ids(store.search_lexical(query, 6))
    assert dense[0] == lexical[0] == "ket-hon-00000"
    hits = _retriever(store, embedder, mode="hybrid", fusion="rrf", rrf_k=60, dense_weight=1.0).search(query, 6)
    assert hits[0].chunk.chunk_id == "ket-hon-00000"
    assert hits[0].score == pytest.approx(2 / 61, rel=1e-12)
    for hit in hits:
        cid = hit.chunk.chunk_id
        expected = sum(1 / (60 + r.index(cid) + 1) for r in (dense, lexical) if cid in r)
        assert hit.score == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- diacritics
def test_dense_query_restores_diacritics(filled, embedder: HashEmbedder) -> None:
    store = filled[0]
    on = _retriever(store, embedder, restore_diacritics=True)
    off = _retriever(store, embedder, restore_diacritics=False)
    assert on.dense_query("thu tuc dang ky ket hon") == "thủ tục đăng ký kết hôn"
    assert on.dense_query("Thoi han giai quyet ly hon") == "Thời hạn giải quyết ly hôn"
    assert off.dense_query("thu tuc dang ky ket hon") == "thu tuc dang ky ket hon"
    assert on.dense_query("thủ tục kết hôn") == "thủ tục kết hôn"
    assert on.dense_query(unicodedata.normalize("NFD", "thủ tục")) == "thủ tục"  # composed


def test_undiacritised_query_finds_the_same_top_chunk(filled, embedder: HashEmbedder) -> None:
    store = filled[0]
    hybrid = _retriever(store, embedder, mode="hybrid")
    for accented, plain, top in [
        ("thủ tục đăng ký kết hôn", "thu tuc dang ky ket hon", "ket-hon-00000"),
        ("giải quyết ly hôn", "giai quyet ly hon", "ly-hon-00000"),
        ("khai sinh cho con", "khai sinh cho con", "khai-sinh-00001"),
    ]:
        assert _ids(hybrid.search(accented, 3))[0] == top
        assert _ids(hybrid.search(plain, 3))[0] == top
    # With its marks restored, the plain query embeds exactly like the accented one.
    dense = _retriever(store, embedder, mode="dense")
    assert [(h.chunk.chunk_id, h.score) for h in dense.search("thu tuc dang ky ket hon", 6)] == [
        (h.chunk.chunk_id, h.score) for h in dense.search("thủ tục đăng ký kết hôn", 6)
    ]


def test_nfc_and_nfd_documents_retrieve_identically(
    tmp_path: Path, embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = {}
    for form in ("NFC", "NFD"):
        root = tmp_path / form
        for source, texts in DOCS.items():
            path = root / "docs" / source
            path.parent.mkdir(parents=True, exist_ok=True)
            text = TITLES[source] + "\n" + "\n".join(texts) + "\n"
            path.write_text(unicodedata.normalize(form, text), encoding="utf-8")
        monkeypatch.chdir(root)  # same relative sources, so the same chunk ids
        ingest([Path("docs")], index=Path("idx"), embedder=embedder, chunking=ChunkSettings(32, 8))
        store = IndexStore.load(Path("idx"))
        results[form] = {
            (mode, query): [(h.chunk.chunk_id, h.chunk.text, h.score) for h in hits]
            for mode in ("dense", "lexical", "hybrid")
            for query in ("thủ tục đăng ký kết hôn", "thu tuc dang ky", "tòa án")
            for hits in [_retriever(store, embedder, mode=mode).search(query, 5)]
        }
    assert results["NFC"] == results["NFD"]
    top = results["NFC"][("lexical", "thủ tục đăng ký kết hôn")][0]
    assert top[0] == f"{document_key('docs/ket-hon.txt')}-00000"
    assert "Thủ tục đăng ký kết hôn" in top[1]
    assert unicodedata.is_normalized("NFC", top[1])


def test_search_lexical_after_save_and_load(filled, embedder: HashEmbedder) -> None:
    store = filled[0]
    queries = ("thủ tục đăng ký kết hôn", "thu tuc dang ky", "ly hôn", "tòa án nhân dân", "khai sinh")
    before = {q: [(c.chunk_id, s) for c, s in store.search_lexical(q, 10)] for q in queries}
    store.save()
    loaded = IndexStore.load(store.path)
    after = {q: [(c.chunk_id, s) for c, s in loaded.search_lexical(q, 10)] for q in queries}
    assert after == before
    assert [cid for cid, _ in after["ly hôn"]][:2] == ["ly-hon-00001", "ly-hon-00000"]


def test_removed_document_leaves_every_mode(filled, embedder: HashEmbedder) -> None:
    store = filled[0]
    store.remove("ket-hon.txt")
    for mode in ("dense", "lexical", "hybrid"):
        hits = _retriever(store, embedder, mode=mode).search("thủ tục đăng ký kết hôn", 10)
        assert not {"ket-hon-00000", "ket-hon-00001"} & set(_ids(hits))
    assert len(_retriever(store, embedder, mode="dense").search("thủ tục", 10)) == 4


def test_zscore_fusion_exact_scores() -> None:
    a, b, c = (Chunk(f"c{i}", "s.txt", "", f"text {i}", 0, 1) for i in range(3))
    dense = [(a, 0.9), (b, 0.7), (c, 0.5)]  # z = +1.2247, 0, -1.2247
    lexical = [(b, 12.0), (a, 4.0)]  # z = +1, -1
    fused = fuse_zscore([dense, lexical], [1.0, 2.0])
    z = 1.224744871391589
    expected = {"c1": 0 + 2 * 1, "c0": z + 2 * -1, "c2": -z + 2 * -1}
    assert [ch.chunk_id for ch, _ in fused] == ["c1", "c0", "c2"]
    for chunk, score in fused:
        assert score == pytest.approx(expected[chunk.chunk_id], rel=1e-9)


def test_exclude_drops_chunks_before_fusion_like_an_index_without_them(tmp_path: Path, embedder: HashEmbedder) -> None:
    full = _store(tmp_path / "full", embedder)[0]
    without = _store(tmp_path / "without", embedder)[0]
    without.remove("ket-hon.txt")
    query = "thủ tục đăng ký kết hôn"
    for mode in ("dense", "hybrid"):
        # BM25 document frequencies still count the excluded chunks, so only dense mode must match to the digit
        excluded = _retriever(full, embedder, mode=mode).search(query, 10, exclude=lambda c: c.source == "ket-hon.txt")
        oracle = _retriever(without, embedder, mode=mode).search(query, 10)
        assert _ids(excluded) == _ids(oracle)
        assert len(excluded) == 4
        if mode == "dense":
            assert [h.score for h in excluded] == pytest.approx([h.score for h in oracle], abs=1e-6)


def test_hybrid_hits_carry_cosine_and_coverage(filled, embedder: HashEmbedder) -> None:
    store, vectors, chunks = filled
    hits = _retriever(store, embedder).search("tòa án hòa giải", 6)
    query = embedder.embed_query("tòa án hòa giải")
    cosine = {c.chunk_id: float(v @ query) for c, v in zip(chunks, vectors, strict=True)}
    assert _ids(hits)[0] == "ly-hon-00001"
    for hit in hits:
        assert hit.dense == pytest.approx(cosine[hit.chunk.chunk_id], abs=1e-5)
    # "Tòa án hòa giải trước khi xử ly hôn." holds all four query syllables and their three pairs
    assert hits[0].coverage == pytest.approx(1.0)
    assert [h.coverage for h in hits if not h.chunk.chunk_id.startswith("ly-hon")] == [0.0] * 4
