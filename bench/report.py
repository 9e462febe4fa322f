"""The benchmark's outputs: JSON, a Markdown table per corpus size, and a PNG plot."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from bench.results import BenchReport, PipelineResult, SizeResult

Row = tuple[str, Callable[[PipelineResult], float | str], str | None, str]

# label, figure, ratio key (ours / plain), goal
ROWS: list[Row] = [
    ("chunks in the index", lambda p: p.chunks, None, ""),
    ("ingest, chunks/s", lambda p: p.ingest_chunks_per_s, "ingest_chunks_per_s", ""),
    ("raw encode of the same chunks, chunks/s", lambda p: p.raw_encode_chunks_per_s, None, ""),
    ("ingest ÷ raw encode", lambda p: p.ingest_vs_raw_encode, None, "≥ 0.9"),
    ("add one article, same process, s", lambda p: p.add_one_warm_s, "add_one_warm_s", ""),
    (
        "add one article, new process, s",
        lambda p: p.add_one_new_process_s,
        "add_one_new_process_s",
        "flat in N",
    ),
    ("warm query p50, ms", lambda p: p.query_p50_ms, "query_p50_ms", ""),
    (
        "warm query p95, ms",
        lambda p: p.query_p95_ms,
        "query_p95_ms",
        "≤ 150 ms and ≤ 0.5× (N = 10,000)",
    ),
    ("  of which retrieve p50, ms", lambda p: p.retrieve_p50_ms, None, ""),
    ("  of which compose p50, ms", lambda p: p.compose_p50_ms, None, ""),
    ("source article among passages", lambda p: p.hit_rate, None, ""),
    ("answered (not abstained)", lambda p: p.answered_rate, None, ""),
    ("cold ask, new process, s (median)", lambda p: p.cold_ask_s, "cold_ask_s", "< 3 s and ≤ 0.3×"),
    ("peak RSS, ingest, MB", lambda p: p.ingest_peak_rss_mb, "ingest_peak_rss_mb", ""),
    ("peak RSS, warm query process, MB", lambda p: p.query_peak_rss_mb, "query_peak_rss_mb", ""),
    ("peak RSS, cold ask, MB", lambda p: p.cold_ask_peak_rss_mb, "cold_ask_peak_rss_mb", ""),
    ("index on disk, MB", lambda p: p.index_mb, "index_mb", ""),
]


def write_json(report: BenchReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dataclasses.asdict(report)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")


def read_json(path: Path) -> BenchReport:
    data = json.loads(path.read_text("utf-8"))
    sizes = [
        SizeResult(
            **{
                **s,
                "ours": PipelineResult(**s["ours"]),
                "plain": PipelineResult(**s["plain"]),
            }
        )
        for s in data.pop("sizes")
    ]
    return BenchReport(**data, sizes=sizes)


def _number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def size_table(size: SizeResult) -> str:
    lines = [
        f"**N = {size.n:,} articles**"
        + (f" of {size.corpus}" if size.corpus != "synthetic" else "")
        + f" ({size.words:,} words, {size.questions} questions)",
        "",
        "| figure | news-rag | plain LlamaIndex | ours ÷ plain | goal |",
        "|---|---:|---:|---:|---|",
    ]
    for label, figure, ratio, goal in ROWS:
        shown = f"{size.ratios[ratio]:.2f}×" if ratio else ""
        ours, plain = _number(figure(size.ours)), _number(figure(size.plain))
        lines.append(f"| {label} | {ours} | {plain} | {shown} | {goal} |")
    return "\n".join(lines)


def markdown(report: BenchReport) -> str:
    m = report.machine
    head = (
        f"Benchmark of {report.started}: one run on {m['cpus']} cores ({m['cpu']}), "
        f"Python {m['python']}, seed {report.seed}, {report.seconds:,.0f} s in all. "
        f"Plain pipeline: {report.plain_pipeline}."
    )
    return head + "\n\n" + "\n\n".join(size_table(s) for s in report.sizes) + "\n"


def plot(report: BenchReport, path: Path) -> None:
    """Warm query latency and ingest rate against N, both pipelines (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    synthetic = [s for s in report.sizes if s.corpus == "synthetic"]
    sizes = [s.n for s in synthetic]
    fig, (latency, rate) = plt.subplots(1, 2, figsize=(8, 3.2), dpi=90)
    for name, pick, colour in (("news-rag", "ours", "tab:blue"), ("plain", "plain", "tab:orange")):
        results = [getattr(s, pick) for s in synthetic]
        latency.plot(
            sizes, [r.query_p95_ms for r in results], "o-", color=colour, label=f"{name} p95"
        )
        latency.plot(
            sizes, [r.query_p50_ms for r in results], "o--", color=colour, label=f"{name} p50"
        )
        rate.plot(sizes, [r.ingest_chunks_per_s for r in results], "o-", color=colour, label=name)
        rate.plot(
            sizes,
            [r.raw_encode_chunks_per_s for r in results],
            "o:",
            color=colour,
            label=f"raw encode of {name}'s chunks",
        )
    latency.axhline(150, color="grey", linewidth=0.8)
    latency.set(xscale="log", yscale="log", xlabel="articles", ylabel="ms", title="warm query")
    rate.set(xscale="log", xlabel="articles", ylabel="chunks/s", title="ingest")
    rate.set_ylim(bottom=0)
    for axes in (latency, rate):
        axes.legend(fontsize=7)
        axes.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
