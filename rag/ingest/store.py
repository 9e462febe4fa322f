"""Chroma access: the one source of truth for chunks, their vectors and their metadata.

The collection's metadata records the embedding model and chunking that built it and a
`version` that every write changes, so derived state (the BM25 index) knows when it is stale,
also across processes that share one Chroma server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.errors import ConfigError, IndexMismatchError, StoreError
from rag.ingest.failures import failing, writable
from rag.types import ChunkRecord

COLLECTION = "news"
_PAGE = 5000
# A change marker's state is trusted only once it is this old: a write within the same tick
# of the file system's clock can leave the modification time as it was.
_SETTLED_NS = 2_000_000_000


def _snapshot(chroma_dir: Path) -> Path:
    """A copy of a read-only index's Chroma files in the temp folder: Chroma opens its
    database for writing, even to read it. Removed when the process ends."""
    import atexit

    copy = Path(tempfile.mkdtemp(prefix="rag-readonly-")) / "chroma"
    shutil.copytree(chroma_dir, copy)
    atexit.register(shutil.rmtree, copy.parent, True)
    return copy


def connect(data_dir: Path, chroma_url: str | None, timeout: float = 60.0) -> Any:
    """A Chroma client: a server when `chroma_url` is set (each request given `timeout`
    seconds), else embedded under `data_dir`. An embedded index on read-only storage is
    opened from a copy (`_snapshot`), for questions."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        parsed = urlparse(chroma_url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ConfigError(f"RAG_CHROMA_URL must look like http://host:port, got {chroma_url!r}")
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
            _set_timeout(client, timeout)
            client.heartbeat()
        except Exception as exc:  # noqa: BLE001 - chromadb raises many types for a dead server
            raise StoreError(f"cannot reach the Chroma server at {chroma_url} ({exc})") from None
        return client
    chroma_dir = data_dir / "chroma"
    if not writable(data_dir):
        if not chroma_dir.is_dir():
            raise StoreError(f"cannot write to the data directory {data_dir}")
        chroma_dir = _snapshot(chroma_dir)
    with failing("opening the index", data_dir, None):
        return chromadb.PersistentClient(path=str(chroma_dir), settings=chroma_settings)


def _set_timeout(client: Any, seconds: float) -> None:
    """Give every request of a Chroma HTTP client a deadline: chromadb's own is none, and a
    server that stops answering would hang the caller for good."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds)


def change_marker(data_dir: Path, chroma_url: str | None) -> Path | None:
    """A file that every write to the store changes: the embedded Chroma's SQLite database
    (none for a server, whose files are elsewhere)."""
    return None if chroma_url else data_dir / "chroma" / "chroma.sqlite3"


class ChunkStore:
    """The chunk collection of one index, with the model check done on open.

    `marker`: a file every write changes (`change_marker`). While it is as it was when the
    collection's metadata was last read, and was by then last written long enough ago, the
    metadata is not read again: that read is a fifth of a Chroma query's time."""

    def __init__(
        self,
        client: Any,
        embed_name: str,
        chunking: str,
        marker: Path | None = None,
        *,
        data_dir: Path | None = None,
        url: str | None = None,
        read_only: bool = False,
    ) -> None:
        self._client = client
        self.embed_name = embed_name
        self.chunking = chunking
        self.marker = marker
        self.data_dir = data_dir  # where an embedded index lives, to tell why a call failed
        self.url = url
        self.read_only = read_only
        self._collection: Any = None
        self._read: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    @contextmanager
    def _guard(self, action: str, write: bool = False) -> Iterator[None]:
        """Any failure of Chroma as one `StoreError` line (`failing`)."""
        if write and self.read_only:
            raise StoreError(
                f"the index in {self.data_dir} is on read-only storage: it answers questions, "
                "but ingest and delete need write access"
            )
        with failing(action, self.data_dir, self.url):
            yield

    def _get(self, create: bool) -> Any:
        if self._collection is None:
            with self._guard("opening the collection"):
                if create:
                    self._collection = self._client.get_or_create_collection(
                        COLLECTION,
                        embedding_function=None,
                        configuration={"hnsw": {"space": "cosine"}},
                        metadata={"embed_model": self.embed_name, "chunking": self.chunking},
                    )
                else:
                    names = {getattr(c, "name", c) for c in self._client.list_collections()}
                    if COLLECTION not in names:
                        return None
                    self._collection = self._client.get_collection(
                        COLLECTION, embedding_function=None
                    )
        return self._collection

    def metadata(self) -> dict[str, Any]:
        collection = self._get(create=False)
        if collection is None:
            return {}
        state = self._marker_state()
        if state is not None and self._read is not None and self._read[0] == state:
            return dict(self._read[1])
        with self._guard("reading the index"):
            # Re-read: another process may have written since this one opened the collection.
            read = dict(
                self._client.get_collection(COLLECTION, embedding_function=None).metadata or {}
            )
        self._read = None if state is None else (state, read)
        return dict(read)

    def _marker_state(self) -> tuple[int, int, int] | None:
        """The marker's (inode, size, modification time), or None when it cannot tell a
        change: no marker, or written too recently for a new write to be sure to show."""
        if self.marker is None:
            return None
        try:
            stat = os.stat(self.marker)
        except OSError:
            return None
        if time.time_ns() - stat.st_mtime_ns < _SETTLED_NS:
            return None
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    def check_model(self, metadata: dict[str, Any] | None = None) -> None:
        """Raise `IndexMismatchError` if the index was built by another embedding model
        (`metadata`: the collection's, if just read)."""
        built_with = (self.metadata() if metadata is None else metadata).get("embed_model")
        if built_with and built_with != self.embed_name:
            raise IndexMismatchError(
                f"the index was built with {built_with} but the settings ask for "
                f"{self.embed_name}; run `rag ingest --rebuild` to rebuild it"
            )

    def check_chunking(self) -> None:
        built_with = self.metadata().get("chunking")
        if built_with and built_with != self.chunking:
            raise IndexMismatchError(
                f"the index was chunked with {built_with} but the settings ask for "
                f"{self.chunking}; run `rag ingest --rebuild` to rebuild it"
            )

    def version(self) -> str:
        return str(self.metadata().get("version", ""))

    def count(self) -> int:
        collection = self._get(create=False)
        with self._guard("counting the chunks"):
            return 0 if collection is None else int(collection.count())

    def drop(self) -> None:
        """Delete the whole collection (for `--rebuild`)."""
        with self._guard("rebuilding the index", write=True):
            pass
        self._collection = self._read = None
        try:
            self._client.delete_collection(COLLECTION)
        except Exception:  # noqa: BLE001 - nothing to delete is fine
            pass

    def add(self, records: Sequence[ChunkRecord], vectors: np.ndarray) -> None:
        with self._guard("writing chunks", write=True):
            self._add(records, vectors)

    def _add(self, records: Sequence[ChunkRecord], vectors: np.ndarray) -> None:
        collection = self._get(create=True)
        for i in range(0, len(records), _PAGE):
            page = records[i : i + _PAGE]
            collection.upsert(
                ids=[r.chunk_id for r in page],
                documents=[r.text for r in page],
                metadatas=[r.metadata for r in page],
                embeddings=vectors[i : i + _PAGE],
            )

    def delete(self, chunk_ids: Sequence[str]) -> None:
        with self._guard("deleting chunks", write=True):
            collection = self._get(create=True)
            for i in range(0, len(chunk_ids), _PAGE):
                collection.delete(ids=list(chunk_ids[i : i + _PAGE]))

    def touch(self) -> str:
        """Record a new version after a write; returns it."""
        version = uuid.uuid4().hex
        self._read = None
        with self._guard("writing the index's version", write=True):
            collection = self._get(create=True)
            collection.modify(
                metadata={
                    "embed_model": self.embed_name,
                    "chunking": self.chunking,
                    "version": version,
                }
            )
        return version

    def records(self, include_text: bool = True) -> Iterator[ChunkRecord]:
        """Every chunk, page by page."""
        collection = self._get(create=False)
        if collection is None:
            return
        include = ["metadatas", "documents"] if include_text else ["metadatas"]
        offset = 0
        while True:
            with self._guard("reading chunks"):
                page = collection.get(include=include, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            texts = page.get("documents") or [""] * len(ids)
            for chunk_id, text, meta in zip(ids, texts, page["metadatas"], strict=True):
                yield ChunkRecord(chunk_id, text or "", dict(meta or {}))
            offset += len(ids)

    def ids(self) -> set[str]:
        """The id of every chunk (no texts or metadata: a copy catching up compares ids)."""
        collection = self._get(create=False)
        found: set[str] = set()
        if collection is None:
            return found
        offset = 0
        while True:
            with self._guard("reading chunk ids"):
                page = collection.get(include=[], limit=_PAGE, offset=offset)["ids"]
            if not page:
                return found
            found.update(page)
            offset += len(page)

    def unreadable(self, chunk_ids: Sequence[str]) -> list[str]:
        """Those of these chunks whose vector cannot be read back (a damaged vector segment
        fails the read of every page holding one: such a page is split until they are found)."""
        collection = self._get(create=False)
        if collection is None or not chunk_ids:
            return []
        if len(chunk_ids) > _PAGE:
            return [
                chunk_id
                for i in range(0, len(chunk_ids), _PAGE)
                for chunk_id in self.unreadable(chunk_ids[i : i + _PAGE])
            ]
        try:
            got = collection.get(ids=list(chunk_ids), include=["embeddings"])
            vectors = got.get("embeddings")
            if vectors is not None and len(vectors) == len(got["ids"]):
                return sorted(set(chunk_ids) - set(got["ids"]))
        except Exception:  # noqa: BLE001 - the failure is what is looked for
            pass
        if len(chunk_ids) == 1:
            return list(chunk_ids)
        half = len(chunk_ids) // 2
        return self.unreadable(chunk_ids[:half]) + self.unreadable(chunk_ids[half:])

    def get(self, chunk_ids: Sequence[str]) -> list[ChunkRecord]:
        """The chunks with these ids (those that exist)."""
        collection = self._get(create=False)
        found: list[ChunkRecord] = []
        if collection is None:
            return found
        for i in range(0, len(chunk_ids), _PAGE):
            with self._guard("reading chunks"):
                page = collection.get(
                    ids=list(chunk_ids[i : i + _PAGE]), include=["metadatas", "documents"]
                )
            texts = page.get("documents") or [""] * len(page["ids"])
            for chunk_id, text, meta in zip(page["ids"], texts, page["metadatas"], strict=True):
                found.append(ChunkRecord(chunk_id, text or "", dict(meta or {})))
        return found

    def query(
        self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """Ids of the nearest chunks with their cosine similarity (texts are not fetched:
        the caller has them in the lexical index, which is read at the same version)."""
        collection = self._get(create=False)
        if collection is None or n <= 0:
            return []
        with self._guard("searching the index"):
            result = collection.query(
                query_embeddings=[vector.tolist()],
                n_results=n,
                where=where or None,
                include=["distances"],
            )
        return [
            (chunk_id, 1.0 - float(distance))
            for chunk_id, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]
