"""Document-specific nouns as facts: word pairs frequent in this document and rare in Vietnamese text.

The fact keys (summary_units.fact_keys) see numbers, dates, documents and names, not a plain
noun such as "xi măng", which a long article about an industrial town repeats in many sentences
and a reader expects in its summary. Such a pair of syllables -- written in lower case (a name
is a fact key already), no function word -- is salient when it is in many of the document's
units and in few documents of a background: rag/data/bigram_df.txt, the document frequencies of
the word pairs in 597 Vietnamese Wikipedia articles (CC BY-SA; rag/data/README.md). Score: the
units holding it times log(articles / (document frequency + 1)). A pair the list lacks (in fewer
than 4 articles) is left out: most are not words but the seam of two ("di tích khảo cổ" ->
"tích khảo").
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from importlib import resources

from rag.answer.summary_units import Unit
from rag.checks.claims import STOPWORDS
from rag.text.vietnamese import fold_diacritics, nfc

MIN_UNITS = 3  # a pair in fewer of the document's units is not what the document is about
_WORD = re.compile(r"[^\W_]+|[^\w\s]")
_WORD_BREAK = re.compile(r"[\W_]+")


@lru_cache(maxsize=1)
def background() -> tuple[int, dict[str, int]]:
    """(articles, document frequency of each word pair) of rag/data/bigram_df.txt."""
    lines = resources.files("rag").joinpath("data/bigram_df.txt").read_text(encoding="utf-8").splitlines()
    articles = int(lines[0].split("\t")[1])
    frequency = {}
    for line in lines[1:]:
        count, _, pair = line.partition("\t")
        frequency[pair] = int(count)
    return articles, frequency


def word_pairs(text: str) -> set[str]:
    """The lower-case content word pairs of text ("nhà máy xi măng" -> "nhà máy", "máy xi", "xi măng")."""
    words = _WORD.findall(nfc(text))
    return {
        f"{a} {b}"
        for a, b in zip(words, words[1:], strict=False)
        if a.isalpha() and b.isalpha() and a.islower() and b.islower() and a not in STOPWORDS and b not in STOPWORDS
    }


def salient_terms(texts: Iterable[str], *, top: int) -> list[str]:
    """The top word pairs of one document's units by salience, best first (those in MIN_UNITS units or more)."""
    articles, frequency = background()
    held: dict[str, int] = {}
    for text in texts:
        for pair in word_pairs(text):
            held[pair] = held.get(pair, 0) + 1
    scored = [
        (n * math.log(articles / (frequency[pair] + 1)), pair)
        for pair, n in held.items()
        if n >= MIN_UNITS and pair in frequency
    ]
    return [pair for score, pair in sorted(scored, key=lambda sp: (-sp[0], sp[1]))[:top] if score > 0]


def with_salience(units: Sequence[Unit], *, top: int, sources: Collection[str]) -> list[Unit]:
    """The units, those of the documents named in sources each also stating its salient word pairs ("s:xi măng")."""
    by_source: dict[str, list[Unit]] = {}
    for unit in units:
        if unit.source in sources:
            by_source.setdefault(unit.source, []).append(unit)
    terms = {source: set(salient_terms((u.text for u in group), top=top)) for source, group in by_source.items()}
    out = []
    for unit in units:
        found = word_pairs(unit.text) & terms.get(unit.source, set())
        out.append(replace(unit, facts=unit.facts | {f"s:{pair}" for pair in found}) if found else unit)
    return out


def subjects(units: Sequence[Unit]) -> dict[str, str]:
    """Each document's subject: the name in its title that most of its units state ("p:tam điệp"), if 3 do."""
    counts: dict[str, dict[str, int]] = {}
    for unit in units:
        per = counts.setdefault(unit.source, {})
        title = " " + " ".join(_WORD_BREAK.split(fold_diacritics(unit.title).lower())) + " "
        for key in unit.facts:
            if key.startswith("p:") and f" {fold_diacritics(key[2:])} " in title:
                per[key] = per.get(key, 0) + 1
    best = {source: max(per.items(), key=lambda kv: (kv[1], kv[0])) for source, per in counts.items() if per}
    return {source: key for source, (key, n) in best.items() if n >= 3}
