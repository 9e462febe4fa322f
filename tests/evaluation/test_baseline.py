"""The `rag eval --baseline` pipeline: plain LlamaIndex retrieval, our composer, the seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag import RagEngine
from rag.errors import InputError
from rag.evaluation import metrics as ev
from rag.evaluation.baseline import TOP_K, BaselineEngine, EmbedderAdapter
from rag.ingest.corpus import scan
from rag.nlp.embeddings import LocalEmbedder
from tests.conftest import HEADLINE, ROOT, SEEDS, settings

GOLD = ROOT / "eval" / "gold.jsonl"


@pytest.fixture(scope="module")
def baseline(engine: RagEngine) -> BaselineEngine:
    return BaselineEngine(engine)


def test_it_answers_from_at_most_two_chunks_with_exact_quotes(baseline: BaselineEngine) -> None:
    answer = baseline.ask(HEADLINE, k=10)  # k is ignored: top-2 by definition
    assert 1 <= len(answer.passages) <= TOP_K
    assert len({p.chunk_id for p in answer.passages}) == len(answer.passages)
    assert not answer.abstained and answer.citations
    assert answer.mode == "extractive"
    texts = {a.doc_id: a.text for a in scan([SEEDS]).articles}
    for passage in answer.passages:
        assert texts[passage.doc_id][passage.start : passage.end] == passage.text
        assert passage.title and passage.published
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.text
        assert citation.chunk_id in {p.chunk_id for p in answer.passages}
        assert texts[citation.doc_id][citation.start : citation.end] == citation.quote
    assert answer.timings_ms["total"] >= answer.timings_ms["retrieve"] > 0


def test_the_index_is_built_once_from_the_seeds_and_leaves_ours_alone(
    baseline: BaselineEngine, engine: RagEngine
) -> None:
    ours = engine.indexer.store.count()
    retriever = baseline.build()
    assert baseline.build() is retriever
    assert baseline.chunks >= len(scan([SEEDS]).articles)
    assert engine.indexer.store.count() == ours


def test_it_embeds_with_our_model(engine: RagEngine) -> None:
    adapter = EmbedderAdapter(engine.embedder)
    ours = engine.embedder.embed(["Putin met May in Hangzhou."])[0]
    assert np.allclose(adapter.get_text_embedding("Putin met May in Hangzhou."), ours)
    assert np.allclose(adapter.get_query_embedding("Putin met May in Hangzhou."), ours)


def test_chat_resolves_the_follow_up_first(baseline: BaselineEngine) -> None:
    messages = [
        {"role": "user", "content": "What did Pompeo say about Venezuela?"},
        {"role": "assistant", "content": "He called on Russia to end its support for Maduro."},
        {"role": "user", "content": "and what about Iran?"},
    ]
    answer = baseline.chat(messages)
    assert answer.question == "and what about Iran?"
    assert len(answer.passages) <= TOP_K
    assert any(p.doc_id.startswith("004") for p in answer.passages)


def test_an_empty_question_is_the_engines_input_error(baseline: BaselineEngine) -> None:
    with pytest.raises(InputError, match="empty"):
        baseline.ask("  ")


def test_the_evaluator_runs_it_like_our_engine(baseline: BaselineEngine) -> None:
    items = ev.load_gold(GOLD)[:4]
    results = ev.run(baseline, items)
    assert [r.id for r in results] == [i.id for i in items]
    assert all(r.error is None and len(r.retrieved_docs) <= TOP_K for r in results)
    report = ev.report(results, {"k": TOP_K})
    assert set(ev.METRICS) == set(report["metrics"])
    assert "judge" not in report["items"][0]


def test_it_scores_the_articles_the_index_holds_not_the_corpus_folder(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "harbour.txt").write_text(
        "Glenmoor harbour reopens\n\nThe Glenmoor harbour reopened on Monday after a storm "
        "closed it for nine days, the port authority said. Fishing boats returned at dawn.\n",
        "utf-8",
    )
    engine = RagEngine(settings(tmp_path / "data"), embedder=embedder)  # corpus folder: seeds
    engine.ingest([folder])
    baseline = BaselineEngine(engine)
    passages = baseline.retrieve("How long was the Glenmoor harbour closed?")
    assert passages and {p.doc_id for p in passages} == {"harbour"}
    assert "nine days" in baseline.ask("How long was the Glenmoor harbour closed?").text
