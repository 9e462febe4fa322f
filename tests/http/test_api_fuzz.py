"""Fuzz the HTTP API from its own OpenAPI schema with schemathesis: for requests that fit the
schema and requests that don't, no 5xx, and every response as the schema says (status, content
type, body). Bounded and derandomized, so a run is quick and repeatable."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode, checks

from rag import RagEngine
from rag.http.app import create_app
from rag.nlp.embeddings import LocalEmbedder
from tests.api_server import KEY, serving
from tests.conftest import settings

# (method, path, has input): operations without parameters or body get no invalid requests
OPERATIONS = [
    ("POST", "/v1/ask", True),
    ("POST", "/v1/chat/completions", True),
    ("GET", "/v1/models", False),
    ("GET", "/v1/documents", False),
    ("POST", "/v1/ingest", True),
    ("DELETE", "/v1/documents/{doc_id}", True),
    ("GET", "/healthz", False),
]
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path, has_input in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if has_input or mode is GenerationMode.POSITIVE
]
# A body over the size limit is refused with 413, which is a refusal like any other 4xx.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": "400 401 403 404 405 406 409 413 415 422 428 429 5xx".split()
            }
        }
    }
)
EXAMPLES = 40  # per operation and mode: about a second each


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, seeded_dir: Path, embedder: LocalEmbedder
) -> Iterator[schemathesis.BaseSchema]:
    """The schema served by a live API over a private copy of the seeded index."""
    data = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(seeded_dir, data)
    engine = RagEngine(settings(data, RAG_API_KEY=KEY), embedder=embedder)
    with serving(create_app(engine)) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json", config=CONFIG)


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    served = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert served == {(method, path) for method, path, _ in OPERATIONS}


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_the_api_holds_up_under_fuzzing(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    # Every check runs, except two that would fault correct behaviour:
    # - "schema-valid requests are accepted": rules JSON Schema cannot state (a conversation
    #   ends with a user message; `after` is not later than `before`) make some 422s;
    # - "schema-violating requests are rejected", for uploads: on the wire a mutated file part
    #   is still a file, whatever bytes it holds, and its upload is rightly accepted.
    excluded = [checks.positive_data_acceptance]
    if path == "/v1/ingest":
        excluded.append(checks.negative_data_rejection)

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        # With the key, the write endpoints are fuzzed past the auth check too.
        case.call_and_validate(
            headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=excluded, timeout=60
        )

    fuzz()
