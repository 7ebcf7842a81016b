"""The one JSON shape of an answer (rag ask --json, the HTTP API, eval): exact fields, in order."""

from __future__ import annotations

import json

from rag.answer.record import answer_record
from rag.types import Answer, Chunk, Citation, Hit, SentenceSupport, Timings, Usage

TEXT = "Hà Nội là thủ đô của Việt Nam từ năm 1976."
HANOI = Chunk("ha-noi-00000", "docs/ha-noi.txt", "Hà Nội", TEXT, 0, len(TEXT))
CHUNK_FIELDS = {
    "source": "docs/ha-noi.txt",
    "title": "Hà Nội",
    "chunk_id": "ha-noi-00000",
    "text": TEXT,
    "start": 0,
    "end": len(TEXT),
    "page": None,
    "page_end": None,
    "location": HANOI.location,
}


def test_answer_record_has_every_field_in_order() -> None:
    answer = Answer(
        question="Thủ đô của Việt Nam là gì?",
        text="Thủ đô là Hà Nội [1].",
        citations=(Citation(1, HANOI),),
        retrieved=(Hit(HANOI, 0.12345678, 1),),
        invalid_markers=(3,),
        timings=Timings(retrieve_ms=12.345, first_token_ms=None, total_ms=99.96),
        usage=Usage(410, 7),
        sentences=(SentenceSupport("Thủ đô là Hà Nội [1].", (1,), 1, 1.0, "supported", (0, len(TEXT))),),
        short_answer="Hà Nội",
    )
    record = answer_record(answer, "q1")
    assert record == {
        "id": "q1",
        "question": "Thủ đô của Việt Nam là gì?",
        "answer": "Thủ đô là Hà Nội [1].",
        "citations": [{"marker": 1} | CHUNK_FIELDS],
        "invalid_markers": [3],
        "retrieved": [{"rank": 1} | CHUNK_FIELDS | {"score": 0.123457}],
        "timings": {"retrieve_ms": 12.3, "first_token_ms": None, "total_ms": 100.0},
        "usage": {"prompt_tokens": 410, "completion_tokens": 7},
        "outcome": "answered",
        "short_answer": "Hà Nội",
        "refused": False,
        "refusal_reason": None,
        "read_as": None,
        "sentences": [
            {
                "text": "Thủ đô là Hà Nội [1].",
                "cited": [1],
                "supported_by": 1,
                "score": 1.0,
                "status": "supported",
                "span": [0, len(TEXT)],
            }
        ],
    }
    # the order is part of the shape: clients that print the JSON see the same layout as before
    assert list(record["retrieved"][0]) == ["rank", *CHUNK_FIELDS, "score"]
    assert list(record["citations"][0]) == ["marker", *CHUNK_FIELDS]
    assert json.loads(json.dumps(record, ensure_ascii=False)) == record
    assert answer_record(Answer("q", "", timings=Timings(first_token_ms=43.21)))["timings"]["first_token_ms"] == 43.2
