"""Safe exposure of the HTTP API: reads behind the key when asked, only allowed Host names,
a deadline for request bodies, and CORS off unless origins are named."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rag import ConfigError, RagEngine
from rag.http.app import create_app
from rag.nlp.embeddings import LocalEmbedder
from tests.api_server import KEY, ServeProcess, serving
from tests.conftest import HEADLINE, settings
from tests.http.test_api import AUTH, error_of, post

ORIGIN = "https://newsroom.example"


@pytest.fixture(scope="module")
def engine(seeded_dir: Any, embedder: LocalEmbedder) -> RagEngine:
    return RagEngine(settings(seeded_dir, RAG_API_KEY=KEY), embedder=embedder)


@pytest.fixture(scope="module")
def guarded(engine: RagEngine) -> Iterator[str]:
    """Reads need the key; only one host name; a 1 s body deadline; one CORS origin."""
    values = {
        "api_read_auth": True,
        "allowed_hosts": "127.0.0.1, news.example.com",
        "body_timeout": 1.0,
        "cors_origins": ORIGIN,
    }
    with serving(create_app(engine, engine.settings.model_copy(update=values))) as url:
        yield url


def test_reads_need_the_key_when_asked_and_health_stays_open(guarded: str) -> None:
    for response in (
        post(guarded, "/v1/ask", {"question": HEADLINE}),
        httpx.get(f"{guarded}/v1/documents"),
        httpx.get(f"{guarded}/v1/models"),
    ):
        assert response.status_code == 401 and error_of(response)["type"] == "unauthorized"
    assert post(guarded, "/v1/ask", {"question": HEADLINE}, headers=AUTH).status_code == 200
    assert httpx.get(f"{guarded}/v1/documents", headers=AUTH).status_code == 200
    assert httpx.get(f"{guarded}/healthz").status_code == 200


def test_read_auth_without_a_key_is_a_configuration_error(engine: RagEngine) -> None:
    values = {"api_read_auth": True, "api_key": None}
    with pytest.raises(ConfigError, match="RAG_API_READ_AUTH needs RAG_API_KEY"):
        create_app(engine, engine.settings.model_copy(update=values))


def test_only_allowed_host_names_are_answered(guarded: str) -> None:
    port = guarded.rsplit(":", 1)[1]
    for host, status in [
        ("news.example.com", 200),
        (f"news.example.com:{port}", 200),
        ("attacker.example", 400),
        ("news.example.com.attacker.example", 400),
    ]:
        response = httpx.get(f"{guarded}/healthz", headers={"Host": host})
        assert response.status_code == status, host
    refused = httpx.get(f"{guarded}/healthz", headers={"Host": "attacker.example"})
    assert error_of(refused)["message"] == "this server does not answer to that host name"


def test_a_stalled_body_is_cut_off_at_the_deadline(guarded: str) -> None:
    host, port = guarded.removeprefix("http://").rsplit(":", 1)
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST /v1/ask HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
            '{"question": "'.encode()
        )
        reply = sock.recv(65536).decode()
    waited = time.monotonic() - started
    assert reply.startswith("HTTP/1.1 408 "), reply
    assert '"type":"timeout"' in reply and "RAG_BODY_TIMEOUT" in reply
    assert waited < 10


def test_cors_answers_only_named_origins(guarded: str, engine: RagEngine) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    allowed = httpx.options(f"{guarded}/v1/ask", headers=preflight)
    assert allowed.headers.get("access-control-allow-origin") == ORIGIN
    other = httpx.options(
        f"{guarded}/v1/ask", headers=preflight | {"Origin": "https://elsewhere.example"}
    )
    assert "access-control-allow-origin" not in other.headers
    with serving(create_app(engine)) as plain:  # the default: no origin at all
        response = httpx.get(f"{plain}/healthz", headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in response.headers


def test_rag_serve_on_loopback_answers_only_to_this_machine_s_names(
    seeded_copy: Any, tmp_path: Any
) -> None:
    server = ServeProcess(seeded_copy, tmp_path / "serve.log").wait()
    try:
        port = server.url.rsplit(":", 1)[1]
        assert httpx.get(f"{server.url}/healthz", headers={"Host": f"localhost:{port}"}).is_success
        rebound = httpx.get(f"{server.url}/healthz", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 400
    finally:
        server.stop()
