"""One error shape for every refusal of the HTTP API: `{"error": {"type", "message"}}`.

Engine errors keep their one-line message; validation errors say which field and why; an
unexpected exception is logged and answered with a generic 500, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rag.errors import (
    ConfigError,
    EmptyIndexError,
    IndexMismatchError,
    InputError,
    LLMError,
    RagError,
    StoreError,
)

log = logging.getLogger("news-rag.http.app")

INTERNAL = "internal server error; the server log has the details"
_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    415: "unsupported_type",
    422: "invalid_request",
}
# The engine's errors: (status, type). The first matching class wins.
_ENGINE_ERRORS: tuple[tuple[type[RagError], int, str], ...] = (
    (InputError, 422, "invalid_request"),
    (EmptyIndexError, 503, "empty_index"),
    (IndexMismatchError, 503, "index_mismatch"),
    (StoreError, 503, "store_unavailable"),
    (LLMError, 502, "llm_error"),
    (ConfigError, 503, "config_error"),
)


class ApiError(HTTPException):
    """A refusal with its status, type and one-line message."""

    def __init__(
        self, status: int, message: str, kind: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, message, dict(headers) if headers else None)
        self.kind = kind or _HTTP_TYPES.get(status, "error")


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def error_response(
    status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(kind, message), status_code=status, headers=headers)


def classify(exc: RagError) -> tuple[int, str]:
    """The HTTP status and error type of an engine error."""
    for cls, status, kind in _ENGINE_ERRORS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "engine_error"


def engine_error_body(exc: BaseException) -> dict[str, Any]:
    """The error object for a failure in the middle of a stream (the status is already sent)."""
    if isinstance(exc, RagError):
        return error_body(classify(exc)[1], str(exc))
    log.error("unexpected error while streaming", exc_info=exc)
    return error_body("internal_error", INTERNAL)


def _is_field(part: object) -> bool:
    """A field name or list index, not the request part ("body") nor a union member's tag
    ("str", "list[ContentPart]", "function-after[...]")."""
    if isinstance(part, int):
        return True
    text = str(part)
    return text not in ("body", "query", "path", "str", "none") and not any(c in text for c in "[-")


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = list(exc.errors())
    if not errors:
        return 422, "the request is not valid"
    first = errors[0]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "")
        return 400, f"the body is not valid JSON ({reason})" if reason else "invalid JSON"
    location = [str(part) for part in first.get("loc", ()) if _is_field(part)]
    location = location or [str(part) for part in first.get("loc", ())[:1]]
    if first.get("type") == "missing" and location == ["body"]:
        return 422, "the request needs a JSON body"
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    where = ".".join(location)
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return 422, (f"{where}: {message}" if where else message) + more


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        kind = getattr(exc, "kind", "") or _HTTP_TYPES.get(exc.status_code, "error")
        message = str(exc.detail)
        if exc.status_code == 404 and not isinstance(exc, ApiError):
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405 and not isinstance(exc, ApiError):
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, kind, message, exc.headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        status, message = _validation_message(exc)
        return error_response(status, _HTTP_TYPES[status], message)

    async def engine_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagError)
        status, kind = classify(exc)
        return error_response(status, kind, str(exc))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal_error", INTERNAL)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(RagError, engine_error)
    app.add_exception_handler(Exception, unexpected)
