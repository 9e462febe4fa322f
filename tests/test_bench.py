"""The benchmark: a deterministic corpus, answerable questions, and a whole run at a tiny size."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.generate import generate
from bench.measure import percentile
from bench.questions import make_questions
from bench.report import read_json

ROOT = Path(__file__).resolve().parent.parent


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_generator_is_deterministic(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 12, seed=3)
    second = generate(tmp_path / "b", 12, seed=3)
    other = generate(tmp_path / "c", 12, seed=4)
    assert _digest(first.folder) == _digest(second.folder)
    assert _digest(first.folder) != _digest(other.folder)
    assert len(list(first.folder.glob("*.txt"))) == 12


def test_generated_articles_are_varied_and_readable_by_the_engine(tmp_path: Path) -> None:
    from rag.ingest.corpus import scan

    corpus = generate(tmp_path / "corpus", 30, seed=1)
    articles = scan([corpus.folder]).articles
    assert len(articles) == 30
    metadata = json.loads((corpus.folder / "metadata.json").read_text("utf-8"))
    assert {a.title for a in articles} == {m["title"] for m in metadata.values()}
    years = {a.published[:4] for a in articles if a.published}
    assert len(years) >= 5  # dates spread over years
    lengths = sorted(len(a.text.split()) for a in articles)
    assert lengths[-1] > 2 * lengths[0]  # varied lengths
    assert len({a.text for a in articles}) == 30


def test_questions_name_facts_their_source_states(tmp_path: Path) -> None:
    corpus = generate(tmp_path / "corpus", 40, seed=2)
    questions = make_questions([a.facts for a in corpus.articles], 50, seed=2)
    assert len(questions) == 50
    assert questions == make_questions([a.facts for a in corpus.articles], 50, seed=2)
    texts = {a.doc_id: a.text for a in corpus.articles}
    for q in questions:
        assert q.answer in texts[q.source], q
    assert len({q.kind for q in questions}) == 5


def test_percentile() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([5.0], 95) == 5.0


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    for args in (["--sizes", "0"], ["--sizes", "ten"], ["--queries", "-1"], ["--nope"]):
        run = _bench(*args, cwd=tmp_path)
        assert run.returncode == 2
        assert run.stderr.count("\n") == 1 and run.stderr.startswith("error:"), run.stderr
        assert "Traceback" not in run.stderr


def test_whole_benchmark_at_a_tiny_size(tmp_path: Path) -> None:
    out, plot = tmp_path / "results", tmp_path / "bench.png"
    run = _bench(
        *("--sizes", "6", "--queries", "4", "--cold-runs", "1", "--raw-sample", "16"),
        *("--out", str(out), "--plot", str(plot), "--work", str(tmp_path / "work")),
        "--no-reuters",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads((out / "latest.json").read_text("utf-8"))
    report = read_json(out / "latest.json")
    (size,) = report.sizes
    assert size.n == 6 and size.questions == 4
    for pipeline in ("ours", "plain"):
        figures = data["sizes"][0][pipeline]
        for key, value in figures.items():
            values = value if isinstance(value, list) else [value]
            assert values and all(math.isfinite(v) for v in values), (pipeline, key)
            if key not in {"hit_rate", "answered_rate"}:
                assert all(v > 0 for v in values), (pipeline, key, value)
    assert set(size.ratios) >= {"query_p95_ms", "cold_ask_s", "add_one_new_process_s"}
    assert all(math.isfinite(r) and r > 0 for r in size.ratios.values())
    assert "| warm query p95, ms |" in (out / "latest.md").read_text("utf-8")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_real_corpus_run_reads_reuters_sgml_and_asks_its_gold_questions(
    tmp_path: Path,
) -> None:
    """The Reuters run's plumbing, on a tiny SGML file whose story ids are those of three
    hand-written Reuters questions (the stories' text here is made up)."""
    from bench.run import run_reuters

    gold = [json.loads(line) for line in (ROOT / "eval" / "reuters_train.jsonl").open()]
    sources = list(dict.fromkeys(item["sources"][0] for item in gold if item["sources"]))[:3]
    stories = "".join(
        f'<REUTERS NEWID="{source.split("-")[1]}"><DATE>26-FEB-1987 15:01:01.79</DATE><TEXT>'
        f"<TITLE>STORY {i}</TITLE><DATELINE>CLEVELAND, Feb 26 - </DATELINE><BODY>"
        f"Company {i} said its board approved a plan to sell unit {i} for {i + 2} mln dlrs "
        f"to an investor group, and the sale should close next month.\n Reuter\n</BODY>"
        f"</TEXT></REUTERS>\n"
        for i, source in enumerate(sources)
    )
    folder = tmp_path / "reuters"
    folder.mkdir()
    (folder / "reut2-000.sgm").write_text(stories, "latin-1")
    size = run_reuters(folder, 1, 7, 4, tmp_path / "work", cold_runs=1, raw_sample=8)
    assert size.n == 3 and size.corpus.startswith("Reuters-21578")
    assert 1 <= size.questions <= 4
    assert size.ours.chunks >= 3 and size.plain.chunks >= 3
    assert all(math.isfinite(r) and r > 0 for r in size.ratios.values())
