"""`rag eval --judge`: the LLM judge against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rag import RagEngine
from rag.evaluation import metrics as ev
from rag.evaluation.judge import Judge, JudgeParseError, parse_score, parse_verdict
from rag.llm.prompts import ABSTAIN_PHRASE
from rag.nlp.embeddings import LocalEmbedder
from rag.types import Answer, Passage
from tests.conftest import HEADLINE, settings
from tests.fake_openai import FakeOpenAIServer

MAY = ev.GoldItem(
    id="may",
    question=HEADLINE,
    answer="She called the threat from Russia real.",
    key_facts=[["real"]],
    sources=["002_65d076ec7d10a953"],
    type="single",
)
KINZHAL = ev.GoldItem(
    id="kinzhal",
    question="What missile did Putin inspect before his talks with Pompeo?",
    answer="The hypersonic Kinzhal (Dagger) missile.",
    key_facts=[["Kinzhal", "Dagger"]],
    sources=["003_17aab65a217801d9"],
    type="single",
)


def grader(body: dict[str, Any]) -> str:
    """A judge that passes everything: a score for correctness prompts, YES otherwise."""
    if body["messages"][0]["role"] == "system":
        return "4\nSame facts as the reference."
    return "YES\nThe passages say so."


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder=grader) as fake:
        yield fake


@pytest.fixture
def keyed(server: FakeOpenAIServer, seeded_dir: Path, embedder: LocalEmbedder) -> RagEngine:
    """An extractive engine whose settings also name an endpoint (the judge's)."""
    server.reset()
    return RagEngine(
        settings(seeded_dir, **server.endpoint(RAG_LLM="extractive", RAG_LLM_TIMEOUT=5)),
        embedder=embedder,
    )


@pytest.fixture
def judge(keyed: RagEngine) -> Judge:
    return Judge(keyed.settings)


def answer(abstained: bool) -> Answer:
    passage = Passage(doc_id="d", chunk_id="d#0", text="May met Putin.", score=1.0, title="t")
    text = ABSTAIN_PHRASE if abstained else "May met Putin [1]."
    return Answer(question="q", text=text, abstained=abstained, mode="x", passages=[passage])


@pytest.mark.parametrize(
    ("reply", "score", "reason"),
    [
        ("4.0\nClose to the reference.", 4.0, "Close to the reference."),
        ("Score: 5/5\nExact.", 5.0, "Exact."),
        ("**3** - has a mistake", 3.0, "has a mistake"),
        ("The answer is relevant.\nScore: 2", 2.0, "The answer is relevant. Score: 2"),
    ],
)
def test_scores_are_read_from_common_reply_shapes(reply: str, score: float, reason: str) -> None:
    assert parse_score(reply) == (score, reason)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [("YES", True), ("Answer: no\nNothing supports it.", False), ("**Yes**.", True)],
)
def test_verdicts_are_read_from_common_reply_shapes(reply: str, verdict: bool) -> None:
    assert parse_verdict(reply)[0] is verdict


@pytest.mark.parametrize("reply", ["", "Looks fine to me.", "45", "10\nperfect"])
def test_a_reply_without_a_score_is_a_parse_error(reply: str) -> None:
    with pytest.raises(JudgeParseError, match="no 1-5 score"):
        parse_score(reply)


@pytest.mark.parametrize("reply", ["", "Maybe.", "Yes and no."])
def test_a_reply_without_one_verdict_is_a_parse_error(reply: str) -> None:
    with pytest.raises(JudgeParseError, match="no YES/NO verdict"):
        parse_verdict(reply)


def test_judged_metrics_follow_the_scripted_verdicts(
    keyed: RagEngine, judge: Judge, server: FakeOpenAIServer
) -> None:
    server.script(reply="5\nSame facts as the reference.")
    server.script(reply="YES\nPassage [1] says so.")
    server.script(reply="3\nRight missile, wrong place.")
    server.script(reply="NO\nThe passages do not mention the place.")
    results = ev.run(keyed, [MAY, KINZHAL], judge=judge)
    assert keyed.mode == "extractive" and not any(r.abstained for r in results)
    metrics = ev.aggregate(results)
    assert metrics["judge_correctness"] == 0.5
    assert metrics["judge_score"] == pytest.approx((5 + 3) / 2 / 5)
    assert metrics["judge_faithfulness"] == 0.5
    assert metrics["judge_errors"] == 0
    first = results[0].judge
    assert first is not None and first.score == 5 and first.correct and first.faithful
    assert first.correctness_reason == "Same facts as the reference."
    # Only the judge talked to the endpoint: the answers were extractive.
    assert len(server.requests) == 4
    correctness, faithfulness = server.requests[0]["messages"], server.requests[1]["messages"]
    assert "expert evaluation system" in correctness[0]["content"]
    assert MAY.answer in correctness[1]["content"]
    assert results[0].answer in correctness[1]["content"]
    assert "supported by the context" in faithfulness[0]["content"]
    assert "remains real" in faithfulness[0]["content"]  # the retrieved passage is the context


def test_an_unparseable_reply_is_an_error_on_that_item_only(
    keyed: RagEngine, judge: Judge, server: FakeOpenAIServer
) -> None:
    server.script(reply="Looks fine to me.")
    server.script(reply="YES")
    results = ev.run(keyed, [MAY, KINZHAL], judge=judge)
    first, second = results[0].judge, results[1].judge
    assert first is not None and second is not None
    assert first.error and first.error.startswith("correctness: no 1-5 score")
    assert first.score is None and first.faithful is True
    assert second.error is None and second.correct  # the grader's 4 passes
    metrics = ev.aggregate(results)
    assert metrics["judge_errors"] == 1 and metrics["judge_correctness"] == 1.0
    assert ev.report(results, {})["items"][0]["judge"]["error"] == first.error


def test_abstentions_on_unanswerable_items_are_judged_without_a_call(
    judge: Judge, server: FakeOpenAIServer
) -> None:
    verdict = judge.judge("Who won?", "The articles don't say.", False, answer(abstained=True))
    assert verdict.correct and verdict.score == 5 and verdict.faithful is None
    assert server.requests == []
    answered = judge.judge("Who won?", "The articles don't say.", False, answer(abstained=False))
    assert answered.correct is False and answered.score == 1
    assert answered.faithful is True and len(server.requests) == 1  # faithfulness only


def test_a_failing_endpoint_stops_the_judge_but_not_the_run(
    judge: Judge, server: FakeOpenAIServer
) -> None:
    server.script(status=500)
    verdict = judge.judge("q", "ref", True, answer(abstained=False))
    assert verdict.error is not None and "HTTP 500" in verdict.error
    assert "faithfulness: not judged" in verdict.error
    assert len(server.requests) == 1
    assert judge.failure and "HTTP 500" in judge.failure


def test_the_cli_judges_both_columns(
    server: FakeOpenAIServer, seeded_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.cli import app

    server.reset()
    for name, value in {
        "RAG_DATA_DIR": str(seeded_copy),
        "RAG_LLM": "extractive",
        "OPENAI_API_KEY": server.api_key,
        "OPENAI_BASE_URL": server.base_url,
        "RAG_LLM_MODEL": "fake-model",
        "RAG_LLM_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(item.model_dump_json() + "\n" for item in (MAY, KINZHAL)))
    args = ["eval", "--gold", str(gold), "--judge", "--baseline"]
    args += ["--json", "out.json", "--markdown", "out.md", "--min-answer-accuracy", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "judged by openai:fake-model" in result.output
    assert "judge_correctness" in result.output and "skipped" not in result.output
    report = json.loads((tmp_path / "out.json").read_text())
    for column in (report, report["baseline"]):
        assert column["config"]["judge"] == "openai:fake-model"
        assert column["metrics"]["judge_correctness"] == 1.0
        assert column["metrics"]["judge_errors"] == 0
        assert all(item["judge"]["score"] == 4 for item in column["items"])
    assert "| judge_faithfulness | 1 | 1 |" in (tmp_path / "out.md").read_text()
    assert len(server.requests) == 2 * 2 * 2  # two items, two columns, two questions each
