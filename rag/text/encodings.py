"""Bytes -> text for Vietnamese files: UTF-8/UTF-16 first, then Windows-1258, TCVN3 (ABC) or VNI by score.

The legacy encodings have no marker, so each candidate decoding is scored by the share of its
accented words that are attested Vietnamese syllables; the best one is used only when it
clearly wins. Anything else is refused with a message, never ingested as mojibake.

TCVN3 and VNI have no Python codec; the tables below are written from the published
definitions (TCVN 5712:1993 VN3, and the VNI-Windows font layout).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from rag.errors import LoaderError
from rag.text.syllables import is_known_syllable

LEGACY_ENCODINGS = ("cp1258", "tcvn3", "vni")
MIN_SCORE = 0.5  # share of accented words that must be real syllables
MIN_MARGIN = 0.25  # lead over the runner-up

# --- TCVN 5712:1993 (VN3, the "ABC" fonts): one byte per precomposed lowercase letter ----------
# Tone order of every row: grave, hook above, tilde, acute, dot below.
_TCVN3_LETTERS = {
    0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ",
    0xA8: "ă", 0xA9: "â", 0xAA: "ê", 0xAB: "ô", 0xAC: "ơ", 0xAD: "ư", 0xAE: "đ",
}  # fmt: skip
_TCVN3_ROWS = {
    "a": (0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}
# Positions VN3 leaves free; VN1 (the full standard) puts these capitals there.
_TCVN1_CAPITALS = {
    0xAF: "Ằ", 0xBA: "Ẳ", 0xBF: "Ẵ", 0xC0: "Ắ", 0xC1: "Ầ", 0xC2: "Ẩ", 0xC3: "Ẫ", 0xC4: "Ấ", 0xC5: "Ề",
    0xCD: "Ể", 0xD9: "Ễ", 0xDA: "Ế", 0xDB: "Ồ", 0xE0: "Ổ", 0xF0: "Ỗ", 0xFF: "Ố",
}  # fmt: skip
_TONE_MARKS = ("\u0300", "\u0309", "\u0303", "\u0301", "\u0323")


def _tcvn3_table() -> dict[int, str]:
    table = {0xA0: "\u00a0", **_TCVN3_LETTERS, **_TCVN1_CAPITALS}
    table.update({0xB0 + i: mark for i, mark in enumerate(_TONE_MARKS)})  # combining tones
    for vowel, codes in _TCVN3_ROWS.items():
        for code, mark in zip(codes, _TONE_MARKS, strict=True):
            table[code] = unicodedata.normalize("NFC", vowel + mark)
    for code in range(0x80, 0xA0):  # unassigned in VN3: the Windows punctuation these fonts ran under
        table[code] = bytes([code]).decode("cp1252", errors="replace")
    return table


_TCVN3 = _tcvn3_table()
_TCVN3_REVERSE = {ch: code for code, ch in _TCVN3.items() if code >= 0xA0}

# --- VNI-Windows: an ASCII base letter followed by a mark byte (shown here as its cp1252 glyph) ----
_VNI_TONES = {"ù": "\u0301", "ø": "\u0300", "û": "\u0309", "õ": "\u0303", "ï": "\u0323"}
_VNI_CIRCUMFLEX = {"â": "", "á": "\u0301", "à": "\u0300", "å": "\u0309", "ã": "\u0303", "ä": "\u0323"}
_VNI_BREVE = {"ê": "", "é": "\u0301", "è": "\u0300", "ú": "\u0309", "ü": "\u0303", "ë": "\u0323"}
_VNI_SINGLE = {"í": "í", "ì": "ì", "æ": "ỉ", "ó": "ĩ", "ò": "ị", "î": "ỵ", "ñ": "đ", "ô": "ơ", "ö": "ư"}


def _vni_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for upper in (False, True):

        def case(s: str, upper: bool = upper) -> str:
            return s.upper() if upper else s

        for key, letter in _VNI_SINGLE.items():
            table[case(key)] = case(letter)
        for base in ("a", "e", "o", "u", "y", "ô", "ö"):
            letter = _VNI_SINGLE.get(base, base)
            for key, tone in _VNI_TONES.items():
                if (base, key) != ("y", "ï"):  # ỵ is the single byte î
                    table[case(base + key)] = case(unicodedata.normalize("NFC", letter + tone))
        for base in ("a", "e", "o"):
            for key, tone in _VNI_CIRCUMFLEX.items():
                table[case(base + key)] = case(unicodedata.normalize("NFC", base + "\u0302" + tone))
        for key, tone in _VNI_BREVE.items():
            table[case("a" + key)] = case(unicodedata.normalize("NFC", "a\u0306" + tone))
    return table


_VNI = _vni_table()
_VNI_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_VNI, key=len, reverse=True)))
_VNI_REVERSE = {v: k for k, v in _VNI.items()}


# cp1252 leaves five bytes undefined: they stay visible as their Latin-1 control characters.
_CP1252 = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0x100)}
_TCVN3_TRANSLATE = {b: _TCVN3.get(b, chr(b)) for b in range(0x80, 0x100)}


def decode_legacy(raw: bytes, encoding: str) -> str:
    """Decode raw bytes from one of LEGACY_ENCODINGS into NFC text."""
    if encoding == "cp1258":
        text = raw.decode("cp1258", errors="replace")
    elif encoding == "tcvn3":
        text = raw.decode("latin-1").translate(_TCVN3_TRANSLATE)
    elif encoding == "vni":
        text = _VNI_PATTERN.sub(lambda m: _VNI[m.group(0)], raw.decode("latin-1").translate(_CP1252))
    else:
        raise ValueError(f"unknown legacy encoding {encoding!r}; known: {', '.join(LEGACY_ENCODINGS)}")
    return unicodedata.normalize("NFC", text)


def encode_legacy(text: str, encoding: str) -> bytes:
    """The inverse of decode_legacy (for fixtures and round-trip tests); raises ValueError on
    a character the encoding cannot hold (TCVN3 has no capitals with tone marks)."""
    text = unicodedata.normalize("NFC", text)
    if encoding == "cp1258":
        out = bytearray()
        for ch in text:
            try:
                out += ch.encode("cp1258")
            except UnicodeEncodeError:  # cp1258 writes the tone as a separate combining mark
                base, tone = _split_tone(ch)
                out += base.encode("cp1258") + tone.encode("cp1258")
        return bytes(out)
    if encoding == "tcvn3":
        out = bytearray()
        for ch in text:
            if ch in _TCVN3_REVERSE:
                out.append(_TCVN3_REVERSE[ch])
            elif ord(ch) < 0x80:
                out.append(ord(ch))
            else:
                raise ValueError(f"TCVN3 cannot hold {ch!r}")
        return bytes(out)
    if encoding == "vni":
        return "".join(_VNI_REVERSE.get(ch, ch) for ch in text).encode("cp1252")
    raise ValueError(f"unknown legacy encoding {encoding!r}; known: {', '.join(LEGACY_ENCODINGS)}")


def _split_tone(ch: str) -> tuple[str, str]:
    decomposed = unicodedata.normalize("NFD", ch)
    tone = "".join(c for c in decomposed if c in _TONE_MARKS)
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return base, tone


_ACCENTED_WORD = re.compile(r"[^\W\d_]*[^\x00-\x7f][^\W\d_]*")


def vietnamese_score(text: str) -> tuple[float, int]:
    """Share of the words with a non-ASCII letter that are attested Vietnamese syllables, and their count."""
    words = [w for w in _ACCENTED_WORD.findall(text) if w]
    if not words:
        return 0.0, 0
    return sum(1 for w in words if is_known_syllable(w)) / len(words), len(words)


def decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Text and the encoding it was read with; LoaderError when the bytes are not readable text."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return _strict(raw, "utf-8-sig", path), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(raw, "utf-16", path), "utf-16"
    utf16 = _bomless_utf16(raw)
    if utf16:
        return _strict(raw, utf16, path), utf16
    if b"\x00" in raw[:8192]:
        raise LoaderError(f"{path} looks like a binary file, not text: convert it to .txt first")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _guess_legacy(raw, path)


def _strict(raw: bytes, encoding: str, path: Path) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise LoaderError(f"{path}: broken {encoding.upper()} text at byte {e.start} ({e.reason})") from e


def _bomless_utf16(raw: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when every other byte of the start is a NUL (ASCII in UTF-16)."""
    head = raw[:4096]
    if len(head) < 4 or len(head) % 2:
        return None
    odd_nul, even_nul = head[1::2].count(0), head[0::2].count(0)
    half = len(head) // 2
    if odd_nul >= 0.4 * half and even_nul == 0:
        return "utf-16-le"
    if even_nul >= 0.4 * half and odd_nul == 0:
        return "utf-16-be"
    return None


def _guess_legacy(raw: bytes, path: Path) -> tuple[str, str]:
    scored = []
    for encoding in LEGACY_ENCODINGS:
        text = decode_legacy(raw, encoding)
        if any(text == other for _, _, other, _ in scored):
            continue  # "chào" reads the same in cp1258 and VNI: one candidate, not a tie
        score, n_words = vietnamese_score(text)
        scored.append((score, encoding, text, n_words))
    scored.sort(key=lambda s: s[0], reverse=True)
    (best, encoding, text, n_words), runner_up = scored[0], (scored[1][0] if len(scored) > 1 else 0.0)
    if n_words and best >= MIN_SCORE and best - runner_up >= MIN_MARGIN:
        return text, encoding
    tried = ", ".join(f"{e} {s:.0%}" for s, e, _, _ in scored)
    raise LoaderError(
        f"cannot tell the encoding of {path}: it is not UTF-8 or UTF-16, and no Vietnamese legacy "
        f"encoding reads it as Vietnamese (real syllables: {tried}): save it as UTF-8 and ingest again"
    )
