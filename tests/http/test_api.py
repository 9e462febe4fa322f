"""The HTTP API through a real uvicorn server on a free loopback port, as clients use it: plain
HTTP, server-sent events and the official `openai` client."""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI

from rag import RagEngine, Settings
from rag.http import errors as api_errors
from rag.http.app import create_app
from rag.nlp.embeddings import LocalEmbedder
from tests.api_server import KEY, ServeProcess, process_env, serving, sse_events
from tests.conftest import HEADLINE, settings
from tests.fake_openai import FakeOpenAIServer, cite_first_passage

AUTH = {"Authorization": f"Bearer {KEY}"}
UNRELATED = "What is the capital of Peru?"
ARTICLE = (
    "Lavrov and Haavisto meet in Rovaniemi\n\n"
    "Russian Foreign Minister Sergei Lavrov met his Finnish counterpart Pekka Haavisto in "
    "Rovaniemi on Monday. The two ministers discussed reindeer herding and the future of the "
    "Arctic Council. Lavrov said the talks in Rovaniemi had been useful and frank.\n"
)
ARTICLE_QUESTION = "What did Lavrov and Haavisto discuss in Rovaniemi?"
CONTRACT_KEYS = {"question", "answer", "abstained", "mode", "citations", "passages", "timings_ms"}
CITATION_KEYS = {"n", "doc_id", "title", "outlet", "published", "chunk_id", "quote", "start", "end"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, seeded_dir: Path) -> Path:
    """This module's copy of the seeded index (the API writes uploads beside it)."""
    target = tmp_path_factory.mktemp("api") / "data"
    shutil.copytree(seeded_dir, target)
    return target


@pytest.fixture(scope="module")
def api_engine(data: Path, embedder: LocalEmbedder) -> RagEngine:
    return RagEngine(settings(data, RAG_API_KEY=KEY), embedder=embedder)


@pytest.fixture(scope="module")
def api(api_engine: RagEngine) -> Iterator[str]:
    """The base URL of the API over the seeds, with a write key."""
    with serving(create_app(api_engine)) as url:
        yield url


@pytest.fixture(scope="module")
def keyless(api_engine: RagEngine) -> Iterator[str]:
    """The same engine served without RAG_API_KEY: write endpoints disabled."""
    with serving(
        create_app(api_engine, api_engine.settings.model_copy(update={"api_key": None}))
    ) as url:
        yield url


@pytest.fixture(scope="module")
def tight(api_engine: RagEngine) -> Iterator[str]:
    """The same engine behind small limits."""
    limits = {"max_body_bytes": 2048, "max_upload_bytes": 1000, "max_upload_files": 2}
    with serving(create_app(api_engine, api_engine.settings.model_copy(update=limits))) as url:
        yield url


def post(url: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    if isinstance(body, bytes):  # JSON that Python would not write
        kwargs["headers"] = {"content-type": "application/json", **kwargs.get("headers", {})}
        return httpx.post(f"{url}{path}", content=body, timeout=60, **kwargs)
    return httpx.post(f"{url}{path}", json=body, timeout=60, **kwargs)


def upload(
    url: str, *files: tuple[str, bytes], headers: dict[str, str] | None = AUTH, **params: str
) -> httpx.Response:
    parts = [("files", (name, content, "text/plain")) for name, content in files]
    return httpx.post(f"{url}/v1/ingest", files=parts, headers=headers, params=params, timeout=60)


def error_of(response: httpx.Response) -> dict[str, str]:
    """The error object; every refusal has exactly this shape."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    assert "Traceback" not in body["error"]["message"] and "\n" not in body["error"]["message"]
    return body["error"]


def without_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def doc_ids(url: str) -> set[str]:
    response = httpx.get(f"{url}/v1/documents", timeout=60)
    assert response.status_code == 200
    return {d["doc_id"] for d in response.json()["documents"]}


# -- /v1/ask ---------------------------------------------------------------------------------
def test_the_headline_question_is_answered_with_cited_quotes(
    api: str, api_engine: RagEngine
) -> None:
    response = post(api, "/v1/ask", {"question": HEADLINE})
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == CONTRACT_KEYS
    assert not answer["abstained"] and answer["mode"] == "extractive"
    assert any(c["doc_id"].startswith("002") for c in answer["citations"])
    for citation in answer["citations"]:
        assert CITATION_KEYS <= set(citation) and citation["quote"]
        assert f"[{citation['n']}]" in answer["answer"]
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert markers == {c["n"] for c in answer["citations"]}
    # the same object the Python API returns
    assert without_timings(answer) == without_timings(api_engine.ask(HEADLINE).to_dict())


def test_an_unrelated_question_abstains(api: str) -> None:
    answer = post(api, "/v1/ask", {"question": UNRELATED}).json()
    assert answer["abstained"] and answer["citations"] == []
    assert answer["answer"] == "The articles don't say."


def test_k_and_the_date_filter_narrow_the_passages(api: str) -> None:
    body = {"question": HEADLINE, "k": 2, "after": "2016-01-01", "before": "2016-12-31"}
    answer = post(api, "/v1/ask", body).json()
    assert 0 < len(answer["passages"]) <= 2
    assert all("2016-01-01" <= p["published"] <= "2016-12-31" for p in answer["passages"])


def test_a_follow_up_is_resolved_from_the_history(api: str) -> None:
    history = [
        {"role": "user", "content": "What did Pompeo say in Sochi about Venezuela?"},
        {"role": "assistant", "content": "He called on Russia to end its support for Maduro."},
    ]
    body = {"question": "and what did Putin say about Mueller?", "history": history}
    answer = post(api, "/v1/ask", body).json()
    assert answer["question"] == "and what did Putin say about Mueller?"
    assert not answer["abstained"] and "Mueller" in answer["answer"]


def test_the_stream_sends_deltas_then_the_answer(api: str) -> None:
    question = "Why did Pompeo cancel his stop in Moscow?"
    plain = post(api, "/v1/ask", {"question": question}).json()
    response = post(api, "/v1/ask?stream=true", {"question": question})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "answer" and set(names[:-1]) == {"delta"} and len(names) > 5
    streamed = "".join(json.loads(data)["text"] for _, data in events[:-1])
    final = json.loads(events[-1][1])
    assert streamed.strip() == final["answer"] == plain["answer"]
    assert without_timings(final) == without_timings(plain)


def test_a_streamed_follow_up_keeps_the_question_as_asked(api: str) -> None:
    history = [{"role": "user", "content": "What did Pompeo say in Sochi about Venezuela?"}]
    body = {"question": "and what about Iran?", "history": history}
    events = sse_events(post(api, "/v1/ask?stream=true", body).text)
    final = json.loads(events[-1][1])
    assert events[-1][0] == "answer" and final["question"] == "and what about Iran?"


# -- OpenAI compatibility --------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(api: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api}/v1", api_key="anything", max_retries=0)


def test_the_openai_client_gets_the_answer_and_its_citations(
    client: openai.OpenAI, api_engine: RagEngine
) -> None:
    completion = client.chat.completions.create(
        model="news-rag", messages=[{"role": "user", "content": HEADLINE}]
    )
    expected = api_engine.ask(HEADLINE)
    assert completion.object == "chat.completion" and completion.model == "news-rag"
    message = completion.choices[0].message
    assert message.role == "assistant" and completion.choices[0].finish_reason == "stop"
    assert message.content == expected.text and "[1]" in message.content
    assert completion.model_extra is not None
    citations = completion.model_extra["citations"]
    assert citations == [c.model_dump() for c in expected.citations]
    assert any(c["doc_id"].startswith("002") for c in citations)
    assert completion.model_extra["abstained"] is False
    assert completion.usage is not None and completion.usage.completion_tokens > 10


def test_the_openai_client_streams_the_answer_with_citations_at_the_end(
    client: openai.OpenAI, api_engine: RagEngine
) -> None:
    question = "Why did Pompeo cancel his stop in Moscow?"
    stream = client.chat.completions.create(
        model="news-rag",
        messages=[{"role": "user", "content": question}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    expected = api_engine.ask(question)
    assert text == expected.text and len(chunks) > 5
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finished) == 1 and finished[0].model_extra is not None
    assert finished[0].model_extra["citations"] == [c.model_dump() for c in expected.citations]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_openai_follow_ups_use_the_conversation(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini",  # any model name is accepted
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What did Pompeo say in Sochi about Venezuela?"},
            {"role": "assistant", "content": "He called on Russia to end its support for Maduro."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "and what did Putin say about Mueller?"}],
            },
        ],
    )
    assert completion.model == "gpt-4o-mini"
    assert "Mueller" in (completion.choices[0].message.content or "")


def test_openai_abstentions_and_errors(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="news-rag", messages=[{"role": "user", "content": UNRELATED}]
    )
    assert completion.model_extra is not None and completion.model_extra["abstained"] is True
    assert completion.model_extra["citations"] == []
    with pytest.raises(openai.UnprocessableEntityError, match="must end with a user message"):
        client.chat.completions.create(
            model="news-rag", messages=[{"role": "assistant", "content": "Hello"}]
        )
    assert [model.id for model in client.models.list()] == ["news-rag"]


# -- writing: auth, ingest, delete ----------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "needs the header Authorization: Bearer"),
        ({"Authorization": "Bearer wrong-key"}, 401, "the API key is wrong"),
        ({"Authorization": f"Basic {KEY}"}, 401, "needs the header"),
    ],
)
def test_writes_without_the_right_key_are_refused(
    api: str, headers: dict[str, str], status: int, message: str
) -> None:
    before = doc_ids(api)
    for response in (
        upload(api, ("refused.txt", ARTICLE.encode()), headers=headers),
        httpx.delete(f"{api}/v1/documents/002_65d076ec7d10a953", headers=headers),
    ):
        assert response.status_code == status
        assert response.headers["www-authenticate"] == "Bearer"
        assert message in error_of(response)["message"]
    assert doc_ids(api) == before


def test_writes_are_disabled_without_a_server_key(keyless: str) -> None:
    for response in (
        upload(keyless, ("refused.txt", ARTICLE.encode())),
        httpx.delete(f"{keyless}/v1/documents/002_65d076ec7d10a953", headers=AUTH),
    ):
        assert response.status_code == 403
        assert error_of(response)["type"] == "forbidden"
    assert "002_65d076ec7d10a953" in doc_ids(keyless)
    assert post(keyless, "/v1/ask", {"question": HEADLINE}).status_code == 200  # reads work


def test_an_uploaded_article_is_answerable_until_deleted(api: str, data: Path) -> None:
    response = upload(api, ("arctic-talks.txt", ARTICLE.encode()), ("blank.md", b""))
    assert response.status_code == 200
    report = response.json()
    assert (report["added"], report["embedded"], report["doc_ids"]) == (1, 1, ["arctic-talks"])
    assert report["skipped"] == [{"path": "blank.md", "reason": "empty file"}]
    saved = {p.name for p in (data / "uploads").iterdir()}
    assert "arctic-talks.txt" in saved and "blank.md" not in saved
    listed = {d["doc_id"]: d for d in httpx.get(f"{api}/v1/documents").json()["documents"]}
    assert listed["arctic-talks"]["title"] == "Lavrov and Haavisto meet in Rovaniemi"
    assert listed["arctic-talks"]["chunks"] == 1

    answer = post(api, "/v1/ask", {"question": ARTICLE_QUESTION}).json()
    assert answer["citations"] and {c["doc_id"] for c in answer["citations"]} == {"arctic-talks"}
    assert "reindeer herding" in answer["answer"]  # what the two ministers discussed
    assert "reindeer" in answer["answer"] or "Haavisto" in answer["answer"]

    again = upload(api, ("arctic-talks.txt", ARTICLE.encode())).json()  # same content
    assert (again["unchanged"], again["embedded"]) == (1, 0)

    deleted = httpx.delete(f"{api}/v1/documents/arctic-talks", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json() == {
        "doc_id": "arctic-talks",
        "deleted": True,
    }
    assert "arctic-talks" not in doc_ids(api)
    assert not (data / "uploads" / "arctic-talks.txt").exists()
    answer = post(api, "/v1/ask", {"question": ARTICLE_QUESTION}).json()
    assert all(c["doc_id"] != "arctic-talks" for c in answer["citations"])
    gone = httpx.delete(f"{api}/v1/documents/arctic-talks", headers=AUTH)
    assert gone.status_code == 404 and "arctic-talks" in error_of(gone)["message"]


def test_upload_names_cannot_leave_the_uploads_folder(api: str, data: Path) -> None:
    response = upload(api, ("../../outside.txt", ARTICLE.encode()))
    assert response.status_code == 200 and response.json()["doc_ids"] == ["outside"]
    assert (data / "uploads" / "outside.txt").is_file()
    assert not (data.parent / "outside.txt").exists() and not (data / "outside.txt").exists()
    assert httpx.delete(f"{api}/v1/documents/outside", headers=AUTH).status_code == 200


def test_bad_uploads_are_refused_whole(api: str, tight: str, data: Path) -> None:
    before = doc_ids(api)
    uploads = data / "uploads"
    listing = sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []
    cases = [
        (upload(api, ("fine.txt", ARTICLE.encode()), ("paper.pdf", b"%PDF-1.4")), 415),
        (upload(api, ("no-type", ARTICLE.encode())), 415),
        (upload(api, ("a.txt", ARTICLE.encode()), ("a.md", ARTICLE.encode())), 400),
        (upload(tight, ("big.txt", ARTICLE.encode() * 5)), 413),
        (upload(tight, *[(f"f{i}.txt", b"x") for i in range(3)]), 400),  # too many files
        (upload(api, ("002_65d076ec7d10a953.txt", ARTICLE.encode())), 409),  # a seed's id
        (httpx.post(f"{api}/v1/ingest", headers=AUTH, json={"files": []}), 422),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        error_of(response)
    assert doc_ids(api) == before
    assert (sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []) == listing


def test_replace_swaps_an_article_that_was_not_uploaded(
    seeded_copy: Path, embedder: LocalEmbedder
) -> None:
    engine = RagEngine(settings(seeded_copy, RAG_API_KEY=KEY), embedder=embedder)
    with serving(create_app(engine)) as url:
        seed = "002_65d076ec7d10a953"
        response = upload(url, (f"{seed}.txt", ARTICLE.encode()), replace="true")
        assert response.status_code == 200 and response.json()["updated"] == 1
        answer = post(url, "/v1/ask", {"question": ARTICLE_QUESTION}).json()
        assert answer["citations"] and {c["doc_id"] for c in answer["citations"]} == {seed}
        # an empty replacement is skipped and the indexed version stays, on disk too
        response = upload(url, (f"{seed}.txt", b""))
        assert response.json()["skipped"][0]["reason"] == "empty file"
        assert (seeded_copy / "uploads" / f"{seed}.txt").read_text() == ARTICLE
        assert post(url, "/v1/ask", {"question": ARTICLE_QUESTION}).json()["citations"]


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"question": ""}, 422, "question: String should have at least 1 character"),
        ({"question": "   "}, 422, "question: must not be blank"),
        ({"question": "x" * 2001}, 422, "question: String should have at most 2000 characters"),
        ({}, 422, "question: Field required"),
        ({"question": HEADLINE, "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"question": HEADLINE, "k": 51}, 422, "k: Input should be less than or equal to 50"),
        ({"question": HEADLINE, "k": True}, 422, "k: Input should be a valid integer"),  # fuzz
        ({"question": HEADLINE, "after": "July 2016"}, 422, "after: must be a date like"),
        ({"question": HEADLINE, "before": "2016-02-30"}, 422, "not a day of the calendar"),
        (
            {"question": HEADLINE, "after": "2017-01-01", "before": "2016-01-01"},
            422,
            "after (2017-01-01) is later than before (2016-01-01)",
        ),
        ({"question": HEADLINE, "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
        (b'{"question": "\\ud800"}', 422, "question: Input should be a valid string"),
        ({"question": "x", "history": [{"role": "bot", "content": "x"}]}, 422, "history.0.role"),
        ([HEADLINE], 422, "body: Input should be a valid dictionary"),
    ],
)
def test_bad_questions_get_a_clear_4xx(api: str, body: Any, status: int, message: str) -> None:
    response = post(api, "/v1/ask", body)
    assert response.status_code == status
    error = error_of(response)
    assert message in error["message"] and error["type"] == "invalid_request"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "messages: List should have at least 1 item"),
        ({"messages": [{"role": "user", "content": "   "}]}, "the question is empty"),
        ({"messages": [{"role": "user", "content": HEADLINE}], "stream": "yes"}, "stream: Input"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            "messages.0.content: Input should be a valid string (and 1 more problems)",
        ),
        ({"messages": [{"role": "tool", "content": "{}"}]}, "must end with a user message"),
    ],
)
def test_bad_chat_requests_get_a_clear_422(api: str, body: Any, message: str) -> None:
    response = post(api, "/v1/chat/completions", body)
    assert response.status_code == 422
    assert message in error_of(response)["message"]


def test_malformed_requests_get_a_clear_4xx(api: str, tight: str) -> None:
    cases = [
        (
            httpx.post(
                f"{api}/v1/ask", content=b"{not json", headers={"content-type": "application/json"}
            ),
            400,
            "bad_request",
        ),
        (httpx.post(f"{api}/v1/ask", content=b""), 422, "invalid_request"),
        (httpx.get(f"{api}/v1/nothing-here"), 404, "not_found"),
        (httpx.put(f"{api}/v1/ask", json={"question": HEADLINE}), 405, "method_not_allowed"),
        (httpx.delete(f"{api}/v1/documents/no-such-article", headers=AUTH), 404, "not_found"),
        # over the body limit, announced by Content-Length, and streamed without one
        (post(tight, "/v1/ask", {"question": "x" * 4000}), 413, "too_large"),
        (
            httpx.post(
                f"{tight}/v1/ask",
                content=iter([b'{"question": "', b"x" * 3000, b'"}']),
                headers={"content-type": "application/json"},
            ),
            413,
            "too_large",
        ),
    ]
    for response, status, kind in cases:
        assert response.status_code == status, response.text
        assert error_of(response)["type"] == kind
    assert "2,048 bytes" in error_of(cases[-1][0])["message"]


def test_an_unexpected_error_is_a_generic_500_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    api_errors.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("internal detail /srv/secret")

    with serving(app) as url, caplog.at_level(logging.ERROR, logger="news-rag.http.app"):
        response = httpx.get(f"{url}/boom")
    assert response.status_code == 500
    assert error_of(response) == {"type": "internal_error", "message": api_errors.INTERNAL}
    assert "secret" not in response.text
    assert "internal detail /srv/secret" in caplog.text  # the log has what the client must not


# -- documents, health, schema ---------------------------------------------------------------
def test_documents_and_health(api: str) -> None:
    documents = httpx.get(f"{api}/v1/documents").json()["documents"]
    seeds = [d for d in documents if d["doc_id"][:3].isdigit()]
    assert len(seeds) == 5
    assert set(seeds[0]) == {"doc_id", "title", "outlet", "published", "url", "chunks"}
    health = httpx.get(f"{api}/healthz")
    assert health.status_code == 200
    status = health.json()
    assert status["ready"] is True and status["problem"] is None
    assert status["mode"] == "extractive" and status["index_model"] == status["embed_model"]
    assert status["documents"] >= 5 and status["chunks"] >= 20


def test_an_empty_index_says_so_until_articles_arrive(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    engine = RagEngine(settings(tmp_path / "empty", RAG_API_KEY=KEY), embedder=embedder)
    with serving(create_app(engine)) as url:
        health = httpx.get(f"{url}/healthz")
        assert health.status_code == 503 and "index is empty" in health.json()["problem"]
        response = post(url, "/v1/ask", {"question": HEADLINE})
        assert response.status_code == 503
        assert error_of(response) == {
            "type": "empty_index",
            "message": "the index is empty: run `rag ingest` first",
        }
        assert httpx.get(f"{url}/v1/documents").json() == {"documents": []}
        assert upload(url, ("arctic-talks.txt", ARTICLE.encode())).status_code == 200
        assert httpx.get(f"{url}/healthz").status_code == 200
        answer = post(url, "/v1/ask", {"question": ARTICLE_QUESTION}).json()
        assert answer["citations"][0]["doc_id"] == "arctic-talks"


def test_the_openapi_schema_states_the_limits(api: str) -> None:
    schema = httpx.get(f"{api}/openapi.json").json()
    assert {"/v1/ask", "/v1/chat/completions", "/v1/ingest", "/v1/documents", "/healthz"} <= set(
        schema["paths"]
    )
    components = schema["components"]["schemas"]
    ask = components["AskRequest"]["properties"]
    assert ask["question"]["maxLength"] == 2000 and ask["question"]["minLength"] == 1
    k = ask["k"]["anyOf"][0]
    assert (k["minimum"], k["maximum"]) == (1, 50)
    assert ask["after"]["anyOf"][0]["format"] == "date"
    assert set(components["Answer"]["properties"]) == CONTRACT_KEYS
    assert "citations" in components["ChatCompletion"]["properties"]
    assert components["ErrorResponse"]["properties"]["error"]
    ingest = schema["paths"]["/v1/ingest"]["post"]
    assert ingest["security"] == [{"RAG_API_KEY": []}]
    assert {"401", "403", "413", "415"} <= set(ingest["responses"])


# -- load ------------------------------------------------------------------------------------
def test_twenty_parallel_questions_are_all_answered_correctly(
    api: str, api_engine: RagEngine
) -> None:
    questions = [
        HEADLINE,
        "Why did Pompeo cancel his stop in Moscow?",
        "What missile did Putin inspect before his talks with Pompeo?",
        "How long did Pompeo's meeting with Putin and Lavrov last?",
        UNRELATED,
    ]
    expected = {q: api_engine.ask(q) for q in questions}
    batch = [questions[i % len(questions)] for i in range(20)]
    with httpx.Client(timeout=120) as session, ThreadPoolExecutor(20) as pool:
        responses = list(
            pool.map(lambda q: session.post(f"{api}/v1/ask", json={"question": q}), batch)
        )
    assert [r.status_code for r in responses] == [200] * 20
    for question, response in zip(batch, responses, strict=True):
        answer = response.json()
        assert answer["question"] == question
        assert answer["answer"] == expected[question].text
        assert answer["citations"] == [c.model_dump() for c in expected[question].citations]


# -- LLM mode (through the fake OpenAI server) ------------------------------------------------
@pytest.fixture
def llm_api(data: Path, embedder: LocalEmbedder) -> Iterator[tuple[str, FakeOpenAIServer]]:
    with FakeOpenAIServer(cite_first_passage) as fake:
        engine = RagEngine(
            settings(data, RAG_LLM="openai", **fake.endpoint()),  # type: ignore[arg-type]
            embedder=embedder,
        )
        with serving(create_app(engine)) as url:
            yield url, fake


def test_llm_answers_stream_as_written_then_checked(llm_api: tuple[str, FakeOpenAIServer]) -> None:
    url, fake = llm_api
    events = sse_events(post(url, "/v1/ask?stream=true", {"question": HEADLINE}).text)
    assert [name for name, _ in events][-1] == "answer"
    deltas = [json.loads(data)["text"] for name, data in events if name == "delta"]
    final = json.loads(events[-1][1])
    assert len(deltas) > 3 and final["mode"] == "openai:fake-model"
    assert final["citations"] and "".join(deltas).strip().endswith("[1].")
    assert any(r.get("stream") for r in fake.requests)  # the model really streamed

    completion = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    chunks = list(
        completion.chat.completions.create(
            model="news-rag", messages=[{"role": "user", "content": HEADLINE}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = [c for c in chunks if c.choices and c.choices[0].finish_reason][0]
    assert last.model_extra is not None
    assert {f"[{c['n']}]" for c in last.model_extra["citations"]} <= set(
        re.findall(r"\[\d+\]", text)
    )


@pytest.mark.parametrize("stream", ["false", "true"])
def test_a_failing_llm_is_a_502_before_any_stream_starts(
    llm_api: tuple[str, FakeOpenAIServer], stream: str
) -> None:
    url, fake = llm_api
    fake.script(status=500)
    response = post(url, f"/v1/ask?stream={stream}", {"question": HEADLINE})
    assert response.status_code == 502
    error = error_of(response)
    assert error["type"] == "llm_error" and "HTTP 500" in error["message"]


# -- rag serve -------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [None, KEY])
def test_rag_serve_on_every_address_warns_of_open_reads(
    seeded_copy: Path, tmp_path: Path, key: str | None
) -> None:
    values = {"RAG_API_KEY": key} if key else {}
    server = ServeProcess(seeded_copy, tmp_path / "serve.log", host="0.0.0.0", **values)
    try:
        assert server.process.stdout is not None
        assert "http://0.0.0.0:" in server.process.stdout.readline()  # printed once it listens
    finally:
        server.stop()
    log = server.log.read_text()
    if key is None:
        assert "warning: serving on 0.0.0.0 without RAG_API_KEY" in log
    else:  # writes need the key; reads don't unless RAG_API_READ_AUTH says so
        assert "set RAG_API_READ_AUTH=true to require RAG_API_KEY" in log


def test_rag_serve_with_reads_behind_the_key_does_not_warn(
    seeded_copy: Path, tmp_path: Path
) -> None:
    server = ServeProcess(
        seeded_copy, tmp_path / "serve.log", host="0.0.0.0", RAG_API_KEY=KEY,
        RAG_API_READ_AUTH="true",
    )  # fmt: skip
    try:
        assert server.process.stdout is not None
        assert "http://0.0.0.0:" in server.process.stdout.readline()
    finally:
        server.stop()
    assert "warning" not in server.log.read_text()


def test_rag_serve_prints_its_url_and_serves(seeded_copy: Path, tmp_path: Path) -> None:
    server = ServeProcess(seeded_copy, tmp_path / "serve.log", RAG_API_KEY=KEY)
    try:
        server.wait()
        assert re.fullmatch(
            r"news-rag API on http://127\.0\.0\.1:\d+ \(extractive, 5 articles, 20 chunks\)",
            server.line,
        )
        assert post(server.url, "/v1/ask", {"question": HEADLINE}).json()["citations"]
    finally:
        assert server.stop() == 0
    assert KEY not in (tmp_path / "serve.log").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "{taken}"], "cannot listen on 127.0.0.1:{taken}: Address already in use"),
        (["--host", "192.0.2.1"], "cannot listen on 192.0.2.1:8000: Cannot assign requested"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
    ],
)
def test_rag_serve_refuses_bad_addresses_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "rag.cli", "serve", *[a.format(taken=port) for a in args]],
            env=process_env(tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message.format(taken=port) in lines[0], result.stderr
    assert result.stdout == ""


def test_settings_for_the_api_have_bounds() -> None:
    with pytest.raises(ValueError, match="must list types from"):
        Settings(_env_file=None, RAG_UPLOAD_SUFFIXES=".pdf")  # type: ignore[call-arg]
    assert Settings(_env_file=None, RAG_UPLOAD_SUFFIXES="TXT, md").upload_types == (  # type: ignore[call-arg]
        ".txt",
        ".md",
    )
