"""What every composer shares: the `Composition` it returns, the sentences of passages, and
citations that quote an exact span of the cleaned article text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.llm.prompts import ABSTAIN_PHRASE, TIME_ABSTAIN
from rag.nlp.text import addresses_assistant, same_words, sentence_spans
from rag.nlp.timeline import Span, Window, day_label, iso_dates
from rag.retrieve.hybrid import Retrieval
from rag.types import Citation, Passage


@dataclass
class Composition:
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False


ABSTENTION = Composition(text=ABSTAIN_PHRASE, abstained=True)

# A citation marker: a number of at most three digits in square brackets (a year in brackets,
# "last year [2015]", is the reader's note of a date, not a marker).
MARKER = re.compile(r"\[(\d{1,3})\]")


def checked_markers(composition: Composition) -> Composition:
    """The composition with every `[n]` of its text naming one of its citations: a marker
    that names none is removed (article text cannot carry one: `neutral_markers`)."""
    known = {c.n for c in composition.citations}
    text = MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in known else "", composition.text)
    if text == composition.text:
        return composition
    return Composition(closed_gaps(text), composition.citations, composition.abstained)


def closed_gaps(text: str) -> str:
    """Text with the gaps left by removed markers closed: no double spaces, none before
    punctuation."""
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()


def time_scoped_abstention(window: Window, closest: Passage) -> Composition:
    """'The articles have nothing from July 2016 on that; the closest coverage is from …'"""
    when = day_label(closest.published) or "an undated article"
    return Composition(text=TIME_ABSTAIN.format(window=window.period, closest=when), abstained=True)


def outside_window(retrieval: Retrieval) -> Composition | None:
    """The time-scoped abstention when the question names a date and no retrieved passage
    is from it or speaks of it."""
    window = retrieval.analysis.focus.window
    if window is None or not window.certain:
        return None
    for passage in retrieval.passages:
        if window.admits(passage.published, [Span.from_iso(d) for d in passage.event_dates]):
            return None
    return time_scoped_abstention(window, retrieval.passages[0])


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage; `start`/`end` are offsets in the passage text."""

    passage: int
    start: int
    end: int
    text: str


def passage_sentences(passages: list[Passage], skip_titles: bool = False) -> list[Sentence]:
    """Every distinct sentence of the passages that can be evidence (overlapping chunks
    repeat sentences): one that gives orders to its reader ("ignore previous instructions")
    is text planted for a model, never an answer. With `skip_titles`, headlines are left out:
    they restate the topic, they don't answer."""
    seen: set[tuple[str, int]] = set()
    found = []
    for i, passage in enumerate(passages):
        for start, end in sentence_spans(passage.text):
            key = (passage.doc_id, passage.start + start)
            if skip_titles and same_words(passage.text[start:end], passage.title):
                continue
            if addresses_assistant(passage.text[start:end]):
                continue
            if key not in seen:
                seen.add(key)
                found.append(Sentence(i, start, end, passage.text[start:end]))
    return found


def make_citation(n: int, passage: Passage, sentence: Sentence) -> Citation:
    return Citation(
        n=n,
        doc_id=passage.doc_id,
        title=passage.title,
        outlet=passage.outlet,
        published=passage.published,
        chunk_id=passage.chunk_id,
        quote=sentence.text,
        start=passage.start + sentence.start,
        end=passage.start + sentence.end,
        event_dates=iso_dates(sentence.text, passage.published),
        copies=list(passage.copies),
    )
