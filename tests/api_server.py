"""The HTTP API as tests meet it: uvicorn serving an app in a thread, or `rag serve` as a real
process, each on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from rag.http.server import bind, url
from tests.conftest import ROOT, SEEDS

KEY = "test-api-key"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread; yields its base URL."""
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def process_env(data: Path, **values: str) -> dict[str, str]:
    """The environment of a `rag` process: this checkout first on the path, settings given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    path = env.get("PYTHONPATH")
    env.update(
        PYTHONPATH=str(ROOT) + (os.pathsep + path if path else ""),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        RAG_DATA_DIR=str(data),
        RAG_CORPUS_DIR=str(SEEDS),
        RAG_LLM="extractive",
    )
    env.update(values)
    return env


class ServeProcess:
    """`rag serve --port 0` as a child process; `url` is read from the line it prints."""

    def __init__(self, data: Path, log: Path, host: str = "127.0.0.1", **values: str) -> None:
        self.log = log
        self._out = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--port", "0", "--host", host],
            env=process_env(data, **values),
            stdout=subprocess.PIPE,
            stderr=self._out,
            text=True,
        )
        self.url = ""
        self.line = ""

    def wait(self, seconds: float = 120) -> ServeProcess:
        """Block until the server printed its line and answers /healthz."""
        assert self.process.stdout is not None
        self.line = self.process.stdout.readline().strip()  # the one line, once it listens
        if "http://" not in self.line:
            self.stop()
            raise RuntimeError(f"rag serve did not start: {self.line!r} {self.log.read_text()}")
        self.url = self.line.split(" on ", 1)[1].split(" ", 1)[0]
        deadline = time.monotonic() + seconds
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=5)
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    log = self.log.read_text()
                    raise RuntimeError(f"rag serve is not answering: {log}") from None
                time.sleep(0.1)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._out.close()
        if self.process.stdout:
            self.process.stdout.close()
        return code


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each server-sent event in a response body."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name = None
        data = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        events.append((name, "\n".join(data)))
    return events
