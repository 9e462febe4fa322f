"""`rag eval`: score the engine against a gold Q&A set (metrics of shared/DESIGN.md)."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from pydantic import BaseModel, Field, ValidationError

from rag.errors import InputError, RagError
from rag.evaluation.judge import JUDGE_METRICS, Judge, Verdict
from rag.types import Answer

ItemType = Literal["single", "temporal", "multi", "alias", "numeric", "unanswerable"]
METRICS = (
    "hit_rate",
    "mrr",
    "context_fact_recall",
    "answer_accuracy",
    "key_fact_recall",
    "citation_precision",
    "cited_answer_rate",
    "abstention_recall",
    "false_abstention_rate",
    "answer_words_median",
    "latency_p50_ms",
    "latency_p95_ms",
)


class GoldItem(BaseModel):
    id: str
    question: str = Field(min_length=1)
    answer: str = ""
    key_facts: list[list[str]] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    type: ItemType
    history: list[dict[str, str]] = Field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


class ItemResult(BaseModel):
    """One gold item's outcome; the metrics are means over these."""

    id: str
    type: str
    question: str
    answerable: bool
    answer: str = ""
    abstained: bool = False
    error: str | None = None
    expected: list[list[str]] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    cited_docs: list[str] = Field(default_factory=list)
    cited_sources: list[bool] = Field(
        default_factory=list,
        description="For each cited article: whether it or a copy of its story is a source.",
    )
    retrieved_docs: list[str] = Field(default_factory=list)
    hit: bool = False
    reciprocal_rank: float = 0.0
    context_facts: float = 0.0
    answer_facts: float = 0.0
    missing_facts: list[str] = Field(default_factory=list)
    correct: bool = False
    latency_ms: float = 0.0
    judge: Verdict | None = None


class Engine(Protocol):
    def ask(self, question: str, k: int | None = None) -> Answer: ...
    def chat(self, messages: Sequence[dict[str, str]], k: int | None = None) -> Answer: ...


def load_gold(path: Path) -> list[GoldItem]:
    """Read a gold file; any problem is one line naming the file and line number."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"gold file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read gold file {path}: {exc}") from None
    items: list[GoldItem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from None
        try:
            item = GoldItem.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(x) for x in first["loc"]) or "item"
            raise InputError(f"{path}:{number}: {field}: {first['msg']}") from None
        if item.id in seen:
            raise InputError(f"{path}:{number}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise InputError(f"gold file {path} has no items")
    return items


def fact_found(alternates: Sequence[str], text: str) -> bool:
    """A key fact matches when any alternate is a case-insensitive substring (spaces kept)."""
    lowered = text.lower()
    return any(alt.lower() in lowered for alt in alternates if alt)


def answer_words(text: str) -> int:
    return len(re.sub(r"\[\d+\]", " ", text).split())


def score_item(
    item: GoldItem, answer: Answer | None, latency_ms: float, error: str | None = None
) -> ItemResult:
    """Compare one answer with its gold item."""
    result = ItemResult(
        id=item.id,
        type=item.type,
        question=item.question,
        answerable=item.answerable,
        expected=item.key_facts,
        sources=item.sources,
        latency_ms=round(latency_ms, 1),
        error=error,
    )
    if answer is None:
        return result
    result.answer = answer.text
    result.abstained = answer.abstained
    result.cited_docs = [c.doc_id for c in answer.citations]
    result.retrieved_docs = [p.doc_id for p in answer.passages]
    if not item.answerable:
        result.correct = answer.abstained
        return result
    gold = set(item.sources)
    # an article counts as a source when it or a copy of its story is one (the index shows
    # a story once, from whichever copy ranks first)
    result.cited_sources = [bool(gold & {c.doc_id, *c.copies}) for c in answer.citations]
    found = [bool(gold & {p.doc_id, *p.copies}) for p in answer.passages]
    ranks = [i for i, ok in enumerate(found, start=1) if ok]
    result.hit = bool(ranks)
    result.reciprocal_rank = 1.0 / ranks[0] if ranks else 0.0
    context = "\n".join(p.text for p in answer.passages)
    facts = item.key_facts or [[]]
    result.context_facts = sum(fact_found(f, context) for f in facts) / len(facts)
    text = "" if answer.abstained else answer.text
    matched = [fact_found(f, text) for f in facts]
    result.answer_facts = sum(matched) / len(facts)
    result.missing_facts = [" | ".join(f) for f, ok in zip(facts, matched, strict=True) if not ok]
    result.correct = not answer.abstained and all(matched)
    return result


def _mean(values: Sequence[float]) -> float | None:
    """The mean; None when there is nothing to measure (the metric does not apply: hit rate
    over unanswerable questions, abstention recall over answerable ones)."""
    return round(statistics.fmean(values), 4) if values else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 1)


# A metric table: None where the metric does not apply to the items (`_mean`).
Metrics = dict[str, float | None]


def judge_metrics(results: Sequence[ItemResult]) -> Metrics:
    """The judge's metrics: `judge_correctness` = share of items scoring >= 4 (abstention
    rules in `Judge.judge`), `judge_score` = mean 1-5 score divided by 5 (so in [0.2, 1]),
    `judge_faithfulness` = share of judged non-abstained answers the passages support,
    `judge_errors` = number of items the judge failed on (left out of the other three)."""
    verdicts = [r.judge for r in results if r.judge is not None]
    scores = [v.score for v in verdicts if v.score is not None]
    return {
        "judge_correctness": _mean([float(v.correct) for v in verdicts if v.correct is not None]),
        "judge_score": round(statistics.fmean(scores) / 5, 4) if scores else 0.0,
        "judge_faithfulness": _mean(
            [float(v.faithful) for v in verdicts if v.faithful is not None]
        ),
        "judge_errors": float(sum(v.error is not None for v in verdicts)),
    }


def aggregate(results: Sequence[ItemResult], judged: bool | None = None) -> Metrics:
    """The metric table of shared/DESIGN.md over a set of item results, plus the judge's
    metrics when the items were judged (`judged=None`: when any item carries a verdict)."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    answered = [r for r in results if not r.abstained and r.error is None]
    cited = [ok for r in answerable for ok in r.cited_sources]
    metrics = {
        "hit_rate": _mean([float(r.hit) for r in answerable]),
        "mrr": _mean([r.reciprocal_rank for r in answerable]),
        "context_fact_recall": _mean([r.context_facts for r in answerable]),
        "answer_accuracy": _mean([float(r.correct) for r in results]),
        "key_fact_recall": _mean([r.answer_facts for r in answerable]),
        "citation_precision": _mean([float(ok) for ok in cited]),
        "cited_answer_rate": _mean([float(bool(r.cited_docs)) for r in answered]),
        "abstention_recall": _mean([float(r.abstained) for r in unanswerable]),
        "false_abstention_rate": _mean([float(r.abstained) for r in answerable]),
        "answer_words_median": float(statistics.median([answer_words(r.answer) for r in answered]))
        if answered
        else None,
        "latency_p50_ms": _percentile([r.latency_ms for r in results], 0.5),
        "latency_p95_ms": _percentile([r.latency_ms for r in results], 0.95),
    }
    if judged or (judged is None and any(r.judge is not None for r in results)):
        metrics.update(judge_metrics(results))
    return metrics


def run(
    engine: Engine,
    items: Sequence[GoldItem],
    k: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    judge: Judge | None = None,
) -> list[ItemResult]:
    """Answer every item through the public API (history items through `chat`); with a
    `judge`, every answer is also judged (an item whose answer failed scores 1)."""
    results = []
    for i, item in enumerate(items):
        started = time.perf_counter()
        answer, error = None, None
        try:
            if item.history:
                messages = [*item.history, {"role": "user", "content": item.question}]
                answer = engine.chat(messages, k=k)
            else:
                answer = engine.ask(item.question, k=k)
        except RagError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one failing item must not stop the run
            error = f"{type(exc).__name__}: {exc}"
        latency = (time.perf_counter() - started) * 1000
        result = score_item(item, answer, latency, error)
        if judge is not None:
            if answer is None:
                result.judge = Verdict(score=1.0, correct=False, correctness_reason="no answer")
            else:
                result.judge = judge.judge(item.question, item.answer, item.answerable, answer)
        results.append(result)
        if progress:
            progress(i + 1, len(items))
    return results


def report(results: Sequence[ItemResult], config: dict[str, Any]) -> dict[str, Any]:
    """The JSON report: overall metrics, metrics by type, and every item (with the judge's
    verdict when judged)."""
    types = sorted({r.type for r in results})
    judged = any(r.judge is not None for r in results)
    return {
        "n": len(results),
        "config": config,
        "metrics": aggregate(results, judged),
        "by_type": {t: aggregate([r for r in results if r.type == t], judged) for t in types},
        "items": [r.model_dump(exclude=None if judged else {"judge"}) for r in results],
    }


def threshold_key(name: str) -> str | None:
    """'answer_accuracy' → itself; 'temporal_answer_accuracy' → 'temporal:answer_accuracy'
    (one question type's figure); None for anything else."""
    if name in METRICS:
        return name
    kind, _, metric = name.partition("_")
    return f"{kind}:{metric}" if kind in get_args(ItemType) and metric in METRICS else None


def failed_thresholds(
    report: dict[str, Any], minima: dict[str, float], maxima: dict[str, float]
) -> list[str]:
    """Human-readable misses of `--min-<metric>` and `--max-<metric>` thresholds (keys of
    `threshold_key`; a type with no items in the report misses its threshold)."""

    def value(key: str) -> float | None:
        kind, _, metric = key.rpartition(":")
        metrics = report["by_type"].get(kind, {}) if kind else report["metrics"]
        return metrics.get(metric)

    misses = []
    for limits, below in ((minima, True), (maxima, False)):
        for key, limit in limits.items():
            found = value(key)
            label = key.replace(":", " ")
            if found is None:
                misses.append(f"{label}: no items it applies to")
            elif (found < limit) if below else (found > limit):
                side = "below the minimum" if below else "above the maximum"
                misses.append(f"{label} = {found:g} is {side} {limit:g}")
    return misses


def metric_names(columns: Sequence[Metrics]) -> list[str]:
    """The metrics of the design contract, then extra ones (the judge's) every column has."""
    extra = [m for m in JUDGE_METRICS if columns and all(m in c for c in columns)]
    return [*METRICS, *extra]


def markdown_table(columns: dict[str, Metrics]) -> str:
    """Metrics as a Markdown table, one column per system ("–" where one does not apply)."""
    names = list(columns)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for metric in metric_names(list(columns.values())):
        cells = " | ".join(cell(columns[n].get(metric)) for n in names)
        lines.append(f"| {metric} | {cells} |")
    return "\n".join(lines) + "\n"


NOT_APPLICABLE = "–"


def cell(value: float | None) -> str:
    """A metric as a table shows it: "–" where it does not apply."""
    return NOT_APPLICABLE if value is None else f"{value:g}"
