"""The benchmark run: for each size, generate a corpus and measure both pipelines on it; then
the same on real news (Reuters-21578), when it is there."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import time
from importlib import metadata
from pathlib import Path

from bench.generate import generate_articles, write_articles
from bench.measure import ROOT, BenchError, ChildRun, child_env, dir_size, log, median, percentile
from bench.plain import PIPELINE
from bench.questions import make_questions
from bench.results import (
    AddResult,
    BenchReport,
    IngestResult,
    PipelineResult,
    QueryResult,
    SizeResult,
    Spec,
)
from bench.worker import write_spec

PIPELINES = ("ours", "plain")
# ours / plain for these figures (for throughput, above 1 is better; for the rest, below 1)
RATIOS = (
    "ingest_chunks_per_s",
    "add_one_warm_s",
    "add_one_new_process_s",
    "query_p50_ms",
    "query_p95_ms",
    "cold_ask_s",
    "ingest_peak_rss_mb",
    "query_peak_rss_mb",
    "cold_ask_peak_rss_mb",
    "index_mb",
)


def _worker(pipeline: str, phase: str, spec: Path, work: Path) -> ChildRun:
    from bench.measure import run_child

    result = work / f"{pipeline}-{phase}.json"
    return run_child(
        ["-m", "bench.worker", pipeline, phase, str(spec), str(result)], work, result_file=result
    )


def _cold_ask(pipeline: str, index: Path, question: str, work: Path) -> ChildRun:
    from bench.measure import run_child

    if pipeline == "ours":
        env = child_env({"RAG_DATA_DIR": str(index)})
        run = run_child(["-m", "rag.cli", "ask", question, "--json"], work, env=env)
    else:
        run = run_child(["-m", "bench.plain_ask", str(index), question], work)
    if '"passages"' not in run.stdout:
        raise BenchError(f"the cold {pipeline} ask printed no answer: {run.stdout[:200]!r}")
    return run


def _pipeline(
    ingest: ChildRun, add: ChildRun, query: ChildRun, cold: list[ChildRun], index: Path
) -> PipelineResult:
    i = IngestResult(**ingest.result)
    a = AddResult(**add.result)
    q = QueryResult(**query.result)
    ingest_rate = i.chunks / i.ingest_s
    raw_rate = i.raw_chunks / i.raw_encode_s
    n = len(q.total_ms)
    return PipelineResult(
        chunks=i.chunks,
        ingest_s=round(i.ingest_s, 3),
        ingest_chunks_per_s=round(ingest_rate, 2),
        raw_encode_chunks_per_s=round(raw_rate, 2),
        ingest_vs_raw_encode=round(ingest_rate / raw_rate, 3),
        add_one_warm_s=round(i.add_warm_s, 3),
        add_one_new_process_s=round(a.add_s, 3),
        query_p50_ms=round(percentile(q.total_ms, 50), 2),
        query_p95_ms=round(percentile(q.total_ms, 95), 2),
        retrieve_p50_ms=round(percentile(q.retrieve_ms, 50), 2),
        compose_p50_ms=round(percentile(q.compose_ms, 50), 2),
        hit_rate=round(q.hits / n, 3),
        answered_rate=round(q.answered / n, 3),
        cold_ask_s=round(median([c.wall_s for c in cold]), 3),
        cold_ask_runs_s=[round(c.wall_s, 3) for c in cold],
        ingest_peak_rss_mb=round(ingest.peak_rss_mb, 1),
        query_peak_rss_mb=round(query.peak_rss_mb, 1),
        cold_ask_peak_rss_mb=round(max(c.peak_rss_mb for c in cold), 1),
        # the index, not the model's ONNX copy that the engine caches beside it
        index_mb=round(dir_size(index, skip=("models",)) / 2**20, 2),
    )


def run_size(
    n: int, seed: int, queries: int, work: Path, cold_runs: int, raw_sample: int
) -> SizeResult:
    """Measure both pipelines on a fresh synthetic corpus of `n` articles under `work`."""
    log(f"[N={n}] generating {n} articles (+2 to add) and {queries} questions, seed {seed}")
    articles = generate_articles(n + 2, seed)
    corpus = write_articles(work / "corpus", articles[:n])
    write_articles(work / "extra", articles[n:])
    questions = make_questions([a.facts for a in articles[:n]], queries, seed)
    if not questions:
        raise BenchError(f"no unambiguous question could be made from {n} articles")
    asked = [(q.question, q.source) for q in questions]
    return _measure(f"N={n}", corpus.folder, n, corpus.words, asked, work, cold_runs, raw_sample)


def run_reuters(
    source: Path, files: int, seed: int, queries: int, work: Path, cold_runs: int, raw_sample: int
) -> SizeResult:
    """Measure both pipelines on real news: the first `files` SGML files of Reuters-21578 as
    they are, asked the hand-written Reuters questions whose source is among them."""
    sgml = sorted(source.glob("reut2-*.sgm"))[:files]
    if not sgml:
        raise BenchError(f"no reut2-*.sgm files in {source}")
    corpus = work / "corpus"
    corpus.mkdir(parents=True)
    for path in sgml:
        (corpus / path.name).symlink_to(path.resolve())
    from rag.ingest.corpus import scan
    from rag.nlp.text import words

    log(f"[Reuters] reading {len(sgml)} SGML files")
    ids, total_words = set(), 0
    for article in scan([corpus]):
        ids.add(article.doc_id)
        total_words += len(words(article.text))
    write_articles(work / "extra", generate_articles(2, seed))
    asked = []
    for gold in sorted((ROOT / "eval").glob("reuters_*.jsonl")):
        for line in gold.read_text("utf-8").splitlines():
            item = json.loads(line)
            if item.get("sources") and item["sources"][0] in ids:
                asked.append((item["question"], item["sources"][0]))
    asked = random.Random(seed).sample(asked, min(queries, len(asked)))
    if not asked:
        raise BenchError("no Reuters gold question has its source in these files")
    label = "Reuters-21578"
    result = _measure(label, corpus, len(ids), total_words, asked, work, cold_runs, raw_sample)
    result.corpus = f"Reuters-21578, Distribution 1.0 ({len(sgml)} SGML files)"
    return result


def _measure(
    label: str,
    corpus: Path,
    n: int,
    words: int,
    questions: list[tuple[str, str]],
    work: Path,
    cold_runs: int,
    raw_sample: int,
) -> SizeResult:
    """Both pipelines on `corpus`: ingest, add one, warm questions, cold asks."""
    clock = time.perf_counter()
    runs: dict[str, dict[str, ChildRun]] = {}
    for pipeline in PIPELINES:
        spec = Spec(
            corpus=corpus,
            extra=work / "extra",
            index=work / pipeline,
            ours_index=work / "ours",
            questions=questions,
            raw_sample=raw_sample,
        )
        spec_path = work / f"{pipeline}-spec.json"
        write_spec(spec, spec_path)
        runs[pipeline] = {}
        for phase, what in (
            ("ingest", f"ingesting {n} articles, then one more, then the raw encode"),
            ("add", "adding one article from a new process"),
            ("query", f"{len(questions)} warm questions"),
        ):
            log(f"[{label}] {pipeline}: {what} ({time.perf_counter() - clock:.0f} s so far)")
            runs[pipeline][phase] = _worker(pipeline, phase, spec_path, work)
        rag_file = Path(runs[pipeline]["ingest"].result["rag_file"])
        if not rag_file.is_relative_to(ROOT):
            raise BenchError(f"the workers imported rag from {rag_file}, not from {ROOT}")
    cold: dict[str, list[ChildRun]] = {p: [] for p in PIPELINES}
    for r in range(cold_runs):  # alternate, so drift in machine load hits both alike
        log(f"[{label}] cold ask, run {r + 1}/{cold_runs}")
        for pipeline in PIPELINES:
            cold[pipeline].append(_cold_ask(pipeline, work / pipeline, questions[0][0], work))
    results = {
        p: _pipeline(runs[p]["ingest"], runs[p]["add"], runs[p]["query"], cold[p], work / p)
        for p in PIPELINES
    }
    ours, plain = results["ours"], results["plain"]
    ratios = {key: round(getattr(ours, key) / getattr(plain, key), 3) for key in RATIOS}
    log(f"[{label}] done in {time.perf_counter() - clock:.0f} s")
    return SizeResult(n, words, len(questions), ours, plain, ratios)


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {
        name: metadata.version(name)
        for name in ("llama-index-core", "chromadb", "sentence-transformers", "torch")
    }
    return {
        "cpus": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


def run(
    sizes: list[int],
    seed: int,
    queries: int,
    work: Path,
    cold_runs: int,
    raw_sample: int,
    reuters: Path | None = None,
    reuters_files: int = 22,
) -> BenchReport:
    started = time.perf_counter()
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results = []
    for n in sizes:
        results.append(run_size(n, seed, queries, work / f"n{n}", cold_runs, raw_sample))
    if reuters is not None:
        results.append(
            run_reuters(
                reuters, reuters_files, seed, queries, work / "reuters", cold_runs, raw_sample
            )
        )
    return BenchReport(
        seed=seed,
        machine=machine(),
        plain_pipeline=PIPELINE,
        sizes=results,
        started=stamp,
        seconds=round(time.perf_counter() - started, 1),
    )
