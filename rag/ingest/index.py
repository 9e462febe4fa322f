"""Incremental sync of articles into the chunk store (Chroma) and the lexical copy.

Sync by content hash: unchanged articles are not re-embedded, changed ones are replaced,
articles gone from a synced folder are deleted. Only the sentences of new chunks are embedded
(each chunk's vector is the mean of its headline's and its sentences' vectors), and the lexical
copy takes one new segment per write. Writes are ordered so that an interrupted run leaves
nothing the next run cannot repair: new chunks are written before stale ones are deleted, and
the store's version is bumped before and after writing, so a copy that missed a write sees
that it is stale and catches up by comparing chunk ids with Chroma.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from rag.errors import DamagedCopyError
from rag.ingest import duplicates
from rag.ingest.chunking import chunk_text
from rag.ingest.corpus import Article, CorpusScan
from rag.ingest.lexical import LexicalIndex, SentenceVectors
from rag.ingest.store import ChunkStore
from rag.nlp.embeddings import Embedder
from rag.nlp.text import sentence_spans, token_counter
from rag.nlp.timeline import Span, dates_in, remember, remembered, time_offsets
from rag.types import (
    ArticleOrigins,
    BrokenArticle,
    CheckReport,
    ChunkRecord,
    DocumentInfo,
    IngestReport,
    SkippedFile,
)

# (articles done, about how many in all); a fraction while one article's chunks are written
Progress = Callable[[float, int], None]
EMBED_BATCH = 128
ARTICLE_BATCH = 2000  # articles read, chunked and written at a time


# How chunk metadata writes what was read (part of the version).
DATES_FORMAT = "spans as Span.saved; sentence_reads by offsets"


@lru_cache(maxsize=1)
def dates_version() -> str:
    """What reads dates in text (`rag.nlp.timeline`'s code and dateparser's version): chunk dates
    saved at ingest are used only while it is the same."""
    from importlib import metadata

    import rag.nlp.timeline

    digest = hashlib.sha256(Path(rag.nlp.timeline.__file__).read_bytes())
    digest.update(metadata.version("dateparser").encode())
    digest.update(DATES_FORMAT.encode())
    return digest.hexdigest()[:16]


def chunk_spans(record: ChunkRecord) -> tuple[Span, ...]:
    """`dates_in(chunk text, published)`: read from the chunk's metadata when ingest saved it
    with today's date reader (reading dates is most of the reranker's work), else computed."""
    meta = record.metadata
    saved = meta.get("date_spans")
    if isinstance(saved, str) and meta.get("dates_version") == dates_version():
        return tuple(Span.from_saved(part) for part in saved.split())
    return dates_in(record.text, meta.get("published") or None)


def sentence_reads(text: str, published: str | None) -> str:
    """What the date reader reads in each of a chunk's sentences, for its metadata:
    "0:118=<span> <span>|4:13 20:31;119:240=|", each sentence by its offsets in the chunk
    with the dates it names (`dates_in`) and where its expressions of time are."""
    parts = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        spans = " ".join(span.saved for span in dates_in(sentence, published))
        times = " ".join(f"{a}:{b}" for a, b in time_offsets(sentence))
        parts.append(f"{start}:{end}={spans}|{times}")
    return ";".join(parts)


def remember_sentence_reads(record: ChunkRecord) -> None:
    """Let `dates_in` and `time_expressions` take what they read in the chunk's sentences
    from its metadata, when ingest saved it with today's date reader: reading them is most
    of a new question's work. A sentence split otherwise at ingest is read when asked."""
    meta = record.metadata
    saved = meta.get("sentence_reads")
    if not isinstance(saved, str) or meta.get("dates_version") != dates_version():
        return
    published = meta.get("published") or None
    sentences = sentence_spans(record.text)
    if all(remembered(record.text[start:end], published) for start, end in sentences):
        return  # with an earlier question
    read = dict(part.split("=", 1) for part in saved.split(";")) if saved else {}
    for start, end in sentences:
        found = read.get(f"{start}:{end}")
        if found is not None:
            spans, times = found.split("|")
            remember(
                record.text[start:end],
                published,
                tuple(Span.from_saved(span) for span in spans.split()),
                tuple(_offsets(where) for where in times.split()),
            )


def _offsets(where: str) -> tuple[int, int]:
    start, end = where.split(":")
    return int(start), int(end)


def published_ordinal(published: str | None) -> int:
    """YYYYMMDD as an int (0 when unknown), for range filters in Chroma."""
    return int(published.replace("-", "")) if published else 0


def embedding_text(title: str, text: str) -> str:
    """A chunk with its headline, which gives every chunk its article's topic."""
    return text if text.startswith(title) else f"{title}\n{text}"


def chunk_parts(record: ChunkRecord) -> list[str]:
    """The texts whose vectors make a chunk's: its headline (unless the chunk opens with it)
    and its sentences."""
    title, text = str(record.metadata.get("title") or ""), record.text
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    parts = sentences if text.startswith(title) or not title else [title, *sentences]
    return parts or [embedding_text(title, text)]


def mean_vector(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """The unit-length mean: a chunk's vector from its parts' (each of unit length)."""
    mean = np.mean(np.stack(vectors), axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def article_key(chunk_id: str) -> str:
    """What the chunk ids of one version of one article share: "doc#sha"."""
    return chunk_id.rsplit("-", 1)[0]


def split_whole(
    records: Sequence[ChunkRecord], ids: set[str]
) -> tuple[list[ChunkRecord], list[ChunkRecord]]:
    """`records` split into chunks of articles `ids` holds whole, and chunks of articles it
    holds only part of (a write that was killed or failed)."""
    held: dict[str, int] = {}
    for chunk_id in ids:
        key = article_key(chunk_id)
        held[key] = held.get(key, 0) + 1
    whole: list[ChunkRecord] = []
    part: list[ChunkRecord] = []
    for record in records:
        expected = record.metadata.get("doc_chunks")
        found = held.get(article_key(record.chunk_id))
        complete = not isinstance(expected, int) or found == expected
        (whole if complete else part).append(record)
    return whole, part


def _broken(records: Sequence[ChunkRecord]) -> list[BrokenArticle]:
    """The half-written articles these chunks belong to."""
    found: dict[str, BrokenArticle] = {}
    for record in records:
        meta = record.metadata
        key = article_key(record.chunk_id)
        if key not in found:
            found[key] = BrokenArticle(
                doc_id=str(meta.get("doc_id", "")),
                source=str(meta.get("source") or ""),
                expected=int(meta.get("doc_chunks") or 0),
            )
        found[key].chunks += 1
    return list(found.values())


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int
    overlap_tokens: int

    @property
    def name(self) -> str:
        return f"sentences:{self.max_tokens}/{self.overlap_tokens}:cl100k_base"


@dataclass(frozen=True)
class Story:
    """What makes an article a copy of another: its duplicate signature and exact key, and
    the earlier article it repeats, if any."""

    signature: str = ""
    key: str = ""
    copy_of: str = ""


def article_chunks(
    article: Article, config: ChunkingConfig, story: Story = Story()
) -> list[ChunkRecord]:
    """The chunk records of one article, ids stable for the same content; the first carries
    the article's duplicate signature."""
    chunks = chunk_text(article.text, config.max_tokens, config.overlap_tokens, token_counter())
    spans = [dates_in(chunk.text, article.published) for chunk in chunks]
    return [
        ChunkRecord(
            chunk_id=f"{article.doc_id}#{article.sha256[:12]}-{chunk.index:04d}",
            text=chunk.text,
            metadata={
                "doc_id": article.doc_id,
                "doc_sha": article.sha256,
                "doc_chunks": len(chunks),
                "chunk_index": chunk.index,
                "start": chunk.start,
                "end": chunk.end,
                "title": article.title,
                "outlet": article.outlet or "",
                "published": article.published or "",
                "published_ord": published_ordinal(article.published),
                "url": article.url or "",
                "event_dates": " ".join(span.iso for span in dated),
                "date_spans": " ".join(span.saved for span in dated),
                "sentence_reads": sentence_reads(chunk.text, article.published),
                "dates_version": dates_version(),
                "source": article.source,
                "copy_of": story.copy_of,
                **({"signature": story.signature, "dup_key": story.key} if i == 0 else {}),
            },
        )
        for i, (chunk, dated) in enumerate(zip(chunks, spans, strict=True))
    ]


# A near-duplicate counts only within this many days of the other's publication: a wire
# story is refiled the same day or the next, while templated reports (a weekly rate decision,
# a daily market operation) repeat their wording on other days with other news.
COPY_DAYS = 1


class Copies:
    """Which articles repeat an earlier one (`rag.ingest.duplicates`), over one sync."""

    def __init__(self, lexical: LexicalIndex) -> None:
        self.lexical = lexical
        self.index = lexical.duplicate_index()
        self.written: dict[str, str | None] = {}  # publication dates of this sync's articles

    @cached_property
    def _indexed(self) -> dict[str, str | None]:
        return {d.doc_id: d.published for d in self.lexical.documents()}

    def published(self, doc_id: str) -> str | None:
        return self.written[doc_id] if doc_id in self.written else self._indexed.get(doc_id)

    def story(self, article: Article) -> Story:
        """The article's duplicate signature, and the earlier article it copies if any."""
        if article.doc_id in self.index:
            self.index.remove(article.doc_id)  # changed: it may copy another now
        self.written[article.doc_id] = article.published
        sig, key = duplicates.signature(article.text), duplicates.exact_key(article.text)

        def near(other: str) -> bool:
            a, b = article.published, self.published(other)
            return (
                not (a and b)
                or abs((dt.date.fromisoformat(a) - dt.date.fromisoformat(b)).days) <= COPY_DAYS
            )

        original = self.index.add(article.doc_id, sig=sig, key=key, accept=near)
        return Story(duplicates.to_text(sig), key, original or "")

    def groups(self, read: set[str]) -> list[list[str]]:
        """The groups of copies that hold an article in `read`."""
        return [g for g in self.index.groups() if read.intersection(g)]


class Indexer:
    """Owns writes to the store and keeps the lexical copy in step with it."""

    def __init__(
        self, store: ChunkStore, embedder: Embedder, config: ChunkingConfig, bm25_dir: Path
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.bm25_dir = bm25_dir
        self._lexical: LexicalIndex | None = None
        self._lock = threading.RLock()

    def lexical(self, version: str | None = None) -> LexicalIndex:
        """The lexical copy as of the store's current version (`version`: the store's, if
        just read): this process's, else the saved one, else the closest caught up."""
        version = self.store.version() if version is None else version
        with self._lock:
            if self._lexical is None or self._lexical.version != version:
                self._lexical = self._current(version)
            return self._lexical

    def _usable(self, copy: LexicalIndex | None) -> LexicalIndex | None:
        # sentence vectors of another model cannot be compared with this one's questions
        return copy if copy is not None and copy.embed_model == self.embedder.name else None

    def _current(self, version: str) -> LexicalIndex:
        mine = self._usable(self._lexical)
        saved = None
        if mine is None or LexicalIndex.saved_version(self.bm25_dir) == version:
            saved = self._usable(LexicalIndex.load(self.bm25_dir, mine.segments if mine else ()))
        for copy in (saved, mine):
            if copy is not None and copy.version == version:
                return copy
        base = mine or saved or LexicalIndex("", embed_model=self.embedder.name)
        caught = self._catch_up(base, version)
        self._save(caught)
        return caught

    def _catch_up(self, base: LexicalIndex, version: str) -> LexicalIndex:
        """`base` brought to the store's chunks by their ids: chunks it lacks are read from
        the store (their new sentences embedded), chunks the store lost are dropped. Chunks of
        an article the store holds only part of are left out (`check` removes them)."""
        ids = self.store.ids()
        known = base.alive_ids()
        removed = known - ids
        added, _ = split_whole(self.store.get(sorted(ids - known)), ids)  # never half an article
        if not added and not removed:
            return base.at(version)
        vectors = self._sentence_vectors(added, base.sentence_vectors)
        return base.apply(added, removed, vectors, version)

    def _sentence_vectors(
        self, records: Sequence[ChunkRecord], known: SentenceVectors
    ) -> dict[str, np.ndarray]:
        """Vectors of the chunks' sentences that `known` lacks, embedded now."""
        texts = sorted({r.text[a:b] for r in records for a, b in sentence_spans(r.text)})
        missing = [t for t, v in zip(texts, known.lookup(texts), strict=True) if v is None]
        fresh: dict[str, np.ndarray] = {}
        for i in range(0, len(missing), 1024):
            batch = missing[i : i + 1024]
            fresh.update(zip(batch, self.embedder.embed(batch), strict=True))
        return fresh

    def _save(self, lexical: LexicalIndex) -> None:
        try:
            lexical.save(self.bm25_dir)
        except OSError:
            pass  # a read-only data dir still answers; the copy lives in memory

    def documents(self) -> list[DocumentInfo]:
        """One entry per indexed article."""
        metadata = self.store.metadata()
        if metadata.get("embed_model") not in (None, self.embedder.name):
            return self._list_documents()  # another model's index: no copy to catch up
        return self.lexical(str(metadata.get("version", ""))).documents()

    def _list_documents(self) -> list[DocumentInfo]:
        docs: dict[str, DocumentInfo] = {}
        for record in self.store.records(include_text=False):
            meta = record.metadata
            doc = docs.get(meta["doc_id"])
            if doc is None:
                docs[meta["doc_id"]] = DocumentInfo(
                    doc_id=meta["doc_id"],
                    title=meta.get("title", ""),
                    outlet=meta.get("outlet") or None,
                    published=meta.get("published") or None,
                    url=meta.get("url") or None,
                    chunks=1,
                )
            else:
                doc.chunks += 1
        return sorted(docs.values(), key=lambda d: d.doc_id)

    def delete_documents(self, doc_ids: set[str]) -> int:
        """Remove every chunk of the given documents; returns how many documents were found."""
        with self._lock:
            lexical = self.lexical()
            found = lexical.doc_records(doc_ids)
            if not found:
                return 0
            stale = [r.chunk_id for records in found.values() for r in records]
            self._commit(lexical, [], stale, lambda: {})
            return len(found)

    def _commit(
        self,
        lexical: LexicalIndex,
        added: Sequence[ChunkRecord],
        stale: Sequence[str],
        write: Callable[[], Mapping[str, np.ndarray]],
    ) -> None:
        """Write to the store (`write` adds the chunks and returns their new sentence
        vectors), delete `stale`, and move the lexical copy on by the same change."""
        started = self.store.touch()
        vectors = write()
        self.store.delete(list(stale))
        others = self.store.version() != started  # another process wrote meanwhile
        version = self.store.touch()
        updated = lexical.apply(added, stale, vectors, version)
        if others or self.store.count() != len(updated):
            updated = self._catch_up(updated, version)
        self._save(updated)
        self._lexical = updated

    def check(self, repair: bool = True, full: bool = True) -> CheckReport:
        """Compare Chroma's chunks with the lexical copy and each article's chunk count, and
        with `repair` mend what differs, re-embedding only that: chunks Chroma lost are
        written again from the copy, whole articles the copy lacks are added to it, and the
        chunks of half-written articles are removed (`BrokenArticle`). `full` also reads every
        vector back and embeds again those that cannot be read. A copy whose files cannot be
        read is rebuilt from Chroma."""
        started = time.perf_counter()
        try:
            report = self._check(repair, full)
        except DamagedCopyError:
            if not repair:
                raise
            with self._lock:
                shutil.rmtree(self.bm25_dir, ignore_errors=True)
                self._lexical = None
            report = self._check(repair, full)
            report.copy_rebuilt = True
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _check(self, repair: bool, full: bool) -> CheckReport:
        with self._lock:
            self.store.check_model()
            copy = self.lexical()  # at the store's version: caught up if it was behind
            ids = self.store.ids()
            alive = copy.alive_ids()
            extra = self.store.get(sorted(ids - alive))
            whole, part = split_whole(extra, ids)
            broken = _broken(part)
            lost = sorted(alive - ids)
            if full:
                _, stray = split_whole(copy.records, alive)
                part.extend(stray)
                broken.extend(_broken(stray))
                readable = (ids & alive) - {r.chunk_id for r in stray}
                unreadable = self.store.unreadable(sorted(readable))
            else:
                unreadable = []
            report = CheckReport(
                restored=lost,
                re_embedded=unreadable,
                caught_up=[r.chunk_id for r in whole],
                broken=broken,
                repaired=repair,
                full=full,
            )
            if repair and not report.clean:
                gone = [r.chunk_id for r in part]
                fixed = [copy.record(c) for c in lost] + self.store.get(unreadable)
                mended = [r for r in fixed if r is not None]

                def write() -> Mapping[str, np.ndarray]:
                    self.store.delete(unreadable)
                    vectors = self._write(mended, None, copy.sentence_vectors)
                    vectors.update(self._sentence_vectors(whole, copy.sentence_vectors))
                    return vectors

                self._commit(copy, whole, gone, write)
            lexical = self._lexical or copy
            report.chunks = self.store.count()
            report.articles = len(lexical.documents())
            return report

    def sync(
        self,
        scan: CorpusScan,
        rebuild: bool = False,
        progress: Progress | None = None,
        replace: bool = False,
    ) -> IngestReport:
        """Bring the index in step with what `scan` reads, a batch of articles at a time (a
        large dump is never held whole); `progress(articles done, about how many)`. An
        article whose id another file or address holds is skipped, unless `replace`."""
        started = time.perf_counter()
        with self._lock:
            checked: CheckReport | None = None
            if rebuild:
                old = self._usable(self._lexical) or self._usable(LexicalIndex.load(self.bm25_dir))
                known = old.sentence_vectors if old else SentenceVectors([])
                self.store.drop()
                lexical = LexicalIndex("", embed_model=self.embedder.name)
            else:
                self.store.check_chunking()
                checked = self.check(repair=True, full=False)  # never "unchanged" over damage
                lexical = self.lexical()
                known = lexical.sentence_vectors
            report = IngestReport(check=checked)
            copies = Copies(lexical)
            expected = scan.expected() if progress else 0
            done = 0
            batch: list[Article] = []
            for article in scan:
                report.note(article.doc_id, article.published, article.origins.get("published"))
                batch.append(article)
                if len(batch) >= ARTICLE_BATCH:
                    lexical, known = self._sync_batch(
                        lexical, known, batch, report, copies, progress, done, expected,
                        replace=replace,
                    )  # fmt: skip
                    done += len(batch)
                    batch = []
            lexical, known = self._sync_batch(
                lexical, known, batch, report, copies, progress, done, expected,
                rebuild=rebuild, replace=replace,
            )  # fmt: skip
            if scan.folders:
                gone = [
                    doc_id
                    for doc_id, source in lexical.sources().items()
                    if doc_id not in scan.seen
                    and any(Path(source).is_relative_to(f) for f in scan.folders)
                ]
                report.removed = len(gone)
                stale = [r.chunk_id for rs in lexical.doc_records(gone).values() for r in rs]
                if stale:
                    self._commit(lexical, [], stale, lambda: {})
            report.duplicates = copies.groups(scan.seen)
            report.skipped = list(scan.skipped) + report.skipped
            report.chunks = self.store.count()
            report.seconds = round(time.perf_counter() - started, 3)
            return report

    def _sync_batch(
        self,
        lexical: LexicalIndex,
        known: SentenceVectors,
        batch: list[Article],
        report: IngestReport,
        copies: Copies,
        progress: Progress | None,
        done: int,
        expected: int,
        rebuild: bool = False,
        replace: bool = False,
    ) -> tuple[LexicalIndex, SentenceVectors]:
        """Write the new and changed articles of `batch`, replacing their old chunks."""
        existing = lexical.doc_records(a.doc_id for a in batch)
        to_write: list[ChunkRecord] = []
        stale_ids: list[str] = []
        for article in batch:
            old_records = existing.get(article.doc_id, [])
            held = str(old_records[0].metadata.get("source") or "") if old_records else ""
            if held and held != article.source and not replace:
                report.skipped.append(
                    SkippedFile(
                        path=article.where,
                        reason=f"its id {article.doc_id} is taken by {held}; "
                        "rag ingest --replace replaces that article",
                    )
                )
                continue
            current = [r for r in old_records if r.metadata.get("doc_sha") == article.sha256]
            stale_ids.extend(
                r.chunk_id for r in old_records if r.metadata.get("doc_sha") != article.sha256
            )
            if current and len(current) == current[0].metadata.get("doc_chunks"):
                report.unchanged += 1
                continue
            if old_records:
                report.updated += 1
            else:
                report.added += 1
            report.articles.append(
                ArticleOrigins(doc_id=article.doc_id, where=article.where, origins=article.origins)
            )
            to_write.extend(article_chunks(article, self.config, copies.story(article)))

        def step(chunks_done: float, chunks: int) -> None:
            if progress:
                progress(min(done + len(batch) * chunks_done / max(chunks, 1), expected), expected)

        if to_write or stale_ids or rebuild:
            self._commit(lexical, to_write, stale_ids, lambda: self._write(to_write, step, known))
            lexical = self._lexical or lexical
        step(1, 1)
        report.embedded += len(to_write)
        return lexical, lexical.sentence_vectors

    def _write(
        self, records: list[ChunkRecord], progress: Progress | None, known: SentenceVectors
    ) -> dict[str, np.ndarray]:
        """Embed the sentences (and headlines) of `records` that `known` lacks, make each
        chunk's vector from them, and write the chunks to the store batch by batch. Returns
        the vectors of every text involved (`known`'s too: a rebuild starts from no copy)."""
        total = len(records)
        vectors: dict[str, np.ndarray] = {}
        if progress:
            progress(0, total)
        for i in range(0, total, EMBED_BATCH):
            batch = records[i : i + EMBED_BATCH]
            parts = [chunk_parts(r) for r in batch]
            texts = sorted({t for p in parts for t in p if t not in vectors})
            missing = []
            for text, vector in zip(texts, known.lookup(texts), strict=True):
                if vector is None:
                    missing.append(text)
                else:
                    vectors[text] = vector
            if missing:
                vectors.update(zip(missing, self.embedder.embed(missing), strict=True))
            chunk_vectors = [mean_vector([vectors[t] for t in p]) for p in parts]
            self.store.add(batch, np.stack(chunk_vectors))
            if progress:
                progress(min(i + EMBED_BATCH, total), total)
        return vectors
