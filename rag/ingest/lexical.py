"""The lexical side of the index: BM25 over the chunks, the corpus's words and names (for
spelling correction), and the vectors of every chunk sentence (the reranker and the extractive
composer compare sentences with the question; embedding them at ingest keeps that out of
answering time).

It is derived state kept beside Chroma: an ordered list of immutable segments
(`rag.ingest.segment`) and, per segment, the articles that later writes replaced or removed
("dead").
A write adds one segment and marks what it replaces, so nothing already indexed is tokenised,
embedded or written again; small segments are merged as they pile up (each chunk is re-read
O(log N) times in its life). BM25 statistics (N, average length, document frequencies) are
counted over the live chunks at question time, so they are those of a full rebuild. A missing,
stale or half-written copy is caught up from Chroma (`rag.ingest.index`).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.ingest.duplicates import DuplicateIndex, from_text
from rag.ingest.segment import Segment, build, folders, remove_folders, text_hash
from rag.nlp.events import Anchor, EventDates
from rag.nlp.text import sentence_spans
from rag.nlp.timeline import Span
from rag.types import ChunkRecord, DocumentInfo

K1, B = 1.5, 0.75  # bm25s's defaults ("lucene" variant), which this index replaced
_SCORED_ROWS = 1_000_000  # rows of term scores an index remembers (8 bytes each)
MERGE_RATIO = 2  # a segment is merged into the ones after it once they hold half its chunks
_MANIFEST = "manifest.json"
_FORMAT = 4  # 3: articles carry their duplicate signature and group; 4: headlines searched
_ORPHAN_AGE_S = 3600  # a segment no manifest names, this old, is a lost or interrupted write
_OLD_FILES = ("chunks.json", "sentences.npy", "bm25")  # the format before segments


class SentenceVectors(Mapping[str, np.ndarray]):
    """The stored sentence vectors of every segment, looked up by text (hashes, searched)."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self._segments = [s for s in reversed(segments) if len(s.sentences)]

    def lookup(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        """The vector of each text, or None where none is stored."""
        found: list[np.ndarray | None] = [None] * len(texts)
        if not texts or not self._segments:
            return found
        hashes = np.fromiter((text_hash(t) for t in texts), np.uint64, len(texts))
        pending = np.arange(len(texts))
        for segment in self._segments:
            rows = segment.find_sentences(hashes[pending])
            for i, row in zip(pending[rows >= 0], rows[rows >= 0], strict=True):
                if segment.sentences[int(row)] == texts[i]:  # the hash is 64 bits; text decides
                    found[i] = np.asarray(segment.arrays["vectors"][int(row)])
            pending = np.asarray([i for i in pending if found[i] is None], dtype=np.int64)
            if not len(pending):
                break
        return found

    def __getitem__(self, text: str) -> np.ndarray:
        (vector,) = self.lookup([text])
        if vector is None:
            raise KeyError(text)
        return vector

    def __iter__(self) -> Iterator[str]:
        for segment in self._segments:
            yield from segment.sentences

    def __len__(self) -> int:
        return sum(len(s.sentences) for s in self._segments)


class _Events:
    """`EventDates` over the live chunks, made on the first question anchored on an event
    (it reads every sentence)."""

    def __init__(self, lexical: LexicalIndex) -> None:
        self._lexical = lexical
        self._dates: EventDates | None = None

    def when(self, anchor: Anchor) -> Span | None:
        if self._dates is None:
            self._dates = EventDates(self._lexical.records)
        return self._dates.when(anchor)


class LexicalIndex:
    """BM25 scores plus the corpus vocabulary (for spelling correction of names), over the
    live chunks of its segments, as of the store's `version`."""

    def __init__(
        self,
        version: str,
        segments: Sequence[Segment] = (),
        dead: Sequence[frozenset[str]] | None = None,
        embed_model: str = "",  # the embedder that made the sentence vectors
    ) -> None:
        self.version = version
        self.segments = list(segments)
        self.dead = list(dead) if dead is not None else [frozenset()] * len(self.segments)
        self.embed_model = embed_model
        self._alive_docs: list[np.ndarray | None] = []
        self._alive_rows: list[np.ndarray | None] = []
        for segment, dead_docs in zip(self.segments, self.dead, strict=True):
            gone = [segment.doc_of[d] for d in dead_docs if d in segment.doc_of]
            if gone:
                docs = np.ones(len(segment.docs), dtype=bool)
                docs[gone] = False
                self._alive_docs.append(docs)
                self._alive_rows.append(docs[segment.arrays["row_doc"]])
            else:
                self._alive_docs.append(None)
                self._alive_rows.append(None)
        self._sizes = [
            len(s) if alive is None else int(alive.sum())
            for s, alive in zip(self.segments, self._alive_rows, strict=True)
        ]
        self._length = sum(
            int(np.sum(s.arrays["lengths"], dtype=np.int64))
            if alive is None
            else int(np.sum(s.arrays["lengths"][alive], dtype=np.int64))
            for s, alive in zip(self.segments, self._alive_rows, strict=True)
        )
        self._idf: dict[str, float] = {}
        self._scored: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        self._scored_rows = 0
        self._known: dict[str, bool] = {}
        self.sentence_vectors = SentenceVectors(self.segments)
        self.events = _Events(self)

    def __len__(self) -> int:
        """The live chunks."""
        return sum(self._sizes)

    @classmethod
    def build(
        cls,
        records: Iterable[ChunkRecord],
        version: str,
        vectors: Mapping[str, np.ndarray] | None = None,
        embed_model: str = "",
    ) -> LexicalIndex:
        """An index of `records` in one segment, storing the sentence `vectors` given."""
        records = list(records)
        if not records:
            return cls(version, embed_model=embed_model)
        return cls(version, [build(records, vectors or {})], embed_model=embed_model)

    # -- chunks --------------------------------------------------------------------------
    def _live(self) -> Iterator[tuple[int, Segment, np.ndarray | None]]:
        for i, segment in enumerate(self.segments):
            yield i, segment, self._alive_rows[i]

    def _find(self, chunk_id: str) -> tuple[Segment, int] | None:
        for _, segment, alive in self._live():
            row = segment.row_of.get(chunk_id)
            if row is not None and (alive is None or alive[row]):
                return segment, row
        return None

    def record(self, chunk_id: str) -> ChunkRecord | None:
        """The live chunk with this id, if there is one."""
        found = self._find(chunk_id)
        return found[0].record(found[1]) if found else None

    def holds(self, chunk_id: str) -> bool:
        """Whether a live chunk has this id (its text and metadata are not read)."""
        return self._find(chunk_id) is not None

    @cached_property
    def records(self) -> list[ChunkRecord]:
        """Every live chunk (reads them all: for event dates and tests, not for questions)."""
        return [
            segment.record(row)
            for _, segment, alive in self._live()
            for row in range(len(segment))
            if alive is None or alive[row]
        ]

    def sentences(self) -> list[str]:
        """Every distinct sentence of the live chunks."""
        found = (r.text[a:b] for r in self.records for a, b in sentence_spans(r.text))
        return list(dict.fromkeys(found))

    def _home(self, doc_id: str) -> tuple[int, int] | None:
        """(segment, doc index) of the one segment holding the article's live chunks."""
        for i, segment in enumerate(self.segments):
            j = segment.doc_of.get(doc_id)
            if j is not None and doc_id not in self.dead[i]:
                return i, j
        return None

    def doc_records(self, doc_ids: Iterable[str]) -> dict[str, list[ChunkRecord]]:
        """The live chunks of each of these articles that is indexed."""
        found = {}
        for doc_id in doc_ids:
            home = self._home(doc_id)
            if home is not None:
                segment = self.segments[home[0]]
                found[doc_id] = [segment.record(row) for row in segment.rows_of_doc(home[1])]
        return found

    def sources(self) -> dict[str, str]:
        """The file each live article was read from."""
        return {doc.doc_id: doc.source for doc in self._docs()}

    def _docs(self) -> Iterator[Any]:
        for i, segment in enumerate(self.segments):
            alive = self._alive_docs[i]
            for j, doc in enumerate(segment.docs):
                if alive is None or alive[j]:
                    yield doc

    def documents(self) -> list[DocumentInfo]:
        """One entry per live article (copies: the caller may change them)."""
        return [doc.model_copy() for doc in self._documents]

    @cached_property
    def _documents(self) -> list[DocumentInfo]:
        docs = [
            DocumentInfo(
                doc_id=d.doc_id,
                title=d.title,
                outlet=d.outlet or None,
                published=d.published or None,
                url=d.url or None,
                chunks=d.rows,
            )
            for d in self._docs()
        ]
        return sorted(docs, key=lambda d: d.doc_id)

    @cached_property
    def _groups(self) -> dict[str, list[str]]:
        """Each live article that has copies (or is one) -> its group, the original first."""
        members: dict[str, list[str]] = {}
        for doc in self._docs():
            members.setdefault(doc.copy_of or doc.doc_id, []).append(doc.doc_id)
        groups: dict[str, list[str]] = {}
        for original, group in members.items():
            if len(group) > 1:
                ordered = sorted(group, key=lambda d: (d != original, d))
                groups.update(dict.fromkeys(ordered, ordered))
        return groups

    def copies(self, doc_id: str) -> list[str]:
        """The other live articles with the same story as `doc_id` (the original first)."""
        return [d for d in self._groups.get(doc_id, ()) if d != doc_id]

    def same_story(self, a: str, b: str) -> bool:
        return a == b or b in self._groups.get(a, ())

    def duplicate_index(self) -> DuplicateIndex:
        """The live articles' duplicate signatures, originals first, to find new copies."""
        found = DuplicateIndex()
        docs = sorted((d for d in self._docs() if d.signature), key=lambda d: bool(d.copy_of))
        if docs:  # each joins the group it was found in at its ingest
            found.restore(
                [d.doc_id for d in docs],
                np.stack([from_text(d.signature) for d in docs]),
                [d.key or None for d in docs],
                [d.copy_of for d in docs],
            )
        return found

    def alive_ids(self) -> set[str]:
        return {
            segment.ids[row]
            for _, segment, alive in self._live()
            for row in (range(len(segment)) if alive is None else np.flatnonzero(alive))
        }

    # -- BM25 ----------------------------------------------------------------------------
    def _postings(self, term: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(segment, rows, term frequencies) of the live chunks holding `term`."""
        found = []
        for i, segment, alive in self._live():
            postings = segment.postings(term)
            if postings is None:
                continue
            rows, tf = postings
            if alive is not None:
                keep = alive[rows]
                rows, tf = rows[keep], tf[keep]
            if len(rows):
                found.append((i, rows, tf))
        return found

    def idf(self, term: str) -> float:
        """Inverse document frequency of a normalised term (chunks as documents)."""
        value = self._idf.get(term)
        if value is None:
            df = sum(len(rows) for _, rows, _ in self._postings(term))
            n = len(self)
            value = math.log(1 + (n - df + 0.5) / (df + 0.5))
            if len(self._idf) < 100_000:
                self._idf[term] = value
        return value

    def _scores(self, query_terms: list[str]) -> list[np.ndarray]:
        """BM25 of every row of every segment (0 for dead rows); a repeated query term counts
        again, as in bm25s."""
        scores = [np.zeros(len(s), dtype=np.float64) for s in self.segments]
        if not len(self):
            return scores
        for term in query_terms:
            for i, rows, weights in self._term_scores(term):
                scores[i][rows] += weights
        return scores

    def _term_scores(self, term: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(segment, rows, BM25 score of the term in each row) of the rows holding the term;
        remembered for this index's terms up to `_SCORED_ROWS` rows (terms recur question
        after question: "talks", "meet")."""
        found = self._scored.get(term)
        if found is not None:
            return found
        average = self._length / len(self)
        postings = self._postings(term)
        idf = self.idf(term) if postings else 0.0
        found = []
        for i, rows, tf in postings:
            lengths = self.segments[i].arrays["lengths"][rows]
            frequency = tf.astype(np.float64)
            weights = idf * frequency / (K1 * ((1 - B) + B * lengths / average) + frequency)
            found.append((i, rows, weights))
        size = sum(len(rows) for _, rows, _ in found)
        if self._scored_rows + size <= _SCORED_ROWS:
            self._scored[term] = found
            self._scored_rows += size
        return found

    def bm25_scores(self, query_terms: list[str]) -> dict[str, float]:
        """BM25 score of every live chunk that holds a query term, by chunk id."""
        return {
            self.segments[i].ids[row]: float(scores[row])
            for i, scores in enumerate(self._scores(query_terms))
            for row in np.flatnonzero(scores > 0)
        }

    def top(
        self, query_terms: list[str], n: int, published: tuple[int, int] | None = None
    ) -> list[tuple[str, float]]:
        """The ids of the `n` best live chunks by BM25 (score above 0), best first, with
        their scores; `published`: only chunks of articles published in that (YYYYMMDD)
        range."""
        scores = self._scores(query_terms)
        if published is not None:
            low, high = published
            for i, segment in enumerate(self.segments):
                dates = segment.arrays["published"]
                scores[i][(dates < low) | (dates > high)] = 0.0
        if not scores or n <= 0:
            return []
        flat = np.concatenate(scores)
        starts = np.cumsum([0] + [len(s) for s in scores])
        found = []
        for index in top_indices(flat, n):
            if flat[index] <= 0:
                break
            i = int(np.searchsorted(starts, index, side="right")) - 1
            found.append((self.segments[i].ids[int(index - starts[i])], float(flat[index])))
        return found

    # -- words and names -----------------------------------------------------------------
    def knows(self, word: str) -> bool:
        """Whether a live chunk holds this lowercased word."""
        known = self._known.get(word)
        if known is None:
            known = False
            for i, segment in enumerate(self.segments):
                docs = segment.word_docs(word)
                alive = self._alive_docs[i]
                if docs is not None and len(docs) and (alive is None or bool(alive[docs].any())):
                    known = True
                    break
            if len(self._known) < 100_000:
                self._known[word] = known
        return known

    @cached_property
    def names(self) -> frozenset[str]:
        """Lowercased words the corpus capitalises inside a sentence: people, places, groups."""
        return frozenset(n.lower() for d in self._docs() for n in d.names if len(n) > 3)

    @cached_property
    def variants(self) -> dict[str, frozenset[str]]:
        """Other spellings of a name (normalised). An article whose headline spells a name one
        way and whose text only another that sounds alike spells one name two ways: "May" in
        the headline, "Mei" in the text of a translated article."""
        spellings: dict[str, set[str]] = {}
        for doc in self._docs():
            for one, two in doc.variants:
                spellings.setdefault(one, set()).add(two)
                spellings.setdefault(two, set()).add(one)
        return {name: frozenset(others) for name, others in spellings.items()}

    @cached_property
    def _spelt_two_ways(self) -> frozenset[str]:
        return frozenset(self.variants)

    def with_variants(self, found: frozenset[str]) -> frozenset[str]:
        """Terms with the other spellings of the names among them."""
        names = found & self._spelt_two_ways
        return found.union(*(self.variants[t] for t in names)) if names else found

    @cached_property
    def _names_by_initial(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for name in sorted(self.names):
            groups.setdefault(name[0], []).append(name)
        return groups

    def correct(self, word: str) -> str | None:
        """The corpus word a misspelt name most likely means ("Pompeio" -> "pompeo"), if any.
        Only names are corrected: a common word the corpus lacks ("becoming") is left alone
        rather than bent into one it has ("bombing")."""
        lower = word.lower()
        if self.knows(lower):
            return lower
        if len(lower) < 4:
            return None
        # a typo adds, drops or swaps a letter or two, a short form keeps the start ("Brits",
        # "British"): "Pope" is no misspelt "Pompeo"
        slack = 1 if len(lower) < 8 else 2
        candidates = [
            name
            for name in self._names_by_initial.get(lower[0], [])
            if abs(len(name) - len(lower)) <= slack or name[:4] == lower[:4]
        ]
        match = difflib.get_close_matches(lower, candidates, 1, 0.75)
        return match[0] if match else None

    # -- writes --------------------------------------------------------------------------
    def at(self, version: str) -> LexicalIndex:
        """The same chunks, as of another store version."""
        return LexicalIndex(version, self.segments, self.dead, self.embed_model)

    def apply(
        self,
        added: Sequence[ChunkRecord],
        removed: Iterable[str],
        vectors: Mapping[str, np.ndarray],
        version: str,
    ) -> LexicalIndex:
        """The index after a write that added `added` (their new sentences' vectors in
        `vectors`) and removed the chunks `removed`: one new segment with the added chunks,
        and the articles they touch marked dead where they were. The rest of a touched
        article (after an interrupted write, Chroma may hold part of one) moves along, so
        that each article's live chunks stay in one segment."""
        added_ids = {r.chunk_id for r in added}
        removed = set(removed) - added_ids
        touched = {str(r.metadata.get("doc_id", "")) for r in added}
        for chunk_id in removed:
            record = self.record(chunk_id)
            if record is not None:
                touched.add(str(record.metadata.get("doc_id", "")))
        dead = list(self.dead)
        rows = list(added)
        for doc_id in sorted(touched):
            home = self._home(doc_id)
            if home is None:
                continue
            i, j = home
            dead[i] = dead[i] | {doc_id}
            segment = self.segments[i]
            for row in segment.rows_of_doc(j):
                if segment.ids[row] not in removed and segment.ids[row] not in added_ids:
                    rows.append(segment.record(row))
        segments = list(self.segments)
        if rows:
            new = {r.text[a:b] for r in added for a, b in sentence_spans(r.text)}
            stored = self.sentence_vectors.lookup(sorted(new))
            keep = {
                s: vectors[s]
                for s, v in zip(sorted(new), stored, strict=True)
                if v is None and s in vectors
            }
            segments.append(build(rows, keep, self._dim(vectors)))
            dead.append(frozenset())
        return LexicalIndex(version, segments, dead, self.embed_model)._merged()

    def _dim(self, vectors: Mapping[str, np.ndarray]) -> int:
        for vector in vectors.values():
            return len(vector)
        for segment in self.segments:
            return int(segment.arrays["vectors"].shape[1])
        return 0

    def _merged(self) -> LexicalIndex:
        """Merge the newest segments while the ones before are at most `MERGE_RATIO` times
        their size (live chunks); a merge that reaches the first segment also drops the
        vectors no live chunk's sentence needs any more."""
        if len(self.segments) < 2:
            return self
        last = len(self.segments) - 1
        first, total = last, self._sizes[last]
        while first > 0 and self._sizes[first - 1] <= MERGE_RATIO * total:
            first -= 1
            total += self._sizes[first]
        if first == last:
            return self
        part = LexicalIndex(self.version, self.segments[first:], self.dead[first:])
        if first == 0:
            sentences = sorted(part.sentences())
            found = part.sentence_vectors.lookup(sentences)
            keep = {s: v for s, v in zip(sentences, found, strict=True) if v is not None}
        else:  # later segments may rely on any of these vectors
            keep = {}
            for segment in part.segments:
                keep.update(segment.stored_sentences())
        merged = build(part.records, keep, self._dim({})) if part.records or keep else None
        segments = self.segments[:first] + ([merged] if merged else [])
        dead = self.dead[:first] + ([frozenset()] if merged else [])
        return LexicalIndex(self.version, segments, dead, self.embed_model)

    # -- persistence ---------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the segments not yet on disk, then the manifest that names them (replaced
        atomically: a reader sees the old index or the new one), then remove what it
        superseded."""
        folder.mkdir(parents=True, exist_ok=True)
        for segment in self.segments:
            segment.save(folder)
        before = _read_manifest(folder)
        manifest = {
            "format": _FORMAT,
            "version": self.version,
            "embed_model": self.embed_model,
            "segments": [
                {"name": s.name, "dead": sorted(d)}
                for s, d in zip(self.segments, self.dead, strict=True)
            ],
        }
        staging = folder / f"{_MANIFEST}.tmp-{uuid.uuid4().hex}"
        staging.write_text(json.dumps(manifest), "utf-8")
        os.replace(staging, folder / _MANIFEST)
        keep = {s.name for s in self.segments}
        superseded = {s["name"] for s in (before or {}).get("segments", [])} - keep
        now = time.time()
        remove_folders(
            folder,
            (
                p.name
                for p in folders(folder)
                if p.name not in keep
                and (p.name in superseded or now - p.stat().st_mtime > _ORPHAN_AGE_S)
            ),
        )
        for leftover in folder.glob(f"{_MANIFEST}.tmp-*"):  # of an interrupted save
            if now - leftover.stat().st_mtime > _ORPHAN_AGE_S:
                leftover.unlink(missing_ok=True)
        for name in _OLD_FILES:
            old = folder / name
            if old.is_dir():
                remove_folders(folder, [name])
            else:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, reuse: Sequence[Segment] = ()) -> LexicalIndex | None:
        """The saved copy, or None if there is none or it cannot be read; segments already
        open in `reuse` are not read again (a segment never changes)."""
        opened = {s.name: s for s in reuse}
        for _attempt in range(3):
            manifest = _read_manifest(folder)
            if manifest is None:
                return None
            try:
                entries = manifest["segments"]
                segments = [
                    opened.get(e["name"]) or Segment.open(folder / e["name"]) for e in entries
                ]
                dead = [frozenset(e["dead"]) for e in entries]
                return cls(str(manifest["version"]), segments, dead, str(manifest["embed_model"]))
            except FileNotFoundError:
                continue  # a writer replaced the manifest and removed what it named: again
            except (OSError, ValueError, KeyError, TypeError):
                return None
        return None

    @staticmethod
    def saved_version(folder: Path) -> str | None:
        manifest = _read_manifest(folder)
        return None if manifest is None else str(manifest.get("version"))

    @staticmethod
    def saved_vectors(folder: Path, embed_model: str) -> Mapping[str, np.ndarray]:
        """The sentence vectors of the saved copy, whatever its version, if `embed_model` made
        them; else none."""
        saved = LexicalIndex.load(folder)
        if saved is None or saved.embed_model != embed_model:
            return {}
        return saved.sentence_vectors


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / _MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        return None
    return manifest


def top_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest scores, best first, ties in index order (as a full stable
    sort would give) without sorting every chunk of a large corpus."""
    if n >= len(scores):
        return np.argsort(-scores, kind="stable")
    threshold = np.partition(scores, len(scores) - n)[len(scores) - n]
    above = np.flatnonzero(scores >= threshold)
    return above[np.argsort(-scores[above], kind="stable")][:n]
