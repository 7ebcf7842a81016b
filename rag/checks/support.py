"""Checks every sentence of an answer against the passages: kept, re-cited, given a citation, or dropped.

A sentence is supported by a passage when the passage covers its claim terms (numbers, names,
content syllables and their pairs; rag.checks.claims) at or above a threshold, and also covers the
terms the sentence adds to the question (the answer itself: restating the question is easy).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.cite import answer_sentences
from rag.checks.claims import PassageIndex, adds_nothing, claim_terms, coverage, has_name, names, tokens
from rag.types import SentenceSupport

_END_PUNCT = re.compile(r"[.!?…]+$")


def sentence_score(sentence: str, passage: PassageIndex, *, question: str = "") -> float:
    """Support of one sentence by one passage, 0..1: the lower of whole-claim and new-claim coverage.

    Like a number, a name the passage does not hold whole scores 0: "An Dương Vương đánh bại Âu
    Lạc" is not backed by "Nam Việt đánh bại Âu Lạc … khắc chữ An Dương", whose syllables it
    shares (passages come with their document's title: there, a name from the title counts).
    """
    if any(not has_name(passage, name) for name in names(sentence)):
        return 0.0
    terms = claim_terms(sentence)
    score = coverage(terms, passage)
    if question:
        if adds_nothing(sentence, question):
            return 0.0  # restating (or asking) the question answers nothing, however well a passage covers it
        score = min(score, coverage(claim_terms(sentence, ignore=tokens(question)), passage))
    return score


def check_answer(
    answer: str, passages: Sequence[str], *, threshold: float, question: str = ""
) -> list[SentenceSupport]:
    """Per sentence of answer (markers [n] refer to passages[n - 1]): who supports it and how."""
    indexes = [PassageIndex.of(p) for p in passages]
    out: list[SentenceSupport] = []
    for text, markers in answer_sentences(answer):
        cited = tuple(m for m in markers if 1 <= m <= len(passages))
        if not claim_terms(text):  # "Có." claims nothing a passage could contradict
            out.append(SentenceSupport(text, cited, cited[0] if cited else None, 0.0, "supported"))
            continue
        scores = {m: sentence_score(text, indexes[m - 1], question=question) for m in range(1, len(passages) + 1)}
        best_cited = max(cited, key=lambda m: scores[m], default=None)
        if best_cited is not None and scores[best_cited] >= threshold:
            out.append(SentenceSupport(text, cited, best_cited, round(scores[best_cited], 3), "supported"))
            continue
        best = max(scores, key=lambda m: (scores[m], -m), default=None)
        if best is not None and scores[best] >= threshold:
            status = "reattributed" if cited else "added"
            out.append(SentenceSupport(text, cited, best, round(scores[best], 3), status))
        else:
            score = scores[best_cited] if best_cited is not None else (scores[best] if best is not None else 0.0)
            out.append(SentenceSupport(text, cited, None, round(score, 3), "unsupported"))
    return out


def supported_text(answer: str, checks: Sequence[SentenceSupport]) -> str:
    """The answer without its unsupported sentences, each kept sentence citing its supporting passage.

    When nothing changes (every sentence supported by the one passage it cites) the model's
    text is returned as written.
    """
    kept = [c for c in checks if c.status != "unsupported"]
    unchanged = len(kept) == len(checks) and all(
        c.status == "supported" and c.cited == ((c.supported_by,) if c.supported_by else ()) for c in kept
    )
    if unchanged:
        return answer.strip()
    return " ".join(with_marker(c.text, c.supported_by) for c in kept)


def with_marker(text: str, marker: int | None) -> str:
    """'Hà Nội là thủ đô.' + 1 -> 'Hà Nội là thủ đô [1].'"""
    if marker is None:
        return text
    match = _END_PUNCT.search(text)
    if match:
        return f"{text[: match.start()]} [{marker}]{match.group(0)}"
    return f"{text} [{marker}]."
