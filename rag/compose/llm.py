"""The LLM composer: an OpenAI-compatible model writes the answer, then every `[n]` marker is
checked against the passages and each citation quotes the sentence that best supports it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rag.compose.base import (
    ABSTENTION,
    Composition,
    Sentence,
    closed_gaps,
    make_citation,
    outside_window,
    passage_sentences,
)
from rag.llm.client import ChatClient
from rag.llm.prompts import ABSTAIN_PHRASE, SYSTEM_PROMPT, TIME_ABSTAIN_OPENING, user_prompt
from rag.nlp.text import terms
from rag.nlp.timeline import Window
from rag.retrieve.hybrid import Retrieval
from rag.types import Passage

_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")  # as `base.MARKER`, or a list


def _best_sentence(claim: str, passage: Passage) -> Sentence:
    """The sentence of the passage that shares most content terms with the claim."""
    claim_terms = set(terms(claim))
    candidates = passage_sentences([passage]) or [Sentence(0, 0, len(passage.text), passage.text)]
    return max(candidates, key=lambda s: len(claim_terms & set(terms(s.text))))


def check_citations(text: str, passages: list[Passage]) -> Composition:
    """Keep only markers that name a passage, renumber them by first use, and quote for each
    the passage sentence that best supports the claim it is attached to."""
    citations = []
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
    checked = closed_gaps(checked)
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
        """Text deltas as the model writes them; `finish` checks the whole text."""
        if not retrieval.passages:
            return iter(())
        outside = outside_window(retrieval)
        if outside:
            return iter([outside.text])
        return self.client.stream(self._messages(retrieval))

    def finish(self, text: str, retrieval: Retrieval) -> Composition:
        return finish_llm_text(text, retrieval.passages)
