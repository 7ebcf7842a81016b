"""Citation markers: normalised to [n], out-of-range ones removed, streamed == whole-text cleaning."""

from __future__ import annotations

import pytest

from rag.answer.cite import MarkerStream, cite, clean_markers
from rag.types import Chunk, Citation, Hit


def _hits(n: int) -> list[Hit]:
    chunks = [Chunk(f"doc-{i:05d}", "docs/a.txt", "A", f"Đoạn số {i}.", 20 * i, 20 * i + 11) for i in range(n)]
    return [Hit(chunk, 1.0 - i / 10, i + 1) for i, chunk in enumerate(chunks)]


@pytest.mark.parametrize(
    ("text", "cleaned", "invalid"),
    [
        ("Hà Nội là thủ đô [1].", "Hà Nội là thủ đô [1].", []),
        ("Có hai nguồn [1, 2].", "Có hai nguồn [1][2].", []),
        ("Có hai nguồn [1,2] và [2; 3].", "Có hai nguồn [1][2] và [2][3].", []),
        ("Nguồn [1-2].", "Nguồn [1][2].", []),
        ("Nguồn [1–3].", "Nguồn [1][2][3].", []),
        ("Nguồn [1 và 2].", "Nguồn [1][2].", []),
        ("Nguồn 【2】.", "Nguồn [2].", []),
        ("Nguồn [ 2 ].", "Nguồn [2].", []),
        ("Sai [7].", "Sai.", [7]),
        ("Một phần [1, 9] đúng.", "Một phần [1] đúng.", [9]),
        ("Số [0] không có.", "Số không có.", [0]),
        ("Lặp [2, 2].", "Lặp [2].", []),
        ("Giá [1.500] đồng.", "Giá [1.500] đồng.", []),  # not a marker: left as text
        ("Không có dấu nào.", "Không có dấu nào.", []),
    ],
)
def test_clean_markers(text: str, cleaned: str, invalid: list[int]) -> None:
    assert clean_markers(text, 3) == (cleaned, invalid)


def test_clean_markers_with_no_passages_removes_all() -> None:
    assert clean_markers("Không tìm thấy [1] [2].", 0) == ("Không tìm thấy.", [1, 2])


def test_cite_orders_by_first_use_and_deduplicates() -> None:
    hits = _hits(3)
    result = cite("Ý đầu [2]. Ý hai [1, 2]. Ý ba [7] và [2]. Ý bốn [7][8].", hits)
    assert result.text == "Ý đầu [2]. Ý hai [1][2]. Ý ba và [2]. Ý bốn."
    assert [c.marker for c in result.citations] == [2, 1]
    assert result.citations == (Citation(2, hits[1].chunk), Citation(1, hits[0].chunk))
    assert result.invalid_markers == (7, 8)


def test_cite_range_and_full_width() -> None:
    hits = _hits(3)
    result = cite("Theo 【3】 và [1-2].", hits)
    assert result.text == "Theo [3] và [1][2]."
    assert [c.chunk.chunk_id for c in result.citations] == ["doc-00002", "doc-00000", "doc-00001"]
    assert result.invalid_markers == ()


def test_cite_without_markers() -> None:
    result = cite("Không tìm thấy thông tin này trong tài liệu.", _hits(2))
    assert (result.text, result.citations, result.invalid_markers) == (
        "Không tìm thấy thông tin này trong tài liệu.",
        (),
        (),
    )


ANSWERS = [
    "Hà Nội là thủ đô [1]. Dân số khoảng 8 triệu người [2].",
    "Có hai nguồn [1, 2] và [1-2] và 【3】.",
    "Sai [7] rồi [1 và 9].",
    "Mảng a[0] b [ 2 ] c",
    "Mở ngoặc [ mà không bao giờ đóng lại cả, rất dài và dài hơn nữa để vượt quá giới hạn",
    "Kết thúc bằng [2",
    "[1] đầu câu [2]",
    "Khoảng trắng  [1]  đôi [3]  ",
    "Lồng [[1]] ngoặc [1][2][3][4]",
    "Không có dấu trích dẫn nào cả.",
    "Số [1.500] và [12345] và [1,2,3]",
    "Ngoặc ] đóng trước [1] rồi",
    "【1, 2】 và 【9】 cuối",
    "x [1][7][2] y",
    "a [" + "x" * 30 + "] [1]",
    "hết [7] ",
]


def _streamed(text: str, n_passages: int, piece_chars: int, offset: int) -> tuple[str, list[int]]:
    """Feed text in pieces of piece_chars, the first one offset characters shorter."""
    stream = MarkerStream(n_passages)
    cuts = [0, *range(piece_chars - offset, len(text), piece_chars), len(text)]
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        out.extend(stream.feed(text[a:b]))
    out.extend(stream.flush())
    return "".join(out), stream.invalid


@pytest.mark.parametrize("text", ANSWERS)
def test_marker_stream_equals_whole_text_cleaning(text: str) -> None:
    expected = clean_markers(text, 3)
    results = {
        (piece_chars, offset): _streamed(text, 3, piece_chars, offset)
        for piece_chars in (1, 2, 3, 5)
        for offset in range(piece_chars)
    }
    assert results == dict.fromkeys(results, expected)


@pytest.mark.parametrize("text", ANSWERS)
def test_marker_stream_every_two_piece_split(text: str) -> None:
    expected = clean_markers(text, 3)
    results = {}
    for i in range(len(text) + 1):
        stream = MarkerStream(3)
        out = [*stream.feed(text[:i]), *stream.feed(text[i:]), *stream.flush()]
        results[i] = ("".join(out), stream.invalid)
    assert results == dict.fromkeys(results, expected)


def test_marker_stream_holds_back_only_a_possible_marker() -> None:
    stream = MarkerStream(2)
    assert list(stream.feed("Hà Nội [")) == ["Hà Nội"]
    assert list(stream.feed("1")) == []
    assert list(stream.feed("]. Xong")) == [" [1]", ". Xong"]
    assert list(stream.flush()) == []


def test_marker_stream_drops_invalid_marker_with_its_space() -> None:
    stream = MarkerStream(2)
    out = [*stream.feed("Đúng [1] sai [9]"), *stream.feed("."), *stream.flush()]
    assert "".join(out) == "Đúng [1] sai."
    assert stream.invalid == [9]


def test_unclosed_bracket_is_released_as_text() -> None:
    text = "Mở ngoặc [ nhưng không bao giờ đóng lại trong câu trả lời này"
    bracket = text.index("[")
    stream = MarkerStream(3)
    held = [piece for ch in text[: bracket + 23] for piece in stream.feed(ch)]
    # while " [" and what follows is at most 24 characters it may still become a marker: held back
    assert "".join(held) == "Mở ngoặc"
    rest = [piece for ch in text[bracket + 23 :] for piece in stream.feed(ch)]
    # one more character and the bracket is plain text: everything is released before flush
    assert "".join(held + rest) == text
    assert list(stream.flush()) == []
    assert stream.invalid == []


def test_unclosed_short_bracket_released_on_flush() -> None:
    stream = MarkerStream(3)
    fed = list(stream.feed("Kết thúc bằng [2"))
    assert fed == ["Kết thúc bằng"]
    assert list(stream.flush()) == [" [2"]


def test_answer_sentences_take_marker_lists_with_commas_whole() -> None:
    from rag.answer.cite import answer_sentences

    assert answer_sentences("Huế là cố đô [1], [2]. Có. [3], [4]") == [("Huế là cố đô.", [1, 2]), ("Có.", [3, 4])]
    assert answer_sentences("A là B. [1], [5]") == [("A là B.", [1, 5])]
