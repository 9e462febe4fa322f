"""Typed results: what each worker process measures, and what a run reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Spec:
    """What a worker process works on (written as JSON by the runner)."""

    corpus: Path  # the N articles
    extra: Path  # two more articles: one added warm, one by a new process
    index: Path  # the pipeline's index directory
    ours_index: Path  # our index (the plain pipeline's answers use our composer)
    questions: list[tuple[str, str]] = field(default_factory=list)  # (question, source doc id)
    raw_sample: int = 500  # chunks encoded for the raw-encode rate
    warmup: int = 3  # questions asked before timing


@dataclass(frozen=True)
class IngestResult:
    chunks: int  # chunks in the index after ingesting the corpus
    ingest_s: float  # ingesting the corpus (load, chunk, embed, store, BM25), model loaded
    model_load_s: float
    add_warm_s: float  # adding one article in the same process, right after
    raw_chunks: int  # chunks (a sample of the same ones) encoded by the model alone
    raw_encode_s: float
    rag_file: str  # which `rag` package the worker imported


@dataclass(frozen=True)
class AddResult:
    add_s: float  # adding one article in a new process (model already loaded)
    chunks: int  # chunks in the index afterwards


@dataclass(frozen=True)
class QueryResult:
    setup_s: float  # opening the index, loading the model, warm-up questions
    total_ms: list[float]  # per question: retrieve + extractive answer
    retrieve_ms: list[float]
    compose_ms: list[float]
    hits: int  # questions whose source article is among the passages
    answered: int  # questions not abstained


@dataclass
class PipelineResult:
    """Every figure for one pipeline at one corpus size."""

    chunks: int
    ingest_s: float
    ingest_chunks_per_s: float
    raw_encode_chunks_per_s: float
    ingest_vs_raw_encode: float
    add_one_warm_s: float
    add_one_new_process_s: float
    query_p50_ms: float
    query_p95_ms: float
    retrieve_p50_ms: float
    compose_p50_ms: float
    hit_rate: float
    answered_rate: float
    cold_ask_s: float  # median over the cold runs
    cold_ask_runs_s: list[float]
    ingest_peak_rss_mb: float
    query_peak_rss_mb: float
    cold_ask_peak_rss_mb: float
    index_mb: float


@dataclass
class SizeResult:
    n: int
    words: int
    questions: int
    ours: PipelineResult
    plain: PipelineResult
    ratios: dict[str, float]  # ours / plain for each comparable figure
    corpus: str = "synthetic"  # or the real collection it was measured on


@dataclass
class BenchReport:
    seed: int
    machine: dict[str, str]
    plain_pipeline: str
    sizes: list[SizeResult]
    started: str
    seconds: float
