"""The OpenAI path through the real `openai` client against a local OpenAI-compatible server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import ConfigError, IndexMismatchError, LLMError, RagEngine
from rag.compose.llm import LLMComposer, check_citations
from rag.llm.prompts import ABSTAIN_PHRASE
from rag.nlp.embeddings import LocalEmbedder
from rag.types import Passage
from tests.conftest import HEADLINE, SEEDS, settings
from tests.fake_openai import FakeOpenAIServer, cite_first_passage


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder=cite_first_passage) as fake:
        yield fake


@pytest.fixture
def llm_engine(server: FakeOpenAIServer, seeded_dir: Path, embedder: LocalEmbedder) -> RagEngine:
    server.reset()
    return RagEngine(
        settings(seeded_dir, **server.endpoint(RAG_LLM="auto", RAG_LLM_TIMEOUT=2)),
        embedder=embedder,
    )


def test_the_prompt_numbers_passages_and_forbids_outside_knowledge(
    llm_engine: RagEngine, server: FakeOpenAIServer
) -> None:
    answer = llm_engine.ask(HEADLINE)
    assert answer.mode == "openai:fake-model"
    request = server.requests[-1]
    assert request["model"] == "fake-model"
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert "ONLY the numbered passages" in system and ABSTAIN_PHRASE in system
    assert '<passage n="1"' in user and '<passage n="5"' in user and HEADLINE in user


def test_a_cited_answer_gets_exact_quotes(llm_engine: RagEngine) -> None:
    answer = llm_engine.ask(HEADLINE)
    assert not answer.abstained
    assert answer.citations and answer.text.endswith("[1].")
    first = answer.passages[0]
    citation = answer.citations[0]
    assert citation.chunk_id == first.chunk_id
    assert citation.quote in first.text
    assert first.text[citation.start - first.start : citation.end - first.start] == citation.quote


def test_markers_that_point_at_no_passage_are_removed(
    llm_engine: RagEngine, server: FakeOpenAIServer
) -> None:
    server.script(reply="May called Russia a real threat [2][9]. Nothing else is known [12].")
    answer = llm_engine.ask(HEADLINE)
    assert re.findall(r"\[(\d+)\]", answer.text) == ["1"]
    assert "[9]" not in answer.text and "[12]" not in answer.text
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].chunk_id == answer.passages[1].chunk_id


def test_an_answer_with_no_valid_citation_abstains(
    llm_engine: RagEngine, server: FakeOpenAIServer
) -> None:
    server.script(reply="Russia is a big country [7].")
    assert llm_engine.ask(HEADLINE).abstained
    server.script(reply=ABSTAIN_PHRASE)
    answer = llm_engine.ask("What is the capital of Peru?")
    assert answer.abstained and answer.text == ABSTAIN_PHRASE and answer.citations == []


def test_streaming_yields_deltas_then_a_checked_answer(
    llm_engine: RagEngine, server: FakeOpenAIServer
) -> None:
    server.script(reply="May said the threat from Russia remains real [1][9].")
    stream = llm_engine.stream(HEADLINE)
    pieces = list(stream)
    assert len(pieces) > 3
    assert "".join(pieces) == "May said the threat from Russia remains real [1][9]."
    assert stream.answer is not None
    assert stream.answer.text == "May said the threat from Russia remains real [1]."
    assert server.requests[-1]["stream"] is True


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "rejected the API key"),
        (429, "rate-limiting"),
        (500, "failed with HTTP 500"),
        (503, "failed with HTTP 503"),
    ],
)
def test_server_errors_become_one_clear_error(
    llm_engine: RagEngine, server: FakeOpenAIServer, status: int, message: str
) -> None:
    server.script(status=status)
    with pytest.raises(LLMError, match=message):
        llm_engine.ask(HEADLINE)
    assert not llm_engine.ask(HEADLINE).abstained  # the index answers as before


def test_a_timeout_is_a_clear_error(llm_engine: RagEngine, server: FakeOpenAIServer) -> None:
    server.script(reply="late [1].", delay=3.5)
    with pytest.raises(LLMError, match="did not answer within 2 s"):
        llm_engine.ask(HEADLINE)


def test_a_wrong_key_is_rejected(
    server: FakeOpenAIServer, seeded_dir: Path, embedder: LocalEmbedder
) -> None:
    engine = RagEngine(
        settings(
            seeded_dir,
            RAG_LLM="openai",
            OPENAI_API_KEY="wrong",
            OPENAI_BASE_URL=server.base_url,
            RAG_LLM_RETRIES=0,
        ),
        embedder=embedder,
    )
    with pytest.raises(LLMError, match="401"):
        engine.ask(HEADLINE)


def test_an_unreachable_server_is_named(seeded_dir: Path, embedder: LocalEmbedder) -> None:
    engine = RagEngine(
        settings(
            seeded_dir,
            RAG_LLM="openai",
            OPENAI_API_KEY="k",
            OPENAI_BASE_URL="http://127.0.0.1:9/v1",
            RAG_LLM_RETRIES=0,
        ),
        embedder=embedder,
    )
    with pytest.raises(LLMError, match="cannot reach the LLM server at http://127.0.0.1:9/v1"):
        engine.ask(HEADLINE)


def test_openai_mode_without_a_key_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        RagEngine(settings(tmp_path, RAG_LLM="openai"))


def test_follow_ups_are_condensed_by_the_model(
    llm_engine: RagEngine, server: FakeOpenAIServer
) -> None:
    server.script(reply="What did Putin say about Mueller's investigation during Pompeo's visit?")
    answer = llm_engine.chat(
        [
            {"role": "user", "content": "What did Pompeo discuss in Sochi?"},
            {"role": "assistant", "content": "Syria, Iran and Venezuela [1]."},
            {"role": "user", "content": "and what did Putin say about Mueller?"},
        ]
    )
    condense, compose = server.requests[-2:]
    assert "and what did Putin say about Mueller?" in condense["messages"][0]["content"]
    assert (
        "Question: What did Putin say about Mueller's investigation"
        in compose["messages"][1]["content"]
    )
    assert not answer.abstained


def test_check_citations_renumbers_by_first_use_and_quotes_the_supporting_sentence() -> None:
    passages = [
        Passage(
            doc_id="a", chunk_id="a#0", text="Cats purr. Dogs bark loudly.", score=1, start=100
        ),
        Passage(doc_id="b", chunk_id="b#0", text="Birds sing at dawn.", score=1),
    ]
    result = check_citations("Dogs bark [1, 2]. Birds sing [2]. Cats purr [1] [3].", passages)
    assert result.text == "Dogs bark [1][2]. Birds sing [2]. Cats purr [3]."
    quotes = [(c.n, c.doc_id, c.quote, c.start) for c in result.citations]
    assert quotes == [
        (1, "a", "Dogs bark loudly.", 111),
        (2, "b", "Birds sing at dawn.", 0),
        (3, "a", "Cats purr.", 100),
    ]


def test_openai_embeddings_build_an_index_that_other_models_refuse(
    server: FakeOpenAIServer, tmp_path: Path, embedder: LocalEmbedder
) -> None:
    server.reset()
    data = tmp_path / "openai-index"
    engine = RagEngine(
        settings(data, **server.endpoint(RAG_EMBED="openai", RAG_EMBED_MODEL="fake-embed"))
    )
    report = engine.ingest([SEEDS])
    assert report.added == 5 and report.embedded == report.chunks
    assert {r["_path"] for r in server.requests} == {"/v1/embeddings"}
    assert all(r["model"] == "fake-embed" for r in server.requests)
    assert engine.retrieve("Kinzhal hypersonic missile", k=1)[0].doc_id.startswith("003")

    local = RagEngine(settings(data), embedder=embedder)
    with pytest.raises(IndexMismatchError, match="openai:fake-embed.*local:all-MiniLM-L6-v2"):
        local.ask(HEADLINE)


def test_a_date_no_passage_is_from_is_a_time_scoped_abstention_without_asking_the_model(
    llm_engine: RagEngine, server: FakeOpenAIServer
) -> None:
    answer = llm_engine.ask("What did Pompeo say in Sochi in 2017?")
    assert answer.abstained and answer.text.startswith("The articles have nothing from 2017")
    stream = llm_engine.stream("What did Pompeo say in Sochi in 2017?")
    assert "".join(stream).startswith("The articles have nothing from 2017")
    assert stream.answer is not None and stream.answer.abstained
    assert not server.requests  # the model was not asked
    assert (
        "dates mentioned: 2016-07"
        in LLMComposer.messages(HEADLINE, llm_engine.retrieve(HEADLINE))[1]["content"]
    )


def test_the_model_is_told_the_asked_time_and_sees_relative_dates_resolved(
    llm_engine: RagEngine, server: FakeOpenAIServer
) -> None:
    server.script(reply="In July 2016 May called Russia a real threat [1].")
    answer = llm_engine.ask(HEADLINE)
    assert not answer.abstained
    prompt = server.requests[-1]["messages"][1]["content"]
    assert "Last month [July 2016], the newly-appointed British PM" in prompt
    assert "(The question is about July 2016." in prompt
    assert "The articles have nothing from July 2016 on that" in prompt
