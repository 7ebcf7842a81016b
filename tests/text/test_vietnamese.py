"""Vietnamese text handling: NFC, diacritics folding, sentence and paragraph spans, script check."""

from __future__ import annotations

import unicodedata

import pytest

from rag.text.vietnamese import (
    fold_diacritics,
    is_vietnamese,
    nfc,
    paragraph_spans,
    reads_vietnamese,
    sentence_spans,
    without_cjk,
)


def _slices(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[start:end] for start, end in spans]


def test_nfc_composes_decomposed_letters() -> None:
    nfd = unicodedata.normalize("NFD", "Nghệ An")
    assert len(nfd) == 9  # ệ is e + circumflex + dot below: three code points
    assert nfc(nfd) == "Nghệ An"
    assert len(nfc(nfd)) == 7


def test_nfc_leaves_composed_text_unchanged() -> None:
    assert nfc("Đà Nẵng") == "Đà Nẵng"


def test_an_eth_that_stands_for_d_becomes_d_one_character_for_one() -> None:
    # viwiki's article on the constitution writes "Ðiều 83" with U+00D0, which looks like Đ (U+0110)
    assert nfc("\u00d0iều 83 và \u00f0ảng") == "Điều 83 và đảng"
    assert len(nfc("\u00d0iều")) == len("\u00d0iều")  # spans into the document keep their offsets
    assert fold_diacritics("\u00d0iều \u00f0ảng") == "Dieu dang"


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Đảng ủy Khối", "Dang uy Khoi"),
        ("thủ tục đăng ký", "thu tuc dang ky"),
        ("Nguyễn Thị Hương", "Nguyen Thi Huong"),
        ("ABC 123", "ABC 123"),
    ],
)
def test_fold_diacritics(text: str, folded: str) -> None:
    assert fold_diacritics(text) == folded


def test_fold_diacritics_same_for_nfd_input() -> None:
    assert fold_diacritics(unicodedata.normalize("NFD", "Đảng ủy Khối")) == "Dang uy Khoi"


def test_sentence_spans_keep_abbreviation_and_number_whole() -> None:
    text = "Ông ấy sống ở TP. Hồ Chí Minh từ năm 2010. Dân số là 1.500 người! Bạn có biết không? Có."
    spans = sentence_spans(text)
    assert _slices(text, spans) == [
        "Ông ấy sống ở TP. Hồ Chí Minh từ năm 2010.",
        "Dân số là 1.500 người!",
        "Bạn có biết không?",
        "Có.",
    ]
    assert spans == [(0, 42), (43, 65), (66, 84), (85, 88)]


def test_sentence_spans_academic_titles_and_ellipsis() -> None:
    text = "Dừng lại… Rồi tiếp. GS. Nguyễn Văn A đến."
    assert _slices(text, sentence_spans(text)) == ["Dừng lại…", "Rồi tiếp.", "GS. Nguyễn Văn A đến."]


def test_sentence_spans_closing_quote_stays_with_sentence() -> None:
    text = "Ông nói: “Xong rồi.” Sau đó đi."
    assert _slices(text, sentence_spans(text)) == ["Ông nói: “Xong rồi.”", "Sau đó đi."]


def test_sentence_spans_inside_a_range_are_absolute_and_trimmed() -> None:
    text = "Mở đầu.\n  Câu một. Câu hai?  \nKết."
    start, end = text.index("  Câu"), text.index("\nKết")
    spans = sentence_spans(text, start, end)
    assert _slices(text, spans) == ["Câu một.", "Câu hai?"]
    assert spans == [(10, 18), (19, 27)]


def test_sentence_spans_of_blank_text() -> None:
    assert sentence_spans("   \n ") == []


def test_paragraph_spans_one_line_one_paragraph() -> None:
    text = "  Đoạn một.\n\nĐoạn hai dòng.\r\nĐoạn ba  \n   \n"
    spans = paragraph_spans(text)
    assert spans == [(2, 11), (13, 27), (29, 36)]
    assert _slices(text, spans) == ["Đoạn một.", "Đoạn hai dòng.", "Đoạn ba"]


def test_paragraph_spans_unicode_line_separators() -> None:
    text = "Một\u2028Hai\rBa"
    assert _slices(text, paragraph_spans(text)) == ["Một", "Hai", "Ba"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thủ tục đăng ký kết hôn cần những giấy tờ gì?", True),
        ("Hồ sơ gồm tờ khai và giấy tờ tùy thân [1].", True),
        ("What documents are needed to register a marriage?", False),
        ("结婚登记需要什么文件？", False),
        ("这是 một câu tiếng Việt", False),  # any CJK means the model drifted into Chinese
        ("123 [1]", True),  # nothing says it is another language
    ],
)
def test_is_vietnamese(text: str, expected: bool) -> None:
    assert is_vietnamese(text) is expected


def test_is_vietnamese_accepts_decomposed_text() -> None:
    assert is_vietnamese(unicodedata.normalize("NFD", "Hội nghị tổng kết công tác tuyên giáo")) is True


def test_names_copied_from_the_passages_are_not_a_drift() -> None:
    from rag.text.vietnamese import cjk_index, reads_vietnamese

    context = "Dickens bộc bạch: tên của đứa bé là David Copperfield."
    assert reads_vietnamese("David Copperfield [2].", context=context) is True
    assert reads_vietnamese("The name is David Copperfield [2].", context=context) is False
    assert reads_vietnamese("David Copperfield 是名字", context=context) is False
    assert reads_vietnamese("Tên đứa bé là David Copperfield [2].") is True
    assert (cjk_index("Hà Nội 河内"), cjk_index("Hà Nội")) == (7, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Tần Văn công (文公), cai trị 766 TCN: con trai của Tương công",
            "Tần Văn công, cai trị 766 TCN: con trai của Tương công",
        ),
        ("Hán tự 漢字 là chữ Hán.", "Hán tự là chữ Hán."),
        ("Hà Nội（河内）là thủ đô.", "Hà Nội là thủ đô."),
        ("Hà Nội (năm 1976) là thủ đô.", "Hà Nội (năm 1976) là thủ đô."),
        # a bracket that holds a lifespan beside the gloss keeps the lifespan
        ("Phan Bội Châu (chữ Hán: 潘佩珠; 1867 – 1940) là danh sĩ.", "Phan Bội Châu (1867 – 1940) là danh sĩ."),
        ("Lý Nam Đế (李南帝, 503 – 548) là vua.", "Lý Nam Đế (503 – 548) là vua."),
    ],
)
def test_without_cjk_keeps_the_vietnamese_text(text: str, expected: str) -> None:
    assert without_cjk(text) == expected
    assert reads_vietnamese(without_cjk(text))
