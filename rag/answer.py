"""Composers: turn retrieved passages into a short answer whose claims carry checked citations.

- `ExtractiveComposer` (offline, in `rag.extractive`): picks the sentences that answer.
- `LLMComposer`: asks an OpenAI-compatible model, then checks every `[n]` marker.
Both return a `Composition`; both abstain with `prompts.ABSTAIN_PHRASE`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from rag.llm import ChatClient
from rag.prompts import (
    ABSTAIN_PHRASE,
    SYSTEM_PROMPT,
    TIME_ABSTAIN,
    TIME_ABSTAIN_OPENING,
    user_prompt,
)
from rag.retrieve import Retrieval
from rag.text import sentence_spans, terms, words
from rag.timeline import Span, Window, day_label, iso_dates
from rag.types import Citation, Passage


@dataclass
class Composition:
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False


ABSTENTION = Composition(text=ABSTAIN_PHRASE, abstained=True)


def time_scoped_abstention(window: Window, closest: Passage) -> Composition:
    """'The articles have nothing from July 2016 on that; the closest coverage is from …'"""
    when = day_label(closest.published) or "an undated article"
    return Composition(text=TIME_ABSTAIN.format(window=window.period, closest=when), abstained=True)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage; `start`/`end` are offsets in the passage text."""

    passage: int
    start: int
    end: int
    text: str


def passage_sentences(passages: list[Passage], skip_titles: bool = False) -> list[Sentence]:
    """Every distinct sentence of the passages (overlapping chunks repeat sentences);
    with `skip_titles`, headlines are left out: they restate the topic, they don't answer."""
    seen: set[tuple[str, int]] = set()
    found = []
    for i, passage in enumerate(passages):
        for start, end in sentence_spans(passage.text):
            key = (passage.doc_id, passage.start + start)
            if skip_titles and _same_words(passage.text[start:end], passage.title):
                continue
            if key not in seen:
                seen.add(key)
                found.append(Sentence(i, start, end, passage.text[start:end]))
    return found


def _same_words(a: str, b: str) -> bool:
    first, second = words(a), words(b)
    return len(first) == len(second) and [w.lower() for w in first] == [w.lower() for w in second]


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
    )


_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def _best_sentence(claim: str, passage: Passage) -> Sentence:
    """The sentence of the passage that shares most content terms with the claim."""
    claim_terms = set(terms(claim))
    candidates = passage_sentences([passage]) or [Sentence(0, 0, len(passage.text), passage.text)]
    return max(candidates, key=lambda s: len(claim_terms & set(terms(s.text))))


def check_citations(text: str, passages: list[Passage]) -> Composition:
    """Keep only markers that name a passage, renumber them by first use, and quote for each
    the passage sentence that best supports the claim it is attached to."""
    citations: list[Citation] = []
    numbers: dict[tuple[int, int], int] = {}
    claims = [(m.start(), m.end()) for m in re.finditer(r"[^.!?]+[.!?]*", text)]

    def claim_at(position: int) -> str:
        for start, end in claims:
            if start <= position <= end:
                return text[start:end]
        return text

    def replace(match: re.Match[str]) -> str:
        out = []
        for raw in match.group(1).split(","):
            index = int(raw) - 1
            if not 0 <= index < len(passages):
                continue
            passage = passages[index]
            sentence = _best_sentence(_MARKER.sub("", claim_at(match.start())), passage)
            key = (index, sentence.start)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                citations.append(make_citation(numbers[key], passage, sentence))
            if f"[{numbers[key]}]" not in out:
                out.append(f"[{numbers[key]}]")
        return "".join(out)

    checked = _MARKER.sub(replace, text)
    checked = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", checked)).strip()
    return Composition(text=checked, citations=citations)


def finish_llm_text(text: str, passages: list[Passage]) -> Composition:
    """Abstain on the abstention phrase or when no claim kept a valid citation."""
    if ABSTAIN_PHRASE.lower().rstrip(".") in text.lower() or not text.strip():
        return ABSTENTION
    if text.startswith(TIME_ABSTAIN_OPENING):
        return Composition(text=text.strip(), abstained=True)
    composition = check_citations(text, passages)
    return composition if composition.citations else ABSTENTION


class LLMComposer:
    """Answers with an OpenAI-compatible model; citations checked after generation."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.mode = f"openai:{client.model}"

    @staticmethod
    def messages(
        question: str, passages: list[Passage], window: Window | None = None
    ) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_prompt(question, passages, window)},
        ]

    def _messages(self, retrieval: Retrieval) -> list[dict[str, str]]:
        analysis = retrieval.analysis
        return self.messages(analysis.question, retrieval.passages, analysis.focus.window)

    def compose(self, retrieval: Retrieval) -> Composition:
        if not retrieval.passages:
            return ABSTENTION
        outside = outside_window(retrieval)
        if outside:
            return outside
        text = self.client.complete(self._messages(retrieval))
        return finish_llm_text(text, retrieval.passages)

    def stream(self, retrieval: Retrieval) -> Iterator[str]:
        """Text deltas as the model writes them; `finish_llm_text` checks the whole text."""
        if not retrieval.passages:
            return iter(())
        outside = outside_window(retrieval)
        if outside:
            return iter([outside.text])
        return self.client.stream(self._messages(retrieval))


def outside_window(retrieval: Retrieval) -> Composition | None:
    """The time-scoped abstention when the question names a date and no retrieved passage
    is from it or speaks of it; the model is not asked then."""
    window = retrieval.analysis.focus.window
    if window is None or not window.certain:
        return None
    for passage in retrieval.passages:
        if window.admits(passage.published, [Span.from_iso(d) for d in passage.event_dates]):
            return None
    return time_scoped_abstention(window, retrieval.passages[0])
