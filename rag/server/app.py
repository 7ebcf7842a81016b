"""The OpenAI-compatible HTTP API (`rag serve`): chat completions with checked, cited answers.

Standard clients see an ordinary model called ``rag-vi``; the extra top-level fields (citations,
refusal_reason, sentences, ...) are those of ``rag ask --json`` (rag.answer.record). Errors are
OpenAI-shaped: ``{"error": {"message", "type", "code"}}`` (rag.server.errors). The routes are in
rag.server.routes, the request and response shapes in rag.server.wire.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from rag.server.errors import ApiError, error_body, install_error_handlers
from rag.server.routes import router
from rag.server.service import Service


def create_app(service: Service, *, api_key: str = "") -> FastAPI:
    """The FastAPI app of `rag serve`; api_key: every /v1 route then needs ``Authorization: Bearer <key>``."""
    app = FastAPI(title="rag-vi", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.state.api_key = api_key
    app.middleware("http")(upload_limit)
    app.include_router(router, dependencies=[Depends(authorise)])
    install_error_handlers(app)
    return app


def authorise(request: Request) -> None:
    """ApiError 401 unless the request carries the app's API key (no key set: every request passes)."""
    api_key: str = request.app.state.api_key
    if not api_key:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
        raise ApiError(
            401,
            "missing or wrong API key: send Authorization: Bearer <key>",
            code="invalid_api_key",
            kind="authentication_error",
        )


async def upload_limit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Refuse an oversized upload from its Content-Length, before the body is read."""
    max_mb = request.app.state.service.settings.max_upload_mb
    limit = max_mb * 2**20 + 2**16  # room for the multipart framing
    length = request.headers.get("content-length", "")
    if request.url.path == "/v1/documents" and length.isdigit() and int(length) > limit:
        message = f"the upload is {int(length) / 2**20:.1f} MB, over the {max_mb} MB limit"
        return JSONResponse(error_body(message, "invalid_request_error", "file_too_large"), status_code=413)
    return await call_next(request)
