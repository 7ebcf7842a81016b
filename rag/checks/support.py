"""Checks every sentence of an answer against the passages: kept, re-cited, given a citation, or dropped.

A sentence is supported by a passage when the passage covers its claim terms (numbers, names,
content syllables and their pairs; rag.checks.claims) at or above a threshold, and also covers the
terms the sentence adds to the question (the answer itself: restating the question is easy).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.cite import answer_sentences
from rag.checks.analysis import Analysis, Passage, analyze
from rag.checks.claims import PassageIndex, adds_nothing, claim_terms, coverage, has_name, names, tokens
from rag.checks.phrases import answer_runs, holds_runs
from rag.types import Chunk, Hit, SentenceSupport

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
    answer: str,
    passages: Analysis | Sequence[str],
    *,
    threshold: float,
    question: str = "",
    key_threshold: float = 0.0,
    phrases: bool = True,
    support_ranks: int | None = None,
) -> list[SentenceSupport]:
    """Per sentence of answer (markers [n] refer to passage n): who supports it, how, and with which sentence.

    passages: the analysis of the question and its passages (its question's words are what a
    sentence must add to), or plain passage texts, analysed here for question. key_threshold:
    the share of the question's key terms the supporting sentence (with its document title) must
    hold, so that a name occurring somewhere in a passage does not pass (rag.checks.analysis).
    support_ranks: only the first this many passages can support a sentence (None: all).
    """
    analysis = passages if isinstance(passages, Analysis) else _analysed(passages, question)
    n = len(analysis.passages)
    out: list[SentenceSupport] = []
    for text, markers in answer_sentences(answer):
        cited = tuple(m for m in markers if 1 <= m <= n)
        if not claim_terms(text):  # "Có." claims nothing a passage could contradict
            out.append(SentenceSupport(text, cited, cited[0] if cited else None, 0.0, "supported"))
            continue
        found = {
            m: support(text, analysis, m, threshold=threshold, key_threshold=key_threshold, phrases=phrases)
            for m in range(1, n + 1)
            if support_ranks is None or m <= support_ranks
        }
        best_cited = max((m for m in cited if m in found), key=lambda m: found[m][0], default=None)
        if best_cited is not None and found[best_cited][0] >= threshold:
            score, span = found[best_cited]
            out.append(SentenceSupport(text, cited, best_cited, round(score, 3), "supported", span))
            continue
        best = max(found, key=lambda m: (found[m][0], -m), default=None)
        if best is not None and found[best][0] >= threshold:
            status = "reattributed" if cited else "added"
            score, span = found[best]
            out.append(SentenceSupport(text, cited, best, round(score, 3), status, span))
        else:
            score = found[best_cited][0] if best_cited is not None else (found[best][0] if best is not None else 0.0)
            out.append(SentenceSupport(text, cited, None, round(score, 3), "unsupported"))
    return out


def support(
    text: str, analysis: Analysis, marker: int, *, threshold: float, key_threshold: float = 0.0, phrases: bool = True
) -> tuple[float, tuple[int, int] | None]:
    """How well passage [marker] backs one answer sentence, 0..1, and the span of the sentence that does.

    Either the passage covers the sentence's claim (sentence_score), or one of its sentences
    holds the phrase the answer adds to the question, folded, measure words optional
    ("Năm 1226." in "… thành lập 1226"; rag.checks.phrases): 1.0. Either way the supporting
    sentence must hold key_threshold of the question's key terms (when the question has any).
    """
    passage = analysis.passages[marker - 1]
    gate = key_threshold if analysis.terms else 0.0
    runs = answer_runs(text, analysis.question) if phrases else []
    title = passage.hit.chunk.title
    holding = [s for s in passage.sentences if s.key >= gate and holds_runs(runs, f"{title}\n{s.text}")]
    if holding:
        best = max(holding, key=lambda s: s.key)  # the one most about the question (first of equals)
        return 1.0, (best.start, best.end)
    score = sentence_score(text, passage.index, question=analysis.question)
    if score < threshold:
        return score, None
    span = supporting_sentence(text, passage)
    if gate and not any(s.key >= gate for s in passage.sentences if (s.start, s.end) == span):
        return 0.0, None  # covered, but not by a sentence about what was asked
    return score, span


def supporting_sentence(text: str, passage: Passage) -> tuple[int, int] | None:
    """The span of the passage sentence that covers most of the answer sentence's claim (first of equals)."""
    terms = claim_terms(text)
    best, span = 0.0, None
    for s in passage.sentences:
        score = coverage(terms, PassageIndex.of(s.text))
        if score > best:
            best, span = score, (s.start, s.end)
    return span


def _analysed(texts: Sequence[str], question: str) -> Analysis:
    hits = [Hit(Chunk(f"p{n}", "", "", t, 0, len(t)), 0.0, n) for n, t in enumerate(texts, start=1)]
    return analyze(question, hits)


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
