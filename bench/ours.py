"""Our pipeline, driven through the public `RagEngine` API inside worker processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.measure import log
from bench.results import AddResult, IngestResult, QueryResult, Spec

if TYPE_CHECKING:
    from rag import RagEngine


def engine_for(index: Path, spin: bool = True) -> RagEngine:
    """An extractive engine over the index in `index`, ignoring any `.env`. Without `spin`,
    its model's idle threads sleep even after a question (for a process that runs another
    model too: the plain pipeline's, whose threads spinning ones would slow)."""
    from rag import RagEngine, Settings
    from rag.nlp.embeddings import make_embedder

    settings = Settings(_env_file=None, RAG_DATA_DIR=index, RAG_LLM="extractive", RAG_EMBED="local")
    return RagEngine(settings, embedder=None if spin else make_embedder(settings))


def _extra(spec: Spec) -> list[Path]:
    return sorted(spec.extra.glob("*.txt"))


def chunk_texts(corpus: Path) -> list[str]:
    """The texts our ingest embeds for each chunk (headline + chunk), in index order."""
    from rag.config import Settings
    from rag.ingest.corpus import scan
    from rag.ingest.index import ChunkingConfig, article_chunks, embedding_text

    settings = Settings(_env_file=None)
    config = ChunkingConfig(settings.chunk_tokens, settings.chunk_overlap)
    return [
        embedding_text(article.title, chunk.text)
        for article in scan([corpus]).articles
        for chunk in article_chunks(article, config)
    ]


def sample(texts: list[str], size: int) -> list[str]:
    """At most `size` texts, evenly spread over the list."""
    if len(texts) <= size:
        return texts
    step = len(texts) / size
    return [texts[int(i * step)] for i in range(size)]


def ingest(spec: Spec) -> IngestResult:
    import rag

    engine = engine_for(spec.index)
    started = time.perf_counter()
    engine.embedder.embed(["warm up"])  # load the model outside the timed ingest
    loaded = time.perf_counter()

    shown = [0]

    def progress(done: float, total: int) -> None:  # articles: about `total` in all
        if total and (done == total or done - shown[0] >= 1000):
            shown[0] = int(done)
            log(f"    ours: ingested {int(done)}/{total} articles")

    report = engine.ingest([spec.corpus], progress=progress)
    ingested = time.perf_counter()
    engine.ingest([_extra(spec)[0]])
    added = time.perf_counter()

    texts = sample(chunk_texts(spec.corpus), spec.raw_sample)
    encoder = engine.embedder  # the model alone, through the engine's backend (onnxruntime)
    encode_started = time.perf_counter()
    encoder.embed(texts)
    encoded = time.perf_counter()
    return IngestResult(
        chunks=report.chunks,
        ingest_s=ingested - loaded,
        model_load_s=loaded - started,
        add_warm_s=added - ingested,
        raw_chunks=len(texts),
        raw_encode_s=encoded - encode_started,
        rag_file=str(Path(rag.__file__).resolve()),
    )


def add(spec: Spec) -> AddResult:
    engine = engine_for(spec.index)
    engine.embedder.embed(["warm up"])
    started = time.perf_counter()
    report = engine.ingest([_extra(spec)[1]])
    return AddResult(add_s=time.perf_counter() - started, chunks=report.chunks)


def query(spec: Spec) -> QueryResult:
    engine = engine_for(spec.index)
    started = time.perf_counter()
    for question, _ in spec.questions[: spec.warmup]:
        engine.ask(question)
    setup = time.perf_counter() - started
    total, retrieve, compose = [], [], []
    hits = answered = 0
    for i, (question, source) in enumerate(spec.questions, 1):
        t0 = time.perf_counter()
        answer = engine.ask(question)
        total.append((time.perf_counter() - t0) * 1000)
        retrieve.append(answer.timings_ms["retrieve"])
        compose.append(answer.timings_ms["compose"])
        hits += any(p.doc_id == source for p in answer.passages)
        answered += not answer.abstained
        if i % 50 == 0:
            log(f"    ours: {i}/{len(spec.questions)} questions")
    return QueryResult(setup, total, retrieve, compose, hits, answered)
