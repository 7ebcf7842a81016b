"""Evaluation metrics: recall@k and MRR for retrieval; EM, token F1, containment, citation
precision and Vietnamese share for answers; read questions shaped like MLQA-vi.

A retrieved passage is a *hit* when it comes from the question's document (file stem equal to
``doc_id``, when the question has one) and contains a gold answer, compared after NFC and case
folding.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any

from rag.checks.analysis import Analysis, analyze
from rag.checks.grounding import is_refusal
from rag.errors import ConfigError
from rag.text.loaders import read_jsonl
from rag.text.vietnamese import fold_diacritics, nfc, passage_sentences, reads_vietnamese
from rag.types import Answer, Chunk, Hit

RECALL_KS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    doc_id: str | None = None
    title: str | None = None


def load_questions(path: Path, *, limit: int | None = None, strip_diacritics: bool = False) -> list[Question]:
    """Read `id`, `question`, `answers` (and optional `doc_id`) per JSONL line."""
    if not path.is_file():
        raise ConfigError(f"questions file {path} does not exist")

    def parse(data: dict[str, Any], line_no: int) -> Question:
        answers = data["answers"]
        answers = [answers] if isinstance(answers, str) else list(answers)
        text = nfc(str(data["question"]))
        return Question(
            id=str(data.get("id", line_no)),
            question=fold_diacritics(text) if strip_diacritics else text,
            answers=tuple(nfc(str(a)) for a in answers),
            doc_id=None if data.get("doc_id") is None else str(data["doc_id"]),
            title=None if data.get("title") is None else nfc(str(data["title"])),
        )

    questions: list[Question] = []
    for question in read_jsonl(path, parse, error=ConfigError, problem="needs JSON with 'question' and 'answers'"):
        questions.append(question)
        if limit and len(questions) >= limit:
            break
    return questions


def normalize(text: str) -> str:
    """NFC, case-folded, punctuation to spaces, single spaces: how answers are compared."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


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


def is_own_document(chunk: Chunk, question: Question) -> bool:
    """The chunk comes from the question's article (same file stem as doc_id, or same title)."""
    if question.doc_id and PurePath(chunk.source).stem == question.doc_id:
        return True
    return bool(question.title) and nfc(chunk.title) == question.title


class WithoutOwnDocument:
    """A retriever that never sees the current question's article: what an index lacking it returns.

    Turns answerable questions into unanswerable ones without building a second index
    (`rag eval --unanswerable`); set ``question`` before each search. The article's chunks are
    dropped from the dense and BM25 candidate lists before fusion, so scores are standardised
    over the remaining chunks exactly as in an index without it (only BM25 document
    frequencies still count the article).
    """

    def __init__(self, retriever: Any) -> None:
        self._retriever = retriever
        self.question: Question | None = None

    @property
    def store(self) -> Any:
        return self._retriever.store

    def search(self, query: str, k: int) -> list[Hit]:
        question = self.question
        if question is None:
            return self._retriever.search(query, k)
        return self._retriever.search(query, k, exclude=lambda chunk: is_own_document(chunk, question))


class WithoutAnswerSentence:
    """A retriever whose passages from the question's own article lack every sentence holding a gold answer.

    The adversarial unanswerable set (`rag eval --delete-answer-sentence`): the article is still
    retrieved (ranked and scored as with the sentence, so the retrieval signals look answerable)
    and everything else in it is kept, but the sentence that answers is gone. Set ``question``
    before each search.
    """

    def __init__(self, retriever: Any) -> None:
        self._retriever = retriever
        self.question: Question | None = None

    @property
    def store(self) -> Any:
        return self._retriever.store

    def search(self, query: str, k: int) -> list[Hit]:
        hits = self._retriever.search(query, k)
        question = self.question
        if question is None:
            return hits
        return [
            replace(h, chunk=without_answer(h.chunk, question)) if is_own_document(h.chunk, question) else h
            for h in hits
        ]


def without_answer(chunk: Chunk, question: Question) -> Chunk:
    """The chunk without its sentences that contain a gold answer (line breaks kept)."""
    text = chunk.text
    cuts = [(a, b) for a, b in passage_sentences(text) if contains_answer(text[a:b], question.answers)]
    if not cuts:
        return chunk
    kept, position = [], 0
    for a, b in cuts:
        kept.append(text[position:a])
        position = b
    kept.append(text[position:])
    return replace(chunk, text=re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip())


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


# What the checks did with the model's own answer (checks off), per question: the checks as a classifier.
CHECK_CLASSES = (
    "right_kept",
    "right_lost_dropped",  # answered, but the sentence holding the gold answer was dropped
    "right_lost_replaced",  # replaced by an extractive sentence without it
    "right_lost_refused",
    "wrong_refused",
    "wrong_rescued",  # replaced by an extractive sentence holding the gold answer
    "wrong_replaced_wrong",
    "wrong_kept",
)


def check_class(model_right: bool, final_right: bool, outcome: str) -> str:
    """One of CHECK_CLASSES: was the model's answer right, and what did the checks make of it.

    A hedge ("Tài liệu không nêu trực tiếp điều này; đoạn gần nhất: …") counts as a refusal
    unless the sentence it offers holds the gold answer.
    """
    refused = outcome in ("refused", "hedged")
    if model_right:
        if final_right:
            return "right_kept"
        if refused:
            return "right_lost_refused"
        return "right_lost_replaced" if outcome == "extractive" else "right_lost_dropped"
    if refused and not final_right:
        return "wrong_refused"
    if final_right:
        return "wrong_rescued"
    return "wrong_replaced_wrong" if outcome == "extractive" else "wrong_kept"


def checks_table(summary: dict[str, Any]) -> str:
    """The checks' confusion table of a summary, for people (rag eval prints it)."""
    counts, n = summary["checks"], summary["questions"]
    right = sum(v for k, v in counts.items() if k.startswith("right"))
    lines = [f"the model alone (checks off) was right on {right} of {n}; what the checks did with its answer:"]
    labels = {
        "right_kept": "right, kept",
        "right_lost_dropped": "right, lost: dropped (harm)",
        "right_lost_replaced": "right, lost: replaced (harm)",
        "right_lost_refused": "right, lost: refused (harm)",
        "wrong_refused": "wrong, refused",
        "wrong_rescued": "wrong, replaced by a right extractive answer (rescue)",
        "wrong_replaced_wrong": "wrong, replaced by a wrong one",
        "wrong_kept": "wrong, kept",
    }
    lines += [f"  {labels[c]:<56} {counts[c]:>4}" for c in CHECK_CLASSES]
    return "\n".join(lines)


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
        chunks = [h.chunk for h in answer.retrieved]
        rank = first_hit_rank(chunks[: self.k], question)
        analysis = _analysis(question, answer, self.prompt_k)
        row: dict[str, Any] = {
            "id": question.id,
            "question": question.question,
            "answers": list(question.answers),
            "hit_rank": rank,
            "retrieved": [{"source": c.source, "chunk_id": c.chunk_id} for c in chunks[: self.k]],
            "retrieve_ms": round(answer.timings.retrieve_ms, 1),
            "evidence": round(analysis.evidence, 4),
            "answer_in_prompt_passages": any(
                contains_answer(c.text, question.answers) for c in chunks[: self.prompt_k]
            ),
        }
        if generated or (generated is None and (answer.text or answer.citations)):
            cited = [c.chunk for c in answer.citations]
            row.update(
                answer=answer.text,
                exact_match=exact_match(answer.text, question.answers),
                token_f1=round(token_f1(_unmarked(answer.text), question.answers), 4),
                contains_answer=contains_answer(answer.text, question.answers),
                citations=len(cited),
                cited_with_answer=sum(1 for c in cited if contains_answer(c.text, question.answers)),
                vietnamese=reads_vietnamese(answer.text, context=analysis.restrict(answer.passages).context())
                if answer.passages
                else reads_vietnamese(answer.text, context=analysis.context()),
                first_token_ms=answer.timings.first_token_ms,
                total_ms=round(answer.timings.total_ms, 1),
                prompt_tokens=answer.usage.prompt_tokens,
                completion_tokens=answer.usage.completion_tokens,
                refused=answer.refused or is_refusal(answer.text),
                refusal_reason=answer.refusal_reason,
                read_as=answer.read_as,
                outcome=answer.outcome,
                short_answer=answer.short_answer,
                short_token_f1=round(token_f1(answer.short_answer or "", question.answers), 4),
                short_exact_match=exact_match(answer.short_answer or "", question.answers),
                sentences=[asdict(s) for s in answer.sentences],
                passages=[h.chunk.chunk_id for h in answer.passages],
            )
            if answer.unchecked is not None:
                model_right = contains_answer(answer.unchecked, question.answers)
                row.update(
                    model_answer=answer.unchecked,
                    model_contains_answer=model_right,
                    model_token_f1=round(token_f1(_unmarked(answer.unchecked), question.answers), 4),
                    checks=check_class(model_right, row["contains_answer"], answer.outcome),
                )
        if baseline is not None:
            cited = [c.chunk for c in baseline.citations]
            row.update(
                baseline_answer=baseline.text,
                baseline_contains_answer=contains_answer(baseline.text, question.answers),
                baseline_token_f1=round(token_f1(_unmarked(baseline.text), question.answers), 4),
                baseline_exact_match=exact_match(baseline.text, question.answers),
                baseline_citations=len(cited),
                baseline_cited_with_answer=sum(1 for c in cited if contains_answer(c.text, question.answers)),
            )
        self.rows.append(row)
        return row

    def summary(self) -> dict[str, Any]:
        n = len(self.rows)
        if not n:
            return {"questions": 0}
        ranks = [r["hit_rank"] for r in self.rows]
        out: dict[str, Any] = {"questions": n}
        for k in RECALL_KS:
            if k <= self.k:
                out[f"recall@{k}"] = round(sum(1 for r in ranks if r is not None and r <= k) / n, 4)
        out[f"mrr@{self.k}"] = round(sum(1 / r for r in ranks if r is not None) / n, 4)
        out["retrieve_ms_median"] = round(statistics.median(r["retrieve_ms"] for r in self.rows), 1)
        # with --unanswerable, a distractor may still hold the gold string (then answering is not wrong)
        out["answer_in_prompt_passages"] = round(sum(r["answer_in_prompt_passages"] for r in self.rows) / n, 4)
        generated = [r for r in self.rows if "answer" in r]
        if generated:
            m = len(generated)
            citations = sum(r["citations"] for r in generated)
            # answers refused before the model was asked have no prompt: timings and sizes are of model calls
            called = [r for r in generated if r["prompt_tokens"]]
            first = [r["first_token_ms"] for r in called if r["first_token_ms"] is not None]
            sentences = [s for r in generated for s in r["sentences"]]
            out.update(
                refusal_rate=round(sum(r["refused"] for r in generated) / m, 4),
                refusals_by_reason={
                    reason: round(sum(r["refusal_reason"] == reason for r in generated) / m, 4)
                    for reason in sorted({r["refusal_reason"] for r in generated if r["refusal_reason"]})
                },
                extractive_share=round(sum(r["outcome"] == "extractive" for r in generated) / m, 4),
                hedged_share=round(sum(r["outcome"] == "hedged" for r in generated) / m, 4),
                unchecked_share=round(sum(r["outcome"] == "unchecked" for r in generated) / m, 4),
                short_answer_token_f1=round(sum(r["short_token_f1"] for r in generated) / m, 4),
                short_answer_exact_match=round(sum(r["short_exact_match"] for r in generated) / m, 4),
                dropped_sentence_share=round(sum(s["status"] == "unsupported" for s in sentences) / len(sentences), 4)
                if sentences
                else None,
                exact_match=round(sum(r["exact_match"] for r in generated) / m, 4),
                token_f1=round(sum(r["token_f1"] for r in generated) / m, 4),
                answer_containment=round(sum(r["contains_answer"] for r in generated) / m, 4),
                citation_precision=round(sum(r["cited_with_answer"] for r in generated) / citations, 4)
                if citations
                else None,
                # the same over answers that contain a gold answer: do right answers cite the right passage?
                citation_precision_correct=_ratio(
                    sum(r["cited_with_answer"] for r in generated if r["contains_answer"]),
                    sum(r["citations"] for r in generated if r["contains_answer"]),
                ),
                answers_with_citation=round(sum(1 for r in generated if r["citations"]) / m, 4),
                vietnamese_share=round(sum(r["vietnamese"] for r in generated) / m, 4),
                model_calls=len(called),
                prompt_tokens_mean=round(statistics.mean(r["prompt_tokens"] for r in called), 1) if called else None,
                first_token_ms_median=round(statistics.median(first), 1) if first else None,
                total_ms_median=round(statistics.median(r["total_ms"] for r in generated), 1),
            )
        classified = [r for r in generated if "checks" in r]
        if classified:
            m = len(classified)
            right = [r for r in classified if r["model_contains_answer"]]
            out["checks"] = {c: sum(r["checks"] == c for r in classified) for c in CHECK_CLASSES}
            out.update(
                model_containment=round(len(right) / m, 4),
                model_token_f1=round(sum(r["model_token_f1"] for r in classified) / m, 4),
                # the harm: the model's right answers the checks dropped, replaced or refused
                checks_lost_right=_ratio(sum(not r["contains_answer"] for r in right), len(right)),
            )
        baseline = [r for r in self.rows if "baseline_answer" in r]
        if baseline:
            m = len(baseline)
            cites = sum(r["baseline_citations"] for r in baseline)
            out.update(
                baseline_containment=round(sum(r["baseline_contains_answer"] for r in baseline) / m, 4),
                baseline_token_f1=round(sum(r["baseline_token_f1"] for r in baseline) / m, 4),
                baseline_exact_match=round(sum(r["baseline_exact_match"] for r in baseline) / m, 4),
                baseline_citation_precision=_ratio(sum(r["baseline_cited_with_answer"] for r in baseline), cites),
            )
        return out
