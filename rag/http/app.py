"""The HTTP API: `create_app(engine)` serves the engine with FastAPI; `rag serve` runs it.

    POST   /v1/ask                the Answer object of the design contract; ?stream=true: SSE
    POST   /v1/chat/completions   OpenAI-compatible; `citations` beside `choices`
    GET    /v1/models             the model name OpenAI clients may list
    POST   /v1/ingest             upload articles (multipart; Bearer RAG_API_KEY)
    GET    /v1/documents          the indexed articles
    DELETE /v1/documents/{id}     remove one (Bearer RAG_API_KEY)
    GET    /healthz               index and model status (503 while questions can't be answered)

Every refusal is `{"error": {"type", "message"}}` (`rag.http.errors`). The routes call only the
`RagEngine` façade; the engine is shared by all requests (it is thread-safe).

>>> from rag import RagEngine
>>> from rag.http.app import create_app
>>> app = create_app(RagEngine())        # any ASGI server: uvicorn.run(app)
"""

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Query, Security, UploadFile
from fastapi import Path as PathParam
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ConfigDict, Field

from rag.config import Settings
from rag.engine import AnswerStream, RagEngine
from rag.errors import ConfigError
from rag.http import errors as api_errors
from rag.http.errors import ApiError, engine_error_body
from rag.http.guard import MULTIPART_SLACK, Guard, check_key
from rag.http.models import (
    MAX_MESSAGE_CHARS,
    MAX_MESSAGES,
    SERVED_MODEL,
    AskOptions,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    Deleted,
    DocumentList,
    ErrorResponse,
    HistoryMessage,
    IngestResponse,
    Model,
    ModelList,
    NotBlank,
    ReplyMessage,
    Usage,
)
from rag.ingest.uploads import Incoming, UploadFolder, safe_name
from rag.nlp.text import token_counter
from rag.types import Answer, IndexStatus, SkippedFile

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# What a file part looks like: its file name says the type, and its stem becomes the id.
UPLOAD_ENCODING = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "encoding": {
                    "files": {
                        "headers": {
                            "Content-Disposition": {
                                "schema": {"type": "string"},
                                "example": 'form-data; name="files"; filename="article.txt"',
                            }
                        }
                    }
                }
            }
        }
    }
}
_WHY = {
    400: "Malformed JSON or multipart body, too many files, or two files for one document id.",
    401: "The Authorization header is missing or the key is wrong.",
    403: "Write endpoints are disabled: the server has no RAG_API_KEY.",
    404: "No such document.",
    409: "An indexed article that was not uploaded here has the id (send replace=true).",
    413: "The body or a file is over the limit.",
    415: "A file type that cannot be uploaded.",
    422: "A field is missing or invalid (empty or overlong question, k out of 1..50, bad "
    "date, a conversation that does not end with a user message).",
    502: "The LLM server failed.",
    503: "The index is empty, was built with another embedding model, or the store is unreachable.",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse, "description": _WHY[code]} for code in codes}


def _sse_doc(description: str, events: list[str] | None = None) -> dict[int | str, dict[str, Any]]:
    """A 200 that is JSON, or server-sent events (OpenAPI 3.1: the schema is one event's)."""
    event: dict[str, Any] = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "string", "contentMediaType": "application/json"}},
    }
    if events:
        event["required"].append("event")
        event["properties"]["event"] = {"type": "string", "enum": events}
    return {200: {"description": description, "content": {"text/event-stream": {"schema": event}}}}


def sse(data: object, event: str | None = None) -> str:
    """One server-sent event: `event: NAME` (optional) and one `data:` line of JSON."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _stream(events: Iterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


def create_app(
    engine: RagEngine, settings: Settings | None = None, hosts: tuple[str, ...] = ()
) -> FastAPI:
    """The FastAPI application serving `engine` (limits, keys, allowed hosts and CORS from
    `settings`, by default the engine's; `hosts`: the Host names to answer to when the
    settings name none)."""
    settings = settings or engine.settings
    app = FastAPI(
        title="news-rag",
        version="0.1.0",
        summary="Questions about news articles, answered with verified citations.",
        description=(
            'Every refusal is `{"error": {"type": ..., "message": ...}}`. Streams are '
            "server-sent events. Write endpoints need `Authorization: Bearer $RAG_API_KEY`."
        ),
    )
    if settings.api_read_auth and settings.api_key is None:
        raise ConfigError("RAG_API_READ_AUTH needs RAG_API_KEY: the key that reads would need")
    app.add_middleware(
        Guard,
        key=settings.api_key,
        body_limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes * settings.max_upload_files + MULTIPART_SLACK,
        read_auth=settings.api_read_auth,
        hosts=hosts or settings.hosts or ("*",),
        body_timeout=settings.body_timeout,
    )
    if settings.origins:  # the outermost layer: a browser's preflight is answered first
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    api_errors.install(app)
    uploads = UploadFolder(settings.data_dir / "uploads")
    bearer = HTTPBearer(
        auto_error=False, scheme_name="RAG_API_KEY", description="The server's RAG_API_KEY."
    )
    limit = settings.max_question_chars

    def write_key(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> None:
        check_key(settings.api_key, credentials)

    class AskRequest(AskOptions):
        """A question, with optional retrieval filters and earlier turns of the conversation."""

        model_config = ConfigDict(extra="forbid", strict=True)

        question: Annotated[
            str,
            Field(
                min_length=1,
                max_length=limit,
                json_schema_extra={"pattern": r"\S"},  # checked by NotBlank, in words
                description=f"The question (at most {limit} characters, RAG_MAX_QUESTION_CHARS).",
                examples=["What did May say about Russia in July 2016?"],
            ),
            NotBlank,
        ]
        history: list[HistoryMessage] = Field(
            default_factory=list,
            max_length=MAX_MESSAGES,
            description="Earlier turns, oldest first; follow-ups are resolved from them. "
            f"At most {MAX_MESSAGES} messages of {MAX_MESSAGE_CHARS} characters.",
        )

    # -- answers -----------------------------------------------------------------------------
    @app.post(
        "/v1/ask",
        tags=["answers"],
        response_model=Answer,
        responses=_sse_doc(
            "The Answer object; with `?stream=true` server-sent events instead: `event: delta` "
            'with `{"text": ...}` as the answer is written, then `event: answer` with the '
            'Answer object (it replaces the streamed text), or `event: error` with `{"error": '
            "...}` if the engine fails once the stream has begun.",
            ["delta", "answer", "error"],
        )
        | _errors(400, 413, 422, 502, 503),
    )
    def ask(
        body: AskRequest,
        stream: Annotated[
            bool, Query(description="Stream the answer as server-sent events.")
        ] = False,
    ) -> Response:
        """Answer a question with numbered citations, or abstain."""
        options: dict[str, Any] = {"k": body.k, "after": body.after, "before": body.before}
        turns = [m.model_dump() for m in body.history]
        turns.append({"role": "user", "content": body.question})
        if not stream:
            return JSONResponse(engine.chat(turns, **options).to_dict())
        question = engine.standalone_question(turns)
        answer = engine.stream(question, **options)
        deltas = iter(answer)
        # The first delta is fetched before the response starts, so that a failing LLM is an
        # HTTP error rather than an error event.
        first = next(deltas, None)
        pending = [] if first is None else [first]
        return _stream(_ask_events(answer, pending, deltas, body.question.strip()))

    def _ask_events(
        answer: AnswerStream, pending: list[str], deltas: Iterator[str], question: str
    ) -> Iterator[str]:
        try:
            for delta in _chain(pending, deltas):
                yield sse({"text": delta}, "delta")
            assert answer.answer is not None
            final = answer.answer.model_copy(update={"question": question})
            yield sse(final.to_dict(), "answer")
        except Exception as exc:  # noqa: BLE001 - the status is sent; the error is an event
            yield sse(engine_error_body(exc), "error")

    @app.post(
        "/v1/chat/completions",
        tags=["openai"],
        response_model=ChatCompletion,
        responses=_sse_doc(
            "A `chat.completion`; with `stream: true`, `chat.completion.chunk` events ending "
            "with `data: [DONE]`, the last chunk before it carrying `citations` and "
            "`abstained`."
        )
        | _errors(400, 413, 422, 502, 503),
    )
    def chat_completions(body: ChatCompletionRequest) -> Response:
        """OpenAI-compatible chat: the last user message is answered, earlier turns resolve
        follow-ups. The content keeps its `[n]` markers; `citations` says what they cite."""
        turns = _conversation(body.messages)
        answer = engine.chat(turns, k=body.k, after=body.after, before=body.before)
        count = token_counter()
        prompt = sum(count(turn["content"]) for turn in turns)
        completion = count(answer.text)
        usage = Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )
        result = ChatCompletion(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=body.model,
            choices=[Choice(message=ReplyMessage(content=answer.text))],
            usage=usage,
            citations=answer.citations,
            abstained=answer.abstained,
        )
        if not body.stream:
            return JSONResponse(result.model_dump())
        with_usage = bool(body.stream_options and body.stream_options.include_usage)
        return _stream(_completion_chunks(result, with_usage))

    @app.get("/v1/models", tags=["openai"], response_model=ModelList)
    def models() -> ModelList:
        """The model name to use; any name is accepted and answered by the same engine."""
        return ModelList(data=[Model(id=SERVED_MODEL)])

    # -- documents ---------------------------------------------------------------------------
    @app.get(
        "/v1/documents", tags=["documents"], response_model=DocumentList, responses=_errors(503)
    )
    def documents() -> DocumentList:
        """The indexed articles: ids, titles, outlets, dates, chunk counts."""
        return DocumentList(documents=engine.documents())

    @app.post(
        "/v1/ingest",
        tags=["documents"],
        response_model=IngestResponse,
        dependencies=[Security(write_key)],
        form_limits={"max_files": settings.max_upload_files, "max_fields": 10},
        openapi_extra=UPLOAD_ENCODING,
        responses=_errors(400, 401, 403, 409, 413, 415, 422, 503),
    )
    def ingest(
        files: Annotated[
            list[UploadFile],
            File(
                min_length=1,
                max_length=settings.max_upload_files,
                description=f"Articles: {', '.join(settings.upload_types)}; at most "
                f"{settings.max_upload_files} files of {settings.max_upload_bytes:,} bytes. "
                "The file stem is the document id; front matter in .md is read.",
            ),
        ],
        replace: Annotated[
            bool,
            Query(
                description="Replace an indexed article with the same id that was not "
                "uploaded to this server (a seed, or an upload to another replica)."
            ),
        ] = False,
    ) -> IngestResponse:
        """Add or update articles. Files the ingester cannot use (empty, not UTF-8, no article
        text) are reported in `skipped`; the rest are indexed at once."""
        incoming = _incoming(files, settings)
        with uploads.lock:
            known = {doc.doc_id for doc in engine.documents()}
            taken = [u for u in incoming if u.doc_id in known and not uploads.holds(u.doc_id)]
            if taken and not replace:
                raise ApiError(
                    409,
                    f"an indexed article that was not uploaded here already has the id "
                    f"{taken[0].doc_id}; send replace=true to replace it",
                )
            staged = uploads.stage(incoming)
            try:
                report = engine.ingest(staged.paths, replace=replace)
            except BaseException:
                staged.undo()
                raise
            kept = staged.keep(Path(item.path) for item in report.skipped)
        return IngestResponse(
            **report.model_dump(exclude={"skipped"}),
            skipped=[
                SkippedFile(path=Path(item.path).name, reason=item.reason)
                for item in report.skipped
            ],
            doc_ids=[path.stem for path in kept],
        )

    @app.delete(
        "/v1/documents/{doc_id}",
        tags=["documents"],
        response_model=Deleted,
        dependencies=[Security(write_key)],
        responses=_errors(401, 403, 404, 503),
    )
    def delete(doc_id: Annotated[str, PathParam(min_length=1, max_length=300)]) -> Deleted:
        """Remove an article from the index (and its uploaded copy on this server)."""
        with uploads.lock:
            if not engine.delete(doc_id):
                raise ApiError(404, f"no indexed article has the id {doc_id!r}")
            uploads.forget(doc_id)
        return Deleted(doc_id=doc_id)

    # -- health ------------------------------------------------------------------------------
    @app.get(
        "/healthz",
        tags=["health"],
        response_model=IndexStatus,
        responses={
            503: {
                "model": IndexStatus,
                "description": "Questions cannot be answered now; `problem` says why.",
            }
        },
    )
    def healthz() -> JSONResponse:
        """The mode, the models, what the index holds, and the problem (if any) that would
        stop a question."""
        status = engine.status()
        return JSONResponse(status.model_dump(), status_code=200 if status.ready else 503)

    return app


def _chain(pending: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from pending
    yield from rest


def _conversation(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """OpenAI messages as the engine's turns: developer counts as system, tool turns are
    skipped, content parts are joined."""
    turns = []
    for message in messages:
        if message.role in ("tool", "function"):
            continue
        role = "system" if message.role == "developer" else message.role
        turns.append({"role": role, "content": message.text()})
    return turns


def _completion_chunks(result: ChatCompletion, with_usage: bool) -> Iterator[str]:
    """The answer as `chat.completion.chunk` events; the checked text, so that its markers
    match the citations the last chunk carries."""
    head = {
        "id": result.id,
        "object": "chat.completion.chunk",
        "created": result.created,
        "model": result.model,
    }

    def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield sse(chunk({"role": "assistant", "content": ""}))
    for piece in _pieces(result.choices[0].message.content):
        yield sse(chunk({"content": piece}))
    last = chunk({}, "stop")
    last["citations"] = [c.model_dump() for c in result.citations]
    last["abstained"] = result.abstained
    yield sse(last)
    if with_usage:
        yield sse({**head, "choices": [], "usage": result.usage.model_dump()})
    yield "data: [DONE]\n\n"


def _pieces(text: str) -> list[str]:
    """Word-sized deltas whose concatenation is exactly `text`."""
    return re.findall(r"\s*\S+\s*$|\s*\S+", text) or ([text] if text else [])


def _incoming(files: list[UploadFile], settings: Settings) -> list[Incoming]:
    """The uploads with safe names, or the refusal of the whole request: an unsupported type
    (415), a file over the limit (413), two files for one document id (400). (Too many files
    never get here: the form parser refuses them with a 400.)"""
    incoming: list[Incoming] = []
    ids: dict[str, str] = {}
    for upload in files:
        name = safe_name(upload.filename or "")
        suffix = Path(name).suffix
        if suffix not in settings.upload_types:
            raise ApiError(
                415,
                f"{name}: cannot upload {suffix or 'files without a type'}; accepted: "
                f"{', '.join(settings.upload_types)}",
            )
        size = upload.file.seek(0, os.SEEK_END)
        upload.file.seek(0)
        if size > settings.max_upload_bytes:
            raise ApiError(
                413, f"{name} is {size:,} bytes; the limit is {settings.max_upload_bytes:,}"
            )
        doc_id = Path(name).stem
        if doc_id in ids:
            raise ApiError(400, f"{ids[doc_id]} and {name} would both get the id {doc_id}")
        ids[doc_id] = name
        incoming.append(Incoming(name, upload.file))
    return incoming
