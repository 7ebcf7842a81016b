"""Restoring the diacritics of an unaccented query from the collection's own spellings.

A syllable typed without marks ("viet") has several accented spellings ("việt", "viết"); the
restorer picks, by Viterbi over the query's syllables, the spellings whose syllable pairs the
collection uses most (its document frequencies of accented syllables and pairs), plus a prior
for the way questions ask (QUESTION_PHRASES). Used by the lexical side of both stores.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable

from rag.text.vietnamese import fold_diacritics, nfc

# How Vietnamese questions ask, which documents rarely write: without these, a collection
# restores "bao nhieu" from its own spellings as "bảo nhiều". Added to the restorer's counts,
# never to BM25: each pair of syllables and each interrogative syllable QUESTION_PRIOR times;
# the other syllables only as the collection spells them (so "năm nào" helps, but "viet nam"
# does not become "việt năm", nor a syllable the collection lacks take a question's spelling).
QUESTION_PHRASES = (
    "bao nhiêu", "bao lâu", "bao giờ", "bao xa", "mấy", "là gì", "là ai", "cái gì", "điều gì",
    "những gì", "việc gì", "của ai", "cho ai", "với ai", "ai là", "ở đâu", "từ đâu", "đi đâu",
    "nơi nào", "khi nào", "lúc nào", "năm nào", "ngày nào", "tháng nào", "thời gian nào",
    "như thế nào", "ra sao", "làm sao", "bằng cách nào", "tại sao", "vì sao", "có phải",
    "hay không", "được không", "có không",
)  # fmt: skip
INTERROGATIVES = frozenset({"bao", "nhiêu", "mấy", "gì", "ai", "đâu", "nào", "sao", "giờ", "lâu"})
QUESTION_PRIOR = 50


def restorer(df: dict[str, int]) -> Restorer:
    """A diacritics restorer from the collection's document frequencies of exact syllables and pairs."""
    counts = Counter(df)
    counts.update(_question_counts())
    unigrams: dict[str, list[tuple[str, int]]] = {}
    pairs = {}
    for term, count in counts.items():
        if "_" in term:
            pairs[term] = count
        else:
            unigrams.setdefault(fold_diacritics(term), []).append((term, count))
    for options in unigrams.values():
        options.sort(key=lambda x: -x[1])
        del options[8:]
    return Restorer(unigrams.get, lambda pair: pairs.get(pair, 0))


def question_prior(term: str) -> int:
    """What the restorer adds to a syllable's or pair's count for QUESTION_PHRASES (0 for most terms)."""
    return _question_counts().get(term, 0)


def question_syllables() -> list[str]:
    """The syllables (not pairs) that get a question prior: spellings the restorer offers even when
    the collection lacks them."""
    return [term for term in _question_counts() if "_" not in term]


@functools.cache
def _question_counts() -> Counter[str]:
    """The restorer's extra counts for QUESTION_PHRASES: their syllable pairs and interrogative syllables."""
    counts: Counter[str] = Counter({word: QUESTION_PRIOR for word in INTERROGATIVES})
    for phrase in QUESTION_PHRASES:
        words = phrase.split()
        for pair in (f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)):
            counts[pair] = QUESTION_PRIOR
    return counts


class Restorer:
    """Viterbi over accented candidates of each unaccented syllable, scored by collection bigrams.

    candidates(folded syllable) gives up to 8 (spelling, count), most frequent first, or None;
    pair("a_b") the count of a syllable pair.
    """

    def __init__(self, candidates: Callable[[str], list[tuple[str, int]] | None], pair: Callable[[str], int]) -> None:
        self._candidates = candidates
        self._pair = pair

    def restore(self, query: str) -> str:
        pieces = re.split(r"(\w+)", nfc(query))
        words = [p for i, p in enumerate(pieces) if i % 2 == 1]
        if not words:
            return query
        lattice = [self._candidates(w.lower()) or [(w.lower(), 1)] for w in words]
        # best[i][cand] = (score, back-pointer)
        best: list[dict[str, tuple[float, str | None]]] = [{c: (math.log(n + 1), None) for c, n in lattice[0]}]
        for i in range(1, len(words)):
            column: dict[str, tuple[float, str | None]] = {}
            for cand, n in lattice[i]:
                options = []
                for prev, (score, _) in best[-1].items():
                    pair = self._pair(f"{prev}_{cand}")
                    options.append((score + 3.0 * math.log(pair + 1) + math.log(n + 1), prev))
                column[cand] = max(options)
            best.append(column)
        cand = max(best[-1], key=lambda c: best[-1][c][0])
        chosen = [cand]
        for i in range(len(words) - 1, 0, -1):
            cand = best[i][cand][1]
            chosen.append(cand)
        chosen.reverse()
        out = []
        for word, restored in zip(words, chosen, strict=True):
            if restored == word.lower():  # no marks to add: keep the word exactly as typed
                restored = word
            elif word.isupper() and len(word) > 1:
                restored = restored.upper()
            elif word[:1].isupper():
                restored = restored[:1].upper() + restored[1:]
            out.append(restored)
        for i, restored in enumerate(out):
            pieces[2 * i + 1] = restored
        return "".join(pieces)
