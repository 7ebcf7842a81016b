"""Vietnamese text handling: NFC normalisation, sentence spans, diacritics folding, script checks."""

from __future__ import annotations

import re
import unicodedata

# Sentence ends: . ! ? … (optionally followed by closing quotes/brackets) then whitespace, so a
# dot inside a number ("1.500", "18.5") never ends one; known abbreviations ("TP. Hồ Chí Minh")
# are skipped by _is_abbreviation.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_ABBREVIATIONS = frozenset(
    {"tp", "th", "ths", "ts", "gs", "pgs", "bs", "ks", "st", "tr", "q", "p", "v.v", "vv", "mr", "dr"}
)
_LIST_MARKER = re.compile(r"\d{1,3}|[IVXLC]{1,5}")
_NON_SPACE = re.compile(r"\S+")
_LINE_BREAK = re.compile(r"\r?\n|\r|\u2028|\u2029")


def _without_eth(text: str) -> str:
    """The Icelandic eth (Ð U+00D0, ð U+00F0) looks like the Vietnamese đ and stands for it in text converted from
    legacy fonts (viwiki's constitution article writes "Ðiều 83"): made đ, one character for one, so spans keep
    their length. str.replace, not str.translate: nfc is on every hot path, and translate is ~60x slower there."""
    return text.replace("\u00d0", "\u0110").replace("\u00f0", "\u0111")


def nfc(text: str) -> str:
    """Compose combining marks so 'ệ' typed as e + ̣ + ̂ equals the precomposed letter; an eth that stands
    for đ becomes đ ("Ðiều" -> "Điều")."""
    return _without_eth(unicodedata.normalize("NFC", text))


def comparable(text: str) -> str:
    """NFC, case-folded, punctuation to spaces, single spaces: how answers are compared (rag eval, span copying)."""
    return " ".join(re.sub(r"[^\w\s]", " ", nfc(text).casefold()).split())


def fold_diacritics(text: str) -> str:
    """Strip tone and vowel marks and map đ→d, so 'Đảng ủy' and 'dang uy' compare equal."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", _without_eth(stripped).replace("đ", "d").replace("Đ", "D"))


def has_diacritics(text: str) -> bool:
    """True when text has a tone or vowel mark or đ: "thu tuc" was typed without them, "thủ tục" not."""
    return fold_diacritics(text) != text


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Spans of non-empty lines, trimmed: in the text people paste, one line is one paragraph."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _LINE_BREAK.finditer(text):
        spans.extend(_trimmed(text, pos, match.start()))
        pos = match.end()
    spans.extend(_trimmed(text, pos, len(text)))
    return spans


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end], each trimmed; abbreviations and numbers kept whole."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    sent_start = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if _is_abbreviation(text, sent_start, match.start()) or _is_list_marker(text, sent_start, match.start()):
            continue
        spans.extend(_trimmed(text, sent_start, match.end()))
        sent_start = match.end()
    spans.extend(_trimmed(text, sent_start, end))
    return spans


def passage_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a passage, never across a line break (a title line is its own sentence)."""
    return [span for p_start, p_end in paragraph_spans(text) for span in sentence_spans(text, p_start, p_end)]


def word_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Whitespace-separated word spans inside text[start:end]."""
    return [(m.start(), m.end()) for m in _NON_SPACE.finditer(text, start, end)]


def _is_abbreviation(text: str, sent_start: int, dot: int) -> bool:
    if dot >= len(text) or text[dot] != ".":
        return False
    word = re.search(r"(\S+)$", text[sent_start:dot])
    return bool(word) and word.group(1).lower().rstrip(".") in _ABBREVIATIONS


def _is_list_marker(text: str, sent_start: int, dot: int) -> bool:
    """'1.' or 'IV.' opening a line item ("1. Cơ quan nhà nước ..."): the item's sentence goes on."""
    return dot < len(text) and text[dot] == "." and _LIST_MARKER.fullmatch(text[sent_start:dot].strip()) is not None


def _trimmed(text: str, start: int, end: int) -> list[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if end > start else []


# Letters that only Vietnamese uses among Latin scripts (plus đ); their share tells a
# Vietnamese answer from an English one, and CJK characters reveal drift into Chinese.
_VI_MARKED = set("ăâđêôơưàằầèềìòồờùừỳáắấéếíóốớúứýảẳẩẻểỉỏổởủửỷãẵẫẽễĩõỗỡũữỹạặậẹệịọộợụựỵ")
_CJK_LETTER = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
_CJK = re.compile(_CJK_LETTER)
_CJK_BRACKET = re.compile(r"\s*[(（][^()（）]*" + _CJK_LETTER + r"[^()（）]*[)）]")  # "(文公)", "（河内）"
_WORD = re.compile(r"[^\W\d_]+")


def cjk_index(text: str) -> int | None:
    """Position of the first CJK (or Hangul) character in text, or None."""
    match = _CJK.search(text)
    return match.start() if match else None


def is_vietnamese(text: str, *, min_marked_share: float = 0.15) -> bool:
    """True when text reads as Vietnamese: no CJK, and enough words carry Vietnamese letters."""
    text = nfc(text)
    if _CJK.search(text):
        return False
    words = _WORD.findall(text.lower())
    if not words:
        return True  # numbers or markers only: nothing says it is another language
    marked = sum(1 for w in words if any(ch in _VI_MARKED for ch in w))
    return marked / len(words) >= min_marked_share


def without_cjk(text: str) -> str:
    """text without Chinese/Japanese/Korean characters: bracketed glosses such as "Tần Văn công
    (文公)" lose the whole bracket, a bracket that also holds other parts keeps them ("(chữ Hán: 潘佩珠;
    1867 – 1940)" -> "(1867 – 1940)"), other CJK runs are removed; spaces are tidied."""
    text = _CJK_BRACKET.sub(_gloss_left_out, text)
    text = _CJK.sub(" ", text)
    return re.sub(r"\s+([,.;:!?])", r"\1", " ".join(text.split()))


def _gloss_left_out(match: re.Match[str]) -> str:
    inner = match.group(0).strip()[1:-1]
    separator = "; " if ";" in inner else ", "
    kept = [part.strip() for part in re.split(r"[;,]", inner) if part.strip() and not _CJK.search(part)]
    return f" ({separator.join(kept)})" if kept else " "


def reads_vietnamese(text: str, *, context: str = "") -> bool:
    """is_vietnamese, except that words copied from context (names in the passages) do not count.

    "David Copperfield [2]." answering from a Vietnamese passage that names the novel is not a
    drift into English; CJK is always a drift.
    """
    text = nfc(text)
    if _CJK.search(text):
        return False
    if is_vietnamese(text):
        return True
    known = set(_WORD.findall(nfc(context).lower()))
    rest = [w for w in _WORD.findall(text.lower()) if w not in known]
    return is_vietnamese(" ".join(rest))
