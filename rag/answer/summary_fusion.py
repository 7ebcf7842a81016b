"""Joining two summary sentences into one, so that more facts fit under the sentence cap.

The summary's sentence cap binds first on long documents (rag.answer.summarize): the
fact-dense sentences beyond it are left out. With SummarySettings.fuse the summariser selects
more of them, and the model is asked to join two adjacent ones of the same passage into one
Vietnamese sentence. A joined sentence is kept only when every number, date, name and document
reference of both survived, it states none that is not in their passage, and it is one
sentence no longer than the two; the summariser also requires the support check to back it.
Measured in benchmarks/bench_summaries.py --fuse (README, "Summaries"): off by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from rag.answer.stops import strip_markers
from rag.answer.summary_units import Unit, fact_keys
from rag.text.vietnamese import nfc, passage_sentences, reads_vietnamese

__all__ = ["fuse_lines", "fused_text", "shortened"]

Joiner = Callable[[Unit, Unit], "str | None"]


def fused_text(first: str, second: str, reply: str, *, passage: str) -> str | None:
    """The model's one sentence joining two units, when it keeps every fact of both and adds none; else None.

    Every number, date, name and document reference of the two must be in it, any other one it
    states must be in the passage they come from, and it is one Vietnamese sentence no longer
    than the two together.
    """
    text = nfc(reply).strip().splitlines()[0].strip() if reply.strip() else ""
    text = re.sub(r"^(?:Câu (?:rút gọn|viết lại)[^:]*:\s*)", "", text, flags=re.IGNORECASE).strip().strip('"“”')
    text = strip_markers(text).strip()
    if len(text.split()) < 8 or len(text.split()) > len(first.split()) + len(second.split()):
        return None
    if not text.endswith((".", "!", "?", "…")):
        text += "."
    if len(passage_sentences(text)) != 1:
        return None
    wanted, kept = fact_keys(first) | fact_keys(second), fact_keys(text)
    if not wanted <= kept or not kept - wanted <= fact_keys(passage):
        return None
    if not reads_vietnamese(text, context=f"{first} {second}"):
        return None
    return text[0].upper() + text[1:]


def fuse_lines(
    chosen: Sequence[Unit], rank: dict[int, int], join: Joiner, *, max_sentences: int, max_words: int
) -> list[tuple[str, Unit]]:
    """The chosen units (in document order) as at most max_sentences (text, unit) lines.

    Adjacent units of one passage, both full sentences and together at most max_words words,
    are joined (join returns the joined text or None), shortest pairs first and only while the
    lines exceed the cap; a joined line's unit carries the facts of both. Lines still over the
    cap are dropped, the unit picked last first (rank: unit position -> pick order).
    """
    pairs = [
        i
        for i in range(len(chosen) - 1)
        if chosen[i].marker == chosen[i + 1].marker
        and chosen[i].sentence
        and chosen[i + 1].sentence
        and chosen[i].words + chosen[i + 1].words <= max_words
    ]
    pairs.sort(key=lambda i: (chosen[i].words + chosen[i + 1].words, i))
    joined: dict[int, str] = {}
    for i in pairs[: 2 * max(0, len(chosen) - max_sentences)]:  # a bounded number of model calls
        if len(chosen) - len(joined) <= max_sentences:
            break
        if i - 1 in joined or i + 1 in joined:
            continue
        text = join(chosen[i], chosen[i + 1])
        if text is not None:
            joined[i] = text
    lines: list[tuple[str, Unit]] = []
    for i, unit in enumerate(chosen):
        if i - 1 in joined:
            continue
        lines.append((joined[i], _merged(unit, chosen[i + 1], joined[i])) if i in joined else (unit.text, unit))
    alone = sorted((line for line in lines if line[1] in chosen), key=lambda line: rank[line[1].position])
    while len(lines) > max_sentences and alone:
        lines.remove(alone.pop())
    return lines


def _merged(first: Unit, second: Unit, text: str) -> Unit:
    """One unit standing for two joined ones (their facts, the first one's place and passage)."""
    return replace(first, text=text, facts=first.facts | second.facts, words=len(text.split()), lead=False)


def shortened(original: str, rewritten: str) -> str | None:
    """The model's shorter form of a sentence, when it keeps every fact of it; else None."""
    text = nfc(rewritten).strip().splitlines()[0].strip() if rewritten.strip() else ""
    text = re.sub(r"^(?:Câu (?:rút gọn|viết lại)\s*:\s*)", "", text, flags=re.IGNORECASE).strip().strip('"“”')
    text = strip_markers(text).strip()
    if len(text.split()) < 5 or len(text.split()) > 0.85 * len(original.split()):
        return None
    if not text.endswith((".", "!", "?", "…")):
        text += "."
    kept = fact_keys(text)
    if not fact_keys(original) <= kept or not reads_vietnamese(text, context=original):
        return None
    return text[0].upper() + text[1:]
