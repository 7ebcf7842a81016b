"""The one JSON shape of an answer, shared by `rag ask --json`, the HTTP API, the chat and eval."""

from __future__ import annotations

import re
from typing import Any

from rag.types import Answer, Chunk, SentenceSupport, Timings

# what the checks add to an answer that was otherwise kept as streamed: citation markers, a full stop
_ONLY_MARKERS = re.compile(r"(\s*\[\d+\])*\s*[.!?…]?")
_CHECKED_LABELS = {"refused": "Kết quả kiểm tra", "hedged": "Kết quả kiểm tra", "extractive": "Trích từ tài liệu"}


def answer_record(answer: Answer, record_id: str | None = None) -> dict[str, Any]:
    """The stable JSON shape of one answer (see README, 'Machine-readable output')."""
    return {
        "id": record_id,
        "question": answer.question,
        "answer": answer.text,
        "citations": [{"marker": c.marker} | chunk_record(c.chunk) for c in answer.citations],
        "invalid_markers": list(answer.invalid_markers),
        "retrieved": [
            {"rank": h.rank} | chunk_record(h.chunk) | {"score": round(h.score, 6)} for h in answer.retrieved
        ],
        "timings": timings_record(answer.timings),
        "usage": {"prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens},
        "outcome": answer.outcome,
        "short_answer": answer.short_answer,
        "refused": answer.refused,
        "refusal_reason": answer.refusal_reason,
        "read_as": answer.read_as,
        "sentences": [sentence_record(s) for s in answer.sentences],
    }


def chunk_record(chunk: Chunk) -> dict[str, Any]:
    """Where a cited or retrieved passage comes from, and its text: the same fields in both lists."""
    return {
        "source": chunk.source,
        "title": chunk.title,
        "chunk_id": chunk.chunk_id,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "page": chunk.page,
        "page_end": chunk.page_end,
        "location": chunk.location,
    }


def timings_record(timings: Timings) -> dict[str, float | None]:
    """Milliseconds, to 0.1 ms; first_token_ms is None where the model was never asked."""
    first = timings.first_token_ms
    return {
        "retrieve_ms": round(timings.retrieve_ms, 1),
        "first_token_ms": None if first is None else round(first, 1),
        "total_ms": round(timings.total_ms, 1),
    }


def sentence_record(sentence: SentenceSupport) -> dict[str, Any]:
    """One answer sentence and what the checks found for it (span: where it sits in the supporting passage)."""
    return {
        "text": sentence.text,
        "cited": list(sentence.cited),
        "supported_by": sentence.supported_by,
        "score": sentence.score,
        "status": sentence.status,
        "span": list(sentence.span) if sentence.span is not None else None,
    }


def stream_tail(streamed: str, answer: Answer) -> str:
    """What to show after the streamed text so the reader ends with the checked answer.

    Only markers added by the check: the rest of the line. Otherwise the checked answer under a
    label ("Kết quả kiểm tra: ..."), since the streamed text is not what the checks kept.
    """
    shown = streamed.strip()
    if shown and answer.text.startswith(shown) and _ONLY_MARKERS.fullmatch(answer.text[len(shown) :]):
        return answer.text[len(shown) :]
    if answer.text and answer.text != shown:
        label = _CHECKED_LABELS.get(answer.outcome, "Sau kiểm tra")
        return f"\n\n{label}: {answer.text}"
    return ""
