"""Evaluation metrics: recall@k and MRR for retrieval; EM, token F1, containment, citation
precision and Vietnamese share for answers; the per-question rows of `rag eval` and their summary.

A retrieved passage is a *hit* when it comes from the question's document (file stem equal to
``doc_id``, when the question has one) and contains a gold answer, compared after NFC and case
folding.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

from rag.checks.analysis import Analysis, analyze
from rag.checks.grounding import is_refusal
from rag.eval.check_classes import CHECK_CLASSES, check_class
from rag.eval.questions import Question
from rag.text.vietnamese import comparable, reads_vietnamese
from rag.types import Answer, Chunk

RECALL_KS = (1, 5, 10)


normalize = comparable  # NFC, case-folded, punctuation to spaces, single spaces: how answers are compared


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    haystack = normalize(text)
    return any(normalize(a) and normalize(a) in haystack for a in answers)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _analysis(question: Question, answer: Answer, prompt_k: int) -> Analysis:
    """The assistant's analysis of the question and the passages retrieved for the prompt (made here when absent)."""
    if isinstance(answer.analysis, Analysis):
        return answer.analysis
    return analyze(question.question, answer.retrieved[:prompt_k])


def is_hit(chunk: Chunk, question: Question) -> bool:
    if question.doc_id and PurePath(chunk.source).stem != question.doc_id:
        return False
    return contains_answer(chunk.text, question.answers)


def first_hit_rank(chunks: Sequence[Chunk], question: Question) -> int | None:
    for rank, chunk in enumerate(chunks, start=1):
        if is_hit(chunk, question):
            return rank
    return None


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    pred = normalize(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize(answer).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            precision, recall = common / len(pred), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _unmarked(text: str) -> str:
    return re.sub(r"\[\d+\]", " ", text)


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    pred = normalize(re.sub(r"\[\d+\]", " ", prediction))
    return any(pred == normalize(a) for a in answers)


def _share(rows: list[dict[str, Any]], value: Any) -> float:
    """The mean of value(row) over rows, rounded as every summary number is."""
    return round(sum(value(r) for r in rows) / len(rows), 4)


def retrieval_row(question: Question, answer: Answer, analysis: Analysis, *, k: int, prompt_k: int) -> dict[str, Any]:
    """What every row records: the first hit's rank in the top k, the evidence, the prompt passages' answer."""
    chunks = [h.chunk for h in answer.retrieved]
    return {
        "id": question.id,
        "question": question.question,
        "answers": list(question.answers),
        "hit_rank": first_hit_rank(chunks[:k], question),
        "retrieved": [{"source": c.source, "chunk_id": c.chunk_id} for c in chunks[:k]],
        "retrieve_ms": round(answer.timings.retrieve_ms, 1),
        "evidence": round(analysis.evidence, 4),
        "answer_in_prompt_passages": any(contains_answer(c.text, question.answers) for c in chunks[:prompt_k]),
    }


def answer_row(question: Question, answer: Answer, analysis: Analysis) -> dict[str, Any]:
    """The generated answer's measurements: matching, citations, language, timings, what the checks did."""
    cited = [c.chunk for c in answer.citations]
    context = analysis.restrict(answer.passages).context() if answer.passages else analysis.context()
    return {
        "answer": answer.text,
        "exact_match": exact_match(answer.text, question.answers),
        "token_f1": round(token_f1(_unmarked(answer.text), question.answers), 4),
        "contains_answer": contains_answer(answer.text, question.answers),
        "citations": len(cited),
        "cited_with_answer": sum(1 for c in cited if contains_answer(c.text, question.answers)),
        "vietnamese": reads_vietnamese(answer.text, context=context),
        "first_token_ms": answer.timings.first_token_ms,
        "total_ms": round(answer.timings.total_ms, 1),
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "refused": answer.refused or is_refusal(answer.text),
        "refusal_reason": answer.refusal_reason,
        "read_as": answer.read_as,
        "outcome": answer.outcome,
        "short_answer": answer.short_answer,
        "short_token_f1": round(token_f1(answer.short_answer or "", question.answers), 4),
        "short_exact_match": exact_match(answer.short_answer or "", question.answers),
        "sentences": [asdict(s) for s in answer.sentences],
        "passages": [h.chunk.chunk_id for h in answer.passages],
    }


def model_row(question: Question, unchecked: str, *, final_right: bool, outcome: str) -> dict[str, Any]:
    """The model's own answer (checks off) and the checks' class of what they made of it."""
    model_right = contains_answer(unchecked, question.answers)
    return {
        "model_answer": unchecked,
        "model_contains_answer": model_right,
        "model_token_f1": round(token_f1(_unmarked(unchecked), question.answers), 4),
        "checks": check_class(model_right, final_right, outcome),
    }


def baseline_row(question: Question, baseline: Answer) -> dict[str, Any]:
    """The naive pipeline's answer to the same question (rag.eval.baseline), measured the same way."""
    cited = [c.chunk for c in baseline.citations]
    return {
        "baseline_answer": baseline.text,
        "baseline_contains_answer": contains_answer(baseline.text, question.answers),
        "baseline_token_f1": round(token_f1(_unmarked(baseline.text), question.answers), 4),
        "baseline_exact_match": exact_match(baseline.text, question.answers),
        "baseline_citations": len(cited),
        "baseline_cited_with_answer": sum(1 for c in cited if contains_answer(c.text, question.answers)),
    }


def retrieval_summary(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """recall@1/5/10 (those within k), MRR@k, the median retrieval time, answers in the prompt passages."""
    n = len(rows)
    ranks = [r["hit_rank"] for r in rows]
    out: dict[str, Any] = {"questions": n}
    for cutoff in RECALL_KS:
        if cutoff <= k:
            out[f"recall@{cutoff}"] = round(sum(1 for r in ranks if r is not None and r <= cutoff) / n, 4)
    out[f"mrr@{k}"] = round(sum(1 / r for r in ranks if r is not None) / n, 4)
    out["retrieve_ms_median"] = round(statistics.median(r["retrieve_ms"] for r in rows), 1)
    # with --unanswerable, a distractor may still hold the gold string (then answering is not wrong)
    out["answer_in_prompt_passages"] = _share(rows, lambda r: r["answer_in_prompt_passages"])
    return out


def answer_summary(generated: list[dict[str, Any]]) -> dict[str, Any]:
    """Refusals, outcomes, matching and citation precision over the rows with a generated answer."""
    m = len(generated)
    citations = sum(r["citations"] for r in generated)
    sentences = [s for r in generated for s in r["sentences"]]
    reasons = sorted({r["refusal_reason"] for r in generated if r["refusal_reason"]})
    return {
        "refusal_rate": _share(generated, lambda r: r["refused"]),
        "refusals_by_reason": {
            reason: round(sum(r["refusal_reason"] == reason for r in generated) / m, 4) for reason in reasons
        },
        "extractive_share": _share(generated, lambda r: r["outcome"] == "extractive"),
        "hedged_share": _share(generated, lambda r: r["outcome"] == "hedged"),
        "unchecked_share": _share(generated, lambda r: r["outcome"] == "unchecked"),
        "short_answer_token_f1": _share(generated, lambda r: r["short_token_f1"]),
        "short_answer_exact_match": _share(generated, lambda r: r["short_exact_match"]),
        "dropped_sentence_share": _share(sentences, lambda s: s["status"] == "unsupported") if sentences else None,
        "exact_match": _share(generated, lambda r: r["exact_match"]),
        "token_f1": _share(generated, lambda r: r["token_f1"]),
        "answer_containment": _share(generated, lambda r: r["contains_answer"]),
        "citation_precision": round(sum(r["cited_with_answer"] for r in generated) / citations, 4)
        if citations
        else None,
        # the same over answers that contain a gold answer: do right answers cite the right passage?
        "citation_precision_correct": _ratio(
            sum(r["cited_with_answer"] for r in generated if r["contains_answer"]),
            sum(r["citations"] for r in generated if r["contains_answer"]),
        ),
        "answers_with_citation": _share(generated, lambda r: bool(r["citations"])),
        "vietnamese_share": _share(generated, lambda r: r["vietnamese"]),
    } | model_call_summary(generated)


def model_call_summary(generated: list[dict[str, Any]]) -> dict[str, Any]:
    """Model calls, prompt size and timings (answers refused before the model was asked have no prompt)."""
    called = [r for r in generated if r["prompt_tokens"]]
    first = [r["first_token_ms"] for r in called if r["first_token_ms"] is not None]
    return {
        "model_calls": len(called),
        "prompt_tokens_mean": round(statistics.mean(r["prompt_tokens"] for r in called), 1) if called else None,
        "first_token_ms_median": round(statistics.median(first), 1) if first else None,
        "total_ms_median": round(statistics.median(r["total_ms"] for r in generated), 1),
    }


def checks_summary(classified: list[dict[str, Any]]) -> dict[str, Any]:
    """The checks' confusion counts, the model's own containment and F1, and the share of right answers lost."""
    right = [r for r in classified if r["model_contains_answer"]]
    return {
        "checks": {c: sum(r["checks"] == c for r in classified) for c in CHECK_CLASSES},
        "model_containment": round(len(right) / len(classified), 4),
        "model_token_f1": _share(classified, lambda r: r["model_token_f1"]),
        # the harm: the model's right answers the checks dropped, replaced or refused
        "checks_lost_right": _ratio(sum(not r["contains_answer"] for r in right), len(right)),
    }


def baseline_summary(baseline: list[dict[str, Any]]) -> dict[str, Any]:
    """The naive pipeline's containment, F1, EM and citation precision."""
    return {
        "baseline_containment": _share(baseline, lambda r: r["baseline_contains_answer"]),
        "baseline_token_f1": _share(baseline, lambda r: r["baseline_token_f1"]),
        "baseline_exact_match": _share(baseline, lambda r: r["baseline_exact_match"]),
        "baseline_citation_precision": _ratio(
            sum(r["baseline_cited_with_answer"] for r in baseline), sum(r["baseline_citations"] for r in baseline)
        ),
    }


@dataclass
class Report:
    """Running totals; summary() gives the numbers, rows the per-question records."""

    k: int
    unanswerable: bool = False  # the questions' own articles were hidden: refusals are the right answer
    prompt_k: int = 4  # passages the model saw (for the evidence score in each row)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, question: Question, answer: Answer, *, generated: bool | None = None, baseline: Answer | None = None
    ) -> dict[str, Any]:
        """Record one question; generated=None infers it from the answer having text or citations.

        answer.unchecked (the model's own answer, checks off) adds the checks' class; baseline is
        the naive pipeline's answer to the same question (rag.eval.baseline).
        """
        analysis = _analysis(question, answer, self.prompt_k)
        row = retrieval_row(question, answer, analysis, k=self.k, prompt_k=self.prompt_k)
        if generated or (generated is None and (answer.text or answer.citations)):
            row.update(answer_row(question, answer, analysis))
            if answer.unchecked is not None:
                row.update(
                    model_row(question, answer.unchecked, final_right=row["contains_answer"], outcome=answer.outcome)
                )
        if baseline is not None:
            row.update(baseline_row(question, baseline))
        self.rows.append(row)
        return row

    def summary(self) -> dict[str, Any]:
        if not self.rows:
            return {"questions": 0}
        out = retrieval_summary(self.rows, self.k)
        generated = [r for r in self.rows if "answer" in r]
        if generated:
            out.update(answer_summary(generated))
        classified = [r for r in generated if "checks" in r]
        if classified:
            out.update(checks_summary(classified))
        baseline = [r for r in self.rows if "baseline_answer" in r]
        if baseline:
            out.update(baseline_summary(baseline))
        return out
