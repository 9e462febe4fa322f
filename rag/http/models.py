"""Request and response models of the HTTP API (`rag.http.app`); they make its OpenAPI schema
precise.

The answer itself is `rag.types.Answer`, the object of the design contract, unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from rag.types import Citation, DocumentInfo, IngestReport

MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 20_000
SERVED_MODEL = "news-rag"  # the one model /v1/models lists; any name is accepted
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: object) -> object:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date like 2016-07-31")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a day of the calendar") from None


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NotBlank = AfterValidator(_not_blank)
IsoDate = Annotated[
    dt.date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2016-07-31"]}),
]


class HistoryMessage(BaseModel):
    """An earlier turn of the conversation."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant", "system"]
    content: Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]


class AskOptions(BaseModel):
    """Retrieval options shared by /v1/ask and /v1/chat/completions."""

    # Strict: JSON `true` is no `k`, and "1" is no boolean (the schema says what is accepted).
    model_config = ConfigDict(strict=True)

    k: int | None = Field(
        None, ge=1, le=50, description="Passages given to the composer (default RAG_TOP_K)."
    )
    after: IsoDate | None = Field(None, description="Only articles published on/after this day.")
    before: IsoDate | None = Field(None, description="Only articles published on/before this day.")

    @model_validator(mode="after")
    def _window(self) -> AskOptions:
        if self.after and self.before and self.after > self.before:
            raise ValueError(f"after ({self.after}) is later than before ({self.before})")
        return self


# -- OpenAI-compatible chat completions -----------------------------------------------------
class ContentPart(BaseModel):
    """A part of a message's content; only text parts are read."""

    model_config = ConfigDict(extra="ignore", strict=True)

    type: Annotated[str, Field(max_length=100)]
    text: Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)] | None = None


class ChatMessage(BaseModel):
    """A chat message as the OpenAI API sends it (tool and function turns are skipped)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: (
        Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]
        | Annotated[list[ContentPart], Field(max_length=MAX_MESSAGES)]
        | None
    ) = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    include_usage: bool = False


class ChatCompletionRequest(AskOptions):
    """The OpenAI chat completions request. `model` is accepted and echoed; sampling options
    (temperature, max_tokens, ...) are accepted and ignored. `k`, `after` and `before` are
    news-rag extensions (send them with the OpenAI client's `extra_body`)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: Annotated[str, Field(max_length=200)] = SERVED_MODEL
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None


class ReplyMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ReplyMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    """cl100k_base token counts of the messages and of the answer."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """An OpenAI `chat.completion`, plus the answer's evidence: `citations` (the `[n]` markers
    of the content refer to `citations[].n`) and `abstained`."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[Citation] = Field(description="What the [n] markers of the content cite.")
    abstained: bool = Field(description="True when the articles don't answer the question.")


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "news-rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


# -- documents, ingest, health, errors -------------------------------------------------------
class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class Deleted(BaseModel):
    doc_id: str
    deleted: bool = True


class IngestResponse(IngestReport):
    """What an upload did; `skipped[].path` is the file's name as saved, and `doc_ids` the ids
    of the uploaded articles now in the index (the file stem, made safe)."""

    doc_ids: list[str] = Field(default_factory=list)


class ErrorDetail(BaseModel):
    type: str = Field(description="A stable, machine-readable kind, e.g. invalid_request.")
    message: str = Field(description="One line that says what went wrong and what to do.")


class ErrorResponse(BaseModel):
    error: ErrorDetail
