"""Decides what the user gets from a generated answer: the checked answer, an extractive one, or a refusal.

Evidence from retrieval (does any passage cover the question's key terms?), the model's own
refusal sentence and the per-sentence support check are combined; thresholds live in Settings
and were tuned on MLQA-vi dev (README, "Answers you can trust").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.checks.analysis import Analysis
from rag.checks.answerability import AnswerabilityModel
from rag.checks.short import short_answer
from rag.checks.support import check_answer, supported_text, with_marker
from rag.text.chunking import passage_text
from rag.text.vietnamese import nfc, passage_sentences, without_cjk
from rag.types import Hit, SentenceSupport

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
UNCHECKED = "unchecked"  # no sentence was supported and no typed passage sentence could replace it: shown as written
HEDGED = "hedged"  # borderline: the closest passage sentence, introduced as not answering directly
HEDGE = "Tài liệu không nêu trực tiếp điều này; đoạn gần nhất: {sentence}"
# Why an answer was refused (Answer.refusal_reason):
NO_EVIDENCE = "evidence"  # no passage covers the question's key terms
UNANSWERABLE = "answerability"  # the retrieval signals look like a question the index cannot answer
MODEL_REFUSED = "model"  # the model wrote that the passages do not hold the answer
UNSUPPORTED = "unsupported"  # no sentence of the answer was supported and no passage sentence could replace it
# What the user is told about each reason (CLI and chat).
REFUSAL_REASONS = {
    NO_EVIDENCE: "không đoạn nào trong tài liệu chứa các từ khóa chính của câu hỏi.",
    UNANSWERABLE: "các đoạn gần nhất chỉ liên quan xa tới câu hỏi, có vẻ tài liệu không có câu trả lời.",
    MODEL_REFUSED: "mô hình không thấy câu trả lời trong các đoạn tìm được.",
    UNSUPPORTED: "không câu nào của câu trả lời được các đoạn tìm được xác nhận.",
}


@dataclass(frozen=True)
class GroundingSettings:
    """Thresholds on claim coverage (0..1); see rag.checks.claims.coverage."""

    support_threshold: float = 0.6  # a passage supports a sentence from this coverage on
    evidence_threshold: float = 0.3  # below this, no passage is about the question: refuse
    extractive_fallback: bool = True  # answer with the best passage sentence when the model's answer fails
    # p(answerable) from retrieval signals (rag.checks.answerability); below the threshold: refuse. None: not used.
    answerability: AnswerabilityModel | None = None
    answerability_threshold: float | None = None  # None: the model's fitted threshold
    phrase_support: bool = True  # a sentence holding the answer's phrase supports it (rag.checks.support.support)
    # share of the question's key terms the supporting sentence (with its title) must hold (rag.checks.support)
    key_threshold: float = 0.0
    # the extractive answer must hold this share of the key terms and an answer of the type asked for;
    # None: any best-covering sentence (the earlier behaviour)
    extractive_key_threshold: float | None = 0.2
    keep_unchecked: bool = True  # no supported sentence and no extractive one: keep the answer (UNCHECKED), not refuse
    hedge: bool = True  # where the retrieval or support checks would refuse: hedge with the closest sentence
    # with hedge, an evidence refusal whose evidence is at least this becomes a hedge too (None: evidence refuses)
    evidence_hedge: float | None = 0.2  # tuning half: flat false refusals 0.050 -> 0.025
    # where the answerability model would refuse, ask the model anyway and keep only a supported answer
    verify_unanswerable: bool = False
    # where either gate (evidence, answerability) would refuse, ask the model anyway and keep its answer only if
    # every kept sentence is supported by a passage sentence holding this share of the question's key terms
    # (None: the gates refuse or hedge as they did); see verified()
    verify_key: float | None = None
    # only the retriever's first this many passages of the prompt can support an answer (None: every one)
    support_ranks: int | None = None
    # where the model says the passages do not hold the answer though the gates passed: the typed extractive
    # answer (a sentence holding the key terms and an answer of the type asked for) replaces the refusal if one
    # exists; off: the model's refusal stands
    refusal_fallback: bool = False


@dataclass(frozen=True)
class Grounded:
    text: str
    sentences: tuple[SentenceSupport, ...]
    outcome: str  # ANSWERED | EXTRACTIVE | UNCHECKED | HEDGED | REFUSED
    reason: str | None = None  # for REFUSED and HEDGED: NO_EVIDENCE | UNANSWERABLE | MODEL_REFUSED | UNSUPPORTED
    short_answer: str | None = None  # the bare fact (rag.checks.phrases.bare_fact); None when refused or hedged


def is_refusal(text: str) -> bool:
    """True when the answer starts by saying the documents do not hold the answer."""
    first = nfc(text).strip().lower()[:120]
    return any(phrase in first for phrase in _REFUSAL_PHRASES)


def refusal(reason: str) -> Grounded:
    return Grounded(REFUSAL, (), REFUSED, reason)


def unanswerable(retrieved: Analysis, shown: Analysis, settings: GroundingSettings) -> str | None:
    """Why the passages cannot hold the answer (NO_EVIDENCE, UNANSWERABLE), or None when the model should be asked.

    retrieved: the analysis of the passages retrieved for the prompt (best first, with the
    retriever's signals); shown: of those that fit in the prompt. NO_EVIDENCE when none of the
    shown passages covers the question's key terms; UNANSWERABLE when the answerability model
    says the retrieval looks like that of a question whose answer is not in the index (no
    verdict without its signals).
    """
    if not shown.passages or shown.evidence < settings.evidence_threshold:
        return NO_EVIDENCE
    if settings.answerability is None:
        return None
    verdict = settings.answerability.answerable(retrieved, settings.answerability_threshold)
    return UNANSWERABLE if verdict is False else None


def ground(analysis: Analysis, answer: str, settings: GroundingSettings) -> Grounded:
    """The answer to show, given the model's answer and the analysis of the passages it saw (marker n = passage n)."""
    if not analysis.passages or analysis.evidence < settings.evidence_threshold:
        return refusal(NO_EVIDENCE)
    if is_refusal(answer):
        return refused_by_model(analysis, settings)
    checks = check_answer(
        answer,
        analysis,
        threshold=settings.support_threshold,
        key_threshold=settings.key_threshold,
        support_ranks=settings.support_ranks,
    )
    if any(c.status != "unsupported" for c in checks):
        text = supported_text(answer, checks)
        return Grounded(text, tuple(checks), ANSWERED, short_answer=short_answer(text, analysis, checks))
    return fallback(analysis, settings, checks, answer)


def refused_by_model(analysis: Analysis, settings: GroundingSettings) -> Grounded:
    """The model's refusal, or with refusal_fallback the typed extractive answer where the passages hold one."""
    if settings.refusal_fallback and settings.extractive_key_threshold is not None:
        extracted = fallback(analysis, settings)  # no answer to keep unchecked: extractive, a hedge or a refusal
        if extracted.outcome == EXTRACTIVE:
            return extracted
    return refusal(MODEL_REFUSED)


def fallback(
    analysis: Analysis, settings: GroundingSettings, checks: Sequence[SentenceSupport] = (), answer: str = ""
) -> Grounded:
    """The extractive answer (best passage sentence, cited); else the answer kept unchecked, a hedge or the refusal."""
    best = None
    if settings.extractive_fallback:
        typed = settings.extractive_key_threshold is not None
        best = analysis.typed_extractive(settings.extractive_key_threshold) if typed else analysis.extractive
    if best is None:
        if settings.keep_unchecked and answer.strip():
            unchecked = tuple(replace(c, status=UNCHECKED) if c.status == "unsupported" else c for c in checks)
            return Grounded(answer.strip(), unchecked, UNCHECKED, short_answer=short_answer(answer, analysis, checks))
        if settings.hedge:
            return hedge(analysis, UNSUPPORTED, checks)
        return Grounded(REFUSAL, tuple(checks), REFUSED, UNSUPPORTED)
    text = without_cjk(best.text)  # a quoted Hán gloss would read as a drift into Chinese
    extracted = SentenceSupport(text, (), best.marker, round(best.score, 3), "extracted", (best.start, best.end))
    short = short_answer(text, analysis, (extracted,))
    return Grounded(with_marker(text, best.marker), (*checks, extracted), EXTRACTIVE, short_answer=short)


def verified(grounded: Grounded, analysis: Analysis, min_key: float) -> bool:
    """An answer the gates doubted stands: answered, and each kept sentence's supporting passage sentence (with its
    title) holds at least min_key of the question's key terms, so a name found anywhere does not pass."""
    if grounded.outcome != ANSWERED:
        return False
    for check in grounded.sentences:
        if check.status == "unsupported":
            continue
        if check.supported_by is None or check.span is None or not 1 <= check.supported_by <= len(analysis.passages):
            return False
        passage = analysis.passages[check.supported_by - 1]
        if not any(s.key >= min_key for s in passage.sentences if (s.start, s.end) == tuple(check.span)):
            return False
    return True


def gate_refusal(analysis: Analysis, reason: str, settings: GroundingSettings) -> Grounded:
    """What a refusal before the model is asked becomes: with hedge, the closest passage sentence where the case
    is borderline (only the answerability model doubts, or the evidence is at least evidence_hedge); else the
    refusal."""
    borderline = reason == UNANSWERABLE or (
        reason == NO_EVIDENCE and settings.evidence_hedge is not None and analysis.evidence >= settings.evidence_hedge
    )
    return hedge(analysis, reason) if settings.hedge and borderline else refusal(reason)


def hedge(analysis: Analysis, reason: str, checks: Sequence[SentenceSupport] = ()) -> Grounded:
    """'Tài liệu không nêu trực tiếp điều này; đoạn gần nhất: … [n].', or the refusal when no sentence is near."""
    best = analysis.extractive
    if best is None:
        return Grounded(REFUSAL, tuple(checks), REFUSED, reason)
    text = without_cjk(best.text)
    closest = SentenceSupport(text, (), best.marker, round(best.score, 3), "extracted", (best.start, best.end))
    return Grounded(HEDGE.format(sentence=with_marker(text, best.marker)), (*checks, closest), HEDGED, reason)


def ground_summary(summary: str, hits: Sequence[Hit], settings: GroundingSettings) -> Grounded:
    """A summary keeps only its supported sentences (re-cited where needed); no refusal or evidence test."""
    checks = check_answer(summary, [passage_text(h.chunk) for h in hits], threshold=settings.support_threshold)
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
