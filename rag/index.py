"""Incremental sync of articles into the chunk store (Chroma) and the BM25 index.

Sync by content hash: unchanged articles are not re-embedded, changed ones are replaced,
articles gone from a synced folder are deleted. Writes are ordered so that an interrupted
run leaves nothing the next run cannot repair: new chunks are written before stale ones are
deleted, and the store's version is bumped before and after writing, so BM25 is rebuilt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.chunking import chunk_text
from rag.corpus import Article, CorpusScan
from rag.embeddings import Embedder
from rag.lexical import LexicalIndex
from rag.store import ChunkRecord, ChunkStore
from rag.text import token_counter
from rag.timeline import iso_dates
from rag.types import DocumentInfo, IngestReport

Progress = Callable[[int, int], None]
EMBED_BATCH = 128


def published_ordinal(published: str | None) -> int:
    """YYYYMMDD as an int (0 when unknown), for range filters in Chroma."""
    return int(published.replace("-", "")) if published else 0


def embedding_text(title: str, text: str) -> str:
    """What gets embedded: the headline gives every chunk its article's topic."""
    return text if text.startswith(title) else f"{title}\n{text}"


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int
    overlap_tokens: int

    @property
    def name(self) -> str:
        return f"sentences:{self.max_tokens}/{self.overlap_tokens}:cl100k_base"


def article_chunks(article: Article, config: ChunkingConfig) -> list[ChunkRecord]:
    """The chunk records of one article, ids stable for the same content."""
    chunks = chunk_text(article.text, config.max_tokens, config.overlap_tokens, token_counter())
    return [
        ChunkRecord(
            chunk_id=f"{article.doc_id}#{article.sha256[:12]}-{chunk.index:04d}",
            text=chunk.text,
            metadata={
                "doc_id": article.doc_id,
                "doc_sha": article.sha256,
                "doc_chunks": len(chunks),
                "chunk_index": chunk.index,
                "start": chunk.start,
                "end": chunk.end,
                "title": article.title,
                "outlet": article.outlet or "",
                "published": article.published or "",
                "published_ord": published_ordinal(article.published),
                "url": article.url or "",
                "event_dates": " ".join(iso_dates(chunk.text, article.published)),
                "source": str(article.path.resolve()),
            },
        )
        for chunk in chunks
    ]


class Indexer:
    """Owns writes to the store and keeps the BM25 copy in step with it."""

    def __init__(
        self, store: ChunkStore, embedder: Embedder, config: ChunkingConfig, bm25_dir: Path
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.bm25_dir = bm25_dir
        self._lexical: LexicalIndex | None = None
        self._documents: tuple[str, list[DocumentInfo]] | None = None  # (store version, list)
        self._lock = threading.RLock()

    def lexical(self, version: str | None = None) -> LexicalIndex:
        """The BM25 index for the store's current version (loaded or rebuilt as needed);
        `version`: the store's, if just read."""
        version = self.store.version() if version is None else version
        with self._lock:
            if self._lexical is None or self._lexical.version != version:
                loaded = LexicalIndex.load(self.bm25_dir)
                if loaded is None or loaded.version != version or not loaded.sentence_vectors:
                    # missing, stale, or written before sentence vectors were kept
                    loaded = self._build_lexical(version)
                    try:
                        loaded.save(self.bm25_dir)
                    except OSError:
                        pass  # a read-only data dir still answers; the copy lives in memory
                self._lexical = loaded
            return self._lexical

    def documents(self) -> list[DocumentInfo]:
        """One entry per indexed article; listed again only when the store's version changed
        (the chat page asks on every interaction)."""
        version = self.store.version()
        with self._lock:
            if self._documents is None or self._documents[0] != version:
                self._documents = (version, self._list_documents())
            return [doc.model_copy() for doc in self._documents[1]]

    def _list_documents(self) -> list[DocumentInfo]:
        docs: dict[str, DocumentInfo] = {}
        for record in self.store.records(include_text=False):
            meta = record.metadata
            doc = docs.get(meta["doc_id"])
            if doc is None:
                docs[meta["doc_id"]] = DocumentInfo(
                    doc_id=meta["doc_id"],
                    title=meta.get("title", ""),
                    outlet=meta.get("outlet") or None,
                    published=meta.get("published") or None,
                    url=meta.get("url") or None,
                    chunks=1,
                )
            else:
                doc.chunks += 1
        return sorted(docs.values(), key=lambda d: d.doc_id)

    def delete_documents(self, doc_ids: set[str]) -> int:
        """Remove every chunk of the given documents; returns how many documents were found."""
        with self._lock:
            stale = [
                r for r in self.store.records(include_text=False) if r.metadata["doc_id"] in doc_ids
            ]
            if not stale:
                return 0
            self.store.touch()
            self.store.delete([r.chunk_id for r in stale])
            self._refresh_lexical()
            return len({r.metadata["doc_id"] for r in stale})

    def sync(
        self, scan: CorpusScan, rebuild: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        started = time.perf_counter()
        with self._lock:
            if rebuild:
                self.store.drop()
            else:
                self.store.check_model()
                self.store.check_chunking()
            report = IngestReport(skipped=list(scan.skipped))
            existing: dict[str, list[ChunkRecord]] = {}
            for record in self.store.records(include_text=False):
                existing.setdefault(record.metadata["doc_id"], []).append(record)

            to_write: list[ChunkRecord] = []
            stale_ids: list[str] = []
            for article in scan.articles:
                old = existing.get(article.doc_id, [])
                current = [r for r in old if r.metadata.get("doc_sha") == article.sha256]
                stale_ids.extend(
                    r.chunk_id for r in old if r.metadata.get("doc_sha") != article.sha256
                )
                if current and len(current) == current[0].metadata.get("doc_chunks"):
                    report.unchanged += 1
                    continue
                if old:
                    report.updated += 1
                else:
                    report.added += 1
                to_write.extend(article_chunks(article, self.config))

            scanned = {a.doc_id for a in scan.articles}
            for doc_id, records in existing.items():
                source = Path(records[0].metadata.get("source", ""))
                if doc_id not in scanned and any(source.is_relative_to(f) for f in scan.folders):
                    report.removed += 1
                    stale_ids.extend(r.chunk_id for r in records)

            if to_write or stale_ids or rebuild:
                self.store.touch()
                self._write(to_write, progress)
                self.store.delete(stale_ids)
                self._refresh_lexical()
            report.embedded = len(to_write)
            report.chunks = self.store.count()
            report.seconds = round(time.perf_counter() - started, 3)
            return report

    def _write(self, records: list[ChunkRecord], progress: Progress | None) -> None:
        total = len(records)
        if progress:
            progress(0, total)
        for i in range(0, total, EMBED_BATCH):
            batch = records[i : i + EMBED_BATCH]
            vectors = self.embedder.embed(
                [embedding_text(r.metadata["title"], r.text) for r in batch]
            )
            self.store.add(batch, vectors)
            if progress:
                progress(min(i + EMBED_BATCH, total), total)

    def _build_lexical(self, version: str) -> LexicalIndex:
        """BM25 and sentence vectors for the store as it is now; sentences an earlier copy
        already embedded (this process's, else the one saved on disk) are not embedded again."""
        if self._lexical is not None and self._lexical.embed_model == self.embedder.name:
            known = self._lexical.sentence_vectors
        else:
            known = LexicalIndex.saved_vectors(self.bm25_dir, self.embedder.name)
        lexical = LexicalIndex.build(self.store.records(), version)
        lexical.embed_sentences(self.embedder, known)
        return lexical

    def _refresh_lexical(self) -> None:
        lexical = self._build_lexical(self.store.touch())
        lexical.save(self.bm25_dir)
        self._lexical = lexical
