"""The /v1 routes of `rag serve`: models, chat completions, embeddings, retrieval, summaries and the documents.

Each handler reads the app's Service (``app.state.service``) through the ``service`` dependency;
create_app (rag.server.app) adds the API-key check when it includes the router.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import StreamingResponse

from rag.answer.question import check_question, collect
from rag.answer.record import answer_record
from rag.errors import DocumentNotFoundError
from rag.index.base import find_document
from rag.server.errors import ApiError
from rag.server.service import Service, UploadTooLargeError, document_id
from rag.server.wire import (
    MODEL_ID,
    ChatRequest,
    ClosingStreamingResponse,
    EmbeddingsRequest,
    RetrieveRequest,
    SummaryRequest,
    completion,
    split_conversation,
    sse_events,
    summary_body,
    summary_events,
)

router = APIRouter(prefix="/v1")
MAX_EMBEDDING_INPUTS = 2048


def service_of(request: Request) -> Service:
    """The Service of the app handling the request."""
    return request.app.state.service


ServiceOf = Depends(service_of)


@router.get("/models")
def models() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "rag-vi"}]}


@router.post("/chat/completions", response_model=None)
def chat(body: ChatRequest, service: Service = ServiceOf) -> dict[str, Any] | StreamingResponse:
    if body.model != MODEL_ID:
        raise ApiError(
            404, f"model {body.model!r} does not exist: use {MODEL_ID!r} (GET /v1/models)", code="model_not_found"
        )
    history, question = split_conversation(body.messages)
    check_question(question, max_chars=service.settings.max_question_chars)
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


def embedding_texts(body: EmbeddingsRequest) -> list[str]:
    """The strings to embed; ApiError 400 for an empty one or more than MAX_EMBEDDING_INPUTS."""
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or any(not t.strip() for t in texts):
        raise ApiError(400, "input must be a non-empty string or a list of non-empty strings", code="empty_input")
    if len(texts) > MAX_EMBEDDING_INPUTS:
        raise ApiError(
            400, f"input has {len(texts)} strings, the limit is {MAX_EMBEDDING_INPUTS}", code="too_many_inputs"
        )
    return texts


@router.post("/embeddings")
def embeddings(body: EmbeddingsRequest, service: Service = ServiceOf) -> dict[str, Any]:
    texts = embedding_texts(body)
    service.require_ready()
    embedder = service.embedder
    if body.input_type == "query":
        vectors = np.stack([embedder.embed_query(t) for t in texts])
    else:
        vectors = embedder.embed_passages(texts)
    vectors = np.asarray(vectors, dtype=np.float32)
    as_base64 = body.encoding_format == "base64"
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(v.tobytes()).decode() if as_base64 else v.tolist(),
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
def retrieve(body: RetrieveRequest, service: Service = ServiceOf) -> dict[str, Any]:
    check_question(body.query, max_chars=service.settings.max_question_chars)
    service.require_ready()
    answer = service.assistant().ask(body.query, k=body.k, retrieve_only=True)
    return {"object": "list", "query": answer.question, "data": answer_record(answer)["retrieved"]}


@router.post("/summaries", response_model=None)
def summarize(body: SummaryRequest, service: Service = ServiceOf) -> dict[str, Any] | StreamingResponse:
    """A cited summary: of a document (only its facts on a topic, when one is given), or of a topic across the
    index's documents, each fact cited to its own; streamed sentence by sentence with "stream": true."""
    topic = (body.topic or "").strip() or None
    if body.document is None and topic is None:
        raise ApiError(
            400,
            "give a document (an id of GET /v1/documents, or its source path, file name or title) or a topic",
            code="nothing_to_summarize",
        )
    if topic is not None:
        check_question(topic, max_chars=service.settings.max_question_chars)
    service.require_ready()
    assistant, store = service.current()
    doc_id = None
    if body.document is not None:
        source = find_source(store.documents, body.document)
        doc_id = document_id(source)
        chunks = store.chunks_of(source)
        on_topic, topic = topic is not None, topic or store.documents[source].title
    else:
        assert topic is not None
        chunks, on_topic = assistant.topic_passages(topic, k=body.k), True
    events = assistant.summarize(
        chunks, topic=topic, max_tokens=body.max_tokens, on_topic=on_topic, sentences=body.sentences
    )
    summary_id, created = f"sum-{uuid.uuid4().hex[:24]}", int(time.time())
    if body.stream:
        stream = summary_events(events, summary_id, created, doc_id)
        return ClosingStreamingResponse(stream, media_type="text/event-stream")
    return summary_body(collect(events), summary_id, created, doc_id)


def find_source(documents: Mapping[str, Any], name: str) -> str:
    """The source a request names: a document id of GET /v1/documents, else as `rag summarize DOC` reads DOC."""
    source = source_with_id(documents, name)
    if source is not None:
        return source
    try:
        return find_document(documents, name)
    except DocumentNotFoundError as e:
        raise DocumentNotFoundError(f"no indexed document is called {name!r}: GET /v1/documents lists them") from e


def source_with_id(documents: Mapping[str, Any], doc_id: str) -> str | None:
    """The indexed source whose document id (GET /v1/documents) is doc_id; None when there is none."""
    return next((source for source in documents if document_id(source) == doc_id), None)


def document(source: str, record: Any) -> dict[str, Any]:
    """One document of the index as the API shows it."""
    return {
        "id": document_id(source),
        "object": "document",
        "source": source,
        "filename": source.rsplit("/", 1)[-1],
        "title": record.title,
        "chunks": len(record.ids),
    }


@router.get("/documents")
def list_documents(service: Service = ServiceOf) -> dict[str, Any]:
    service.require_ready()
    store = service.store()
    items = sorted(store.documents.items()) if store else []
    return {"object": "list", "data": [document(s, r) for s, r in items]}


@router.post("/documents")
def upload(file: UploadFile = File(...), service: Service = ServiceOf) -> dict[str, Any]:  # noqa: B008 - FastAPI's idiom
    service.require_ready()
    limit = service.settings.max_upload_mb * 2**20
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLargeError(
            f"{file.filename} is over the {service.settings.max_upload_mb} MB limit (raise it with RAG_MAX_UPLOAD_MB)"
        )
    source, report = service.add_file(file.filename, data)
    failed = dict(report.failed)
    if source in failed:
        raise ApiError(400, f"{file.filename} could not be read: {failed[source]}", code="unreadable_file")
    store = service.store()
    assert store is not None
    return document(source, store.documents[source]) | {"bytes": len(data), "created_at": int(time.time())}


@router.delete("/documents/{doc_id}")
def delete_document(doc_id: str, service: Service = ServiceOf) -> dict[str, Any]:
    service.require_ready()
    store = service.store()
    source = source_with_id(store.documents if store else {}, doc_id)
    if source is None:
        raise ApiError(404, f"no document with id {doc_id!r}: GET /v1/documents lists them", code="document_not_found")
    service.remove(source)
    return {"id": doc_id, "object": "document", "deleted": True}
