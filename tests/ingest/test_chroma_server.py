"""Server mode against a real `chroma run` on a free loopback port."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import chromadb
import httpx
import pytest
from chromadb.config import Settings as ChromaSettings

from rag import RagEngine, StoreError
from rag.nlp.embeddings import LocalEmbedder
from tests.api_server import KEY, ServeProcess
from tests.conftest import HEADLINE, SEEDS, long_article, settings
from tests.test_cli import RAG, cli_env, run

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def chroma_server(data: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`chroma run` on loopback, its files in `data`, ready for requests."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chroma command comes with the chromadb package"
    process = subprocess.Popen(
        [chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("chroma run did not start") from None
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    with chroma_server(tmp_path_factory.mktemp("chroma-server"), port):
        yield f"http://127.0.0.1:{port}"


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


def test_a_server_killed_mid_ingest_is_one_line_and_check_mends_it(tmp_path: Path) -> None:
    """The server dies while chunks are written: one line and exit 1; once it is back, `rag
    check` removes the half-written article and reads it again from its file."""
    port, files = free_port(), tmp_path / "chroma-files"
    url = f"http://127.0.0.1:{port}"
    article = long_article(tmp_path / "news", 900)
    with chroma_server(files, port) as server:
        writer = subprocess.Popen(
            [RAG, "ingest", str(article)], env=cli_env(tmp_path / "data") | {"RAG_CHROMA_URL": url},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 240
        while _chunks(url) == 0 and writer.poll() is None:
            assert time.monotonic() < deadline, "the ingest wrote nothing"
            time.sleep(0.2)
        server.kill()
        out, err = writer.communicate(timeout=300)
    if writer.returncode == 0:
        pytest.skip("the ingest finished before the server was killed")
    assert writer.returncode == 1 and "Traceback" not in err
    assert err.strip() == (
        f"error: the Chroma server at {url} stopped answering while writing chunks: "
        "start it again, then run `rag check`"
    )
    with chroma_server(files, port):
        repaired = run("check", "--json", data=tmp_path / "data", RAG_CHROMA_URL=url)
        assert repaired.returncode == 0, repaired.stderr
        report = json.loads(repaired.stdout)
        assert [b["doc_id"] for b in report["broken"]] == ["long"]
        assert report["reingested"] == 1
        again = run("check", data=tmp_path / "data", RAG_CHROMA_URL=url)
        assert again.stdout.startswith("index in order: ") and " of 1 article " in again.stdout


def _chunks(url: str) -> int:
    try:
        client = chromadb.HttpClient(
            host="127.0.0.1",
            port=int(url.rsplit(":", 1)[1]),
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        return int(client.get_collection("news").count())
    except Exception:  # noqa: BLE001 - no collection yet
        return 0
