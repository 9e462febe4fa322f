"""Metric math of `rag eval` on tiny hand-made cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import InputError
from rag.evaluation.judge import Verdict
from rag.evaluation.metrics import (
    METRICS,
    GoldItem,
    aggregate,
    fact_found,
    failed_thresholds,
    load_gold,
    markdown_table,
    report,
    score_item,
    threshold_key,
)
from rag.types import Answer, Citation, Passage
from tests.conftest import ROOT


def answer(text: str, docs: list[str], cited: list[str], abstained: bool = False) -> Answer:
    return Answer(
        question="q",
        text=text,
        abstained=abstained,
        mode="extractive",
        passages=[
            Passage(doc_id=d, chunk_id=f"{d}#{i}", text=f"text of {d}", score=1.0)
            for i, d in enumerate(docs)
        ],
        citations=[
            Citation(
                n=i,
                doc_id=d,
                title="t",
                outlet=None,
                published=None,
                chunk_id="c",
                quote="x",
                start=0,
                end=1,
            )
            for i, d in enumerate(cited, 1)
        ],
    )


def item(
    kind: str = "single", facts: list[list[str]] | None = None, sources: list[str] | None = None
) -> GoldItem:
    return GoldItem(id="i", question="q", type=kind, key_facts=facts or [], sources=sources or [])  # type: ignore[arg-type]


def test_a_hit_at_rank_three_gives_mrr_one_third() -> None:
    result = score_item(
        item(facts=[["x"]], sources=["g"]), answer("x [1]", ["a", "b", "g"], ["g"]), 1.0
    )
    assert result.hit and result.reciprocal_rank == pytest.approx(1 / 3)
    assert aggregate([result])["mrr"] == pytest.approx(0.3333, abs=1e-4)


def test_an_abstention_on_an_unanswerable_item_is_correct() -> None:
    result = score_item(
        item("unanswerable"), answer("The articles don't say.", ["a"], [], True), 1.0
    )
    metrics = aggregate([result])
    assert result.correct
    assert metrics["answer_accuracy"] == 1.0 and metrics["abstention_recall"] == 1.0


def test_a_leading_space_alternate_does_not_match_inside_a_number() -> None:
    assert not fact_found([" 4 sep"], "on 14 September")
    assert fact_found([" 4 sep"], "on 4 September")
    assert fact_found(["HANGZHOU"], "in Hangzhou")


def test_answer_metrics_need_every_key_fact_and_count_citation_precision() -> None:
    gold = item(facts=[["real"], ["North Korea"]], sources=["g"])
    partial = score_item(gold, answer("the threat is real [1] [2]", ["g"], ["g", "other"]), 1.0)
    assert not partial.correct and partial.answer_facts == 0.5
    metrics = aggregate([partial])
    assert metrics["key_fact_recall"] == 0.5
    assert metrics["citation_precision"] == 0.5
    assert metrics["cited_answer_rate"] == 1.0


def test_a_copy_of_a_source_story_counts_as_the_source() -> None:
    shown = answer("x [1]", ["a", "copy"], ["copy"])
    shown.passages[1].copies = ["g"]  # the index showed the story once, from its copy
    shown.citations[0].copies = ["g"]
    result = score_item(item(facts=[["x"]], sources=["g"]), shown, 1.0)
    assert result.hit and result.reciprocal_rank == 0.5
    assert aggregate([result])["citation_precision"] == 1.0


def test_a_false_abstention_counts_and_words_exclude_markers() -> None:
    abstained = score_item(item(facts=[["x"]], sources=["g"]), answer("", ["g"], [], True), 1.0)
    answered = score_item(
        item(facts=[["x"]], sources=["g"]), answer("x is four words [1]", ["g"], ["g"]), 3.0
    )
    metrics = aggregate([abstained, answered])
    assert metrics["false_abstention_rate"] == 0.5
    assert metrics["answer_words_median"] == 4
    report = {"metrics": metrics, "by_type": {"single": metrics}}
    assert failed_thresholds(report, {"answer_accuracy": 0.9}, {"false_abstention_rate": 0.1}) == [
        "answer_accuracy = 0.5 is below the minimum 0.9",
        "false_abstention_rate = 0.5 is above the maximum 0.1",
    ]


def test_a_threshold_can_gate_one_question_type() -> None:
    assert threshold_key("answer_accuracy") == "answer_accuracy"
    assert threshold_key("temporal_answer_accuracy") == "temporal:answer_accuracy"
    assert threshold_key("temporal_nonsense") is None and threshold_key("bogus_mrr") is None
    report = {
        "metrics": {"answer_accuracy": 0.95},
        "by_type": {"temporal": {"answer_accuracy": 0.8}, "single": {"answer_accuracy": 1.0}},
    }
    minima = {"temporal:answer_accuracy": 0.9, "single:answer_accuracy": 0.9}
    assert failed_thresholds(report, minima, {}) == [
        "temporal answer_accuracy = 0.8 is below the minimum 0.9"
    ]
    assert failed_thresholds(report, {"multi:answer_accuracy": 0.5}, {}) == [
        "multi answer_accuracy: no items it applies to"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "gold.jsonl:1: not JSON"),
        ('{"id": "a", "type": "single"}\n', "gold.jsonl:1: question: Field required"),
        ('{"id": "a", "question": "q", "type": "bogus"}\n', "gold.jsonl:1: type:"),
        ("\n", "has no items"),
    ],
)
def test_bad_gold_files_name_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_gold(path)


def test_the_shipped_gold_set_loads() -> None:
    items = load_gold(ROOT / "eval" / "gold.jsonl")
    assert len(items) >= 40
    assert {i.type for i in items} == {
        "single",
        "temporal",
        "multi",
        "alias",
        "numeric",
        "unanswerable",
    }


def test_judge_metrics_are_extra_keys_only_when_judged() -> None:
    gold = item(facts=[["x"]], sources=["g"])
    results = [score_item(gold, answer("x [1]", ["g"], ["g"]), 1.0) for _ in range(4)]
    plain = report(results, {})
    assert list(plain["metrics"]) == list(METRICS) and "judge" not in plain["items"][0]
    verdicts = [
        Verdict(score=5, correct=True, faithful=True),
        Verdict(score=4, correct=True, faithful=False),
        Verdict(score=2, correct=False, faithful=True),
        Verdict(score=None, faithful=True, error="correctness: no 1-5 score"),
    ]
    for result, verdict in zip(results, verdicts, strict=True):
        result.judge = verdict
    judged = report(results, {})
    metrics = judged["metrics"]
    assert metrics["judge_correctness"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["judge_score"] == pytest.approx((5 + 4 + 2) / 3 / 5, abs=1e-4)
    assert metrics["judge_faithfulness"] == 0.75
    assert metrics["judge_errors"] == 1
    assert set(judged["by_type"]["single"]) == set(metrics)
    assert judged["items"][3]["judge"]["error"] == "correctness: no 1-5 score"


def test_the_markdown_table_has_judge_rows_only_when_every_column_has_them() -> None:
    base = aggregate([score_item(item("unanswerable"), answer("", [], [], True), 1.0)])
    judged = base | {"judge_correctness": 1.0, "judge_score": 1.0}
    judged |= {"judge_faithfulness": 0.5, "judge_errors": 0.0}
    table = markdown_table({"news-rag": judged, "baseline": judged})
    assert table.splitlines()[0] == "| metric | news-rag | baseline |"
    assert "| judge_faithfulness | 0.5 | 0.5 |" in table
    assert "judge_" not in markdown_table({"news-rag": judged, "baseline": base})


def test_a_metric_with_nothing_to_measure_is_none_and_a_dash_in_tables() -> None:
    unanswerable = score_item(item("unanswerable"), answer("", [], [], True), 1.0)
    metrics = aggregate([unanswerable])
    assert metrics["abstention_recall"] == 1.0
    assert metrics["hit_rate"] is None and metrics["answer_words_median"] is None
    assert "| hit_rate | – |" in markdown_table({"news-rag": metrics})
