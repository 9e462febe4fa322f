"""BM25 over the chunks (bm25s), persisted beside Chroma and rebuilt when Chroma's version moves,
with the vectors of every chunk sentence (the reranker and the extractive composer compare
sentences with the question; embedding them at ingest keeps that out of answering time).

It is derived state: a missing, stale or half-written copy is simply rebuilt from Chroma.
"""

from __future__ import annotations

import difflib
import json
import math
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer_types import person_names
from rag.embeddings import Embedder
from rag.events import EventDates
from rag.store import ChunkRecord
from rag.text import STOPWORDS, normalise, sentence_spans, sound_key, terms, words

_STATE = "chunks.json"
_VECTORS = "sentences.npy"
_SENTENCE_BATCH = 256


@dataclass
class LexicalIndex:
    """BM25 scores plus the corpus vocabulary (for spelling correction of names)."""

    version: str
    records: list[ChunkRecord]
    _bm25: Any = field(repr=False, default=None)
    sentence_vectors: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    embed_model: str = ""  # the embedder that made `sentence_vectors`

    def sentences(self) -> list[str]:
        """Every distinct sentence of the chunks."""
        found = (r.text[a:b] for r in self.records for a, b in sentence_spans(r.text))
        return list(dict.fromkeys(found))

    def embed_sentences(self, embedder: Embedder, known: dict[str, np.ndarray]) -> None:
        """Vectors for every sentence, reusing `known` ones (an earlier copy's)."""
        texts = self.sentences()
        missing = [t for t in texts if t not in known]
        fresh: dict[str, np.ndarray] = {}
        for i in range(0, len(missing), _SENTENCE_BATCH):
            batch = missing[i : i + _SENTENCE_BATCH]
            fresh.update(zip(batch, embedder.embed(batch), strict=True))
        self.sentence_vectors = {t: known[t] if t in known else fresh[t] for t in texts}
        self.embed_model = embedder.name

    @classmethod
    def build(cls, records: Iterable[ChunkRecord], version: str) -> LexicalIndex:
        import bm25s

        index = cls(version=version, records=list(records))
        bm25 = bm25s.BM25()
        if index.records:
            # bm25s needs at least one token per document.
            bm25.index([terms(r.text) or ["_"] for r in index.records], show_progress=False)
        index._bm25 = bm25
        return index

    def save(self, folder: Path) -> None:
        """Write atomically: a half-written copy is never left under `folder`."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = folder.with_name(f"{folder.name}.tmp-{uuid.uuid4().hex}")
        staging.mkdir()
        if self.records:
            self._bm25.save(str(staging / "bm25"))
        sentences = list(self.sentence_vectors)
        if sentences:
            np.save(staging / _VECTORS, np.stack([self.sentence_vectors[t] for t in sentences]))
        state = {
            "version": self.version,
            "records": [[r.chunk_id, r.text, r.metadata] for r in self.records],
            "sentences": sentences,
            "embed_model": self.embed_model,
        }
        (staging / _STATE).write_text(json.dumps(state), "utf-8")
        trash = folder.with_name(f"{folder.name}.old-{uuid.uuid4().hex}")
        if folder.exists():
            folder.rename(trash)
        staging.rename(folder)
        shutil.rmtree(trash, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The saved copy, or None if there is none or it cannot be read."""
        import bm25s

        try:
            state = json.loads((folder / _STATE).read_text("utf-8"))
            records = [ChunkRecord(cid, text, meta) for cid, text, meta in state["records"]]
            bm25 = bm25s.BM25.load(str(folder / "bm25")) if records else bm25s.BM25()
            vectors = _saved_vectors(folder, state)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return cls(state["version"], records, bm25, vectors, str(state.get("embed_model", "")))

    @staticmethod
    def saved_vectors(folder: Path, embed_model: str) -> dict[str, np.ndarray]:
        """The sentence vectors of the saved copy, whatever its version, if `embed_model` made
        them (a new process adding one article embeds only the new sentences); else none."""
        try:
            state = json.loads((folder / _STATE).read_text("utf-8"))
            if state.get("embed_model") != embed_model:
                return {}  # another model's, or a copy from before the model was recorded
            return _saved_vectors(folder, state)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query terms."""
        if not self.records or not query_terms:
            return np.zeros(len(self.records), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(query_terms), dtype=np.float32)

    @cached_property
    def by_id(self) -> dict[str, ChunkRecord]:
        return {record.chunk_id: record for record in self.records}

    @cached_property
    def _document_frequency(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for record in self.records:
            counts.update(set(terms(record.text)))
        return counts

    def idf(self, term: str) -> float:
        """Inverse document frequency of a normalised term (chunks as documents)."""
        n = len(self.records)
        df = self._document_frequency.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    @cached_property
    def events(self) -> EventDates:
        """Dates of the events the chunks name, for questions anchored on one."""
        return EventDates(self.records)

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Lowercased surface words of the corpus."""
        return frozenset(w.lower() for r in self.records for w in words(r.text))

    @cached_property
    def names(self) -> frozenset[str]:
        """Lowercased words the corpus capitalises inside a sentence: people, places, groups."""
        found = (w.lower() for names in self._names_by_article.values() for w in names)
        return frozenset(w for w in found if len(w) > 3)

    @cached_property
    def _names_by_article(self) -> dict[str, set[str]]:
        """Per article, the words its text capitalises inside a sentence."""
        found: dict[str, set[str]] = {}
        for record in self.records:
            found.setdefault(str(record.metadata.get("doc_id", "")), set()).update(
                _names_in(record.text)
            )
        return found

    @cached_property
    def people(self) -> frozenset[str]:
        """Lowercased words the articles use as a person's name ("putin": "Vladimir Putin")."""
        return frozenset(
            name
            for record in self.records
            for start, end in sentence_spans(record.text)
            for name in person_names(record.text[start:end])
        )

    @cached_property
    def _named(self) -> dict[str, frozenset[str]]:
        return {
            doc: self.with_variants(frozenset(normalise(w) for w in names))
            for doc, names in self._names_by_article.items()
        }

    def named_in(self, doc_id: str) -> frozenset[str]:
        """The names an article's text uses (normalised, other spellings included)."""
        return self._named.get(doc_id, frozenset())

    @cached_property
    def variants(self) -> dict[str, frozenset[str]]:
        """Other spellings of a name (normalised). An article whose headline spells a name one
        way and whose text only another that sounds alike spells one name two ways: "May" in
        the headline, "Mei" in the text of a translated article."""
        headlines: dict[str, set[str]] = {}
        for record in self.records:
            doc = str(record.metadata.get("doc_id", ""))
            if doc not in headlines:  # every chunk of an article carries its headline
                headlines[doc] = _names_in(record.metadata.get("title") or "")
        spellings: dict[str, set[str]] = {}
        for doc, titled in headlines.items():
            text = self._names_by_article[doc] - _CALENDAR_NAMES
            for name in titled - text - _CALENDAR_NAMES:
                for other in text:
                    if sound_key(other) == sound_key(name) and _spelt_alike(name, other):
                        one, two = normalise(name), normalise(other)
                        spellings.setdefault(one, set()).add(two)
                        spellings.setdefault(two, set()).add(one)
        return {name: frozenset(others) for name, others in spellings.items()}

    def with_variants(self, found: frozenset[str]) -> frozenset[str]:
        """Terms with the other spellings of the names among them."""
        extra = [self.variants[t] for t in found if t in self.variants]
        return found.union(*extra) if extra else found

    @cached_property
    def _names_by_initial(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for name in self.names:
            groups.setdefault(name[0], []).append(name)
        return groups

    def correct(self, word: str) -> str | None:
        """The corpus word a misspelt name most likely means ("Pompeio" -> "pompeo"), if any.
        Only names are corrected: a common word the corpus lacks ("becoming") is left alone
        rather than bent into one it has ("bombing")."""
        lower = word.lower()
        if lower in self.vocabulary:
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


def _saved_vectors(folder: Path, state: dict[str, Any]) -> dict[str, np.ndarray]:
    sentences = state.get("sentences") or []
    matrix = np.load(folder / _VECTORS) if sentences else np.zeros((0, 0))
    if len(matrix) != len(sentences):
        return {}  # half-written: embedded again on the next write
    return dict(zip(sentences, matrix, strict=True))


_CALENDAR_NAMES = frozenset(
    "January February March April June July August September October November December "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)  # "May" is left out: it is a name as often


def _names_in(text: str) -> set[str]:
    """Capitalised words inside the sentences of `text`: names."""
    found = set()
    for start, end in sentence_spans(text):
        for word in words(text[start:end])[1:]:
            if word[0].isupper() and len(word) >= 3 and word.lower() not in STOPWORDS:
                found.add(word)
    return found


def _spelt_alike(one: str, other: str) -> bool:
    """Sounding alike is enough for short names ("May", "Mei"); longer ones must also share
    most letters ("Zelensky", "Zelenskyy"), so that "Robert" and "Rupert" stay two people."""
    if max(len(one), len(other)) <= 4:
        return True
    return difflib.SequenceMatcher(None, one.lower(), other.lower()).ratio() >= 0.75
