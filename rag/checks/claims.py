"""Claim terms of Vietnamese text (numbers, names, content syllables) and how well a passage covers them.

Shared by the support checker (does a passage back this answer sentence?) and the evidence
score (does any passage talk about what the question asks?). Pure Python, NFC and case folded;
function words are ignored because every passage has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.text.vietnamese import fold_diacritics, has_diacritics, nfc

# Numbers keep their inner separators ("1.500", "18,5"), which are then removed so "1.500" == "1500".
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")

# Function syllables and question words: they carry no claim. Kept short on purpose; content
# words that happen to be frequent ("người", "năm") still count, with weight 1.
STOPWORDS = frozenset(
    """
    là của và các những một có được cho trong với không này đó thì mà để từ khi đã sẽ đang về ra vào
    lên theo như cũng nhưng nên hay hoặc bị do tại bởi vì nào gì ai đâu sao bao nhiêu mấy thế ở
    rằng nếu vẫn còn rất nhiều ít hơn nhất lại chỉ đến cả mỗi việc sự cái chiếc điều này kia ấy
    họ nó chúng ta tôi bạn ông bà anh chị em đây vậy thôi nữa hết đều trên dưới giữa sau trước
    gồm bằng qua phải nhau luôn với cùng tới hãy xin thì the of and in to
    """.split()
)

# Text typed without diacritics ("thu do cua viet nam la gi") drops the same words in folded form.
FOLDED_STOPWORDS = frozenset(fold_diacritics(w) for w in STOPWORDS)

WEIGHT_NUMBER, WEIGHT_NAME, WEIGHT_WORD = 3.0, 2.0, 1.0


@dataclass(frozen=True)
class Terms:
    """Weighted claim terms of a text: unigrams (key -> weight) and adjacent content-term pairs."""

    weights: dict[str, float]
    bigrams: frozenset[tuple[str, str]]

    @property
    def numbers(self) -> list[str]:
        return [t for t in self.weights if t.isdigit()]

    def __bool__(self) -> bool:
        return bool(self.weights)


def _key(token: str) -> str:
    if token[0].isdigit():
        return re.sub(r"[.,]", "", token).lstrip("0") or "0"  # "04" == "4", "1.500" == "1500"
    return token.lower()


def tokens(text: str) -> list[str]:
    """Syllables and numbers of text, as comparison keys (lower case, NFC, number separators removed)."""
    return [_key(t) for t in _TOKEN.findall(nfc(text))]


def claim_terms(text: str, *, ignore: Iterable[str] = ()) -> Terms:
    """Numbers (weight 3), capitalised names (2) and other content syllables (1) of text.

    The first word counts as a name only for its later syllables ("Kinh thành" is not a name,
    "Hà Nội" keeps "Nội"): a capital there says nothing.

    ignore: extra keys to leave out (e.g. the question's own words when only the new claim matters).
    """
    text = nfc(text)
    skip = (STOPWORDS if has_diacritics(text) else FOLDED_STOPWORDS) | set(ignore)
    weights: dict[str, float] = {}
    bigrams: set[tuple[str, str]] = set()
    previous: str | None = None
    for position, raw in enumerate(_TOKEN.findall(nfc(text))):
        key = _key(raw)
        if key in skip or (len(key) < 2 and not key.isdigit()):
            previous = None
            continue
        if key.isdigit():
            weight = WEIGHT_NUMBER
        elif raw[0].isupper() and position > 0:
            weight = WEIGHT_NAME
        else:
            weight = WEIGHT_WORD
        weights[key] = max(weights.get(key, 0.0), weight)
        if previous is not None:
            bigrams.add((previous, key))
        previous = key
    return Terms(weights, frozenset(bigrams))


def names(text: str) -> list[tuple[str, ...]]:
    """Runs of two or more capitalised syllables ("Nam Việt", "Tư Mã Thiên"), as comparison keys.

    Only spaces join a run ("Neues Palais, Potsdam" is two names). The first word's capital says
    nothing, so it never starts a name ("Nước Văn Lang" -> "Văn Lang"; "An Dương Vương" ->
    "Dương Vương", still a name no passage saying "An Dương" holds).
    """
    text = nfc(text)
    runs: list[list[str]] = [[]]  # the last one is open
    previous_end = 0
    for position, match in enumerate(_TOKEN.finditer(text)):
        capital = match.group(0)[0].isupper() and position > 0
        joined = text[previous_end : match.start()].isspace()
        previous_end = match.end()
        if runs[-1] and not (capital and joined):
            runs.append([])
        if capital:
            runs[-1].append(_key(match.group(0)))
    return [tuple(run) for run in runs if len(run) >= 2]


def has_name(passage: PassageIndex, name: tuple[str, ...]) -> bool:
    """Every adjacent pair of the name's syllables is in the passage (the name itself, in practice)."""
    return all(pair in passage.bigrams for pair in zip(name, name[1:], strict=False))


@dataclass(frozen=True)
class PassageIndex:
    """The syllables and adjacent syllable pairs of one passage, for coverage lookups."""

    unigrams: frozenset[str]
    bigrams: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, text: str) -> PassageIndex:
        keys = tokens(text)
        return cls(frozenset(keys), frozenset(zip(keys, keys[1:], strict=False)))


def coverage(terms: Terms, passage: PassageIndex) -> float:
    """How much of the claim the passage contains, 0..1: mean of weighted term and pair coverage.

    A number the passage lacks makes the score 0: a wrong figure is the error users check first.
    """
    if not terms:
        return 0.0
    if any(n not in passage.unigrams for n in terms.numbers):
        return 0.0
    total = sum(terms.weights.values())
    found = sum(w for t, w in terms.weights.items() if t in passage.unigrams)
    unigram = found / total
    if not terms.bigrams:
        return unigram
    pairs = sum(1 for b in terms.bigrams if b in passage.bigrams) / len(terms.bigrams)
    return (unigram + pairs) / 2


def adds_nothing(sentence: str, question: str, *, fold: bool = False) -> bool:
    """True for a question, or a sentence whose every claim term is already in the question: it answers nothing.

    fold: the question was typed without diacritics, so the sentence is compared without them."""
    sentence = fold_diacritics(sentence) if fold else sentence
    return sentence.rstrip().endswith("?") or not claim_terms(sentence, ignore=tokens(question))
