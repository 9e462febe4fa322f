"""Server mode against a real `chroma run` on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag import RagEngine, StoreError
from rag.embeddings import LocalEmbedder
from tests.api_server import KEY, ServeProcess
from tests.conftest import HEADLINE, SEEDS, settings

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chroma command comes with the chromadb package"
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("chroma run did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_ingest_and_ask_through_a_chroma_server(
    chroma_url: str, tmp_path: Path, embedder: LocalEmbedder
) -> None:
    engine = RagEngine(settings(tmp_path / "a", RAG_CHROMA_URL=chroma_url), embedder=embedder)
    first = engine.ingest([SEEDS])
    assert first.added == 5 and first.chunks > 0
    assert engine.ingest([SEEDS]).embedded == 0
    answer = engine.ask(HEADLINE)
    assert any(c.doc_id.startswith("002") for c in answer.citations)
    # Nothing went to a local Chroma: the local data dir holds only the BM25 copy.
    assert not (tmp_path / "a" / "chroma").exists()

    # A second engine with its own data dir sees the same index, and sees later changes.
    other = RagEngine(settings(tmp_path / "b", RAG_CHROMA_URL=chroma_url), embedder=embedder)
    assert len(other.documents()) == 5
    extra = tmp_path / "extra.txt"
    extra.write_text("Lavrov met the Finnish foreign minister in Rovaniemi to discuss the Arctic.")
    engine.ingest([extra])
    passages = other.retrieve("Rovaniemi Arctic Finnish", k=1)
    assert passages[0].doc_id == "extra"


def test_an_unreachable_server_is_named(tmp_path: Path, embedder: LocalEmbedder) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    engine = RagEngine(settings(tmp_path, RAG_CHROMA_URL=url), embedder=embedder)
    with pytest.raises(StoreError, match=f"cannot reach the Chroma server at {url}"):
        engine.ask(HEADLINE)


NORTH = (
    "Lavrov and Soreide meet in Kirkenes\n\n"
    "Russian Foreign Minister Sergei Lavrov met Norwegian Foreign Minister Ine Eriksen Soreide "
    "in Kirkenes on Thursday. The two ministers discussed fishing quotas in the Barents Sea and "
    "the border crossing at Storskog.\n"
)
NORTH_QUESTION = "What did Lavrov and Soreide discuss in Kirkenes?"


def _cited(url: str) -> list[str]:
    """The documents an answer to NORTH_QUESTION cites, each once (none from an empty index)."""
    response = httpx.post(f"{url}/v1/ask", json={"question": NORTH_QUESTION}, timeout=60)
    if response.status_code == 503:
        assert response.json()["error"]["type"] == "empty_index"
        return []
    assert response.status_code == 200
    return sorted({c["doc_id"] for c in response.json()["citations"]})


def _listed(url: str) -> set[str]:
    documents = httpx.get(f"{url}/v1/documents", timeout=60).json()["documents"]
    return {d["doc_id"] for d in documents}


def test_two_api_processes_share_one_chroma_server(chroma_url: str, tmp_path: Path) -> None:
    """Two `rag serve` replicas with their own data directories: what one ingests the other
    lists and answers from (its BM25 copy follows the server), and deletes travel back."""
    auth = {"Authorization": f"Bearer {KEY}"}
    replicas = [
        ServeProcess(
            tmp_path / name, tmp_path / f"{name}.log", RAG_CHROMA_URL=chroma_url, RAG_API_KEY=KEY
        )
        for name in ("a", "b")
    ]
    try:
        a, b = (replica.wait() for replica in replicas)
        assert _cited(b.url) == []  # B has seen no such article yet (and built its BM25 copy)
        files = [("files", ("kirkenes.txt", NORTH.encode(), "text/plain"))]
        ingested = httpx.post(f"{a.url}/v1/ingest", files=files, headers=auth, timeout=60)
        assert ingested.status_code == 200 and ingested.json()["doc_ids"] == ["kirkenes"]

        assert "kirkenes" in _listed(b.url)
        assert _cited(b.url) == ["kirkenes"]
        # B did not upload it: replacing it through B is a deliberate act (replace=true)
        again = httpx.post(f"{b.url}/v1/ingest", files=files, headers=auth, timeout=60)
        assert again.status_code == 409

        deleted = httpx.delete(f"{b.url}/v1/documents/kirkenes", headers=auth, timeout=60)
        assert deleted.status_code == 200
        assert "kirkenes" not in _listed(a.url)
        assert "kirkenes" not in _cited(a.url)
        assert not (tmp_path / "a" / "chroma").exists()  # the chunks live on the server
    finally:
        for replica in replicas:
            replica.stop()
