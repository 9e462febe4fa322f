"""The `rag eval --baseline` pipeline: plain LlamaIndex retrieval over the same corpus.

Default `SentenceSplitter()` chunks, a `VectorStoreIndex` over a private in-memory Chroma
collection, the engine's own embedding model, `similarity_top_k=2`; the answer is composed
by the engine's composer (`RagEngine.answer_from`), so the comparison isolates retrieval.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from rag.errors import RagError
from rag.ingest.corpus import Article, SkipFile, read_article, scan
from rag.nlp.embeddings import Embedder
from rag.retrieve.conversation import Message, split_history
from rag.types import Answer, Passage

if TYPE_CHECKING:
    from rag.engine import RagEngine

TOP_K = 2
PIPELINE = "llama-index SentenceSplitter() + VectorStoreIndex(in-memory Chroma), top-2"


class EmbedderAdapter(BaseEmbedding):
    """Our `Embedder` as a llama-index embedding model: identical vectors, one loaded model."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "NewsRagEmbedderAdapter"

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._embedder.embed([query])[0]]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_query_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._embedder.embed(list(texts))]


class BaselineEngine:
    """A plain LlamaIndex RAG pipeline with the evaluator's `Engine` interface.

    Its index is built on first use from the articles the engine's index holds (or from the
    files under `paths`), and it never writes to the engine's own index.

    >>> from rag import RagEngine
    >>> baseline = BaselineEngine(RagEngine())
    >>> len(baseline.ask("What did May say about Russia in July 2016?").passages) <= 2
    True
    """

    def __init__(self, engine: RagEngine, paths: Sequence[Path] | None = None) -> None:
        self.engine = engine
        self.paths = list(paths) if paths else []
        self._lock = threading.Lock()
        self._retriever: Any = None
        self.chunks = 0

    def build(self) -> Any:
        """Build the index (once) and return its retriever."""
        with self._lock:
            if self._retriever is None:
                self._retriever = self._index().as_retriever(similarity_top_k=TOP_K)
            return self._retriever

    def _index(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        articles = scan(self.paths).articles if self.paths else indexed_articles(self.engine)
        if not articles:
            where = ", ".join(map(str, self.paths)) or "the index"
            raise RagError(f"the baseline found no articles in {where}")
        documents = llama_documents(articles)
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        collection = client.create_collection(f"baseline-{uuid.uuid4().hex}")
        store = ChromaVectorStore(chroma_collection=collection)
        index = VectorStoreIndex.from_documents(
            documents,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=EmbedderAdapter(self.engine.embedder),
            transformations=[SentenceSplitter()],
        )
        self.chunks = collection.count()
        return index

    def retrieve(self, question: str) -> list[Passage]:
        """The top-2 chunks by vector similarity, as passages with offsets into the cleaned
        text; a chunk the splitter could not place in its article is left out."""
        return node_passages(self.build().retrieve(question))

    def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer from the baseline's passages with the engine's composer. `k` is ignored:
        the baseline is defined with `similarity_top_k=2`."""
        started = time.perf_counter()
        # An empty question retrieves nothing; `answer_from` rejects it with the usual error.
        passages = self.retrieve(question) if isinstance(question, str) and question.strip() else []
        searched = (time.perf_counter() - started) * 1000
        answer = self.engine.answer_from(question, passages)
        timings = dict(answer.timings_ms)
        timings["retrieve"] = round(timings.get("retrieve", 0.0) + searched, 1)
        timings["total"] = round(timings.get("total", 0.0) + searched, 1)
        return answer.model_copy(update={"timings_ms": timings})

    def chat(self, messages: Sequence[Message], k: int | None = None) -> Answer:
        """The last user message, made standalone by the engine, answered by `ask`."""
        _, last = split_history(messages)
        answer = self.ask(self.engine.standalone_question(messages), k)
        return answer.model_copy(update={"question": last.strip()})


def node_passages(nodes: Sequence[Any]) -> list[Passage]:
    """LlamaIndex's retrieved nodes as passages with offsets into the cleaned text; a node the
    splitter could not place in its article is left out (no exact span to quote from)."""
    passages = []
    for scored in nodes:
        node, meta = scored.node, scored.node.metadata
        if node.start_char_idx is None or node.end_char_idx is None:
            continue
        passages.append(
            Passage(
                doc_id=str(meta["doc_id"]),
                chunk_id=node.node_id,
                text=node.get_content(),
                score=round(float(scored.score or 0.0), 6),
                title=str(meta.get("title") or ""),
                outlet=meta.get("outlet") or None,
                published=meta.get("published") or None,
                start=node.start_char_idx,
                end=node.end_char_idx,
            )
        )
    return passages


def indexed_articles(engine: RagEngine) -> list[Article]:
    """The articles the engine's index holds: each read again from the file it was ingested
    from when that file is unchanged, else put together from its chunks (which keep their
    offsets), so the baseline answers over the same corpus and quotes the same text."""
    lexical = engine.indexer.lexical()
    documents = lexical.documents()
    records = lexical.doc_records([d.doc_id for d in documents])
    sources = lexical.sources()
    articles = []
    for doc in documents:
        chunks = sorted(records.get(doc.doc_id, []), key=lambda r: int(r.metadata["start"]))
        if not chunks:
            continue
        meta: dict[str, object] = {
            "title": doc.title,
            "outlet": doc.outlet,
            "published": doc.published,
            "url": doc.url,
        }
        try:
            article = read_article(Path(sources.get(doc.doc_id, "")), meta)
        except (OSError, RagError, SkipFile):
            article = None
        if article is None or article.sha256 != chunks[0].metadata.get("doc_sha"):
            text = ""
            for record in chunks:  # what lies between two chunks is the space between paragraphs
                start = int(record.metadata["start"])
                text = text[:start] + "\n" * (start - len(text)) + record.text
            article = Article(
                doc.doc_id,
                Path(sources.get(doc.doc_id, doc.doc_id)),
                text,
                "",
                doc.title,
                doc.outlet,
                doc.published,
                doc.url,
            )
        articles.append(replace(article, doc_id=doc.doc_id))
    return articles


def llama_documents(articles: Sequence[Article]) -> list[Any]:
    """The articles as LlamaIndex `Document`s: our cleaned text, so that offsets into it are
    offsets into the article."""
    from llama_index.core import Document

    return [
        Document(
            id_=a.doc_id,
            text=a.text,
            # Chroma metadata cannot hold None: "" stands for unknown.
            metadata={
                "doc_id": a.doc_id,
                "title": a.title,
                "outlet": a.outlet or "",
                "published": a.published or "",
            },
        )
        for a in articles
    ]
