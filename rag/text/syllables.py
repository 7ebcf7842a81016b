"""Vietnamese syllables: a spelling (phonotactic) check and a list of attested syllables.

The spelling check accepts any syllable Vietnamese orthography allows (onset + rhyme + at most one
tone mark), so "ệt" passes although no word uses it. The attested list (``data/syllables.txt``,
syllables seen at least twice in ~850 Vietnamese Wikipedia articles, each passing the spelling
check) tells real syllables from fragments: repairing "Vi ệt" into "Việt" needs to know that
"ệt" is not a word while "việt" is.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_ONSETS = "ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|b|c|d|đ|g|h|k|l|m|n|p|r|s|t|v|x"

# Vowel cluster -> codas it takes ("" = open syllable). Lenient where the language is
# (e + nh), strict where a wrong answer would matter (iê, uô, ươ and ă, â never stand open).
_STOPS_NASALS = ("c", "m", "n", "ng", "p", "t")
_RHYMES: dict[str, tuple[str, ...]] = {
    "a": ("", "c", "ch", "m", "n", "ng", "nh", "p", "t", "i", "o", "u", "y"),
    "ă": _STOPS_NASALS,
    "â": (*_STOPS_NASALS, "u", "y"),
    "e": ("", "c", "ch", "m", "n", "ng", "nh", "p", "t", "o"),
    "ê": ("", "ch", "m", "n", "nh", "p", "t", "u"),
    "i": ("", "ch", "m", "n", "nh", "p", "t", "u", "a"),
    "y": ("",),
    "o": ("", "c", "m", "n", "ng", "p", "t", "i"),
    "ô": ("", "c", "m", "n", "ng", "p", "t", "i"),
    "ơ": ("", "m", "n", "p", "t", "i"),
    "u": ("", "c", "m", "n", "ng", "p", "t", "i", "a"),
    "ư": ("", "c", "m", "n", "ng", "t", "i", "u", "a"),
    "iê": ("c", "m", "n", "ng", "p", "t", "u"),
    "yê": ("c", "m", "n", "ng", "p", "t", "u"),
    "uô": ("c", "m", "n", "ng", "t", "i"),
    "ươ": ("c", "m", "n", "ng", "p", "t", "i", "u"),
    "oa": ("", "c", "ch", "m", "n", "ng", "nh", "p", "t", "i", "y", "o"),
    "oă": ("c", "m", "n", "ng", "t"),
    "oe": ("", "n", "t", "o"),
    "uâ": ("n", "ng", "t", "y"),
    "uê": ("", "ch", "n", "nh", "u"),
    "uy": ("", "ch", "n", "nh", "t", "u", "a"),
    "uyê": ("n", "t"),
    "uơ": ("",),
}
_RHYME_RE = "|".join(sorted((v + c for v, codas in _RHYMES.items() for c in codas), key=len, reverse=True))
_SYLLABLE = re.compile(rf"(?:{_ONSETS})?(?:{_RHYME_RE})")
_LEXICON = Path(__file__).parent.parent / "data" / "syllables.txt"


def toneless(word: str) -> tuple[str, int]:
    """The lowercase syllable without its tone mark, and how many tone marks it carried."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = sum(1 for ch in decomposed if ch in _TONES)
    base = "".join(ch for ch in decomposed if ch not in _TONES)
    return unicodedata.normalize("NFC", base), tones


def is_syllable(word: str) -> bool:
    """True when Vietnamese spelling allows word as one syllable ("việt", "ệt"; not "điề", "vit")."""
    base, tones = toneless(word)
    if tones > 1 or not base:
        return False
    return _SYLLABLE.fullmatch(base) is not None


@cache
def known_syllables() -> frozenset[str]:
    """The attested syllables, lowercase NFC (read once: a 40 KB word list, not a model)."""
    return frozenset(_LEXICON.read_text(encoding="utf-8").split())


def is_known_syllable(word: str) -> bool:
    """True when word (any case, NFC or NFD) is an attested Vietnamese syllable."""
    return unicodedata.normalize("NFC", word.lower()) in known_syllables()
