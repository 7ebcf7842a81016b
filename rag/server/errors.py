"""The HTTP API's errors: OpenAI-shaped JSON ``{"error": {"message", "type", "code"}}`` with the right status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import (
    ConfigError,
    DocumentNotFoundError,
    IndexLockedError,
    IndexNotFoundError,
    LlmServerError,
    LoaderError,
    QuestionError,
    RagError,
)
from rag.server.service import NotReadyError, UploadTooLargeError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as OpenAI-shaped JSON with its HTTP status."""

    def __init__(self, status: int, message: str, *, code: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind


def error_body(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def from_rag_error(e: RagError) -> ApiError:
    """The HTTP status and code of a library error."""
    if isinstance(e, NotReadyError):
        return ApiError(503, str(e), code="model_loading", kind="service_unavailable_error")
    if isinstance(e, DocumentNotFoundError):
        return ApiError(404, str(e), code="document_not_found")
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


def install_error_handlers(app: FastAPI) -> None:
    """Every failure answered as OpenAI-shaped JSON: ApiError, RagError, a bad body, an unknown route, a bug."""

    def answer(error: ApiError) -> JSONResponse:
        return JSONResponse(error_body(error.message, error.kind, error.code), status_code=error.status)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, e: ApiError) -> JSONResponse:
        return answer(e)

    @app.exception_handler(RagError)
    async def rag_error(_request: Request, e: RagError) -> JSONResponse:
        error = from_rag_error(e)
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
