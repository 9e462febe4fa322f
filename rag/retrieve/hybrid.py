"""Hybrid retrieval: dense (Chroma) and BM25 rankings fused by reciprocal rank fusion, then
reranked by each chunk's best sentence."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rag.errors import InputError
from rag.ingest.duplicates import shingles
from rag.ingest.index import Indexer, chunk_spans, published_ordinal, remember_sentence_reads
from rag.ingest.lexical import LexicalIndex
from rag.ingest.store import ChunkStore
from rag.nlp.asked import speaker_words
from rag.nlp.embeddings import Embedder
from rag.nlp.text import (
    STOPWORDS,
    base_form,
    neutral_markers,
    normalise,
    sentence_spans,
    speaks,
    term_set,
    terms,
    words,
)
from rag.nlp.timeline import Span, Window, dated_in, iso_dates, untimed
from rag.retrieve.conversation import plain
from rag.retrieve.question import Focus, focus
from rag.types import ChunkRecord, Passage

RRF_K = 60
SPEAKER_BONUS = 0.2  # "what did Lavrov say": a sentence reporting the words of whom it names
YEAR_PENALTY = 0.2  # "in 2016": a chunk neither published then nor naming a time then
MONTH_PENALTY = 0.1  # "in August 2016": a chunk of the right year, outside the window
# "in July 2016": a sentence of a later (or earlier) article that dates what it says to July
# 2016; not for a whole year, nor within the window's own articles, where most sentences are
DATE_BONUS = 0.2
FUSION_WEIGHT = 0.2  # share of the fused dense+BM25 rank in the final order


# Capitalised words that open requests rather than name things.
_REQUEST_WORDS = frozenset(
    "give list name summarise summarize explain describe show according please "
    "can could would will is are was were does did do has have".split()
)


def parse_date(value: str, option: str) -> dt.date:
    """An ISO date given on the command line or the API, or a clear error."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{option} must be a date like 2016-07-31, got {value!r}") from None


@dataclass(frozen=True)
class DateRange:
    """Publication-date window, both ends inclusive; None = open."""

    after: dt.date | None = None
    before: dt.date | None = None

    def __post_init__(self) -> None:
        if self.after and self.before and self.after > self.before:
            raise InputError(f"--after {self.after} is later than --before {self.before}")

    @property
    def is_open(self) -> bool:
        return self.after is None and self.before is None

    def bounds(self) -> tuple[int, int]:
        low = published_ordinal(self.after.isoformat()) if self.after else 1
        high = published_ordinal(self.before.isoformat()) if self.before else 99991231
        return low, high

    def where(self) -> dict[str, Any] | None:
        if self.is_open:
            return None
        low, high = self.bounds()
        return {"$and": [{"published_ord": {"$gte": low}}, {"published_ord": {"$lte": high}}]}

    def window(self) -> Window:
        """The range as a window, for saying what it excludes ("since 1 January 2020")."""
        return Window((Span(self.after or dt.date.min, self.before or dt.date.max, "range"),), True)

    def admits(self, metadata: dict[str, Any]) -> bool:
        low, high = self.bounds()
        return self.is_open or low <= int(metadata.get("published_ord") or 0) <= high


@dataclass
class QueryAnalysis:
    """What the question asks for in lexical terms, spelling mistakes in names corrected."""

    question: str
    terms: list[str]
    focus: Focus
    entities: list[str] = field(default_factory=list)
    unknown_entities: list[str] = field(default_factory=list)


# News abbreviations and what they stand for: "PM" finds "prime minister" and back.
_ABBREVIATIONS = {
    "PM": "prime minister",
    "FM": "foreign minister",
    "UK": "united kingdom",
    "US": "united states",
    "USA": "united states",
    "EU": "european union",
    "UN": "united nations",
}


def _expansions(text: str) -> list[str]:
    """The other spelling of each abbreviation or spelled-out name in the text."""
    found = []
    lowered = " ".join(words(text)).lower()
    for short, long in _ABBREVIATIONS.items():
        if short in words(text):
            found.append(long)
        elif re.search(rf"\b{long}\b", lowered):
            found.append(short)
    return found


def analyse(question: str, lexical: LexicalIndex) -> QueryAnalysis:
    """Terms for BM25 and scoring, the question's names, and the names the corpus has never
    written."""
    analysis = QueryAnalysis(
        question=question,
        terms=[],
        focus=focus(question, lexical.correct, lexical.events.when),
    )
    analysis.terms, analysis.entities, analysis.unknown_entities = _read(plain(question), lexical)
    return analysis


def query_terms(text: str, lexical: LexicalIndex) -> list[str]:
    """The terms of a question or part of one, as `analyse` finds them."""
    return _read(text, lexical)[0]


_POSSESSIVE = re.compile(r"['’]s$")


def _read(text: str, lexical: LexicalIndex) -> tuple[list[str], list[str], list[str]]:
    """Terms (spelling mistakes in names corrected, abbreviations expanded, "met" also as
    "meet"), capitalised words, and the proper names no article writes, even misspelt (the
    articles cannot be about them). By news convention a name is capitalised inside the
    sentence; the first word is capitalised by grammar, and an acronym ("BOJ") is often
    spelled out in the article, so neither counts as unwritten; a possessive counts by its
    name ("Lisbon's": "Lisbon")."""
    found = [normalise(w) for w in words(" ".join(_expansions(text)))]
    entities: list[str] = []
    unwritten: list[str] = []
    for i, word in enumerate(words(text)):
        lower = word.lower()
        if lower in STOPWORDS or (len(lower) < 2 and not word.isdigit()):
            continue
        corrected = lexical.correct(word) if len(lexical) else lower
        found.append(normalise(corrected or word))
        if (base := base_form(lower)) is not None:
            found.append(base)  # "met" also finds "meeting"
        if not word[0].isupper() or lower in _REQUEST_WORDS:
            continue
        entities.append(word)
        name = _POSSESSIVE.sub("", word)
        if not i or not len(lexical) or len(name) < 2 or name.isupper():
            continue
        written = corrected if name == word else lexical.correct(name)
        if written is None and name.lower() not in STOPWORDS:
            unwritten.append(name)
    return found, entities, unwritten


def sentence_terms(text: str, lexical: LexicalIndex) -> frozenset[str]:
    """A sentence's terms as scoring compares them: with the other spellings of its names
    ("Mei": May)."""
    return lexical.with_variants(term_set(text))


def _query_texts(question: str, asked: Focus) -> list[str]:
    """The question as searched, then the texts the composer will compare sentences with
    (its own words when context was carried, each of its parts): one batch for the model."""
    extra = [asked.own] if asked.carried else []
    extra += [part.searched for part in asked.parts] if len(asked.parts) > 1 else []
    return [plain(question), *extra]


@dataclass
class Retrieval:
    passages: list[Passage]
    analysis: QueryAnalysis
    query_vector: np.ndarray
    lexical: LexicalIndex  # the BM25 index and vocabulary this retrieval used


def to_passage(record: ChunkRecord, score: float, copies: list[str] | None = None) -> Passage:
    meta = record.metadata
    return Passage(
        doc_id=meta["doc_id"],
        chunk_id=record.chunk_id,
        text=neutral_markers(record.text),
        score=round(score, 6),
        title=meta.get("title", ""),
        outlet=meta.get("outlet") or None,
        published=meta.get("published") or None,
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        event_dates=chunk_dates(record),
        copies=copies or [],
    )


# Two chunks of copies of one story hold the same passage when they share this share of
# their word shingles (chunk edges of two copies need not fall at the same words).
SAME_PASSAGE = 0.5


def once(
    scored: list[tuple[ChunkRecord, float]], lexical: LexicalIndex
) -> list[tuple[ChunkRecord, float]]:
    """The chunks in order, each passage once: a chunk of a copy of a story whose same passage
    ranks higher (from another copy) is left out."""
    kept: list[tuple[ChunkRecord, float]] = []
    shown: list[tuple[str, set[str]]] = []  # (doc id, shingles) of kept chunks of copied stories
    for record, score in scored:
        doc = str(record.metadata.get("doc_id", ""))
        if lexical.copies(doc):  # only a story with copies can repeat a passage
            mine = shingles(record.text)
            if any(
                lexical.same_story(doc, other)
                and len(mine & theirs) >= SAME_PASSAGE * min(len(mine), len(theirs))
                for other, theirs in shown
            ):
                continue
            shown.append((doc, mine))
        kept.append((record, score))
    return kept


def chunk_dates(record: ChunkRecord) -> list[str]:
    """The dates a chunk talks about: kept in its metadata at ingest (computed for chunks of
    an index built before they were)."""
    kept = record.metadata.get("event_dates")
    if isinstance(kept, str):
        return kept.split()
    return iso_dates(record.text, record.metadata.get("published") or None)


class HybridRetriever:
    """Dense + BM25 candidates, fused by reciprocal rank, filtered by publication date."""

    def __init__(
        self,
        store: ChunkStore,
        indexer: Indexer,
        embedder: Embedder,
        candidates: int = 30,
        rerank_pool: int = 15,
    ) -> None:
        self.rerank_pool = rerank_pool
        self.store = store
        self.indexer = indexer
        self.embedder = embedder
        self.candidates = candidates

    def wrap(self, question: str, passages: list[Passage]) -> Retrieval:
        """A `Retrieval` around passages that came from elsewhere."""
        lexical = self.indexer.lexical()
        analysis = analyse(question, lexical)
        vector = self.embedder.embed([plain(question)])[0]
        neutral = [p.model_copy(update={"text": neutral_markers(p.text)}) for p in passages]
        return Retrieval(neutral, analysis, vector, lexical)

    def retrieve(
        self,
        question: str,
        k: int,
        dates: DateRange | None = None,
        lexical: LexicalIndex | None = None,
    ) -> Retrieval:
        dates = dates or DateRange()
        lexical = lexical or self.indexer.lexical()
        analysis = analyse(question, lexical)
        vector = self.embedder.embed(_query_texts(question, analysis.focus))[0]
        n = min(max(self.candidates, 4 * k), len(lexical))
        candidates = self._candidates(analysis, vector, n, max(self.rerank_pool, k), dates, lexical)
        scored = once(self.rerank(analysis, vector, candidates, lexical), lexical)
        chosen = scored[:k]
        if len(analysis.focus.parts) > 1:
            chosen = once(self._with_parts(analysis, chosen, k, n, dates, lexical), lexical)
        passages = [
            to_passage(record, score, lexical.copies(str(record.metadata.get("doc_id", ""))))
            for record, score in chosen
        ]
        return Retrieval(passages, analysis, vector, lexical)

    def _candidates(
        self,
        analysis: QueryAnalysis,
        vector: np.ndarray,
        n: int,
        pool: int,
        dates: DateRange,
        lexical: LexicalIndex,
    ) -> list[tuple[ChunkRecord, float]]:
        """The `pool` best chunks of dense and BM25 retrieval, fused by reciprocal rank (only
        they are read from the lexical index)."""
        fused: dict[str, float] = {}
        dense = self.store.query(vector, n, dates.where()) if n else []
        live = (chunk_id for chunk_id, _ in dense if lexical.holds(chunk_id))
        for rank, chunk_id in enumerate(live):
            fused[chunk_id] = 1.0 / (RRF_K + rank + 1)

        named = terms(untimed(analysis.question))  # "May" also finds "Mei"; "14 May" does not
        spelt = [v for t in named for v in sorted(lexical.variants.get(t, ()))]
        window = None if dates.is_open else dates.bounds()
        for rank, (chunk_id, _score) in enumerate(lexical.top(analysis.terms + spelt, n, window)):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused, key=lambda cid: -fused[cid])[:pool]
        records = ((lexical.record(cid), fused[cid]) for cid in best)
        return [(record, score) for record, score in records if record is not None]

    def _with_parts(
        self,
        analysis: QueryAnalysis,
        chosen: list[tuple[ChunkRecord, float]],
        k: int,
        n: int,
        dates: DateRange,
        lexical: LexicalIndex,
    ) -> list[tuple[ChunkRecord, float]]:
        """For a question with several parts ("in 2016 and in 2019", "..., and where did he
        meet May?"), the best chunk for each part is among the passages: each part is
        searched and reranked on its own, and its best chunk comes first, before the whole
        question's others."""
        parts = analysis.focus.parts
        vectors = self.embedder.embed([part.searched for part in parts])
        best: list[tuple[ChunkRecord, float]] = []  # with its score for its part
        for part, vector in zip(parts, vectors, strict=True):
            asked = analyse(part.searched, lexical)
            asked.focus = replace(asked.focus, window=part.window, parts=[part])
            found = self._candidates(asked, vector, n, self.rerank_pool, dates, lexical)
            ranked = self.rerank(asked, vector, found, lexical)
            if ranked and ranked[0][0].chunk_id not in {r.chunk_id for r, _ in best}:
                best.append(ranked[0])
        # each part's best first (they answer a part each), then the whole question's others
        ids = {r.chunk_id for r, _ in best}
        return (best + [(r, score) for r, score in chosen if r.chunk_id not in ids])[:k]

    def rerank(
        self,
        analysis: QueryAnalysis,
        vector: np.ndarray,
        fused: list[tuple[ChunkRecord, float]],
        lexical: LexicalIndex,
    ) -> list[tuple[ChunkRecord, float]]:
        """Order candidates by their best sentence (meaning, the question's wording weighted
        by IDF, and for "what did X say" whether it reports X's words), with the fused rank as
        a smaller share: a chunk that holds one sentence answering the question beats one that
        only shares its topic."""
        if not fused:
            return []
        asked = analysis.focus
        question_terms = set(analysis.terms)
        total = sum(lexical.idf(t) for t in question_terms) or 1.0
        speakers = frozenset(t for w in speaker_words(asked.own) for t in query_terms(w, lexical))
        for record, _ in fused:
            remember_sentence_reads(record)
        spans = [
            [
                record.text[a:b]
                for a, b in sentence_spans(record.text)
                if len(words(record.text[a:b])) >= 4
            ]
            or [record.text]
            for record, _ in fused
        ]
        similarities = self.embedder.embed([s for sentences in spans for s in sentences]) @ vector
        top_fused = max(score for _, score in fused)
        window = asked.window
        window_years = window.years() if window else None
        scored, row = [], 0
        for (record, fused_score), sentences in zip(fused, spans, strict=True):
            published = record.metadata.get("published") or None
            # an article from outside a narrow window that dates a sentence inside it
            looks_back = window is not None and window.precise and not window.admits(published, ())
            best = 0.0
            for sentence, similarity in zip(sentences, similarities[row:], strict=False):
                found = sentence_terms(sentence, lexical)
                overlap = sum(lexical.idf(t) for t in question_terms & found)
                value = 0.5 * float(similarity) + 0.5 * overlap / total
                value += SPEAKER_BONUS * bool(speakers and speaks(sentence, speakers))
                if looks_back and window is not None:
                    value += DATE_BONUS * dated_in(window, sentence, published)
                best = max(best, value)
            row += len(sentences)
            if window is not None:  # fits_time(window, published, record.text), dates saved
                dated = chunk_spans(record)
                if window_years is not None and not window_years.admits(published, dated):
                    best -= YEAR_PENALTY
                elif not window.admits(published, dated):
                    best -= MONTH_PENALTY
            scored.append((record, best + FUSION_WEIGHT * fused_score / top_fused))
        scored.sort(key=lambda item: -item[1])
        return scored
