"""Two short fact sentences as one summary line, so that more facts fit under the sentence cap.

On long documents the summary's 12-sentence cap binds first (rag.answer.summarize): the fact
sentences beyond it are left out, and the picked ones rarely share a passage, so the model
cannot join them (rag.answer.summary_fusion). Here two picked units that follow each other in
document order, of one document, both short, of the same kind (two sentences, or two list
items) and sharing a content word, are put in one sentence joined by ";" without any model:
"Tam Điệp cách Hà Nội 105 km [3]; thị xã được thành lập năm 1982 [5]." Each half keeps its own
marker and is checked against its own passage. A joined line has at most join_words words (35
as measured), so joining cannot turn the cap into run-on sentences. Measured in
benchmarks/bench_summaries.py --set join_words=35: no fact more on the tune half, so it is off
(SummarySettings.join_words = 0; docs/summaries.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from rag.answer.summary_text import balanced
from rag.answer.summary_units import Unit, content_words
from rag.checks.claims import names

__all__ = ["clause_sentences", "joined_text", "pack"]

Line = tuple[Unit, ...]


def joinable(first: Unit, second: Unit, *, max_words: int) -> bool:
    """Whether two units (adjacent in document order) may share one summary line."""
    return (
        not first.lead
        and not second.lead
        and first.source == second.source
        and first.sentence == second.sentence
        and (first.sentence or first.marker == second.marker)  # list items: of one passage's list
        and balanced(first.text)
        and balanced(second.text)
        and first.words + second.words <= max_words
        and bool(_words(first.text) & _words(second.text))
    )


@lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    """content_words, cached: the selection packs its picks again for every candidate."""
    return frozenset(content_words(text))


def pack(units: Sequence[Unit], *, max_words: int) -> list[Line]:
    """The units (in document order) as summary lines: joinable neighbours paired, left to right."""
    lines: list[Line] = []
    i = 0
    while i < len(units):
        if max_words and i + 1 < len(units) and joinable(units[i], units[i + 1], max_words=max_words):
            lines.append((units[i], units[i + 1]))
            i += 2
        else:
            lines.append((units[i],))
            i += 1
    return lines


def joined_text(parts: Sequence[tuple[str, int | None]]) -> str:
    """One sentence of the (text, marker) parts: "A [3]; b [5]." (a name keeps its capital)."""
    pieces = []
    for i, (text, marker) in enumerate(parts):
        body = text.rstrip().rstrip(".!?…").rstrip()
        if i and not _opens_with_name(body):
            body = body[0].lower() + body[1:]
        pieces.append(f"{body} [{marker}]" if marker is not None else body)
    return "; ".join(pieces) + "."


def _opens_with_name(text: str) -> bool:
    first = text.split()[0] if text.split() else ""
    if first.isupper() or any(ch.isdigit() for ch in first):  # "UBND", "12B": as written
        return True
    return any(name[0] == first.lower() for name in names(f"x {text}"))


_CLAUSE_END = re.compile(r"(?<=\])\s*;\s+")


def clause_sentences(summary: str) -> str:
    """A summary with its joined lines cut back into their cited halves ("A [3]. B [5]."), to check each alone."""
    out = _CLAUSE_END.sub(". ", summary)
    return re.sub(r"(?<=\. )(\w)", lambda m: m.group(1).upper(), out)
