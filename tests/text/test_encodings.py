"""Encodings: UTF-8/16 first, legacy Vietnamese encodings by score, undecodable files refused."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from rag.errors import LoaderError
from rag.text.encodings import decode, decode_legacy, encode_legacy, vietnamese_score

FIXTURES = Path(__file__).parents[1] / "fixtures" / "docs"

# Every vowel with every tone, both cases, đ/Đ, and ordinary words around them.
ALPHABET = [
    "a à á ả ã ạ ă ằ ắ ẳ ẵ ặ â ầ ấ ẩ ẫ ậ e è é ẻ ẽ ẹ ê ề ế ể ễ ệ",
    "i ì í ỉ ĩ ị o ò ó ỏ õ ọ ô ồ ố ổ ỗ ộ ơ ờ ớ ở ỡ ợ",
    "u ù ú ủ ũ ụ ư ừ ứ ử ữ ự y ỳ ý ỷ ỹ ỵ đ",
    "Trăm năm trong cõi người ta, chữ tài chữ mệnh khéo là ghét nhau.",
    "Nghiêng nước nghiêng thành, khuya khoắt, quyết tâm, ngoằn ngoèo, thuở ấy, giữa trưa.",
]
SENTENCES = "\n".join(ALPHABET + [line.upper() for line in ALPHABET])
PROSE = "\n".join(ALPHABET[3:] + [line.upper() for line in ALPHABET[3:]])


@pytest.mark.parametrize("encoding", ["cp1258", "vni"])
def test_round_trip_full_alphabet(encoding: str) -> None:
    raw = encode_legacy(SENTENCES, encoding)
    assert decode_legacy(raw, encoding) == SENTENCES
    assert decode(encode_legacy(PROSE, encoding), Path("x.txt")) == (PROSE, encoding)


def test_round_trip_tcvn3_lowercase() -> None:
    # TCVN3 (VN3) has no capitals with tone marks: the ABC fonts drew them from a capitals font
    text = "\n".join(ALPHABET) + "\nĂ Â Ê Ô Ơ Ư Đ"
    raw = encode_legacy(text, "tcvn3")
    assert decode_legacy(raw, "tcvn3") == text
    prose = "\n".join(ALPHABET[3:]).lower()
    assert decode(encode_legacy(prose, "tcvn3"), Path("x.txt")) == (prose, "tcvn3")
    with pytest.raises(ValueError, match="TCVN3 cannot hold 'Ệ'"):
        encode_legacy("Ệ", "tcvn3")


def test_known_bytes_of_each_encoding() -> None:
    # Byte strings written by other tools, not by our encoder: VNI as it shows in cp1252 ...
    assert decode_legacy("Tieáng Vieät: Xin chaøo caùc baïn, ñöôïc khoâng?".encode("cp1252"), "vni") == (
        "Tiếng Việt: Xin chào các bạn, được không?"
    )
    # ... Windows-1258 writes the tone as a combining byte (0xD2 hook, 0xF2 dot below) ...
    assert decode_legacy(b"Vi\xea\xf2t Nam c\xf3 nhi\xea\xccu h\xf4\xcc \xf0e\xf2p", "cp1258") == (
        "Việt Nam có nhiều hồ đẹp"
    )
    # ... and TCVN3 made by glibc's iconv (tests/fixtures/docs/README.md)
    raw = (FIXTURES / "quy-che-tcvn3.txt").read_bytes()
    assert decode(raw, Path("q.txt")) == (
        "Quy chế học vụ\nĐiều 1. Sinh viên phải đăng ký học phần đúng hạn; người vi phạm sẽ bị nhắc nhở.\n"
        "Trường Đại học Bách khoa Hà Nội, tháng mười năm 2003.\n",
        "tcvn3",
    )


def test_text_that_reads_the_same_in_two_encodings_is_accepted() -> None:
    # only Latin-1 accents: cp1258 and VNI give the same text, so there is nothing to choose
    assert decode("Xin chào các em".encode("cp1258"), Path("a")) == ("Xin chào các em", "cp1258")


def test_utf8_and_utf16_variants() -> None:
    text = "Tiêu đề\nNội dung tiếng Việt."
    assert decode(text.encode(), Path("a")) == (text, "utf-8")
    assert decode(b"\xef\xbb\xbf" + text.encode(), Path("a")) == (text, "utf-8-sig")
    assert decode(text.encode("utf-16"), Path("a")) == (text, "utf-16")
    assert decode(text.encode("utf-16-le"), Path("a")) == (text, "utf-16-le")
    assert decode(text.encode("utf-16-be"), Path("a")) == (text, "utf-16-be")


def test_cp1258_is_nfc_after_decoding() -> None:
    text, encoding = decode(encode_legacy("Điều kiện được hưởng trợ cấp thất nghiệp", "cp1258"), Path("a"))
    assert (text, encoding) == ("Điều kiện được hưởng trợ cấp thất nghiệp", "cp1258")
    assert unicodedata.is_normalized("NFC", text) is True


def test_undecidable_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "la.txt"
    with pytest.raises(LoaderError) as info:
        decode("Ça coûte très cher à Noël, déjà.".encode("cp1252"), path)
    message = str(info.value)
    assert message.startswith(f"cannot tell the encoding of {path}: it is not UTF-8 or UTF-16")
    assert message.endswith("save it as UTF-8 and ingest again")


def test_binary_is_refused() -> None:
    with pytest.raises(LoaderError, match=r"anh\.txt looks like a binary file"):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", Path("anh.txt"))


def test_vietnamese_score_counts_accented_words() -> None:
    assert vietnamese_score("Việt Nam có nhiều hồ đẹp") == (1.0, 5)
    assert vietnamese_score("Vieät Nam coù") == (0.0, 2)
    assert vietnamese_score("Ha Noi") == (0.0, 0)
