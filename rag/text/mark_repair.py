"""Repair Vietnamese words that PDF text extraction broke apart: "ĐIỀ U KHO ẢN", "Vi ệt", "Vie ̣̂t".

Two faults are common. A tone or vowel mark comes out as a separate (combining or spacing)
character with a space before it; and a word is cut in two by a space, typically next to an
accented letter. Marks are re-attached to the word before them; then runs of fragments are
joined where the join is an attested syllable. Two attested syllables are never joined ("kho
ảnh" stays, "kho ản" becomes "khoản"), so ordinary text passes through unchanged.
"""

from __future__ import annotations

import re
import unicodedata

from rag.text.syllables import is_known_syllable, is_syllable

# Spacing accents some PDF fonts emit instead of combining marks, and their combining forms.
_SPACING_TO_COMBINING = {
    "\u02cb": "\u0300",  # ˋ modifier grave
    "\u02ca": "\u0301",  # ˊ modifier acute
    "\u00b4": "\u0301",  # ´ acute accent
    "\u02dc": "\u0303",  # ˜ small tilde
    "\u02c6": "\u0302",  # ˆ modifier circumflex
    "\u02d8": "\u0306",  # ˘ breve
}
_VIETNAMESE_MARKS = "\u0300\u0301\u0302\u0303\u0306\u0309\u031b\u0323"
_MARK_CHARS = _VIETNAMESE_MARKS + "".join(_SPACING_TO_COMBINING)
# A letter run, then (optional spaces and) a run of marks: the marks belong to that word.
_DETACHED_MARKS = re.compile(rf"([^\W\d_]+)[ \u00a0]*([{_MARK_CHARS}]+)(?=([ \u00a0]?)([^\W\d_]*))")
_LETTERS = re.compile(r"[^\W\d_]+")
_JOINABLE_GAP = re.compile(r"[ \u00a0]{1,2}")
_VOWELS = set("aăâeêioôơuưy")
_MAX_PARTS = 3


def repair_split_diacritics(text: str) -> str:
    """Re-attach detached marks, join split syllables, return NFC text."""
    text = _DETACHED_MARKS.sub(_attach, unicodedata.normalize("NFC", text))
    text = unicodedata.normalize("NFC", text)
    return "\n".join(_join_fragments(line) for line in text.split("\n"))


def _attach(match: re.Match[str]) -> str:
    word, marks, gap, tail = match.groups()
    if not any(ch in _SPACING_TO_COMBINING for ch in marks) and match.group(0) == word + marks:
        return word + marks  # already attached combining marks: NFC will compose them
    combining = "".join(_SPACING_TO_COMBINING.get(ch, ch) for ch in marks)
    candidates = [word[:i] + combining + word[i:] for i in range(len(word), 0, -1) if word[i - 1].lower() in _VOWELS]
    candidates.append(word + combining)
    spacing = any(ch in _SPACING_TO_COMBINING for ch in marks)
    for check in (is_known_syllable,) if spacing else (is_known_syllable, is_syllable):
        for candidate in candidates:
            composed = unicodedata.normalize("NFC", candidate)
            if check(composed + tail) or (gap and check(composed)):
                return composed
    if spacing:
        return match.group(0)  # a stray accent or apostrophe, not a detached mark
    # Combining marks cannot stand alone: attach them; the join step may still complete the word.
    return unicodedata.normalize("NFC", candidates[0])


def _join_fragments(line: str) -> str:
    """Join runs of letter tokens separated by a short space where that explains more tokens."""
    out: list[str] = []
    pos = 0
    for chain in _chains(line):
        out.append(line[pos : chain[0][0]])
        out.append(_best_joining(line, chain))
        pos = chain[-1][1]
    out.append(line[pos:])
    return "".join(out)


def _chains(line: str) -> list[list[tuple[int, int]]]:
    """Letter runs that stand as whole words, grouped when only a short space separates them."""
    chains: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for m in _LETTERS.finditer(line):
        start, end = m.span()
        # "5a", "x_y": part of a larger token; punctuation around a word ("(Vi ệt)") is fine
        glued = (start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_")) or (
            end < len(line) and (line[end].isalnum() or line[end] == "_")
        )
        if current and not glued and _JOINABLE_GAP.fullmatch(line[current[-1][1] : start]):
            current.append((start, end))
            continue
        if len(current) > 1:
            chains.append(current)
        current = [] if glued else [(start, end)]
    if len(current) > 1:
        chains.append(current)
    return chains


def _best_joining(line: str, chain: list[tuple[int, int]]) -> str:
    """Split the chain into groups, each joined or a single word, maximising words that are attested."""
    words = [line[s:e] for s, e in chain]
    known = [is_known_syllable(w) for w in words]
    n = len(words)
    # best[i]: ((attested words explained, -joins), size of the last group) for words[:i]
    best: list[tuple[tuple[int, int], int] | None] = [((0, 0), 0)] + [None] * n
    for i in range(1, n + 1):
        for k in range(1, min(_MAX_PARTS, i) + 1):
            prev = best[i - k]
            if prev is None:
                continue
            if k == 1:
                gain = (1 if known[i - 1] else 0, 0)
            elif all(known[i - k : i]) or not is_known_syllable("".join(words[i - k : i])):
                continue  # never join attested syllables; join only into an attested one
            else:
                gain = (k, -1)
            score = (prev[0][0] + gain[0], prev[0][1] + gain[1])
            current = best[i]
            if current is None or score > current[0]:
                best[i] = (score, k)
    sizes: list[int] = []
    i = n
    while i > 0:
        entry = best[i]
        assert entry is not None  # k = 1 always applies
        sizes.insert(0, entry[1])
        i -= entry[1]
    pieces: list[str] = []
    i = 0
    for k in sizes:
        pieces.append("".join(words[i : i + k]))
        if i + k < n:
            pieces.append(line[chain[i + k - 1][1] : chain[i + k][0]])
        i += k
    return "".join(pieces)
