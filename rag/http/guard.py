"""What the HTTP API checks before it reads a request body: the Host header, the key (for
writes, and for reads when asked), the body size and how long the body takes to arrive."""

from __future__ import annotations

import asyncio
import hmac
import time

from fastapi.security import HTTPAuthorizationCredentials
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.http.errors import ApiError, error_response

MULTIPART_SLACK = 1_048_576  # boundaries and part headers around the uploaded files
WRITE_DISABLED = "write endpoints are disabled: set RAG_API_KEY on the server to enable them"
NEEDS_KEY = "this endpoint needs the header Authorization: Bearer <RAG_API_KEY>"


def authorize(authorization: str | None, key: SecretStr | None) -> ApiError | None:
    """None when the `Authorization` header carries the write key, else the refusal: 403 when
    the server has no key, 401 (with `WWW-Authenticate: Bearer`) when it is missing or wrong."""
    if key is None or not key.get_secret_value():
        return ApiError(403, WRITE_DISABLED)
    scheme, _, token = (authorization or "").partition(" ")
    challenge = {"WWW-Authenticate": "Bearer"}
    if scheme.lower() != "bearer" or not token.strip():
        return ApiError(401, NEEDS_KEY, headers=challenge)
    if not hmac.compare_digest(token.strip().encode(), key.get_secret_value().encode()):
        return ApiError(401, "the API key is wrong", headers=challenge)
    return None


def check_key(key: SecretStr | None, credentials: HTTPAuthorizationCredentials | None) -> None:
    """The same check as a route dependency (it also documents the scheme in OpenAPI)."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    refusal = authorize(header, key)
    if refusal:
        raise refusal


def is_write(method: str, path: str) -> bool:
    path = path.rstrip("/")
    return (method == "POST" and path == "/v1/ingest") or (
        method == "DELETE" and path.startswith("/v1/documents/")
    )


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether a Host header (its name, without the port) is one of `allowed` ("*": any;
    "*.example.com": its subdomains)."""
    name = _host_name(host)
    for pattern in allowed:
        if pattern == "*" or name == pattern.strip("[]"):
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def _host_name(host: str) -> str:
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:8000
        return name[1:].split("]", 1)[0]
    return name.rsplit(":", 1)[0] if name.count(":") == 1 else name


def _route_path(scope: Scope) -> str:
    """The path inside this app (without the prefix it is mounted under, if any)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class _TooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


class _TooSlow(ApiError):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408, f"the request body did not arrive within {seconds:g} s (RAG_BODY_TIMEOUT)"
        )


class Guard:
    """ASGI middleware: before the app reads a request, refuses a Host header that is not
    allowed, a write (and with `read_auth` any `/v1/` request) without the key, and a body
    over the limit (by its Content-Length, and by counting the bytes of a body sent without
    one) or slower than `body_timeout` seconds in all. Uploads have their own, larger limit."""

    def __init__(
        self,
        app: ASGIApp,
        key: SecretStr | None,
        body_limit: int,
        upload_limit: int,
        *,
        read_auth: bool = False,
        hosts: tuple[str, ...] = ("*",),
        body_timeout: float = 60.0,
    ) -> None:
        self.app = app
        self.key = key
        self.body_limit = body_limit
        self.upload_limit = upload_limit
        self.read_auth = read_auth
        self.hosts = hosts
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method, path = scope["method"], _route_path(scope)
        if not host_allowed(headers.get("host", ""), self.hosts):
            wrong_host = ApiError(400, "this server does not answer to that host name")
            await self._refuse(wrong_host, scope, receive, send)
            return
        if is_write(method, path) or (self.read_auth and path.startswith("/v1/")):
            refusal = authorize(headers.get("authorization"), self.key)
            if refusal:
                await self._refuse(refusal, scope, receive, send)
                return
        limit = self.upload_limit if path.rstrip("/") == "/v1/ingest" else self.body_limit
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(_TooLarge(limit), scope, receive, send)
            return
        received = 0
        deadline = time.monotonic() + self.body_timeout
        whole = False

        async def counted() -> Message:
            nonlocal received, whole
            if whole:  # the body is read: what follows is the wait for a disconnect
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            except TimeoutError:
                raise _TooSlow(self.body_timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                whole = not message.get("more_body", False)
                if received > limit:
                    raise _TooLarge(limit)  # FastAPI re-raises it as the 413 it is
            return message

        await self.app(scope, counted, send)

    @staticmethod
    async def _refuse(error: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(error.status_code, error.kind, str(error.detail), error.headers)
        await response(scope, receive, send)
