"""The OpenAI-compatible HTTP API (`rag serve`): chat completions with checked, cited answers.

Standard clients see an ordinary model called ``rag-vi``; the extra top-level fields (citations,
refusal_reason, sentences, ...) are those of ``rag ask --json`` (rag.answer.record). Errors are
OpenAI-shaped: ``{"error": {"message", "type", "code"}}``.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import numpy as np
from fastapi import APIRouter, Depends, FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.answer.assistant import check_question, collect
from rag.answer.record import answer_record, stream_tail
from rag.errors import (
    ConfigError,
    IndexLockedError,
    IndexNotFoundError,
    LlmServerError,
    LoaderError,
    QuestionError,
    RagError,
)
from rag.server.service import NotReadyError, Service, UploadTooLargeError, document_id
from rag.types import Answer

log = logging.getLogger(__name__)

MODEL_ID = "rag-vi"


class ApiError(Exception):
    """An error answered as OpenAI-shaped JSON with its HTTP status."""

    def __init__(self, status: int, message: str, *, code: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind


def error_body(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _from_rag_error(e: RagError) -> ApiError:
    """The HTTP status and code of a library error."""
    if isinstance(e, NotReadyError):
        return ApiError(503, str(e), code="model_loading", kind="service_unavailable_error")
    if isinstance(e, QuestionError):
        text = str(e)
        code = "empty_question" if "empty" in text else "question_too_long" if "limit is" in text else "bad_request"
        return ApiError(400, text, code=code)
    if isinstance(e, UploadTooLargeError):
        return ApiError(413, str(e), code="file_too_large")
    if isinstance(e, IndexNotFoundError):
        return ApiError(404, str(e), code="index_not_found")
    if isinstance(e, LoaderError | ConfigError):
        return ApiError(400, str(e), code="bad_request")
    if isinstance(e, IndexLockedError):
        return ApiError(503, str(e), code="index_locked", kind="service_unavailable_error")
    if isinstance(e, LlmServerError):
        return ApiError(502, str(e), code="llm_server_error", kind="server_error")
    return ApiError(500, str(e), code="internal_error", kind="server_error")


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


def _extras(answer: Answer) -> dict[str, Any]:
    """The rag ask --json fields, at the top level of a completion (OpenAI's own id and usage win)."""
    record = answer_record(answer)
    del record["id"]
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


def sse_events(events: Iterator[str | Answer], completion_id: str, created: int) -> Iterator[str]:
    """Server-Sent Events of one answer: text deltas, then a last chunk with the checked answer, then [DONE]."""
    yield _sse(_chunk(completion_id, created, {"role": "assistant", "content": ""}))
    streamed = ""
    try:
        for event in events:
            if isinstance(event, Answer):
                tail = stream_tail(streamed, event)  # plain clients end with what the checks kept
                last = _chunk(completion_id, created, {"content": tail} if tail else {}, "stop") | _extras(event)
                yield _sse(last)
            else:
                streamed += event
                yield _sse(_chunk(completion_id, created, {"content": event}))
    except RagError as e:
        error = _from_rag_error(e)
        log.warning("streamed answer failed: %s", e)
        yield _sse(error_body(error.message, error.kind, error.code))
    yield _sse("[DONE]")


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


# --- the app ----------------------------------------------------------------------------------------


def create_app(service: Service, *, api_key: str = "") -> FastAPI:
    """The FastAPI app of `rag serve`; api_key: every /v1 route then needs ``Authorization: Bearer <key>``."""
    app = FastAPI(title="rag-vi", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    def authorise(request: Request) -> None:
        if not api_key:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise ApiError(
                401,
                "missing or wrong API key: send Authorization: Bearer <key>",
                code="invalid_api_key",
                kind="authentication_error",
            )

    router = APIRouter(prefix="/v1", dependencies=[Depends(authorise)])

    @app.middleware("http")
    async def upload_limit(request: Request, call_next):  # noqa: ANN001, ANN202 - Starlette's middleware shape
        """Refuse an oversized upload from its Content-Length, before the body is read."""
        limit = service.settings.max_upload_mb * 2**20 + 2**16  # room for the multipart framing
        length = request.headers.get("content-length", "")
        if request.url.path == "/v1/documents" and length.isdigit() and int(length) > limit:
            message = f"the upload is {int(length) / 2**20:.1f} MB, over the {service.settings.max_upload_mb} MB limit"
            return JSONResponse(error_body(message, "invalid_request_error", "file_too_large"), status_code=413)
        return await call_next(request)

    @router.get("/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "rag-vi"}]}

    @router.post("/chat/completions", response_model=None)
    def chat(body: ChatRequest) -> dict[str, Any] | StreamingResponse:
        if body.model != MODEL_ID:
            raise ApiError(
                404, f"model {body.model!r} does not exist: use {MODEL_ID!r} (GET /v1/models)", code="model_not_found"
            )
        history, question = split_conversation(body.messages)
        settings = service.settings
        check_question(question, max_chars=settings.max_question_chars)
        service.require_ready()
        assistant = service.assistant()
        standalone = assistant.condense(history, question) if history else question
        events = assistant.stream(
            standalone, max_tokens=body.max_completion_tokens or body.max_tokens, temperature=body.temperature
        )
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.stream:
            return ClosingStreamingResponse(sse_events(events, completion_id, created), media_type="text/event-stream")
        return completion(collect(events), completion_id, created)

    @router.post("/embeddings")
    def embeddings(body: EmbeddingsRequest) -> dict[str, Any]:
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts or any(not t.strip() for t in texts):
            raise ApiError(400, "input must be a non-empty string or a list of non-empty strings", code="empty_input")
        if len(texts) > 2048:
            raise ApiError(400, f"input has {len(texts)} strings, the limit is 2048", code="too_many_inputs")
        service.require_ready()
        embedder = service.embedder
        if body.input_type == "query":
            vectors = np.stack([embedder.embed_query(t) for t in texts])
        else:
            vectors = embedder.embed_passages(texts)
        vectors = np.asarray(vectors, dtype=np.float32)
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(v.tobytes()).decode() if body.encoding_format == "base64" else v.tolist(),
            }
            for i, v in enumerate(vectors)
        ]
        tokens = sum(len(t.split()) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": embedder.model_id,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @router.post("/retrieve")
    def retrieve(body: RetrieveRequest) -> dict[str, Any]:
        check_question(body.query, max_chars=service.settings.max_question_chars)
        service.require_ready()
        answer = service.assistant().ask(body.query, k=body.k, retrieve_only=True)
        return {"object": "list", "query": answer.question, "data": answer_record(answer)["retrieved"]}

    def document(source: str, record: Any) -> dict[str, Any]:
        return {
            "id": document_id(source),
            "object": "document",
            "source": source,
            "filename": source.rsplit("/", 1)[-1],
            "title": record.title,
            "chunks": len(record.ids),
        }

    @router.get("/documents")
    def list_documents() -> dict[str, Any]:
        service.require_ready()
        store = service.store()
        items = sorted(store.documents.items()) if store else []
        return {"object": "list", "data": [document(s, r) for s, r in items]}

    @router.post("/documents")
    def upload(request: Request, file: UploadFile = File(...)) -> dict[str, Any]:  # noqa: B008 - FastAPI's idiom
        service.require_ready()
        limit = service.settings.max_upload_mb * 2**20
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise UploadTooLargeError(
                f"{file.filename} is over the {service.settings.max_upload_mb} MB limit "
                "(raise it with RAG_MAX_UPLOAD_MB)"
            )
        source, report = service.add_file(file.filename, data)
        failed = dict(report.failed)
        if source in failed:
            raise ApiError(400, f"{file.filename} could not be read: {failed[source]}", code="unreadable_file")
        store = service.store()
        assert store is not None
        return document(source, store.documents[source]) | {"bytes": len(data), "created_at": int(time.time())}

    @router.delete("/documents/{doc_id}")
    def delete_document(doc_id: str) -> dict[str, Any]:
        service.require_ready()
        store = service.store()
        sources = [s for s in (store.documents if store else {}) if document_id(s) == doc_id]
        if not sources:
            raise ApiError(
                404, f"no document with id {doc_id!r}: GET /v1/documents lists them", code="document_not_found"
            )
        service.remove(sources[0])
        return {"id": doc_id, "object": "document", "deleted": True}

    app.include_router(router)
    _install_error_handlers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    def answer(error: ApiError) -> JSONResponse:
        return JSONResponse(error_body(error.message, error.kind, error.code), status_code=error.status)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, e: ApiError) -> JSONResponse:
        return answer(e)

    @app.exception_handler(RagError)
    async def rag_error(_request: Request, e: RagError) -> JSONResponse:
        error = _from_rag_error(e)
        if error.status >= 500 and error.status != 503:
            log.warning("request failed: %s", e)
        return answer(error)

    @app.exception_handler(RequestValidationError)
    async def bad_body(_request: Request, e: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'body'}: {err.get('msg')}" for err in e.errors()
        )
        return answer(ApiError(400, f"invalid request: {problems}", code="invalid_request"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(e.status_code, "http_error")
        return answer(ApiError(e.status_code, str(e.detail), code=code))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, e: Exception) -> JSONResponse:
        log.exception("unexpected failure")
        return answer(
            ApiError(500, f"internal error: {type(e).__name__}: {e}", code="internal_error", kind="server_error")
        )
