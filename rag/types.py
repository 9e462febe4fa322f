"""Typed results that cross module boundaries; every front end serialises these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk as stored: id, text and flat metadata (doc id, offsets, article metadata)."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]


class Passage(BaseModel):
    """A retrieved chunk of an article with its fused retrieval score."""

    doc_id: str
    chunk_id: str
    text: str
    score: float
    title: str = ""
    outlet: str | None = None
    published: str | None = None
    start: int = Field(0, description="Offset of the chunk in the cleaned article text.")
    end: int = 0
    event_dates: list[str] = Field(
        default_factory=list,
        description="ISO dates the passage talks about, relative ones resolved against the "
        "publication date: '2016-07' for 'last month' in an article of August 2016.",
    )
    copies: list[str] = Field(
        default_factory=list,
        description="Ids of other articles that carry the same story (wire copy republished, "
        "the story filed twice); the passage is shown once for all of them.",
    )


class Citation(BaseModel):
    """A numbered citation: the exact span of the cleaned article text that supports a claim."""

    n: int
    doc_id: str
    title: str
    outlet: str | None
    published: str | None
    chunk_id: str
    quote: str
    start: int
    end: int
    event_dates: list[str] = Field(
        default_factory=list, description="ISO dates the quoted sentence talks about."
    )
    copies: list[str] = Field(
        default_factory=list,
        description="Ids of other articles that carry the same story (wire copy republished, "
        "the story filed twice); the passage is shown once for all of them.",
    )


class Answer(BaseModel):
    """A composed answer with its evidence; `text` carries `[n]` markers into `citations`."""

    model_config = ConfigDict(populate_by_name=True)

    question: str
    text: str = Field(serialization_alias="answer", validation_alias=AliasChoices("answer", "text"))
    abstained: bool
    mode: str
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The JSON object of the design contract (`answer` key for the text)."""
        return self.model_dump(by_alias=True)

    def closest(self, n: int = 3) -> list[Passage]:
        """The best passage of each of the first `n` articles retrieved: the related coverage
        of an abstention, one article once."""
        found: dict[str, Passage] = {}
        for passage in self.passages:
            found.setdefault(passage.doc_id, passage)
        return list(found.values())[:n]


class SkippedFile(BaseModel):
    path: str
    reason: str


class ArticleOrigins(BaseModel):
    """Where one new or changed article's fields came from."""

    doc_id: str
    where: str = Field(description="The file, record (`dump.jsonl line 12`) or URL.")
    origins: dict[str, str] = Field(
        description="Field -> its source: `dateline`, `metadata.json`, `record field 'date'`, "
        "`first line`, `front matter`, `page metadata`, …; `encoding` when not UTF-8."
    )


class BrokenArticle(BaseModel):
    """An article only part of whose chunks the index holds (a write that was killed or
    failed): its chunks are removed, so it is never listed or answered from half-written."""

    doc_id: str
    source: str = Field("", description="The file or address it was read from.")
    chunks: int = Field(0, description="Chunks of it that were found.")
    expected: int = Field(0, description="Chunks it has.")


class CheckReport(BaseModel):
    """What `rag check` found in the index and, unless it only looked, mended: Chroma's
    chunks and vectors against the lexical copy and each article's chunk count."""

    chunks: int = Field(0, description="Chunks in the index after the check.")
    articles: int = Field(0, description="Whole articles in the index after the check.")
    restored: list[str] = Field(
        default_factory=list,
        description="Chunks Chroma had lost, written again from the lexical copy.",
    )
    re_embedded: list[str] = Field(
        default_factory=list,
        description="Chunks whose vector could not be read, embedded again from their text.",
    )
    caught_up: list[str] = Field(
        default_factory=list, description="Chunks of whole articles the lexical copy lacked."
    )
    broken: list[BrokenArticle] = Field(
        default_factory=list, description="Half-written articles, removed."
    )
    reingested: int = Field(0, description="Broken articles read again from their files.")
    copy_rebuilt: bool = Field(
        False, description="The lexical copy could not be read and was built again from Chroma."
    )
    repaired: bool = Field(False, description="False: only looked (`--dry-run`).")
    full: bool = Field(True, description="Every vector read back (not only the ids compared).")
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (
            self.restored or self.re_embedded or self.caught_up or self.broken or self.copy_rebuilt
        )


class IngestReport(BaseModel):
    """What one `ingest` did: counts of documents, chunks in the index and chunks embedded."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[SkippedFile] = Field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    read: int = Field(0, description="Articles read from the inputs.")
    undated: list[str] = Field(
        default_factory=list, description="Ids of the articles read that have no date."
    )
    date_origins: dict[str, int] = Field(
        default_factory=dict, description="How many articles read took their date from where."
    )
    duplicates: list[list[str]] = Field(
        default_factory=list,
        description="Groups of articles with the same story, found in this ingest: the "
        "original first, then its copies.",
    )
    articles: list[ArticleOrigins] = Field(
        default_factory=list,
        description="Where the fields of each new or changed article came from.",
    )
    check: CheckReport | None = Field(
        None, description="What the quick check before writing found and mended."
    )

    def note(self, doc_id: str, published: str | None, date_origin: str | None) -> None:
        """Count an article read: whether it has a date, and where the date came from."""
        self.read += 1
        if not published:
            self.undated.append(doc_id)
        origin = (date_origin or "unknown") if published else "none"
        self.date_origins[origin] = self.date_origins.get(origin, 0) + 1


class DocumentInfo(BaseModel):
    """One indexed article, as listed by `RagEngine.documents()`."""

    doc_id: str
    title: str
    outlet: str | None
    published: str | None
    url: str | None
    chunks: int


class IndexStatus(BaseModel):
    """What the index holds and whether questions can be answered (UI sidebar, health checks)."""

    mode: str = Field(description="`extractive` or `openai:<model>`.")
    embed_model: str = Field(description="The embedding model the settings ask for.")
    index_model: str | None = Field(None, description="The model that built the index.")
    documents: int = 0
    chunks: int = 0
    published_from: str | None = None
    published_to: str | None = None
    problem: str | None = Field(
        None, description="Why questions cannot be answered now; None when they can."
    )

    @computed_field(description="Whether questions can be answered now.")  # type: ignore[prop-decorator]
    @property
    def ready(self) -> bool:
        return self.problem is None
