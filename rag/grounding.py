"""Decides what the user gets from a generated answer: the checked answer, an extractive one, or a refusal.

Evidence from retrieval (does any passage cover the question's key terms?), the model's own
refusal sentence and the per-sentence support check are combined; thresholds live in Settings
and were tuned on MLQA-vi dev (README, "Answers you can trust").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answerability import AnswerabilityModel
from rag.evidence import evidence, extractive_answer
from rag.support import check_answer, supported_text, with_marker
from rag.types import Hit, SentenceSupport
from rag.vietnamese import nfc, passage_sentences, without_cjk

REFUSAL = "Không tìm thấy thông tin này trong tài liệu."
# What the model writes when it means the refusal sentence without copying it exactly.
_REFUSAL_PHRASES = (
    "không tìm thấy thông tin",
    "không có thông tin",
    "không được đề cập",
    "không đề cập",
    "không tìm thấy câu trả lời",
    "không có câu trả lời",
)

_LEAD_MIN_CHARS = 30  # shorter first "sentences" are titles and headings

ANSWERED, EXTRACTIVE, REFUSED = "answered", "extractive", "refused"


@dataclass(frozen=True)
class GroundingSettings:
    """Thresholds on claim coverage (0..1); see rag.claims.coverage."""

    support_threshold: float = 0.6  # a passage supports a sentence from this coverage on
    evidence_threshold: float = 0.3  # below this, no passage is about the question: refuse
    extractive_fallback: bool = True  # answer with the best passage sentence when the model's answer fails
    # p(answerable) from retrieval signals (rag.answerability); below the threshold: refuse. None: not used.
    answerability: AnswerabilityModel | None = None
    answerability_threshold: float | None = None  # None: the model's fitted threshold


@dataclass(frozen=True)
class Grounded:
    text: str
    sentences: tuple[SentenceSupport, ...]
    outcome: str  # ANSWERED | EXTRACTIVE | REFUSED


def passage_text(hit: Hit) -> str:
    """What the model saw of a passage for checking: its title line and its text."""
    return f"{hit.chunk.title}\n{hit.chunk.text}" if hit.chunk.title else hit.chunk.text


def is_refusal(text: str) -> bool:
    """True when the answer starts by saying the documents do not hold the answer."""
    first = nfc(text).strip().lower()[:120]
    return any(phrase in first for phrase in _REFUSAL_PHRASES)


def refusal() -> Grounded:
    return Grounded(REFUSAL, (), REFUSED)


def can_answer(question: str, retrieved: Sequence[Hit], shown: Sequence[Hit], settings: GroundingSettings) -> bool:
    """False when the passages cannot hold the answer: refuse without asking the model.

    retrieved: the passages retrieved for the prompt (best first, with the retriever's signals);
    shown: those that fit in the prompt. Refuses when none of the shown passages covers the
    question's key terms (evidence), or when the answerability model says the retrieval looks
    like that of a question whose answer is not in the index.
    """
    if not shown or evidence(question, shown) < settings.evidence_threshold:
        return False
    if settings.answerability is None:
        return True
    verdict = settings.answerability.answerable(question, retrieved, settings.answerability_threshold)
    return verdict is not False  # None: the retriever gave no signals (not hybrid), so no verdict


def ground(question: str, answer: str, hits: Sequence[Hit], settings: GroundingSettings) -> Grounded:
    """The answer to show for question, given the model's answer and the passages it saw (marker n = hits[n-1])."""
    if not hits or evidence(question, hits) < settings.evidence_threshold:
        return refusal()
    if is_refusal(answer):
        return refusal()
    passages = [passage_text(h) for h in hits]
    checks = check_answer(answer, passages, threshold=settings.support_threshold, question=question)
    if any(c.status != "unsupported" for c in checks):
        return Grounded(supported_text(answer, checks), tuple(checks), ANSWERED)
    return fallback(question, hits, settings, checks)


def fallback(
    question: str, hits: Sequence[Hit], settings: GroundingSettings, checks: Sequence[SentenceSupport] = ()
) -> Grounded:
    """The extractive answer (best passage sentence, cited), or the refusal when that is off or impossible."""
    best = extractive_answer(question, hits) if settings.extractive_fallback else None
    if best is None:
        return Grounded(REFUSAL, tuple(checks), REFUSED)
    text = without_cjk(best.text)  # a quoted Hán gloss would read as a drift into Chinese
    extracted = SentenceSupport(text, (), best.marker, round(best.score, 3), "extracted")
    return Grounded(with_marker(text, best.marker), (*checks, extracted), EXTRACTIVE)


def ground_summary(summary: str, hits: Sequence[Hit], settings: GroundingSettings) -> Grounded:
    """A summary keeps only its supported sentences (re-cited where needed); no refusal or evidence test."""
    checks = check_answer(summary, [passage_text(h) for h in hits], threshold=settings.support_threshold)
    if any(c.status != "unsupported" for c in checks):
        return Grounded(supported_text(summary, checks), tuple(checks), ANSWERED)
    # nothing survived: the opening sentence of the first passages, cited, is still a faithful overview
    lead: list[SentenceSupport] = []
    for marker, hit in enumerate(hits[:3], start=1):
        text = hit.chunk.text
        sentences = [text[s:e] for s, e in passage_sentences(text) if e - s >= _LEAD_MIN_CHARS]
        if sentences:
            lead.append(SentenceSupport(sentences[0], (), marker, 1.0, "extracted"))
    text = " ".join(with_marker(s.text, s.supported_by) for s in lead)
    return Grounded(text, (*checks, *lead), EXTRACTIVE)
