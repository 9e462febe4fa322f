"""The `rag` command as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HEADLINE, SEEDS

RAG = str(Path(sys.executable).parent / "rag")


def cli_env(data: Path, **env: str) -> dict[str, str]:
    """The environment of a `rag` process on `data`: no RAG_ or OPENAI_ setting of ours."""
    return (
        {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
        | {"RAG_DATA_DIR": str(data), "RAG_CORPUS_DIR": str(SEEDS), "HF_HUB_OFFLINE": "1"}
        | env
    )


def run(
    *args: str, data: Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAG, *args], input=stdin, capture_output=True, text=True, env=cli_env(data, **env),
        timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-data")
    first = run("ingest", "--json", data=folder)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert set(report) == {
        "added",
        "updated",
        "unchanged",
        "removed",
        "skipped",
        "chunks",
        "embedded",
        "seconds",
        "read",
        "undated",
        "date_origins",
        "duplicates",
        "articles",
        "check",
    }
    assert report["date_origins"] == {"metadata.json": 5} and report["undated"] == []
    assert report["added"] == 5 and report["embedded"] == report["chunks"] > 0
    return folder


def test_a_second_ingest_embeds_nothing(data: Path) -> None:
    result = run("ingest", "--json", data=data)
    assert result.returncode == 0
    assert json.loads(result.stdout)["embedded"] == 0


def test_ask_json_answers_the_headline_with_citations(data: Path) -> None:
    result = run("ask", HEADLINE, "--json", data=data)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert not answer["abstained"] and answer["mode"] == "extractive"
    assert any(c["doc_id"].startswith("002") for c in answer["citations"])
    assert "[1]" in answer["answer"]


def test_ask_prints_the_answer_and_numbered_sources(data: Path) -> None:
    result = run("ask", HEADLINE, "--k", "3", data=data)
    assert result.returncode == 0
    assert "Sources" in result.stdout and "[1]" in result.stdout


def test_chat_answers_follow_ups_until_end_of_input(data: Path) -> None:
    result = run(
        "chat", data=data, stdin="What did Pompeo say about Venezuela?\nand what about Iran?\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Sources") == 2


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (("ask", ""), {}, 2, "the question is empty"),
        (("ask", "x" * 100_000), {}, 2, "limit is 2,000"),
        (("ask", "hi", "--after", "July"), {}, 2, "must be a date"),
        (("ingest", "/no/such/folder"), {}, 2, "no such file or folder: /no/such/folder"),
        (("ask", "hi"), {"RAG_LLM": "openai"}, 2, "OPENAI_API_KEY"),
        (("ask", "hi"), {"RAG_TOP_K": "0"}, 2, "RAG_TOP_K"),
        (
            ("ask", "hi"),
            {"RAG_CHROMA_URL": "http://127.0.0.1:9"},
            1,
            "cannot reach the Chroma server at http://127.0.0.1:9",
        ),
        (("eval", "--gold", "/no/gold.jsonl"), {}, 2, "gold file not found"),
        (("eval", "--min-nonsense", "1"), {}, 2, "unknown option --min-nonsense"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(
    data: Path, args: tuple[str, ...], env: dict[str, str], code: int, message: str
) -> None:
    result = run(*args, data=data, **env)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_empty_index_says_to_ingest(tmp_path: Path) -> None:
    result = run("ask", HEADLINE, data=tmp_path / "nothing")
    assert result.returncode == 1
    assert "run `rag ingest` first" in result.stderr


def test_eval_baseline_prints_both_columns_and_skips_judging_without_a_key(
    data: Path, tmp_path: Path
) -> None:
    gold = Path(__file__).resolve().parent.parent / "eval" / "gold.jsonl"
    result = run(
        "eval",
        "--gold",
        str(gold),
        "--baseline",
        "--judge",
        "--limit",
        "3",
        "--json",
        str(tmp_path / "out.json"),
        "--markdown",
        str(tmp_path / "out.md"),
        data=data,
        RAG_LLM="extractive",
    )
    assert result.returncode == 0, result.stderr
    assert "judging skipped: OPENAI_API_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
    header = next(line for line in result.stdout.splitlines() if "news-rag" in line)
    assert "baseline" in header and "difference" in header
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["n"] == report["baseline"]["n"] == 3
    assert report["baseline"]["config"]["k"] == 2
    assert set(report["baseline"]["metrics"]) == set(report["metrics"])
    assert "judge_correctness" not in report["metrics"] and "judge" not in report["config"]
    assert all(len(item["retrieved_docs"]) <= 2 for item in report["baseline"]["items"])
    markdown = (tmp_path / "out.md").read_text()
    assert markdown.startswith("| metric | news-rag | baseline |")
    assert "| answer_accuracy |" in markdown


def test_escape_codes_in_an_article_never_reach_the_terminal(tmp_path: Path) -> None:
    corpus = tmp_path / "news"
    corpus.mkdir()
    link = "\x1b]8;;https://evil.example\x1b\\click here\x1b]8;;\x1b\\"
    (corpus / "harbour.txt").write_text(
        "\x1b[2J\x1b[31mHarbour \x9b31mboard\x1b[0m approves dredging\n"
        f"PORT ELLIS, June 11, 2021 - The harbour board approved a 140 mln dlr plan to dredge "
        f"the main channel {link}, officials said on Tuesday.\x07 Work starts in August.\n"
    )
    data = tmp_path / "data"
    assert run("ingest", str(corpus), data=data).returncode == 0
    shown = run("ask", "What did the harbour board approve?", data=data)
    assert shown.returncode == 0, shown.stderr
    assert "140 mln dlr plan" in shown.stdout and "Harbour" in shown.stdout
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in shown.stdout + shown.stderr


def test_an_id_taken_by_another_folder_is_refused_unless_replaced(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, words in ((first, "approved"), (second, "rejected")):
        folder.mkdir()
        (folder / "harbour.txt").write_text(
            f"Harbour plan\nThe harbour board {words} the dredging plan on Tuesday, officials said."
        )
    data = tmp_path / "data"
    assert run("ingest", str(first), data=data).returncode == 0
    refused = run("ingest", str(second), "--json", data=data)
    assert refused.returncode == 0
    report = json.loads(refused.stdout)
    assert report["added"] == report["updated"] == 0
    [skipped] = report["skipped"]
    assert skipped["path"] == str(second / "harbour.txt")
    assert str((first / "harbour.txt").resolve()) in skipped["reason"]
    assert "--replace" in skipped["reason"]
    kept = json.loads(run("ask", "What did the harbour board do?", "--json", data=data).stdout)
    assert "approved" in kept["answer"]
    replaced = json.loads(run("ingest", str(second), "--replace", "--json", data=data).stdout)
    assert replaced["updated"] == 1 and replaced["skipped"] == []


def test_eval_shows_a_dash_where_a_metric_does_not_apply_and_says_the_gate_passed(
    data: Path, tmp_path: Path
) -> None:
    gold = tmp_path / "gold.jsonl"
    rows = [
        {"id": "a", "question": HEADLINE, "type": "single", "answer": "Russia is a threat",
         "key_facts": [["Russia"]], "sources": ["002_65d076ec7d10a953"]},
        {"id": "u", "question": "What is the capital of Peru?", "type": "unanswerable",
         "answer": "", "key_facts": [], "sources": []},
    ]  # fmt: skip
    gold.write_text("".join(json.dumps(row) + "\n" for row in rows))
    passed = run("eval", "--gold", str(gold), "--min-hit-rate", "0.5", data=data)
    assert passed.returncode == 0, passed.stderr
    hit_rate = next(line for line in passed.stdout.splitlines() if "hit_rate" in line)
    assert hit_rate.split("│")[-2].strip() == "–"  # hit rate means nothing for unanswerables
    assert passed.stdout.strip().endswith("gate passed: all 1 thresholds met")
    failed = run("eval", "--gold", str(gold), "--min-answer-accuracy", "1.1", data=data)
    assert failed.returncode == 1
    assert "gate failed: 1 of 1 thresholds missed" in failed.stderr
