"""The engine end to end: real model, embedded Chroma, the seeds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag import Answer, IndexMismatchError, InputError, RagEngine, RagError, StoreError
from rag.ingest.store import ChunkStore
from rag.llm.prompts import ABSTAIN_PHRASE
from rag.nlp.embeddings import LocalEmbedder
from rag.retrieve.conversation import condense_heuristic
from tests.conftest import HEADLINE, SEEDS, settings


def check_quotes(answer: Answer) -> None:
    """Every marker names a citation and every quote is the exact span of its article."""
    from rag.ingest.corpus import scan

    texts = {a.doc_id: a.text for a in scan([SEEDS]).articles}
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.text
        assert texts[citation.doc_id][citation.start : citation.end] == citation.quote


def test_headline_question_cites_the_remains_real_passage(engine: RagEngine) -> None:
    passages = engine.retrieve(HEADLINE)
    assert any(p.doc_id.startswith("002") and "remains real" in p.text for p in passages)
    answer = engine.ask(HEADLINE)
    assert not answer.abstained
    assert answer.mode == "extractive"
    assert any(c.doc_id.startswith("002") for c in answer.citations)
    assert "remains real" in answer.text  # her words, quoted after the sentence that dates them
    check_quotes(answer)
    assert set(answer.timings_ms) == {"retrieve", "compose", "total"}


def test_the_answer_json_follows_the_contract(engine: RagEngine) -> None:
    data = engine.ask(HEADLINE).to_dict()
    assert {
        "question",
        "answer",
        "abstained",
        "mode",
        "citations",
        "passages",
        "timings_ms",
    } <= set(data)
    citation = data["citations"][0]  # type: ignore[index]
    assert set(citation) - {"event_dates", "copies"} == {
        "n",
        "doc_id",
        "title",
        "outlet",
        "published",
        "chunk_id",
        "quote",
        "start",
        "end",
    }
    assert {"doc_id", "chunk_id", "text", "score"} <= set(data["passages"][0])  # type: ignore[index]
    # the dates each passage talks about, relative ones resolved ("last month" → 2016-07)
    dated = [p for p in data["passages"] if "2016-07" in p["event_dates"]]  # type: ignore[union-attr]
    assert {p["doc_id"] for p in dated} >= {"000_52586ac56458677e", "002_65d076ec7d10a953"}


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Peru?",
        "How do I bake sourdough bread?",
        "Who won the 2014 World Cup?",
    ],
)
def test_unrelated_questions_abstain(engine: RagEngine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.abstained
    assert answer.text == ABSTAIN_PHRASE
    assert answer.citations == []


def test_misspelt_names_still_find_their_article(engine: RagEngine) -> None:
    question = "What did Pompeio hope for North Korea when he was in Sochy?"
    assert any(p.doc_id.startswith("004") for p in engine.retrieve(question, k=3))
    answer = engine.ask(question)
    assert not answer.abstained
    assert any(c.doc_id.startswith("004") for c in answer.citations)


def test_date_filters_limit_the_publication_window(engine: RagEngine) -> None:
    passages = engine.retrieve("Putin talks", k=5, after="2019-01-01")
    assert passages and all(p.published and p.published >= "2019-01-01" for p in passages)
    passages = engine.retrieve("Putin talks", k=5, before="2016-12-31")
    assert passages and all(p.published and p.published <= "2016-12-31" for p in passages)
    with pytest.raises(InputError, match="later than"):
        engine.retrieve("Putin", after="2020-01-01", before="2019-01-01")


def test_each_part_of_a_question_has_a_passage(engine: RagEngine) -> None:
    question = (
        "What did Mueller's report conclude, and how did Putin react to it when Pompeo visited?"
    )
    passages = engine.retrieve(question, k=3)  # few passages: each part still gets one
    assert any("Mueller" in p.text and "insufficient evidence" in p.text for p in passages)
    assert any("exotic work" in p.text for p in passages)


def test_a_date_filter_that_leaves_nothing_says_so(engine: RagEngine) -> None:
    answer = engine.ask("What did Pompeo say?", after="2020-01-01")
    assert answer.abstained and not answer.citations
    # the closest coverage: the top passage's article, one of the two of May 2019
    assert answer.text in {
        "The articles have nothing from 1 January 2020 onwards on that; "
        f"the closest coverage is from {day} May 2019."
        for day in (14, 15)
    }
    assert sorted(p.doc_id[:3] for p in answer.closest()) == ["003", "004"]  # each article once
    streamed = engine.stream("What did Pompeo say?", after="2017-01-01", before="2017-12-31")
    assert "".join(streamed).startswith("The articles have nothing from 2017 on that")
    assert streamed.answer is not None and streamed.answer.abstained


def test_streaming_gives_the_same_answer(engine: RagEngine) -> None:
    stream = engine.stream(HEADLINE)
    text = "".join(stream)
    assert stream.answer is not None
    assert text.strip() == stream.answer.text


@pytest.mark.parametrize(
    "question",
    ["What did the mayor of Lisbon say about the harbour ferry?", "Did Lavrov visit Kirkenes?"],
)
def test_a_name_no_article_writes_is_an_abstention(engine: RagEngine, question: str) -> None:
    # the articles cannot be about a place they never name, however close the rest reads
    assert engine.ask(question).abstained


@pytest.mark.parametrize(
    ("follow_up", "standalone"),
    [
        ("and what about Iran?", "What did Pompeo say about Iran?"),
        ("How about North Korea", "What did Pompeo say about North Korea?"),
        # a pronoun or a new question keeps the earlier turn's words as context
        ("what about him?", "what about him? [context: Pompeo Venezuela two sides agree]"),
        ("and when?", "and when? [context: Pompeo Venezuela two sides agree]"),
    ],
)
def test_an_elliptical_follow_up_asks_the_earlier_question_again(
    follow_up: str, standalone: str
) -> None:
    history = [
        {"role": "user", "content": "What did Pompeo say about Venezuela?"},
        {"role": "assistant", "content": "The two sides did not agree [1]."},
    ]
    assert condense_heuristic(history, follow_up) == standalone


def test_follow_up_questions_use_the_conversation(engine: RagEngine) -> None:
    history = [
        {"role": "user", "content": "What did Pompeo say in Sochi about Venezuela?"},
        {"role": "assistant", "content": "He called on Russia to end its support for Maduro."},
        {"role": "user", "content": "and what did Putin say about Mueller?"},
    ]
    answer = engine.chat(history)
    assert answer.question == "and what did Putin say about Mueller?"
    assert not answer.abstained
    assert any(c.doc_id.startswith("004") for c in answer.citations)


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   \n ", "empty"), ("x" * 100_000, "limit is 2,000")],
)
def test_bad_questions_are_clear_errors(engine: RagEngine, question: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        engine.ask(question)


def test_a_question_in_another_script_answers_or_abstains(engine: RagEngine) -> None:
    for question in ("Что сказала Мэй о России?", "梅和普京在杭州说了什么？"):
        answer = engine.ask(question)
        assert answer.abstained or answer.citations


def test_ingesting_twice_embeds_nothing(seeded_copy: Path, embedder: LocalEmbedder) -> None:
    report = RagEngine(settings(seeded_copy), embedder=embedder).ingest([SEEDS])
    assert (report.added, report.updated, report.unchanged, report.embedded) == (0, 0, 5, 0)
    assert report.chunks > 5


def test_sync_adds_changes_and_removes(
    corpus: Path, tmp_path: Path, embedder: LocalEmbedder
) -> None:
    engine = RagEngine(settings(tmp_path / "idx"), embedder=embedder)
    first = engine.ingest([corpus])
    assert first.added == 5 and first.embedded == first.chunks

    changed = next(corpus.glob("003_*.txt"))
    changed.write_text(changed.read_text() + "\nPompeo later flew to London for talks on Iran.\n")
    next(corpus.glob("001_*.txt")).unlink()
    (corpus / "new.md").write_text("# Extra\n\nLavrov visited Hangzhou to meet the press.")
    report = engine.ingest([corpus])
    assert (report.added, report.updated, report.unchanged, report.removed) == (1, 1, 3, 1)
    assert 0 < report.embedded < report.chunks

    docs = {d.doc_id for d in engine.documents()}
    assert "new" in docs and not any(d.startswith("001") for d in docs)
    assert (
        engine.ask("Where did Pompeo fly later for talks on Iran?")
        .citations[0]
        .doc_id.startswith("003")
    )
    # BM25 follows: the removed article's words no longer retrieve it.
    assert not any(
        p.doc_id.startswith("001") for p in engine.retrieve("Litvinenko poisoning", k=10)
    )


def test_ingesting_a_single_file_keeps_the_rest(
    seeded_copy: Path, tmp_path: Path, embedder: LocalEmbedder
) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("Lavrov and Pompeo discussed the Arctic Council in Rovaniemi, Finland.")
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    report = engine.ingest([extra])
    assert (report.added, report.removed, report.embedded) == (1, 0, 1)
    assert len(engine.documents()) == 6


def test_bad_files_are_reported_and_the_rest_ingested(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SEEDS, folder)
    (folder / "empty.txt").write_text("")
    (folder / "blob.txt").write_bytes(os.urandom(64) + b"\x00")
    report = RagEngine(settings(tmp_path / "idx"), embedder=embedder).ingest([folder])
    assert report.added == 5
    assert sorted(Path(s.path).name for s in report.skipped) == ["blob.txt", "empty.txt"]


def test_a_different_embedding_model_is_a_clear_error(
    seeded_copy: Path, embedder: LocalEmbedder
) -> None:
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    store = engine.indexer.store
    ChunkStore(engine._client, "openai:text-embedding-3-small", store.chunking).touch()
    with pytest.raises(
        IndexMismatchError, match=r"openai:text-embedding-3-small.*rag ingest --rebuild"
    ):
        engine.ask(HEADLINE)
    with pytest.raises(IndexMismatchError):
        engine.ingest([SEEDS])
    problem = engine.status().problem
    assert problem and "rag ingest --rebuild" in problem
    report = engine.ingest([SEEDS], rebuild=True)
    assert report.added == 5
    assert not engine.ask(HEADLINE).abstained


def test_an_interrupted_ingest_is_repaired_by_the_next(
    corpus: Path, tmp_path: Path, embedder: LocalEmbedder
) -> None:
    class Flaky:
        name = embedder.name
        calls = 0

        def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
            Flaky.calls += 1
            if Flaky.calls > 1:
                raise KeyboardInterrupt
            return embedder.embed(texts)

    data = tmp_path / "idx"
    RagEngine(settings(data), embedder=embedder).ingest([corpus])
    for path in corpus.glob("00*.txt"):
        path.write_text(path.read_text() + "\nA late paragraph about the talks.\n")
    import rag.ingest.index

    batch = rag.ingest.index.EMBED_BATCH
    rag.ingest.index.EMBED_BATCH = 4  # several writes, so the interruption lands mid-way
    try:
        with pytest.raises(KeyboardInterrupt):
            RagEngine(settings(data), embedder=Flaky()).ingest([corpus])  # type: ignore[arg-type]
    finally:
        rag.ingest.index.EMBED_BATCH = batch
    engine = RagEngine(settings(data), embedder=embedder)
    report = engine.ingest([corpus])
    assert report.updated + report.unchanged == 5 and report.updated >= 1
    again = engine.ingest([corpus])
    assert (again.unchanged, again.embedded) == (5, 0)
    # No stale chunk survives: each article's chunks are one complete, current set.
    by_doc: dict[str, list[dict]] = {}
    for record in engine.indexer.store.records(include_text=False):
        by_doc.setdefault(record.metadata["doc_id"], []).append(record.metadata)
    for metas in by_doc.values():
        assert len({m["doc_sha"] for m in metas}) == 1
        assert len(metas) == metas[0]["doc_chunks"]
    assert not engine.ask(HEADLINE).abstained


def test_an_unwritable_data_dir_is_a_clear_error(tmp_path: Path, embedder: LocalEmbedder) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot write to the data directory"):
        RagEngine(settings(blocker / "data"), embedder=embedder).ingest([SEEDS])


def test_an_empty_index_says_so(tmp_path: Path, embedder: LocalEmbedder) -> None:
    empty = RagEngine(settings(tmp_path / "empty"), embedder=embedder)
    with pytest.raises(RagError, match="index is empty"):
        empty.ask(HEADLINE)
    status = empty.status()
    assert not status.ready and status.problem and "index is empty" in status.problem
    assert (status.documents, status.chunks, status.index_model) == (0, 0, None)


def test_status_describes_the_index(engine: RagEngine) -> None:
    status = engine.status()
    assert status.ready and status.mode == "extractive"
    assert status.documents == 5 and status.chunks == sum(d.chunks for d in engine.documents())
    assert (status.published_from, status.published_to) == ("2016-08-09", "2019-05-15")
    assert status.index_model == status.embed_model == "local:all-MiniLM-L6-v2"


def test_bad_input_leaves_the_index_answering(
    seeded_copy: Path, tmp_path: Path, embedder: LocalEmbedder
) -> None:
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    before = engine.ask(HEADLINE)
    for bad in (
        lambda: engine.ingest([tmp_path / "missing"]),
        lambda: engine.ask(""),
        lambda: engine.ask("x" * 100_000),
    ):
        with pytest.raises(RagError):
            bad()
    assert engine.ask(HEADLINE).text == before.text
    assert len(engine.documents()) == 5


class CountingEmbedder:
    """The real model, recording every text it is asked to embed."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner, self.name = inner, inner.name
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return self.inner.embed(texts)


def test_sentence_vectors_are_made_at_ingest_and_kept(
    corpus: Path, tmp_path: Path, embedder: LocalEmbedder
) -> None:
    counting = CountingEmbedder(embedder)
    engine = RagEngine(settings(tmp_path / "idx"), embedder=counting)
    engine.ingest([corpus])
    lexical = engine.indexer.lexical()
    assert set(lexical.sentence_vectors) == set(lexical.sentences())

    changed = next(corpus.glob("003_*.txt"))
    added = "Pompeo later flew to London for talks on Iran."
    changed.write_text(changed.read_text() + f"\n{added}\n")
    counting.texts.clear()
    engine.ingest([corpus])
    assert added in counting.texts  # the new sentence is embedded ...
    unchanged = next(iter(engine.indexer.lexical().sentences()))
    assert unchanged not in counting.texts  # ... the others are not embedded again

    # A new process answers without embedding any sentence: only the question.
    fresh = CountingEmbedder(embedder)
    question = "Where did Pompeo fly later for talks on Iran?"
    answer = RagEngine(settings(tmp_path / "idx"), embedder=fresh).ask(question)
    assert answer.citations and fresh.texts == [question]


def test_a_new_process_adding_an_article_embeds_only_its_sentences(
    seeded_copy: Path, tmp_path: Path, embedder: LocalEmbedder
) -> None:
    """The saved copy's sentence vectors are reused: adding one article to a large index from
    a new process costs that article, not the corpus."""
    article = tmp_path / "new.txt"
    added = "Lavrov met the Finnish foreign minister in Helsinki on Monday."
    article.write_text(f"Lavrov in Helsinki\n\n{added} They spoke about the Arctic.\n")
    fresh = CountingEmbedder(embedder)  # a new engine: nothing in memory
    engine = RagEngine(settings(seeded_copy), embedder=fresh)
    report = engine.ingest([article])
    assert report.added == 1
    sentences = engine.indexer.lexical().sentences()
    assert added in fresh.texts
    old = [s for s in sentences if s not in fresh.texts]
    assert len(old) > 100  # the seeds' sentences came from the saved copy
    assert len(fresh.texts) < 10  # one chunk and its two sentences (and the headline)


def test_sentence_vectors_of_another_model_are_not_reused(
    seeded_copy: Path, embedder: LocalEmbedder
) -> None:
    from rag.ingest.lexical import LexicalIndex

    folder = seeded_copy / "bm25"
    assert LexicalIndex.saved_vectors(folder, embedder.name)
    assert LexicalIndex.saved_vectors(folder, "openai:text-embedding-3-small") == {}
