"""BM25 over Vietnamese syllables: tokenising, exact and folded fields, hand-computed scores,
updates, persistence and diacritics restoration, on small hand-made collections."""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from rag.index.lexical import LexicalIndex, bigrams, syllables
from rag.text.vietnamese import has_diacritics

PROCEDURES = {
    0: "Thủ tục đăng ký kết hôn tại Ủy ban nhân dân xã.",
    1: "Hồ sơ đăng ký khai sinh cho trẻ em.",
    2: "Thời hạn giải quyết ly hôn tại tòa án.",
}

MARRIAGE = [
    "Thủ tục đăng ký kết hôn gồm tờ khai và giấy tờ tùy thân.",
    "Hồ sơ thủ tục đăng ký kết hôn nộp tại Ủy ban nhân dân xã.",
    "Thủ tục đăng ký kết hôn được giải quyết trong ngày.",
    "Mùa thu ở Hà Nội đẹp hơn mùa hè, tin tức hôm nay.",
    "Anh ấy đang học ở Hà Nội, kỹ năng tốt hơn.",
]


def _index(texts: dict[int, str] | list[str], **params: float) -> LexicalIndex:
    index = LexicalIndex(**params)
    items = texts.items() if isinstance(texts, dict) else enumerate(texts)
    for chunk_id, text in items:
        index.add(chunk_id, text)
    return index


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# ---------------------------------------------------------------- tokenising
def test_syllables_lowercase_nfc_without_punctuation() -> None:
    assert syllables("Thủ tục, ĐĂNG KÝ kết-hôn! (2024)") == ["thủ", "tục", "đăng", "ký", "kết", "hôn", "2024"]


def test_syllables_of_nfd_text_are_nfc() -> None:
    tokens = syllables(_nfd("Việt Nam"))
    assert tokens == ["việt", "nam"]
    assert [len(t) for t in tokens] == [4, 3]  # precomposed 'ệ' is one code point


def test_syllables_of_punctuation_only() -> None:
    assert syllables(" ... !? – ") == []


def test_bigrams_join_adjacent_pairs() -> None:
    assert bigrams(["đăng", "ký", "kết", "hôn"]) == ["đăng_ký", "ký_kết", "kết_hôn"]
    assert bigrams(["một"]) == []
    assert bigrams([]) == []


def test_has_diacritics() -> None:
    assert [has_diacritics(t) for t in ("thu tuc", "thủ tục", "Đa", _nfd("hôn"), "Ha Noi 2024")] == [
        False,
        True,
        True,
        True,
        False,
    ]


# ---------------------------------------------------------------- ranking
def test_accented_query_ranks_the_matching_chunk_first() -> None:
    hits = _index(PROCEDURES).search("thủ tục đăng ký kết hôn", 5)
    assert [i for i, _ in hits] == [0, 1, 2]
    assert hits[0][1] > 3 * hits[1][1]


def test_query_without_diacritics_uses_folded_fields() -> None:
    index = _index(PROCEDURES)
    folded = index.search("thu tuc dang ky ket hon", 5)
    assert [i for i, _ in folded] == [0, 1, 2]
    # The folded-only scoring is field 'folded' + 0.3 * 'folded_bigram'; request it explicitly.
    explicit = index.search("thu tuc dang ky ket hon", 5, weights={"folded": 1.0, "folded_bigram": 0.3})
    assert folded == explicit
    assert index.field_weights("thu tuc") == {"folded": 1.0, "folded_bigram": 0.3}
    assert index.field_weights("thủ tục") == {"exact": 1.0, "exact_bigram": 0.3, "folded": 0.3}


def test_nfd_query_equals_nfc_query() -> None:
    index = _index(PROCEDURES)
    query = "thủ tục đăng ký kết hôn"
    assert _nfd(query) != query
    assert index.search(_nfd(query), 5) == index.search(query, 5)


def test_nfd_documents_equal_nfc_documents() -> None:
    nfc_index = _index(PROCEDURES)
    nfd_index = _index({i: _nfd(t) for i, t in PROCEDURES.items()})
    for query in ("thủ tục đăng ký kết hôn", "ly hôn", "khai sinh", "dang ky"):
        assert nfd_index.search(query, 5) == nfc_index.search(query, 5)


def test_no_stemming_day_thick_vs_dai_long() -> None:
    # 'dày' (thick) and 'dài' (long) are different words; 'đây' (here) folds to 'day' like 'dày'.
    texts = {0: "Vải dày giữ ấm mùa đông.", 1: "Đây là đường dài, đường rất dài."}
    index = _index(texts)
    hits = index.search("vải dày", 5)
    assert [i for i, _ in hits] == [0, 1]  # chunk 1 only through the folded 'day' of 'đây'
    assert hits[0][1] > 5 * hits[1][1]
    assert [i for i, _ in index.search("dài", 5)] == [1]  # 'dài' folds to 'dai': chunk 0 has none
    strict = _index(texts, folded_weight=0.0)
    assert [i for i, _ in strict.search("dày", 5)] == [0]
    assert [i for i, _ in strict.search("dài", 5)] == [1]


def _bm25(tf: int, doc_len: int, avg_len: float, n_docs: int, df: int, k1: float = 1.2, b: float = 0.75) -> float:
    idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len))


def test_bm25_score_matches_hand_computation() -> None:
    # Syllables per document: 4 ('sông' twice), 2 ('sông' once), 4 (no 'sông').
    texts = {10: "Sông Hồng, sông Đà.", 11: "Sông Hương", 12: "Núi Bà Đen cao"}
    index = _index(texts, bigram_weight=0.0, folded_weight=0.0)
    avg_len = (4 + 2 + 4) / 3
    expected = {10: _bm25(2, 4, avg_len, 3, 2), 11: _bm25(1, 2, avg_len, 3, 2)}
    # idf = log(1 + 1.5 / 2.5) = log(1.6) = 0.470004
    # 10: 0.470004 * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 4 / (10/3))) = 0.470004 * 4.4 / 3.38 = 0.611840
    # 11: 0.470004 * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / (10/3))) = 0.470004 * 2.2 / 1.84 = 0.561961
    assert expected[10] == pytest.approx(0.611840, abs=1e-6)
    assert expected[11] == pytest.approx(0.561961, abs=1e-6)
    hits = index.search("sông", 5)
    assert [i for i, _ in hits] == [10, 11]
    assert [s for _, s in hits] == pytest.approx([expected[10], expected[11]], rel=1e-6)
    # Typed without marks, the same word scores the same through the folded unigram field.
    folded = index.search("song", 5)
    assert [i for i, _ in folded] == [10, 11]
    assert [s for _, s in folded] == pytest.approx([expected[10], expected[11]], rel=1e-6)


def test_bm25_parameters_are_used() -> None:
    texts = {10: "Sông Hồng, sông Đà.", 11: "Sông Hương", 12: "Núi Bà Đen cao"}
    index = _index(texts, k1=2.0, b=0.5, bigram_weight=0.0, folded_weight=0.0)
    avg_len = 10 / 3
    hits = index.search("sông", 5)
    assert [s for _, s in hits] == pytest.approx(
        [_bm25(2, 4, avg_len, 3, 2, k1=2.0, b=0.5), _bm25(1, 2, avg_len, 3, 2, k1=2.0, b=0.5)], rel=1e-6
    )


def test_k_limits_and_zero_scores_are_dropped() -> None:
    index = _index(PROCEDURES)
    assert [i for i, _ in index.search("thủ tục đăng ký kết hôn", 1)] == [0]
    assert index.search("thủ tục", 0) == []
    assert index.search("máy bay", 5) == []
    assert index.search("?!", 5) == []
    assert LexicalIndex().search("thủ tục", 5) == []


# ---------------------------------------------------------------- updates
def test_remove_drops_a_chunk_from_results() -> None:
    index = _index(PROCEDURES)
    assert [i for i, _ in index.search("đăng ký", 5)] == [1, 0]  # the shorter chunk first
    index.remove(0)
    assert len(index) == 2
    assert [i for i, _ in index.search("đăng ký", 5)] == [1]
    assert index.search("thủ tục", 5) == []
    assert [i for i, _ in index.search("kết hôn", 5)] == [2]  # through "hôn" of "ly hôn"
    index.remove(0)  # removing twice is harmless
    assert len(index) == 2


def test_add_after_search_rebuilds_weights() -> None:
    index = _index(PROCEDURES)
    assert [i for i, _ in index.search("khai sinh", 5)] == [1]
    index.add(7, "Khai sinh, khai tử và kết hôn đều đăng ký tại xã.")
    hits = index.search("khai sinh", 5)
    assert [i for i, _ in hits] == [7, 1]
    # Same ids and scores as an index built with all four chunks from the start.
    fresh = _index({**PROCEDURES, 7: "Khai sinh, khai tử và kết hôn đều đăng ký tại xã."})
    assert hits == fresh.search("khai sinh", 5)
    assert index.search("đăng ký kết hôn", 5) == fresh.search("đăng ký kết hôn", 5)


def test_readding_a_chunk_replaces_its_terms() -> None:
    index = _index(PROCEDURES)
    index.add(1, "Giấy khai tử")
    assert [i for i, _ in index.search("khai", 5)] == [1]
    assert index.search("trẻ em", 5) == []
    assert len(index) == 3


# ---------------------------------------------------------------- persistence
def test_save_load_round_trip_gives_identical_results(tmp_path: Path) -> None:
    index = _index(MARRIAGE, k1=1.5, b=0.6, bigram_weight=0.4, folded_weight=0.2)
    index.remove(4)
    path = tmp_path / "lexical.npz"
    index.save(path)
    loaded = LexicalIndex.load(path)
    assert (loaded.k1, loaded.b, loaded.bigram_weight, loaded.folded_weight) == (1.5, 0.6, 0.4, 0.2)
    assert len(loaded) == 4
    for query in ("thủ tục đăng ký kết hôn", "thu tuc dang ky", "Hà Nội", "mùa thu", "đang học"):
        assert loaded.search(query, 10) == index.search(query, 10)
    assert loaded.restore_diacritics("thu tuc dang ky ket hon") == "thủ tục đăng ký kết hôn"


def test_save_load_of_empty_index(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    LexicalIndex().save(path)
    loaded = LexicalIndex.load(path)
    assert (len(loaded), loaded.search("thủ tục", 5)) == (0, [])
    loaded.add(3, "Thủ tục")
    assert [i for i, _ in loaded.search("thủ tục", 5)] == [3]


def test_rows_saved_in_segments_load_back_as_one_index(tmp_path: Path) -> None:
    """The store saves each segment's rows with only the vocabulary they use; loading maps them back."""
    index = _index(MARRIAGE)  # ids 0..4
    index.save(tmp_path / "base.npz", [0, 1, 2])
    index.save(tmp_path / "delta.npz", [3, 4])
    with np.load(tmp_path / "delta.npz") as data:
        delta_vocab = json.loads(data["exact_vocab"].tobytes().decode())
    assert len(delta_vocab) < len(index._fields["exact"].vocab)  # the delta carries only its own terms
    loaded = LexicalIndex.load(tmp_path / "base.npz", skip={1})
    loaded.add_saved(tmp_path / "delta.npz", skip={3})
    index.remove(1)
    index.remove(3)
    assert len(loaded) == 3
    for query in ("thủ tục đăng ký kết hôn", "thu tuc dang ky", "Hà Nội", "mùa thu", "đang học", "giấy"):
        got, expected = loaded.search(query, 10), index.search(query, 10)
        assert [i for i, _ in got] == [i for i, _ in expected]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-6)


# ---------------------------------------------------------------- restoring diacritics
@pytest.fixture
def marriage() -> LexicalIndex:
    return _index(MARRIAGE)


def test_restore_diacritics_of_a_frequent_phrase(marriage: LexicalIndex) -> None:
    assert marriage.restore_diacritics("thu tuc dang ky ket hon") == "thủ tục đăng ký kết hôn"
    assert marriage.restore_diacritics("ket hon") == "kết hôn"


def test_restore_diacritics_uses_context(marriage: LexicalIndex) -> None:
    # 'thu' is 'thủ' before 'tục' but stays 'thu' (autumn) after 'mùa'; 'dang' is 'đang' before 'học'.
    assert marriage.restore_diacritics("mua thu o Ha Noi") == "mùa thu ở Hà Nội"
    assert marriage.restore_diacritics("dang hoc") == "đang học"


def test_restore_diacritics_of_question_words_the_documents_lack(marriage: LexicalIndex) -> None:
    # the documents never ask "bao lâu" or "ở đâu": the built-in question phrases supply them
    assert marriage.restore_diacritics("dang ky ket hon bao lau?") == "đăng ký kết hôn bao lâu?"
    assert marriage.restore_diacritics("nop ho so o dau") == "nộp hồ sơ ở đâu"
    # only interrogatives come from the phrases: "những" is not in these documents, so "nhung" stays
    assert marriage.restore_diacritics("thu tuc gom nhung gi") == "thủ tục gồm nhung gì"


def test_restore_diacritics_keeps_case_and_punctuation(marriage: LexicalIndex) -> None:
    assert marriage.restore_diacritics("Ha Noi") == "Hà Nội"
    assert marriage.restore_diacritics("HA NOI") == "HÀ NỘI"
    assert marriage.restore_diacritics("Thu tuc dang ky ket hon o Ha Noi?") == "Thủ tục đăng ký kết hôn ở Hà Nội?"


def test_restore_diacritics_leaves_accented_query_unchanged(marriage: LexicalIndex) -> None:
    assert marriage.restore_diacritics("thu tục dang ky") == "thu tục dang ky"
    nfd = _nfd("thủ tục")
    assert marriage.restore_diacritics(nfd) == nfd


def test_restore_diacritics_keeps_unknown_words(marriage: LexicalIndex) -> None:
    assert marriage.restore_diacritics("thu tuc xyz 2024") == "thủ tục xyz 2024"
    assert marriage.restore_diacritics("Zalo") == "Zalo"
    assert marriage.restore_diacritics("  ...  ") == "  ...  "


def test_restore_diacritics_follows_collection_changes() -> None:
    index = _index(MARRIAGE[:4])
    assert index.restore_diacritics("dang hoc") == "đăng hoc"  # only 'đăng' known, 'hoc' unknown
    index.add(4, MARRIAGE[4])
    assert index.restore_diacritics("dang hoc") == "đang học"


def test_restore_diacritics_keeps_mixed_case_unknown_words(marriage: LexicalIndex) -> None:
    assert marriage.restore_diacritics("thu tuc iPhone") == "thủ tục iPhone"


def test_restore_before_search_keeps_custom_bm25_parameters() -> None:
    texts = {10: "Sông Hồng, sông Đà.", 11: "Sông Hương", 12: "Núi Bà Đen cao"}
    restored_first = _index(texts, k1=2.0, b=0.5, bigram_weight=0.0, folded_weight=0.0)
    assert restored_first.restore_diacritics("song Huong") == "sông Hương"
    fresh = _index(texts, k1=2.0, b=0.5, bigram_weight=0.0, folded_weight=0.0)
    assert restored_first.search("sông", 5) == fresh.search("sông", 5)


def test_restore_ignores_spellings_of_removed_chunks() -> None:
    index = LexicalIndex()
    index.add(0, "Hà Nội là thủ đô.")
    assert index.restore_diacritics("ha noi") == "hà nội"
    index.remove(0)
    index.add(1, "Sài Gòn là thành phố.")
    assert index.restore_diacritics("ha noi o sai gon") == "ha noi o sài gòn"
