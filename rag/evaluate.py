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
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from rag.errors import ConfigError
from rag.loaders import read_jsonl
from rag.types import Answer, Chunk
from rag.vietnamese import fold_diacritics, is_vietnamese, nfc

RECALL_KS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    doc_id: str | None = None


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


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    pred = normalize(re.sub(r"\[\d+\]", " ", prediction))
    return any(pred == normalize(a) for a in answers)


@dataclass
class Report:
    """Running totals; summary() gives the numbers, rows the per-question records."""

    k: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, question: Question, answer: Answer, *, generated: bool | None = None) -> dict[str, Any]:
        """Record one question; generated=None infers it from the answer having text or citations."""
        chunks = [h.chunk for h in answer.retrieved]
        rank = first_hit_rank(chunks[: self.k], question)
        row: dict[str, Any] = {
            "id": question.id,
            "question": question.question,
            "answers": list(question.answers),
            "hit_rank": rank,
            "retrieved": [{"source": c.source, "chunk_id": c.chunk_id} for c in chunks[: self.k]],
            "retrieve_ms": round(answer.timings.retrieve_ms, 1),
        }
        if generated or (generated is None and (answer.text or answer.citations)):
            cited = [c.chunk for c in answer.citations]
            row.update(
                answer=answer.text,
                exact_match=exact_match(answer.text, question.answers),
                token_f1=round(token_f1(re.sub(r"\[\d+\]", " ", answer.text), question.answers), 4),
                contains_answer=contains_answer(answer.text, question.answers),
                citations=len(cited),
                cited_with_answer=sum(1 for c in cited if contains_answer(c.text, question.answers)),
                vietnamese=is_vietnamese(answer.text),
                first_token_ms=answer.timings.first_token_ms,
                total_ms=round(answer.timings.total_ms, 1),
                prompt_tokens=answer.usage.prompt_tokens,
                completion_tokens=answer.usage.completion_tokens,
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
        generated = [r for r in self.rows if "answer" in r]
        if generated:
            m = len(generated)
            citations = sum(r["citations"] for r in generated)
            first = [r["first_token_ms"] for r in generated if r["first_token_ms"] is not None]
            out.update(
                exact_match=round(sum(r["exact_match"] for r in generated) / m, 4),
                token_f1=round(sum(r["token_f1"] for r in generated) / m, 4),
                answer_containment=round(sum(r["contains_answer"] for r in generated) / m, 4),
                citation_precision=round(sum(r["cited_with_answer"] for r in generated) / citations, 4)
                if citations
                else None,
                answers_with_citation=round(sum(1 for r in generated if r["citations"]) / m, 4),
                vietnamese_share=round(sum(r["vietnamese"] for r in generated) / m, 4),
                prompt_tokens_mean=round(statistics.mean(r["prompt_tokens"] for r in generated), 1),
                first_token_ms_median=round(statistics.median(first), 1) if first else None,
                total_ms_median=round(statistics.median(r["total_ms"] for r in generated), 1),
            )
        return out
