"""`RagEngine`: the façade the CLI, UI, HTTP API and evaluator call."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.compose import ABSTENTION, Composer, Composition, time_scoped_abstention
from rag.compose.base import checked_markers
from rag.compose.llm import LLMComposer
from rag.compose.reader import Reader
from rag.config import Settings
from rag.errors import EmptyIndexError, InputError, RagError
from rag.ingest.corpus import scan
from rag.ingest.failures import writable
from rag.ingest.index import ChunkingConfig, Indexer, Progress
from rag.ingest.records import FieldNames
from rag.ingest.store import ChunkStore, change_marker, connect
from rag.ingest.writelock import writing
from rag.llm.client import ChatClient
from rag.nlp.embeddings import CachedEmbedder, Embedder, make_embedder
from rag.retrieve.conversation import Message, condense_heuristic, condense_with_llm, split_history
from rag.retrieve.hybrid import DateRange, HybridRetriever, Retrieval, parse_date
from rag.types import Answer, CheckReport, DocumentInfo, IndexStatus, IngestReport, Passage

DateLike = dt.date | str | None
EMPTY_INDEX = "the index is empty: run `rag ingest` first"


def _date(value: DateLike, option: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return parse_date(value, option)


class AnswerStream:
    """Iterate for text deltas; `answer` holds the checked `Answer` once iteration ends."""

    def __init__(self, deltas: Iterator[str], finish: Callable[[str], Answer]) -> None:
        self._deltas = deltas
        self._finish = finish
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        parts: list[str] = []
        for delta in self._deltas:
            parts.append(delta)
            yield delta
        self.answer = self._finish("".join(parts))


class RagEngine:
    """Ingest articles and answer questions with verified citations.

    >>> from rag import RagEngine
    >>> engine = RagEngine()                       # Settings from the environment / .env
    >>> engine.ingest(["seeds/"]).chunks > 0
    True
    >>> answer = engine.ask("What did May say about Russia in July 2016?")
    >>> answer.abstained, answer.citations[0].doc_id[:3] in {"000", "002"}
    (False, True)
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        chroma_client: Any = None,
        chat_client: ChatClient | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._embedder = embedder
        # an embedder given answers questions too; else the local model gets its own session
        self._query_embedder = CachedEmbedder(embedder) if embedder is not None else None
        self._remembered = ""  # the index version whose sentence vectors the cache holds
        self._client = chroma_client
        self._chat = chat_client
        self._lock = threading.RLock()
        self._indexer: Indexer | None = None
        self._retriever: HybridRetriever | None = None
        self._reader: Reader | None = None
        self._llm: LLMComposer | None = None
        self.chunking = ChunkingConfig(self.settings.chunk_tokens, self.settings.chunk_overlap)
        if self.settings.llm_mode == "openai" and chat_client is None:
            self._chat = ChatClient(self.settings)  # fails early, naming the missing variable

    # -- components, built on first use ---------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    @property
    def query_embedder(self) -> CachedEmbedder:
        """The embedder for questions and sentences, which recur: cached. Unless one was
        given, the local model answers them from its own session, tuned for latency (loaded
        when a question comes: a process that only ingests or only answers loads one)."""
        with self._lock:
            if self._query_embedder is None:
                self._query_embedder = CachedEmbedder(make_embedder(self.settings, questions=True))
            return self._query_embedder

    @property
    def indexer(self) -> Indexer:
        with self._lock:
            if self._indexer is None:
                settings = self.settings
                marker, where, read_only = None, None, False  # a client given: files anywhere
                if self._client is None:
                    embedded = not settings.chroma_url
                    read_only = embedded and not writable(settings.data_dir)
                    self._client = connect(
                        settings.data_dir, settings.chroma_url, settings.chroma_timeout
                    )
                    marker = change_marker(settings.data_dir, settings.chroma_url)
                    where = settings.data_dir if embedded else None
                store = ChunkStore(
                    self._client,
                    settings.embed_name,
                    self.chunking.name,
                    marker,
                    data_dir=where,
                    url=settings.chroma_url,
                    read_only=read_only,
                )
                self._indexer = Indexer(
                    store, self.embedder, self.chunking, self.settings.data_dir / "bm25"
                )
            return self._indexer

    @property
    def retriever(self) -> HybridRetriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = HybridRetriever(
                    self.indexer.store, self.indexer, self.query_embedder
                )
            return self._retriever

    @property
    def mode(self) -> str:
        """`extractive` or `openai:<model>`."""
        return f"openai:{self.settings.llm_model}" if self._chat else "extractive"

    def _composer(self) -> Composer:
        with self._lock:
            if self._chat is not None:
                if self._llm is None:
                    self._llm = LLMComposer(self._chat)
                return self._llm
            if self._reader is None:
                self._reader = Reader(self.query_embedder)
            return self._reader

    # -- indexing --------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path] | None = None,
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
        fields: FieldNames | None = None,
        wait: bool = True,
        notify: Callable[[str], None] | None = None,
        replace: bool = False,
    ) -> IngestReport:
        """Sync the index with files, folders, record dumps, feeds and web addresses
        (default: the corpus folder); `fields` names the fields of records. One writer at a
        time: while another process writes, wait (`notify` is told once) or, with
        `wait=False`, fail at once. An article whose id is taken by another file or address
        is skipped, naming both, unless `replace`."""
        targets = list(paths) if paths else [self.settings.corpus_dir]
        corpus = scan(targets, fields, self.settings.max_upload_bytes)
        with writing(self.settings.data_dir, wait, notify):
            if rebuild and self._client is None and not self.settings.chroma_url:
                # start from no files at all: a rebuild also mends a database Chroma can't open
                shutil.rmtree(self.settings.data_dir / "chroma", ignore_errors=True)
            return self.indexer.sync(corpus, rebuild=rebuild, progress=progress, replace=replace)

    def check(self, repair: bool = True, wait: bool = True) -> CheckReport:
        """Compare the index's chunks, vectors and lexical copy, and mend what differs
        (`Indexer.check`): a half-written article is removed and read again from its file
        when that is still there. With `repair=False`, only report."""
        with writing(self.settings.data_dir, wait):
            report = self.indexer.check(repair=repair)
            files = sorted({b.source for b in report.broken if Path(b.source).is_file()})
            if repair and files:
                again = self.indexer.sync(scan(files, None, self.settings.max_upload_bytes))
                report.reingested = again.added + again.updated
                report.seconds = round(report.seconds + again.seconds, 3)
                report.chunks = again.chunks
                report.articles = len(self.indexer.documents())
            return report

    def documents(self) -> list[DocumentInfo]:
        """The indexed articles."""
        return self.indexer.documents()

    def status(self) -> IndexStatus:
        """What the index holds, and the problem (if any) that would stop a question."""
        status = IndexStatus(mode=self.mode, embed_model=self.settings.embed_name)
        try:
            metadata = self.indexer.store.metadata()
            status.index_model = metadata.get("embed_model") or None
            documents = self.documents()
            self.indexer.store.check_model(metadata)
        except RagError as exc:
            status.problem = str(exc)
            return status
        dates = sorted(d.published for d in documents if d.published)
        status.documents = len(documents)
        status.chunks = sum(d.chunks for d in documents)
        if dates:
            status.published_from, status.published_to = dates[0], dates[-1]
        if not documents:
            status.problem = EMPTY_INDEX
        return status

    def delete(self, doc_id: str) -> bool:
        """Remove one article from the index; False if it was not there."""
        with writing(self.settings.data_dir):
            return self.indexer.delete_documents({doc_id}) > 0

    # -- answering -------------------------------------------------------------------------
    def _question(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty")
        question = question.strip()
        if len(question) > self.settings.max_question_chars:
            raise InputError(
                f"the question is {len(question):,} characters long; "
                f"the limit is {self.settings.max_question_chars:,}"
            )
        return question

    def _retrieve(
        self, question: str, k: int | None, after: DateLike, before: DateLike
    ) -> Retrieval:
        if k is not None and not 1 <= k <= 50:
            raise InputError(f"k must be between 1 and 50, got {k}")
        dates = DateRange(_date(after, "after"), _date(before, "before"))
        metadata = self.indexer.store.metadata()  # read once per question
        self.indexer.store.check_model(metadata)
        lexical = self.indexer.lexical(str(metadata.get("version", "")))
        if lexical.version != self._remembered:
            self.query_embedder.remember(lexical.sentence_vectors)
            self._remembered = lexical.version
        if not len(lexical):
            raise EmptyIndexError(EMPTY_INDEX)
        return self.retriever.retrieve(question, k or self.settings.top_k, dates, lexical)

    def retrieve(
        self, question: str, k: int | None = None, after: DateLike = None, before: DateLike = None
    ) -> list[Passage]:
        """The passages hybrid retrieval finds for a question."""
        return self._retrieve(self._question(question), k, after, before).passages

    def retrieval(self, question: str, k: int | None = None) -> Retrieval:
        """Everything retrieval found and read for a question (its passages, its analysis and
        vector): what the reader composes from, for training and diagnostics."""
        return self._retrieve(self._question(question), k, None, None)

    def _answer(
        self,
        question: str,
        retrieval: Retrieval,
        composition: Composition,
        started: float,
        retrieved: float,
    ) -> Answer:
        done = time.perf_counter()
        composition = checked_markers(composition)
        return Answer(
            question=question,
            text=composition.text,
            abstained=composition.abstained,
            mode=self.mode,
            citations=composition.citations,
            passages=retrieval.passages,
            timings_ms={
                "retrieve": round((retrieved - started) * 1000, 1),
                "compose": round((done - retrieved) * 1000, 1),
                "total": round((done - started) * 1000, 1),
            },
        )

    def ask(
        self, question: str, k: int | None = None, after: DateLike = None, before: DateLike = None
    ) -> Answer:
        """Answer one question with cited passages, or abstain."""
        started = time.perf_counter()
        question = self._question(question)
        retrieval = self._retrieve(question, k, after, before)
        if not retrieval.passages and (after or before):
            return self._outside_dates(question, k, after, before, started)
        retrieved = time.perf_counter()
        return self._answer(question, retrieval, self._compose(retrieval), started, retrieved)

    def _outside_dates(
        self, question: str, k: int | None, after: DateLike, before: DateLike, started: float
    ) -> Answer:
        """No article of the asked publication dates: say so, and where the closest coverage
        is from, rather than "The articles don't say" (a filter never empties silently)."""
        wider = self._retrieve(question, k, None, None)
        retrieved = time.perf_counter()
        dates = DateRange(_date(after, "after"), _date(before, "before"))
        if not wider.passages:
            return self._answer(question, wider, ABSTENTION, started, retrieved)
        outside = time_scoped_abstention(dates.window(), wider.passages[0])
        return self._answer(question, wider, outside, started, retrieved)

    def _compose(self, retrieval: Retrieval) -> Composition:
        return self._composer().compose(retrieval)

    def answer_from(self, question: str, passages: Sequence[Passage]) -> Answer:
        """Compose an answer from passages found by someone else's retriever (the evaluator's
        baseline uses this so that both pipelines share one composer)."""
        started = time.perf_counter()
        question = self._question(question)
        retrieval = self.retriever.wrap(question, list(passages))
        retrieved = time.perf_counter()
        return self._answer(question, retrieval, self._compose(retrieval), started, retrieved)

    def stream(
        self, question: str, k: int | None = None, after: DateLike = None, before: DateLike = None
    ) -> AnswerStream:
        """Stream the answer text; the final `Answer` is on `.answer` after iterating."""
        composer = self._composer()
        if not isinstance(composer, LLMComposer):
            answer = self.ask(question, k, after, before)
            pieces = iter(word + " " for word in answer.text.split(" "))
            return AnswerStream(pieces, lambda _text: answer)
        started = time.perf_counter()
        question = self._question(question)
        retrieval = self._retrieve(question, k, after, before)
        if not retrieval.passages and (after or before):
            outside = self._outside_dates(question, k, after, before, started)
            return AnswerStream(iter([outside.text]), lambda _text: outside)
        retrieved = time.perf_counter()

        def finish(text: str) -> Answer:
            composition = composer.finish(text, retrieval)
            return self._answer(question, retrieval, composition, started, retrieved)

        return AnswerStream(composer.stream(retrieval), finish)

    def standalone_question(self, messages: Sequence[Message]) -> str:
        """The last user message rewritten to stand without the conversation."""
        history, question = split_history(messages)
        question = self._question(question)
        if not history:
            return question
        if self._chat is not None:
            return condense_with_llm(self._chat, history, question)
        return condense_heuristic(history, question)

    def chat(
        self,
        messages: Sequence[Message],
        k: int | None = None,
        after: DateLike = None,
        before: DateLike = None,
    ) -> Answer:
        """Answer the last user message of a conversation, follow-ups resolved from history."""
        _, last = split_history(messages)
        answer = self.ask(self.standalone_question(messages), k, after, before)
        return answer.model_copy(update={"question": last.strip()})
