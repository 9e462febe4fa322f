"""The Streamlit chat (`ui/app.py`) through `AppTest`, on the real engine in extractive mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import HEADLINE, ROOT
from tests.fake_openai import FakeOpenAIServer, cite_first_passage

APP = str(ROOT / "ui" / "app.py")
NEW_ARTICLE = """---
title: Harbour ferry service resumes after storm repairs
outlet: Coastal Courier
published: 2021-03-04
---
The harbour ferry between Eastport and Millbay resumed service on Wednesday after three weeks
of storm repairs. Harbour master Ingrid Solberg said the new pontoon cost 2.4 million euros.
"The crossing is safer than it has ever been," Solberg said.
"""


def html_bodies(at: AppTest) -> list[str]:
    return [element.proto.body for element in at.get("html")]


def cards(at: AppTest) -> list[str]:
    return [body for body in html_bodies(at) if 'class="nr-card"' in body]


def answers(at: AppTest) -> list[str]:
    return [body for body in html_bodies(at) if 'class="nr-answer' in body]


def app(monkeypatch: pytest.MonkeyPatch, **env: object) -> AppTest:
    """The chat page, started with these settings in the environment."""
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def seeded_app(seeded_copy: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return app(monkeypatch, RAG_DATA_DIR=seeded_copy, RAG_LLM="extractive")


def test_a_question_gets_a_cited_answer_with_source_cards(seeded_app: AppTest) -> None:
    ask(seeded_app, HEADLINE)
    assert [m.value for m in seeded_app.markdown if m.value == "**Sources**"]
    [answer] = answers(seeded_app)
    assert '<sup><a href="#nr-1-1"' in answer
    sources = cards(seeded_app)
    cited = [card for card in sources if "002_65d076ec7d10a953" in card and "<mark" in card]
    assert cited, sources
    # the quoted sentence is highlighted in its passage, and the card names the article
    assert "remains real" in cited[0].split("<mark", 1)[1]
    assert "In London told the British version" in cited[0]
    assert "5 September 2016" in cited[0]
    assert "Dates mentioned: July 2016" in cited[0]  # "In July 2016, ..." in the quote
    # an article of August 2016 is cited too, the month its sentence dates spelled out
    assert [card for card in sources if "9 August 2016" in card and "July 2016" in card]
    assert "[July 2016]" in answer
    assert not seeded_app.error


def test_an_example_question_button_asks_it(seeded_app: AppTest) -> None:
    [button] = [b for b in seeded_app.button if b.label == HEADLINE]
    button.click().run()
    assert not seeded_app.exception
    assert [m for m in seeded_app.chat_message if m.name == "user"]
    assert any(HEADLINE == t.value for t in seeded_app.text)
    assert answers(seeded_app) and cards(seeded_app)


def test_new_chat_clears_the_history(seeded_app: AppTest) -> None:
    ask(seeded_app, HEADLINE)
    ask(seeded_app, "And what did Putin say?")  # a follow-up, answered from the history
    assert len(seeded_app.chat_message) == 4
    assert len(seeded_app.session_state.history) == 4
    [new_chat] = [b for b in seeded_app.button if b.label == "New chat"]
    new_chat.click().run()
    assert not seeded_app.exception
    assert not seeded_app.chat_message
    assert seeded_app.session_state.history == []
    assert [b for b in seeded_app.button if b.label == HEADLINE]  # the empty state is back


def test_an_unrelated_question_is_an_abstention_with_related_coverage(seeded_app: AppTest) -> None:
    ask(seeded_app, "What did the mayor of Lisbon say about the harbour ferry?")
    [answer] = answers(seeded_app)
    assert "nr-abstained" in answer and "<sup>" not in answer
    assert [c for c in seeded_app.caption if c.value.startswith("Related coverage")]
    assert not [m for m in seeded_app.markdown if m.value == "**Sources**"]


def test_an_upload_is_ingested_and_cited_by_the_next_question(
    seeded_app: AppTest, seeded_copy: Path
) -> None:
    at = seeded_app
    at.file_uploader[0].set_value(
        [
            ("harbour ferry.md", NEW_ARTICLE.encode(), "text/markdown"),
            ("empty.txt", b"", "text/plain"),
            ("002_65d076ec7d10a953.txt", b"An article that would replace a seed.", "text/plain"),
        ]
    )
    [ingest] = [b for b in at.button if b.label == "Ingest"]
    ingest.click().run()
    assert not at.exception
    assert [s for s in at.status if "1 added" in s.label]
    [warning] = at.warning
    assert "empty.txt: empty file" in warning.value
    assert "002_65d076ec7d10a953.txt: an indexed article already has the id" in warning.value
    assert [m for m in at.markdown if m.value.startswith("6 articles")]
    assert (seeded_copy / "uploads" / "harbour_ferry.md").is_file()
    assert sorted(p.name for p in (seeded_copy / "uploads").iterdir()) == ["harbour_ferry.md"]

    ask(at, "How much did the new pontoon for the harbour ferry cost?")
    [answer] = answers(at)
    assert "2.4 million euros" in answer
    assert [c for c in cards(at) if "harbour_ferry" in c and "Coastal Courier" in c]


def test_an_empty_index_is_one_error_and_the_app_stays_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(monkeypatch, RAG_DATA_DIR=tmp_path / "empty", RAG_LLM="extractive")
    assert [e for e in at.error if "index is empty" in e.value]
    ask(at, HEADLINE)
    assert [e for e in at.error if "index is empty" in e.value]
    assert at.chat_input and at.file_uploader  # still usable: ask again or upload


def test_an_index_built_with_another_model_is_one_error(
    seeded_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(
        monkeypatch,
        RAG_DATA_DIR=seeded_copy,
        RAG_EMBED="openai",
        OPENAI_API_KEY="k",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
    )
    [error] = at.error
    assert "all-MiniLM-L6-v2" in error.value and "rag ingest --rebuild" in error.value
    ask(at, HEADLINE)
    [error] = at.error  # now in the chat, as the answer
    assert "rag ingest --rebuild" in error.value


def test_an_unreachable_llm_server_is_one_error(
    seeded_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(
        monkeypatch,
        RAG_DATA_DIR=seeded_copy,
        OPENAI_API_KEY="k",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        RAG_LLM_RETRIES=0,
    )
    assert [m for m in at.markdown if m.value == "**Mode:** LLM `gpt-4o-mini`"]
    ask(at, HEADLINE)
    [error] = at.error
    assert "Cannot reach the LLM server at http://127.0.0.1:9/v1" in error.value
    assert at.session_state.history[-1].error  # kept in the chat; the next question may work


def test_an_invalid_setting_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(monkeypatch, RAG_TOP_K=0)
    [error] = at.error
    assert "top_k" in error.value or "RAG_TOP_K" in error.value


@pytest.fixture
def llm_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder=cite_first_passage) as fake:
        yield fake


def test_llm_mode_streams_a_checked_answer(
    llm_server: FakeOpenAIServer, seeded_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(monkeypatch, RAG_DATA_DIR=seeded_copy, **llm_server.endpoint())
    assert [m for m in at.markdown if m.value.startswith("**Mode:** LLM")]
    ask(at, HEADLINE)
    assert not at.error
    [answer] = answers(at)
    assert '<sup><a href="#nr-1-1"' in answer
    assert cards(at)
    assert any(request.get("stream") for request in llm_server.requests)


def test_a_wrong_key_is_one_error(
    llm_server: FakeOpenAIServer, seeded_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(
        monkeypatch,
        RAG_DATA_DIR=seeded_copy,
        OPENAI_API_KEY="wrong",
        OPENAI_BASE_URL=llm_server.base_url,
        RAG_LLM_RETRIES=0,
    )
    ask(at, HEADLINE)
    [error] = at.error
    assert "rejected the API key (401)" in error.value
