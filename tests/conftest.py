"""Shared fixtures: the real local model and one seeded index, each built once per session."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import RagEngine, Settings
from rag.nlp.embeddings import LocalEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
HEADLINE = "What did May say about Russia in July 2016?"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

STORY = (
    "The port authority in {city} said on Tuesday that talks with the dock workers' union "
    "would resume next week, after a strike closed three terminals. Exporters said the "
    "stoppage had cost them about {n} million dollars. A spokeswoman for the union said its "
    "members wanted a pay rise of {pct} percent over two years."
)
CITIES = ["Lisbon", "Porto", "Valencia", "Genoa", "Antwerp", "Gdansk"]


def long_article(folder: Path, paragraphs: int, name: str = "long.txt") -> Path:
    """One long article: a headline and many distinct paragraphs."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n\n".join(
        STORY.format(city=CITIES[i % len(CITIES)], n=i + 3, pct=i % 9 + 2)
        for i in range(paragraphs)
    )
    path = folder / name
    path.write_text(f"Dock strike talks to resume\n\n{body}\n", "utf-8")
    return path


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    """Refuse outgoing connections to anything but this machine (haystack-style guard)."""
    if isinstance(address, tuple) and self.family in (socket.AF_INET, socket.AF_INET6):
        host = str(address[0])
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConnectionRefusedError(f"tests may not connect to {host}")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    for name in list(os.environ):
        if name.startswith("RAG_") or name.startswith("OPENAI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(SEEDS))
    monkeypatch.chdir(tmp_path)  # no stray .env is read, nothing is written to the repo


def settings(data_dir: Path, **values: object) -> Settings:
    """Settings for a test, ignoring any .env."""
    fields = {"RAG_DATA_DIR": data_dir, "RAG_CORPUS_DIR": SEEDS, "RAG_LLM": "extractive"}
    fields.update(values)
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> Path:
    """A data directory holding the seeds' index, built once; copy it before changing it."""
    data = tmp_path_factory.mktemp("seeded")
    RagEngine(settings(data), embedder=embedder).ingest([SEEDS])
    return data


@pytest.fixture(scope="session")
def engine(seeded_dir: Path, embedder: LocalEmbedder) -> RagEngine:
    """A read-only engine over the seeded index (extractive mode)."""
    return RagEngine(settings(seeded_dir), embedder=embedder)


@pytest.fixture
def seeded_copy(seeded_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded data directory that a test may change."""
    target = tmp_path / "seeded-copy"
    shutil.copytree(seeded_dir, target)
    return target


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the seeds folder that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(SEEDS, target)
    yield target
