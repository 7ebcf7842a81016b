"""What the HTTP API reads and writes: OpenAI-shaped request bodies, completions and Server-Sent Events.

The extra top-level fields of a completion (citations, refusal_reason, sentences, ...) are those
of ``rag ask --json`` (rag.answer.record).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import anyio
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from rag.answer.record import answer_record, stream_tail
from rag.answer.summary_settings import MAX_SENTENCES_ASKED
from rag.errors import RagError
from rag.server.errors import ApiError, error_body, from_rag_error
from rag.types import Answer

log = logging.getLogger(__name__)

MODEL_ID = "rag-vi"

# --- request bodies -------------------------------------------------------------------------------


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: only the text ones are read
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # unknown OpenAI options (top_p, n, user, ...) are accepted and ignored
    model: str = MODEL_ID
    messages: list[ChatMessage]
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0.0, le=2.0)


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    input: str | list[str]
    model: str | None = None
    encoding_format: str = Field("float", pattern="^(float|base64)$")
    input_type: str = Field("passage", pattern="^(passage|query)$")  # e5 embeds the two differently


class RetrieveRequest(BaseModel):
    query: str
    k: int = Field(4, ge=1, le=100)


class SummaryRequest(BaseModel):
    """POST /v1/summaries: a document's summary (narrowed to a topic when one is given), or a topic's across
    the index (as `rag summarize`)."""

    document: str | None = None  # an id of GET /v1/documents, or the source path, file name or title
    topic: str | None = None
    sentences: int | None = Field(None, ge=1, le=MAX_SENTENCES_ASKED)
    k: int = Field(8, ge=1, le=100)  # passages a topic summary without a document reads
    max_tokens: int | None = Field(None, ge=1, le=4096)
    stream: bool = False


def split_conversation(messages: list[ChatMessage]) -> tuple[list[tuple[str, str]], str]:
    """(earlier (question, answer) turns, the last user message); ApiError 400 without a user message."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise ApiError(
            400,
            "messages has no message with role 'user': the last user message is the question",
            code="no_user_message",
        )
    history: list[tuple[str, str]] = []
    question: str | None = None
    for m in messages[:last]:
        if m.role == "user":
            question = m.text()
        elif m.role == "assistant" and question is not None:
            history.append((question, m.text()))
            question = None
    return history, messages[last].text()


# --- responses ------------------------------------------------------------------------------------


def _record(answer: Answer) -> dict[str, Any]:
    """The rag ask --json (or rag summarize --json) fields, less the record's id: the response has its own."""
    record = answer_record(answer)
    del record["id"]
    return record


def _extras(answer: Answer) -> dict[str, Any]:
    """The rag ask --json fields, at the top level of a completion (OpenAI's own id and usage win)."""
    record = _record(answer)
    usage = record.pop("usage")
    return record | {"usage": usage | {"total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}}


def completion(answer: Answer, completion_id: str, created: int) -> dict[str, Any]:
    message = {"role": "assistant", "content": answer.text, "refusal": None}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
    } | _extras(answer)


def _chunk(completion_id: str, created: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def _ended(events: Iterator[str], what: str) -> Iterator[str]:
    """The events, then [DONE]; a library error on the way is sent as an OpenAI error event before it."""
    try:
        yield from events
    except RagError as e:
        error = from_rag_error(e)
        log.warning("streamed %s failed: %s", what, e)
        yield _sse(error_body(error.message, error.kind, error.code))
    yield _sse("[DONE]")


def sse_events(events: Iterator[str | Answer], completion_id: str, created: int) -> Iterator[str]:
    """Server-Sent Events of one answer: text deltas, then a last chunk with the checked answer, then [DONE]."""

    def chunks() -> Iterator[str]:
        yield _sse(_chunk(completion_id, created, {"role": "assistant", "content": ""}))
        streamed = ""
        for event in events:
            if isinstance(event, Answer):
                tail = stream_tail(streamed, event)  # plain clients end with what the checks kept
                last = _chunk(completion_id, created, {"content": tail} if tail else {}, "stop") | _extras(event)
                yield _sse(last)
            else:
                streamed += event
                yield _sse(_chunk(completion_id, created, {"content": event}))

    return _ended(chunks(), "answer")


def summary_body(answer: Answer, summary_id: str, created: int, document: str | None) -> dict[str, Any]:
    """A summary as the API returns it: its id and document, then the fields of `rag summarize --json`."""
    return {"id": summary_id, "object": "summary", "created": created, "document": document} | _record(answer)


def summary_events(
    events: Iterator[str | Answer], summary_id: str, created: int, document: str | None
) -> Iterator[str]:
    """Server-Sent Events of one summary: its checked sentences as they come, the whole summary, then [DONE]."""

    def chunks() -> Iterator[str]:
        for event in events:
            if isinstance(event, Answer):
                yield _sse(summary_body(event, summary_id, created, document))
            else:
                yield _sse({"id": summary_id, "object": "summary.chunk", "created": created, "delta": event})

    return _ended(chunks(), "summary")


class ClosingStreamingResponse(StreamingResponse):
    """A streamed answer whose generator is closed when the response ends, also when the client hangs up.

    Closing it releases the model at once (the in-process LLM holds a lock while it generates);
    left to the garbage collector, a hung-up stream kept the model busy (measured: > 10 s).
    """

    def __init__(self, events: Iterator[str], **kwargs: Any) -> None:
        super().__init__(events, **kwargs)
        self._events = events

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._events.close)  # type: ignore[attr-defined]
