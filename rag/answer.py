"""Composers: turn retrieved passages into a short answer whose claims carry checked citations.

- `ExtractiveComposer` (offline): picks the few sentences that best answer the question.
- `LLMComposer`: asks an OpenAI-compatible model, then checks every `[n]` marker.
Both return a `Composition`; both abstain with `prompts.ABSTAIN_PHRASE`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from rag.answer_types import expected_type, has_type
from rag.embeddings import Embedder
from rag.lexical import LexicalIndex
from rag.llm import ChatClient
from rag.prompts import ABSTAIN_PHRASE, SYSTEM_PROMPT, user_prompt
from rag.retrieve import Retrieval
from rag.text import sentence_spans, terms, words
from rag.types import Citation, Passage


@dataclass
class Composition:
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False


ABSTENTION = Composition(text=ABSTAIN_PHRASE, abstained=True)


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
    return [w.lower() for w in words(a)] == [w.lower() for w in words(b)]


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
    )


def lexical_coverage(question_terms: list[str], text: str, lexical: LexicalIndex) -> float:
    """Share of the question's term weight (IDF) that the text contains."""
    wanted = set(question_terms)
    if not wanted:
        return 0.0
    present = wanted & set(terms(text))
    total = sum(lexical.idf(t) for t in wanted)
    return sum(lexical.idf(t) for t in present) / total if total else 0.0


class ExtractiveComposer:
    """Offline composer: semantic + lexical sentence scoring, near-duplicates dropped."""

    mode = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 3,
        max_words: int = 60,
        min_score: float = 0.35,
        keep_ratio: float = 0.85,
        semantic_weight: float = 0.55,
        type_bonus: float = 0.15,
        type_window: int = 4,
    ) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_words = max_words
        self.min_score = min_score
        self.keep_ratio = keep_ratio
        self.semantic_weight = semantic_weight
        self.type_bonus = type_bonus
        self.type_window = type_window

    def score(
        self, retrieval: Retrieval, lexical: LexicalIndex
    ) -> list[tuple[float, Sentence, np.ndarray]]:
        """Sentences of the retrieved passages with relevance and embedding, best first."""
        sentences = [
            s
            for s in passage_sentences(retrieval.passages, skip_titles=True)
            if len(words(s.text)) >= 4
        ]
        if not sentences:
            return []
        question = retrieval.analysis.question
        wanted = expected_type(question)
        vectors = self.embedder.embed([s.text for s in sentences])
        semantic = vectors @ retrieval.query_vector
        scored = []
        for sentence, vector, similarity in zip(sentences, vectors, semantic, strict=True):
            coverage = lexical_coverage(retrieval.analysis.terms, sentence.text, lexical)
            value = self.semantic_weight * float(similarity) + (1 - self.semantic_weight) * coverage
            if wanted and has_type(sentence.text, wanted, question):
                value += self.type_bonus
            scored.append((value, sentence, vector))
        scored.sort(key=lambda item: -item[0])
        return scored

    def compose(self, retrieval: Retrieval, lexical: LexicalIndex) -> Composition:
        if retrieval.analysis.unknown_entities or not retrieval.passages:
            return ABSTENTION
        scored = self.score(retrieval, lexical)
        if not scored or scored[0][0] < self.min_score:
            return ABSTENTION
        question = retrieval.analysis.question
        wanted = expected_type(question)
        if wanted and not any(
            has_type(s.text, wanted, question) for _, s, _ in scored[: self.type_window]
        ):
            return ABSTENTION  # the evidence has no duration/date/name of the kind asked for
        best = scored[0][0]
        chosen: list[Sentence] = []
        chosen_vectors: list[np.ndarray] = []
        used_words = 0
        for value, sentence, vector in scored:
            if len(chosen) == self.max_sentences or value < best * self.keep_ratio:
                break
            n_words = len(words(sentence.text))
            if chosen and used_words + n_words > self.max_words:
                continue
            if any(float(vector @ other) > 0.9 for other in chosen_vectors):
                continue
            chosen.append(sentence)
            chosen_vectors.append(vector)
            used_words += n_words
        citations = [
            make_citation(n, retrieval.passages[s.passage], s) for n, s in enumerate(chosen, 1)
        ]
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        return Composition(text=text, citations=citations)


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
    composition = check_citations(text, passages)
    return composition if composition.citations else ABSTENTION


class LLMComposer:
    """Answers with an OpenAI-compatible model; citations checked after generation."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.mode = f"openai:{client.model}"

    @staticmethod
    def messages(question: str, passages: list[Passage]) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_prompt(question, passages)},
        ]

    def compose(self, retrieval: Retrieval) -> Composition:
        if not retrieval.passages:
            return ABSTENTION
        text = self.client.complete(self.messages(retrieval.analysis.question, retrieval.passages))
        return finish_llm_text(text, retrieval.passages)

    def stream(self, retrieval: Retrieval) -> Iterator[str]:
        """Text deltas as the model writes them; `finish_llm_text` checks the whole text."""
        if not retrieval.passages:
            return iter(())
        return self.client.stream(self.messages(retrieval.analysis.question, retrieval.passages))
