"""Chunking: offsets slice back to the source, token budgets hold, boundaries and overlap behave."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest

from rag.errors import ConfigError
from rag.text.chunking import ChunkSettings, chunk_document, document_key, passage_text
from rag.text.vietnamese import nfc
from rag.types import Chunk, Document


def words(text: str) -> int:
    """Token counter for the tests: one token per whitespace word."""
    return len(text.split())


def pieces_of_8(text: str) -> int:
    """A subword-like counter: a word costs one token per 8 characters, so a long URL costs many."""
    return sum(-(-len(w) // 8) for w in text.split())


HANOI = (
    "Hà Nội là thủ đô của Việt Nam. Thành phố có nhiều hồ đẹp. Hồ Gươm nằm ở trung tâm. "
    "Người dân thường đi dạo quanh hồ vào buổi sáng. Mùa thu ở đây rất đẹp.\n"
    "TP. Hồ Chí Minh là thành phố lớn nhất. Dân số khoảng 9.000.000 người."
)

# Two paragraphs of two 5-word sentences each.
TWO_PARAGRAPHS = "Hồ sơ gồm tờ khai. Kèm bản sao giấy tờ.\n\nNộp tại ủy ban xã. Kết quả trả sau ngày."


def _chunk(text: str, *, max_tokens: int, overlap: int, source: str = "docs/hanoi.txt", counter=words) -> list[Chunk]:
    doc = Document(source=source, title="Hà Nội", text=text)
    return chunk_document(
        doc, count_tokens=counter, settings=ChunkSettings(max_tokens=max_tokens, overlap_tokens=overlap)
    )


def test_chunks_of_a_small_text() -> None:
    chunks = _chunk(HANOI, max_tokens=16, overlap=7)
    assert [c.text for c in chunks] == [
        "Hà Nội là thủ đô của Việt Nam. Thành phố có nhiều hồ đẹp.",
        "Thành phố có nhiều hồ đẹp. Hồ Gươm nằm ở trung tâm.",
        "Hồ Gươm nằm ở trung tâm. Người dân thường đi dạo quanh hồ vào buổi sáng.",
        "Mùa thu ở đây rất đẹp.\nTP. Hồ Chí Minh là thành phố lớn nhất.",
        "Dân số khoảng 9.000.000 người.",
    ]
    assert [(c.start, c.end) for c in chunks] == [(0, 57), (31, 82), (58, 130), (131, 192), (193, 223)]
    assert [c.n_tokens for c in chunks] == [14, 12, 16, 15, 5]
    assert {(c.source, c.title) for c in chunks} == {("docs/hanoi.txt", "Hà Nội")}


@pytest.mark.parametrize(("max_tokens", "overlap"), [(16, 0), (16, 7), (20, 9), (40, 10), (200, 40)])
def test_offsets_slice_back_and_budget_holds(max_tokens: int, overlap: int) -> None:
    text = HANOI + "\n\n" + TWO_PARAGRAPHS + "\n" + " ".join(f"từ{i}" for i in range(45))
    chunks = _chunk(text, max_tokens=max_tokens, overlap=overlap)
    assert [text[c.start : c.end] for c in chunks] == [c.text for c in chunks]
    assert [c.n_tokens for c in chunks] == [words(c.text) for c in chunks]
    assert max(c.n_tokens for c in chunks) <= max_tokens
    # every word of the document is in some chunk
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered] == []


def test_overlap_repeats_trailing_sentence_inside_a_paragraph() -> None:
    chunks = _chunk(HANOI, max_tokens=16, overlap=7)
    # "Thành phố có nhiều hồ đẹp." (6 words) ends chunk 0 and starts chunk 1
    assert chunks[0].text.endswith("Thành phố có nhiều hồ đẹp.")
    assert chunks[1].text.startswith("Thành phố có nhiều hồ đẹp.")
    assert chunks[1].start == HANOI.index("Thành phố")
    assert chunks[1].start < chunks[0].end
    # "Hồ Gươm nằm ở trung tâm." (6 words) is shared by chunks 1 and 2
    assert chunks[2].start == HANOI.index("Hồ Gươm") < chunks[1].end


def test_no_overlap_when_disabled() -> None:
    chunks = _chunk(HANOI, max_tokens=16, overlap=0)
    assert [(c.start, c.end) for c in chunks] == [(0, 57), (58, 130), (131, 192), (193, 223)]
    assert [chunks[i].end <= chunks[i + 1].start for i in range(len(chunks) - 1)] == [True, True, True]


def test_paragraph_boundary_preferred() -> None:
    chunks = _chunk(TWO_PARAGRAPHS, max_tokens=16, overlap=4)
    # 10 + 5 words would fit, but the second paragraph (10 words) would not: close at the paragraph end
    assert [c.text for c in chunks] == [
        "Hồ sơ gồm tờ khai. Kèm bản sao giấy tờ.",
        "Nộp tại ủy ban xã. Kết quả trả sau ngày.",
    ]


def test_small_paragraphs_share_a_chunk() -> None:
    chunks = _chunk(TWO_PARAGRAPHS, max_tokens=32, overlap=4)
    assert [c.text for c in chunks] == [TWO_PARAGRAPHS]


def test_run_on_sentence_split_at_words() -> None:
    text = " ".join(f"từ{i}" for i in range(40))
    chunks = _chunk(text, max_tokens=16, overlap=4)
    assert [c.n_tokens for c in chunks] == [16, 16, 8]
    assert chunks[0].text == " ".join(f"từ{i}" for i in range(16))
    assert chunks[1].text == " ".join(f"từ{i}" for i in range(16, 32))
    assert chunks[2].text == " ".join(f"từ{i}" for i in range(32, 40))
    assert [(c.start, c.end) for c in chunks] == [(0, 69), (70, 149), (150, 189)]


def two_per_word(text: str) -> int:
    """Two tokens a word: a budget of 24 holds 12 words (ChunkSettings wants at least 16)."""
    return 2 * len(text.split())


ROAD = (
    "Tuyến đường đi qua xã Tân Quang, Âu Lâu (thành phố Yên Bái) Minh Quân Đào Thịnh "
    "của huyện Trấn Yên rồi vượt sông Hồng sang bờ bên kia để đến Lào Cai"
)


def test_run_on_sentence_is_cut_where_a_reader_pauses() -> None:
    # 12 words a piece: cut at the 12th word, the first piece would end "… (thành phố Yên" and the
    # next begin "Bái) Minh Quân"; the pieces end after a comma or a bracket instead, else outside a name
    chunks = _chunk(ROAD, max_tokens=24, overlap=0, counter=two_per_word)
    assert [c.text for c in chunks] == [
        "Tuyến đường đi qua xã Tân Quang,",
        "Âu Lâu (thành phố Yên Bái)",
        "Minh Quân Đào Thịnh của huyện Trấn Yên rồi vượt sông Hồng",
        "sang bờ bên kia để đến Lào Cai",
    ]
    assert [ROAD[c.start : c.end] for c in chunks] == [c.text for c in chunks]


def test_run_on_sentence_is_not_cut_inside_a_name() -> None:
    text = "Các đại biểu gồm " + ", ".join(["Nguyễn Văn An"] * 6) + " cùng dự"
    # 8 words a piece: the 8th is a "Nguyễn" whose name goes on; the comma before it ends the piece
    chunks = _chunk(text, max_tokens=16, overlap=0, counter=two_per_word)
    assert [c.text for c in chunks][:2] == ["Các đại biểu gồm Nguyễn Văn An,", "Nguyễn Văn An, Nguyễn Văn An,"]
    assert all(c.text.endswith((",", "dự")) for c in chunks)


def test_giant_word_is_cut_by_characters() -> None:
    url = "https://example.vn/" + "a" * 181  # 200 characters = 25 tokens of 8 characters
    text = f"Xem thêm tại {url} ngay hôm nay."
    chunks = _chunk(text, max_tokens=16, overlap=0, counter=pieces_of_8)
    assert [(c.start, c.end) for c in chunks] == [(0, 12), (13, 141), (141, 227)]
    assert [c.n_tokens for c in chunks] == [3, 16, 12]
    assert chunks[1].text == url[:128]
    assert chunks[2].text == url[128:] + " ngay hôm nay."
    assert [text[c.start : c.end] for c in chunks] == [c.text for c in chunks]


def test_nfc_and_nfd_inputs_give_identical_chunks() -> None:
    nfd_text = unicodedata.normalize("NFD", HANOI)
    assert nfd_text != HANOI
    assert len(nfd_text) == 289 and len(HANOI) == 223  # the difference is real
    from_nfc = _chunk(nfc(HANOI), max_tokens=16, overlap=7)
    from_nfd = _chunk(nfc(nfd_text), max_tokens=16, overlap=7)
    assert from_nfd == from_nfc
    assert len(from_nfd) == 5


@pytest.mark.parametrize(("max_tokens", "overlap"), [(15, 0), (0, 0), (32, 16), (32, 20), (32, -1), (200, 100)])
def test_chunk_settings_validation(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ConfigError, match=r"max_tokens"):
        ChunkSettings(max_tokens=max_tokens, overlap_tokens=overlap)


def test_chunk_settings_limits_accepted() -> None:
    assert ChunkSettings(max_tokens=16, overlap_tokens=7) == ChunkSettings(16, 7)
    assert ChunkSettings(max_tokens=32, overlap_tokens=15).overlap_tokens == 15
    assert ChunkSettings() == ChunkSettings(max_tokens=300, overlap_tokens=60)


def test_chunk_ids_stable_and_prefixed_by_document_key() -> None:
    key = hashlib.sha1(b"docs/hanoi.txt").hexdigest()[:12]
    assert document_key("docs/hanoi.txt") == key
    first = _chunk(HANOI, max_tokens=16, overlap=7)
    second = _chunk(HANOI, max_tokens=16, overlap=7)
    assert [c.chunk_id for c in first] == [f"{key}-{i:05d}" for i in range(5)]
    assert [c.chunk_id for c in second] == [c.chunk_id for c in first]
    other = _chunk(HANOI, max_tokens=16, overlap=7, source="docs/other.txt")
    assert other[0].chunk_id == f"{document_key('docs/other.txt')}-00000"
    assert document_key("docs/other.txt") != key


def test_empty_document_gives_no_chunks() -> None:
    assert _chunk("  \n\n  ", max_tokens=16, overlap=0) == []


def test_passage_text_prepends_title() -> None:
    chunk = Chunk("k-00001", "a.txt", "Hà Nội", "Thành phố có nhiều hồ đẹp.", 31, 57)
    assert passage_text(chunk) == "Hà Nội\nThành phố có nhiều hồ đẹp."


def test_passage_text_keeps_chunk_that_starts_with_title() -> None:
    chunk = Chunk("k-00000", "a.txt", "Hà Nội", "Hà Nội là thủ đô của Việt Nam.", 0, 30)
    assert passage_text(chunk) == "Hà Nội là thủ đô của Việt Nam."


def test_passage_text_without_title() -> None:
    chunk = Chunk("k-00000", "a.txt", "", "Hồ Gươm nằm ở trung tâm.", 0, 24)
    assert passage_text(chunk) == "Hồ Gươm nằm ở trung tâm."


def test_overlap_never_carries_a_sentence_across_a_paragraph() -> None:
    long_sentence = "Ba bốn năm sáu bảy tám chín mười mười một mười hai mười."
    text = f"Đầu tiên. Kết.\nMột hai. {long_sentence}"
    doc = Document(source="p.txt", title="", text=text)
    settings = ChunkSettings(max_tokens=16, overlap_tokens=7)
    chunks = chunk_document(doc, count_tokens=lambda s: len(s.split()), settings=settings)
    # "Kết." would fit in the overlap budget, but it belongs to the previous paragraph
    assert [c.text for c in chunks] == ["Đầu tiên. Kết.\nMột hai.", f"Một hai. {long_sentence}"]


def test_chunk_place_fields_default_and_round_trip() -> None:
    old = {"chunk_id": "k-00000", "source": "a.txt", "title": "A", "text": "Văn bản.", "start": 0, "end": 8}
    chunk = Chunk.from_dict(old)  # an index written before location/page existed
    assert (chunk.location, chunk.page, chunk.page_end) == ("", None, None)
    pdf = Chunk("k-00001", "a.pdf", "A", "Văn bản.", 0, 8, 2, location="Chương I › Điều 1", page=3, page_end=4)
    assert Chunk.from_dict(pdf.to_dict()) == pdf


def test_headings_and_legal_units_start_chunks() -> None:
    text = "Mở đầu ngắn.\nĐiều 1. Phạm vi\nNội dung một.\nĐiều 2. Đối tượng\nNội dung hai."
    chunks = _chunk(text, max_tokens=200, overlap=40)
    assert [(c.location, c.text) for c in chunks] == [
        ("", "Mở đầu ngắn."),
        ("Điều 1", "Điều 1. Phạm vi\nNội dung một."),
        ("Điều 2", "Điều 2. Đối tượng\nNội dung hai."),
    ]
    assert [text[c.start : c.end] for c in chunks] == [c.text for c in chunks]
