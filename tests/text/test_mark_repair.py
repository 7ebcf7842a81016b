"""Split diacritics from PDF text layers are repaired; real neighbouring syllables are never joined."""

from __future__ import annotations

import pytest

from rag.text.mark_repair import repair_split_diacritics
from rag.text.syllables import is_known_syllable, is_syllable


@pytest.mark.parametrize(
    ("broken", "repaired"),
    [
        ("ĐIỀ U KHO ẢN", "ĐIỀU KHOẢN"),
        ("Vi ệt Nam", "Việt Nam"),
        ("CỘNG HOÀ XÃ H ỘI CH Ủ NGH ĨA VI ỆT NAM", "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
        ("Đ iều 5. Quy ền v à ngh ĩa v ụ", "Điều 5. Quyền và nghĩa vụ"),
        ("Hà N ội", "Hà Nội"),  # "N" joins "ội", not "Hà" (Hàn): more fragments explained
        ("(Vi ệt Nam) và “ĐIỀ U 5”", "(Việt Nam) và “ĐIỀU 5”"),
        ("Ngh ị đ ịnh số 15", "Nghị định số 15"),
        ("Vie \u0323\u0302t Nam", "Việt Nam"),  # combining marks after a space
        ("Viê \u0323 t Nam", "Việt Nam"),
        ("Nghi \u0323 quyê \u0301 t", "Nghị quyết"),
        ("Quy đi \u0323nh chung", "Quy định chung"),
        ("Tiê\u02ca ng Vi ệt", "Tiếng Việt"),  # a spacing acute (U+02CA) used as the tone mark
        ("Ngu\u02dc yên", "Ngũ yên"),  # spacing tilde
    ],
)
def test_split_words_are_repaired(broken: str, repaired: str) -> None:
    assert repair_split_diacritics(broken) == repaired


@pytest.mark.parametrize(
    "text",
    [
        "kho ảnh",  # two real syllables (khoảnh is a word too, but never join real syllables)
        "Hôm nay tôi đi học ở trường Việt Đức.",
        "UBND tỉnh Quảng Nam, COVID 19, T.Ư",
        "it´s ok, dấu ` lạ",
        "Người ta ăn ở, ông bà anh em",
        "Dòng một\nDòng hai",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert repair_split_diacritics(text) == text


def test_syllable_checks() -> None:
    assert [is_syllable(w) for w in ["việt", "ệt", "nghiêng", "khuya", "gìn", "điề", "vieet", "ubnd"]] == [
        True, True, True, True, True, False, False, False,
    ]  # fmt: skip
    assert [is_known_syllable(w) for w in ["Việt", "VIỆT", "ệt", "khoản", "ản", "kho", "ảnh"]] == [
        True, True, False, True, False, True, True,
    ]  # fmt: skip
