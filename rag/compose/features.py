"""What the reader knows of each candidate sentence: the signals every news question has.

- meaning: the embedding model's cosine of question and sentence, and of its neighbours;
- the question's words in it, weighted by how rare they are in the corpus and among the
  candidates, and in the sentences around it;
- whether it holds an answer of the asked kind that the question does not already give
  (the token model of `tokens`);
- where it stands: its article's retrieval rank, its place in the article, its length;
- agreement: how close the nearest sentence of another article comes to it;
- time: whether it, or its article, fits the time the question names.

`features` turns these into one row per candidate; the reader's sentence model weighs them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from rag.compose.base import Sentence, passage_sentences
from rag.compose.tokens import holds_unit, token_chances
from rag.ingest.lexical import LexicalIndex
from rag.nlp.asked import KINDS, SPAN_KINDS, Kind, Unit
from rag.nlp.text import dateline_end, speaks, term_set, words
from rag.nlp.timeline import FUTURE, Window, dated_in, dates_in
from rag.types import Passage

MIN_WORDS = 4  # shorter "sentences" are datelines, bylines and headings
_QUOTE = re.compile(r"[\"“”«»]")
_SPEECH = re.compile(r"\b(?:said|says|told|added|according to|stated|announced)\b", re.I)
_LEANS_BACK = re.compile(r"^\W*(?:he|she|it|they|this|that|these|those|the company)\b", re.I)
# "“... remains real,” he said.": a quotation whose speaker the sentence before names
_QUOTED_PRONOUN = re.compile(r"[”\"]\W*(?:he|she|they)\s+(?:said|says|added|told|stressed)\b", re.I)
# "“...,” — said the head of the government.", "“...,” he said.": a quotation, attributed after
_QUOTATION = re.compile(r"^\W*[“\"«].*[”\"»]\W*(?:\w+\W+){0,3}(?:said|says|added|told)\b", re.I)


def leans_back(sentence: str) -> bool:
    """The sentence needs the one before it to say who or what it is about."""
    return bool(_LEANS_BACK.match(sentence) or _QUOTED_PRONOUN.search(sentence))


def quotes_on(sentence: str) -> bool:
    """The sentence is a quotation attributed after the fact: it goes on from the one before."""
    return bool(_QUOTATION.match(sentence))


# "for undisclosed terms", "the nature of which was not disclosed": the detail is withheld
_WITHHELD = re.compile(
    r"\b(?:undisclosed|not (?:been )?(?:disclosed|identified|specified|named|revealed|given)|"
    r"did not (?:disclose|identify|say|specify|name|give|reveal)|declined to|would not say|"
    r"no (?:details|terms)|unspecified|unidentified|not known)\b",
    re.I,
)

# "because of weak demand", "citing higher costs", "to avoid a strike": the sentence gives a
# reason
_CAUSE = re.compile(
    r"\b(?:because|due to|owing to|as a result|result(?:ed|s)? (?:of|from)|caused by|"
    r"cit(?:ed|es|ing)|reflect(?:s|ed|ing)?|attribut(?:ed|es|ing)|blam(?:ed|es|ing)|"
    r"in order to|so that|so as to|aimed at|on (?:the )?grounds|in response to|reasons?|"
    r"prompted|in an effort to)\b",
    re.I,
)
# "the fourth quarter", "the first half": a part of a (fiscal) year
_PERIOD = re.compile(r"\b(first|second|third|fourth|1st|2nd|3rd|4th)[- ](quarter|half)\b", re.I)
_ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth"}


def periods(text: str) -> frozenset[str]:
    """The parts of a year the text names ("fourth quarter", "first half")."""
    return frozenset(
        f"{_ORDINALS.get(m.group(1).lower(), m.group(1).lower())} {m.group(2).lower()}"
        for m in _PERIOD.finditer(text)
    )


BASE = (
    "bias",
    "cos",
    "cos_gap",
    "cos_top",
    "overlap",
    "overlap_local",
    "overlap_context",
    "overlap_before",
    "after_best_overlap",
    "cos_context",
    "novelty",
    "log_words",
    "lead",
    "rank",
    "support",
    "headline_like",
    "fits_window",
    "dated_in_window",
    "quoted_for_quote",
    "speech_for_quote",
    "leans_back",
    "withheld",
    "future",
    "chance_in_context",
    "overlap_names",
    "overlap_words",
    "overlap_words_context",
    "focus_context",
    "speaker",
    "all_names",
    "before_window",
    "unit",  # a number of the asked unit ("how much did it pay": an amount of money)
    "cause_for_reason",  # for "why ...": the sentence gives a reason ("because", "citing")
    "other_period",  # the question names a quarter or half year, the sentence only others
    "cross",  # the cross-encoder's logit (filled in by the reader for its shortlist)
)
FEATURES = (
    BASE + tuple(f"kind:{k.value}" for k in KINDS) + tuple(f"chance:{k.value}" for k in KINDS)
)
# Of a question's best candidate, and of the question as a whole: what the answerability
# model weighs.
QUESTION_FEATURES = (
    "bias",
    "logit",
    "logit_gap",
    "overlap",
    "overlap_context",
    "uncovered",
    "uncovered_best",
    "uncovered_words",
    "uncovered_focus",
    "overlap_names",
    "overlap_words_context",
    "withheld",
    "future",
    "fits_window",
    "speaker",
    "all_names",
    "before_window",
    "span_chance",  # for a question asking for a name, place, date or number
    "span_missing",
    "quoted_for_quote",  # for "what did X say": the best sentence quotes or reports speech
    "speech_for_quote",
    "unit_asked",  # the question asks for a number of a unit; does the best sentence give one
    "unit",
    "cause_for_reason",
    "other_period",
    "cross",
    *(f"kind:{k.value}" for k in KINDS),
    *(f"chance:{k.value}" for k in KINDS),
)


@dataclass(eq=False)
class Candidate:
    """A sentence of a retrieved passage, with what scoring reads of it."""

    sentence: Sentence
    passage: Passage
    rank: int  # of its passage in the retrieval
    vector: np.ndarray
    terms: frozenset[str]
    chances: np.ndarray | None = None  # the token model's, per token, for the asked kind
    score: float = 0.0  # the sentence model's chance that it answers

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def offset(self) -> int:
        """Where the sentence starts in its article's text."""
        return self.passage.start + self.sentence.start


@dataclass(frozen=True)
class Asked:
    """The question as the reader compares sentences with it."""

    text: str
    vector: np.ndarray
    terms: frozenset[str]  # normalised, with corrected spellings and other forms
    weights: dict[str, float]  # term → corpus IDF
    kind: Kind
    window: Window | None
    names: frozenset[str] = frozenset()  # the terms of the names it asks about ("Alcan")
    focus: frozenset[str] = frozenset()  # the terms of the noun it asks about ("price")
    unit: Unit | None = None  # of the number it asks for


def _without_dateline(s: Sentence, passage: Passage) -> Sentence:
    """A paragraph's first sentence without its dateline ("SALVADOR, Feb 26 - ")."""
    if s.start and passage.text[s.start - 1] != "\n":
        return s
    cut = dateline_end(s.text)
    return Sentence(s.passage, s.start + cut, s.end, s.text[cut:]) if cut else s


def gather(
    passages: list[Passage], lexical: LexicalIndex, embed: Callable[[list[str]], np.ndarray]
) -> list[Candidate]:
    """Every distinct sentence of the passages long enough to answer, headlines and datelines
    left out."""
    sentences = [
        s for s in passage_sentences(passages, skip_titles=True) if len(words(s.text)) >= MIN_WORDS
    ]
    if not sentences:
        return []
    # the vectors ingest saved are the whole sentences'; a dateline changes little of them
    vectors = embed([s.text for s in sentences])
    sentences = [_without_dateline(s, passages[s.passage]) for s in sentences]
    return [
        Candidate(
            sentence=s,
            passage=passages[s.passage],
            rank=s.passage,
            vector=vector,
            terms=lexical.with_variants(term_set(s.text)),
        )
        for s, vector in zip(sentences, vectors, strict=True)
    ]


def neighbours(candidates: list[Candidate]) -> list[tuple[Candidate | None, Candidate | None]]:
    """Each candidate's sentence before and after it in its article, when also a candidate."""
    by_doc: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_doc.setdefault(c.passage.doc_id, []).append(c)
    around: dict[int, tuple[Candidate | None, Candidate | None]] = {}
    for group in by_doc.values():
        group.sort(key=lambda c: c.offset)
        for i, c in enumerate(group):
            before = group[i - 1] if i else None
            after = group[i + 1] if i + 1 < len(group) else None
            # only adjacent ones: a gap means sentences in between were not retrieved
            if before is not None and c.offset - (before.offset + len(before.text)) > 3:
                before = None
            if after is not None and after.offset - (c.offset + len(c.text)) > 3:
                after = None
            around[id(c)] = (before, after)
    return [around[id(c)] for c in candidates]


def _coverage(terms: frozenset[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def features(candidates: list[Candidate], asked: Asked, token_weights: np.ndarray) -> np.ndarray:
    """One row of `FEATURES` per candidate; fills each candidate's token `chances`."""
    n = len(candidates)
    rows = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if not n:
        return rows
    vectors = np.stack([c.vector for c in candidates])
    cos = vectors @ asked.vector
    top = float(cos.max())
    # a term shared by few candidates tells them apart; one in all of them does not
    df = {t: sum(t in c.terms for c in candidates) for t in asked.weights}
    local = {t: w * math.log((n + 1) / (df[t] + 0.5)) for t, w in asked.weights.items() if df[t]}
    overlaps = [_coverage(c.terms, asked.weights) for c in candidates]
    named = {t: w for t, w in asked.weights.items() if t in asked.names}
    other = {t: w for t, w in asked.weights.items() if t not in asked.names}
    best_overlap = max(overlaps)
    docs = np.array([hash(c.passage.doc_id) for c in candidates])
    similar = vectors @ vectors.T
    around = neighbours(candidates)
    index = {id(c): i for i, c in enumerate(candidates)}
    column = {name: i for i, name in enumerate(FEATURES)}
    asked_periods = periods(asked.text)
    for i, c in enumerate(candidates):
        row = rows[i]
        before, after = around[i]
        context = c.terms.union(*(o.terms for o in (before, after) if o is not None))
        c.chances, in_question = token_chances(
            c.text, asked.kind, asked.terms, asked.focus, token_weights
        )
        fresh = c.chances[~in_question]
        chance = float(fresh.max()) if len(fresh) else 0.0
        static = _static(c.text)
        others = similar[i][docs != docs[i]]
        content = [t for t in c.terms if t]
        overlap_context = _coverage(context, asked.weights)
        row[column["bias"]] = 1.0
        row[column["cos"]] = cos[i]
        row[column["cos_gap"]] = cos[i] - top
        row[column["cos_top"]] = float(cos[i] >= top)
        row[column["overlap"]] = overlaps[i]
        row[column["overlap_local"]] = _coverage(c.terms, local)
        row[column["overlap_context"]] = overlap_context
        if before is not None:
            row[column["overlap_before"]] = overlaps[index[id(before)]]
            row[column["after_best_overlap"]] = float(overlaps[index[id(before)]] >= best_overlap)
        row[column["cos_context"]] = max(
            (float(cos[index[id(o)]]) for o in (before, after) if o is not None), default=0.0
        )
        row[column["novelty"]] = (
            sum(t not in asked.terms for t in content) / len(content) if content else 0.0
        )
        row[column["log_words"]] = static.log_words
        row[column["lead"]] = 1.0 / (1.0 + c.offset / 200.0)
        row[column["rank"]] = 1.0 / (1.0 + c.rank)
        row[column["support"]] = float(others.max()) if len(others) else 0.0
        title = term_set(c.passage.title) if c.passage.title else frozenset()
        row[column["headline_like"]] = float(
            bool(content) and len(title & c.terms) > 0.8 * len(content)
        )
        if asked.window is not None:
            published = c.passage.published
            row[column["fits_window"]] = float(
                asked.window.admits(published, dates_in(c.text, published))
            )
            row[column["dated_in_window"]] = float(dated_in(asked.window, c.text, published))
        if asked.kind is Kind.QUOTE:
            row[column["quoted_for_quote"]] = static.quoted
            row[column["speech_for_quote"]] = static.speech
        row[column["leans_back"]] = static.leans_back
        row[column["withheld"]] = static.withheld
        row[column["future"]] = static.future
        row[column["chance_in_context"]] = chance * overlap_context
        row[column["overlap_names"]] = _coverage(context, named) if named else 1.0
        row[column["overlap_words"]] = _coverage(c.terms, other) if other else 1.0
        row[column["overlap_words_context"]] = _coverage(context, other) if other else 1.0
        row[column["speaker"]] = float(
            asked.kind is Kind.QUOTE
            and (
                speaks(c.text, asked.names)
                or (
                    before is not None
                    and bool(_LEANS_BACK.match(c.text))
                    and speaks(before.text, asked.names)
                )
            )
        )
        row[column["all_names"]] = float(bool(asked.names) and asked.names <= context)
        if asked.window is not None:
            row[column["before_window"]] = float(
                asked.window.before(dates_in(c.text, c.passage.published))
            )
        row[column["focus_context"]] = (
            len(asked.focus & context) / len(asked.focus) if asked.focus else 1.0
        )
        row[column["unit"]] = float(holds_unit(c.text, asked.unit, asked.terms, asked.focus))
        if asked.kind is Kind.REASON:
            row[column["cause_for_reason"]] = static.cause
        row[column["other_period"]] = float(
            bool(asked_periods) and bool(static.periods) and not asked_periods & static.periods
        )
        row[column[f"kind:{asked.kind.value}"]] = 1.0
        row[column[f"chance:{asked.kind.value}"]] = chance
    return rows


class _Static(NamedTuple):
    """What a sentence tells whatever the question (remembered: sentences recur)."""

    log_words: float
    quoted: float
    speech: float
    leans_back: float
    withheld: float
    future: float
    cause: float
    periods: frozenset[str]


@lru_cache(maxsize=65536)
def _static(sentence: str) -> _Static:
    return _Static(
        math.log(max(1, len(words(sentence)))),
        float(bool(_QUOTE.search(sentence))),
        float(bool(_SPEECH.search(sentence))),
        float(bool(_LEANS_BACK.match(sentence))),
        float(bool(_WITHHELD.search(sentence))),
        float(bool(FUTURE.search(sentence))),
        float(bool(_CAUSE.search(sentence))),
        periods(sentence),
    )


def question_features(candidates: list[Candidate], rows: np.ndarray, asked: Asked) -> np.ndarray:
    """The `QUESTION_FEATURES` of a question whose candidates are scored and sorted (best
    first; `rows` in the same order): how sure the best answer is, how far ahead of the
    next, and how much of the question no candidate speaks to."""
    out = np.zeros(len(QUESTION_FEATURES))
    column = {name: i for i, name in enumerate(QUESTION_FEATURES)}
    out[column["bias"]] = 1.0
    out[column[f"kind:{asked.kind.value}"]] = 1.0
    out[column["unit_asked"]] = float(asked.unit is not None)
    if not candidates:
        out[column["uncovered"]] = out[column["uncovered_best"]] = 1.0
        return out
    first = rows[0]
    source = {name: i for i, name in enumerate(FEATURES)}
    logit = _logit(candidates[0].score)
    out[column["logit"]] = logit
    out[column["logit_gap"]] = logit - _logit(candidates[1].score) if len(candidates) > 1 else 5.0
    for name in (
        "overlap",
        "overlap_context",
        "withheld",
        "future",
        "fits_window",
        "overlap_names",
        "overlap_words_context",
        "speaker",
        "all_names",
        "before_window",
        "quoted_for_quote",
        "speech_for_quote",
        "unit",
        "cause_for_reason",
        "other_period",
        "cross",
    ):
        out[column[name]] = first[source[name]]
    seen = frozenset().union(*(c.terms for c in candidates))
    out[column["uncovered"]] = 1.0 - _coverage(seen, asked.weights)
    near = frozenset().union(*(c.terms for c in candidates[:3]))
    out[column["uncovered_best"]] = 1.0 - _coverage(near, asked.weights)
    other = {t: w for t, w in asked.weights.items() if t not in asked.names}
    out[column["uncovered_words"]] = 1.0 - _coverage(near, other) if other else 0.0
    out[column["uncovered_focus"]] = (
        1.0 - len(asked.focus & near) / len(asked.focus) if asked.focus else 0.0
    )
    chance = first[source[f"chance:{asked.kind.value}"]]
    out[column[f"chance:{asked.kind.value}"]] = chance
    if asked.kind in SPAN_KINDS:
        out[column["span_chance"]] = chance
        out[column["span_missing"]] = float(chance < 0.5)
    return out


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
