"""Fake OpenAI-compatible HTTP server for tests (stdlib only).

Serves ``/v1/chat/completions`` (plain and SSE streaming), ``/v1/embeddings``
and ``/v1/models`` on 127.0.0.1 so that the real ``openai`` client can be
exercised end to end. Behaviour of chat completions can be scripted per
request (reply text, HTTP error status, delay) via :meth:`FakeOpenAIServer.script`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

EMBEDDING_DIM: int = 64
FAKE_MODEL: str = "fake-model"

_ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "forbidden"),
    404: ("invalid_request_error", "not_found"),
    409: ("conflict_error", "conflict"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def default_responder(body: dict[str, Any]) -> str:
    """Default chat responder: always answers "OK"."""
    return "OK"


def cite_first_passage(body: dict[str, Any]) -> str:
    """A well-behaved model for the engine's prompt: restates the first passage's first
    sentence and cites it."""
    prompt = body["messages"][-1]["content"]
    first = prompt.split('<passage n="1"', 1)[1].split("\n", 2)[1]
    return f"{first.split('. ')[0].rstrip('.')} [1]."


def fake_embedding(text: str, dim: int = EMBEDDING_DIM) -> list[float]:
    """Deterministic bag-of-words embedding, L2-normalised.

    Each lowercased word is hashed to a bucket (and a sign), so texts sharing
    words have a positive cosine similarity.
    """
    vec = [0.0] * dim
    words = re.findall(r"\w+", text.lower())
    for word in words:
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        idx = int.from_bytes(digest[:4], "big") % dim
        sign = 1.0 if digest[4] & 1 else -1.0
        vec[idx] += sign
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0.0:
        # Empty / wordless text: a fixed unit vector keeps it well defined.
        vec[0] = 1.0
        return vec
    return [v / norm for v in vec]


def _count_tokens(text: str) -> int:
    return len(text.split())


def _split_pieces(text: str) -> list[str]:
    """Split text word by word, keeping whitespace attached to each piece."""
    pieces = re.findall(r"\s*\S+\s*", text)
    if not pieces:
        return [text] if text else []
    # Leading whitespace-only prefix is already glued to the first piece.
    return pieces


@dataclass
class _Script:
    reply: str | None
    status: int
    delay: float
    error_message: str


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # -- plumbing -----------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    @property
    def fake(self) -> FakeOpenAIServer:
        return self.server.fake

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error_json(self, status: int, message: str) -> None:
        err_type, code = _ERROR_TYPES.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", str(status))
        )
        self._send_json(
            status,
            {"error": {"message": message, "type": err_type, "param": None, "code": code}},
        )

    def _check_auth(self) -> bool:
        expected = f"Bearer {self.fake.api_key}"
        if self.headers.get("Authorization") != expected:
            self._send_error_json(401, "Incorrect API key provided.")
            return False
        return True

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/")

    # -- verbs --------------------------------------------------------------
    def do_GET(self) -> None:
        path = self._path()
        if path == "/v1/models":
            if not self._check_auth():
                return
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": FAKE_MODEL, "object": "model", "created": 0, "owned_by": "fake"}
                    ],
                },
            )
            return
        self._send_error_json(404, f"Unknown path: GET {self.path}")

    def do_POST(self) -> None:
        path = self._path()
        raw = self._read_body()
        if path not in ("/v1/chat/completions", "/v1/embeddings"):
            self._send_error_json(404, f"Unknown path: POST {self.path}")
            return
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            self._send_error_json(400, f"Invalid JSON body: {exc}")
            return
        recorded = dict(body)
        recorded["_path"] = path
        self.fake._record(recorded)
        if not self._check_auth():
            return
        if path == "/v1/chat/completions":
            self._chat(body)
        else:
            self._embeddings(body)

    # -- endpoints ----------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> None:
        script = self.fake._pop_script()
        if script is not None and script.delay > 0:
            time.sleep(script.delay)
        if script is not None and script.status != 200:
            self._send_error_json(script.status, script.error_message)
            return
        if script is not None and script.reply is not None:
            text = script.reply
        else:
            text = self.fake.responder(body)
        model = str(body.get("model") or FAKE_MODEL)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        prompt_tokens = sum(
            _count_tokens(m.get("content") if isinstance(m.get("content"), str) else "")
            for m in body.get("messages") or []
            if isinstance(m, dict)
        )
        completion_tokens = _count_tokens(text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if body.get("stream"):
            self._stream_chat(completion_id, created, model, text, usage, body)
            return
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )

    def _stream_chat(
        self,
        completion_id: str,
        created: int,
        model: str,
        text: str,
        usage: dict[str, int],
        body: dict[str, Any],
    ) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""}, None)]
        events.extend(chunk({"content": piece}, None) for piece in _split_pieces(text))
        events.append(chunk({}, "stop"))
        stream_options = body.get("stream_options")
        if isinstance(stream_options, dict) and stream_options.get("include_usage"):
            final = chunk({}, None)
            final["choices"] = []
            final["usage"] = usage
            events.append(final)
        try:
            for event in events:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _embeddings(self, body: dict[str, Any]) -> None:
        raw_input = body.get("input")
        if isinstance(raw_input, str):
            inputs: list[str] = [raw_input]
        elif isinstance(raw_input, list) and all(isinstance(x, str) for x in raw_input):
            inputs = list(raw_input)
        else:
            self._send_error_json(400, "'input' must be a string or a list of strings")
            return
        tokens = sum(_count_tokens(t) for t in inputs)
        self._send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": i, "embedding": fake_embedding(t)}
                    for i, t in enumerate(inputs)
                ],
                "model": str(body.get("model") or FAKE_MODEL),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeOpenAIServer) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (e.g. after a timeout) are expected in tests.
        return


class FakeOpenAIServer:
    """OpenAI-compatible HTTP server on 127.0.0.1 for tests (threaded stdlib http.server)."""

    api_key: str = "test-key"

    def __init__(self, responder: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.responder: Callable[[dict[str, Any]], str] = responder or default_responder
        self.requests: list[dict[str, Any]] = []
        self._scripts: deque[_Script] = deque()
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int = 0
        self.base_url: str = ""

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        if self._httpd is not None:
            return self
        httpd = _Server(self)
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeOpenAIServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = None
        self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def endpoint(self, **values: object) -> dict[str, object]:
        """Settings fields that point an engine at this server (no retries), plus `values`."""
        fields: dict[str, object] = {
            "OPENAI_API_KEY": self.api_key,
            "OPENAI_BASE_URL": self.base_url,
            "RAG_LLM_MODEL": "fake-model",
            "RAG_LLM_RETRIES": 0,
        }
        fields.update(values)
        return fields

    # -- scripting ----------------------------------------------------------
    def script(
        self,
        *,
        reply: str | None = None,
        status: int = 200,
        delay: float = 0.0,
        error_message: str = "Scripted error from FakeOpenAIServer",
    ) -> None:
        """Queue ONE behaviour for the next chat completion request (FIFO)."""
        with self._lock:
            self._scripts.append(_Script(reply, status, delay, error_message))

    def reset(self) -> None:
        """Clear queued scripts and recorded requests."""
        with self._lock:
            self._scripts.clear()
            self.requests.clear()

    # -- internals used by the handler --------------------------------------
    def _pop_script(self) -> _Script | None:
        with self._lock:
            return self._scripts.popleft() if self._scripts else None

    def _record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)
