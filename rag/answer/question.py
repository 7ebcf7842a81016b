"""A question as the assistant takes it, and the final answer of a stream of one."""

from __future__ import annotations

from collections.abc import Iterator

from rag.errors import QuestionError
from rag.text.vietnamese import nfc
from rag.types import Answer


def check_question(question: str, *, max_chars: int) -> str:
    """NFC, trimmed question; QuestionError when empty or too long."""
    question = nfc(question or "").strip()
    if not question:
        raise QuestionError('the question is empty: type a question, e.g. rag ask "Ai là tác giả?"')
    if len(question) > max_chars:
        raise QuestionError(
            f"the question has {len(question)} characters, the limit is {max_chars}: "
            "shorten it (or raise max_question_chars)"
        )
    return question


def collect(events: Iterator[str | Answer]) -> Answer:
    """The final Answer of a stream (answers or summaries), draining the text pieces."""
    for event in events:
        if isinstance(event, Answer):
            return event
    raise RuntimeError("assistant stream ended without an answer")  # unreachable by construction
