"""The one JSON shape of an answer, shared by `rag ask --json`, the HTTP API, the chat and eval."""

from __future__ import annotations

import re
from typing import Any

from rag.types import Answer

# what the checks add to an answer that was otherwise kept as streamed: citation markers, a full stop
_ONLY_MARKERS = re.compile(r"(\s*\[\d+\])*\s*[.!?…]?")
_CHECKED_LABELS = {"refused": "Kết quả kiểm tra", "hedged": "Kết quả kiểm tra", "extractive": "Trích từ tài liệu"}


def answer_record(answer: Answer, record_id: str | None = None) -> dict[str, Any]:
    """The stable JSON shape of one answer (see README, 'Machine-readable output')."""
    return {
        "id": record_id,
        "question": answer.question,
        "answer": answer.text,
        "citations": [
            {
                "marker": c.marker,
                "source": c.chunk.source,
                "title": c.chunk.title,
                "chunk_id": c.chunk.chunk_id,
                "text": c.chunk.text,
                "start": c.chunk.start,
                "end": c.chunk.end,
                "page": c.chunk.page,
                "page_end": c.chunk.page_end,
                "location": c.chunk.location,
            }
            for c in answer.citations
        ],
        "invalid_markers": list(answer.invalid_markers),
        "retrieved": [
            {
                "rank": h.rank,
                "source": h.chunk.source,
                "title": h.chunk.title,
                "chunk_id": h.chunk.chunk_id,
                "text": h.chunk.text,
                "start": h.chunk.start,
                "end": h.chunk.end,
                "page": h.chunk.page,
                "page_end": h.chunk.page_end,
                "location": h.chunk.location,
                "score": round(h.score, 6),
            }
            for h in answer.retrieved
        ],
        "timings": {
            "retrieve_ms": round(answer.timings.retrieve_ms, 1),
            "first_token_ms": None
            if answer.timings.first_token_ms is None
            else round(answer.timings.first_token_ms, 1),
            "total_ms": round(answer.timings.total_ms, 1),
        },
        "usage": {"prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens},
        "outcome": answer.outcome,
        "short_answer": answer.short_answer,
        "refused": answer.refused,
        "refusal_reason": answer.refusal_reason,
        "read_as": answer.read_as,
        "sentences": [
            {
                "text": s.text,
                "cited": list(s.cited),
                "supported_by": s.supported_by,
                "score": s.score,
                "status": s.status,
                "span": list(s.span) if s.span is not None else None,
            }
            for s in answer.sentences
        ],
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
