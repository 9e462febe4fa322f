"""What a question asks about, as retrieval and the reader read it: its own words and the
words carried from earlier turns, its parts, and the time it names."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from rag.nlp.events import Anchor, anchor_in, anchored
from rag.nlp.text import STOPWORDS, normalise, words
from rag.nlp.timeline import Span, Window, question_window, untimed
from rag.retrieve.conversation import split_context

_AUX = r"(?:what|how|where|when|who|whom|whose|why|which|did|does|do|is|was|were|has|had)"
# "who bought it, and for how much?", "what did A say and what did B say?", "X compared to Y"
_PART_SPLIT = re.compile(
    rf",?\s+(?:and|while|but)\s+(?={_AUX}\b|for how\b)|\s+compared? (?:with|to)\s+|;\s*", re.I
)
# "What happened", "what took place", "what was the news": words that ask for anything.
_HAPPENING = frozenset(
    normalise(w)
    for w in "happen happened occur occurred take took place "
    "go went on news event events report reported".split()
)

Dated = Callable[[Anchor], Span | None]  # an event → its date


# Words that stand for something named elsewhere: "how did Putin react to *it*?"
_PRONOUN = re.compile(
    r"\b(?:it|its|he|him|his|she|her|they|them|their|this|that|these|those)\b", re.I
)


@dataclass(frozen=True)
class Part:
    """One thing the question asks; a question with two asks needs evidence for each."""

    text: str
    window: Window | None = None
    context: str = ""  # the names of the other parts, for a part whose pronoun stands for one

    @property
    def searched(self) -> str:
        return f"{self.text} {self.context}".strip()


def _with_context(parts: list[Part]) -> list[Part]:
    """Each part that leans on a pronoun, with the names the other parts give ("What did the
    report conclude, and how did Putin react to *it*?": the report's name)."""
    if len(parts) < 2:
        return parts
    named = [[w for w in words(p.text)[1:] if w[0].isupper()] for p in parts]
    found = []
    for i, part in enumerate(parts):
        if not _PRONOUN.search(part.text):
            found.append(part)
            continue
        own = {w.lower() for w in words(part.text)}
        others = [
            w for j, names in enumerate(named) if j != i for w in names if w.lower() not in own
        ]
        found.append(replace(part, context=" ".join(dict.fromkeys(others))))
    return found


@dataclass
class Focus:
    own: str
    carried: str
    parts: list[Part]
    window: Window | None  # the time the question asks about: "in July 2016"
    only_time: bool = False  # "what happened on 13 May 2019?": nothing to match but the time


def _content(text: str, correct: Callable[[str], str | None]) -> frozenset[str]:
    return frozenset(normalise(correct(w) or w) for w in words(text) if w.lower() not in STOPWORDS)


def _window(text: str, dated: Dated | None) -> Window | None:
    """The time a question names: dates, or else an event the articles date."""
    window = question_window(text)
    if window is None and dated is not None and (anchor := anchor_in(text)) is not None:
        when = dated(anchor)
        return anchored(anchor, when) if when is not None else None
    return window


def focus(
    question: str,
    correct: Callable[[str], str | None] = lambda w: None,
    dated: Dated | None = None,
) -> Focus:
    """Read a (possibly condensed) question; `correct` maps misspelt names to corpus words,
    `dated` gives the date of an event the question's time hangs on ("before the summit").
    A follow-up that names no time of its own keeps the time of the conversation."""
    own, carried = split_context(question)
    window = _window(own, dated) or (_window(carried, dated) if carried else None)
    texts = [t.strip() for t in _PART_SPLIT.split(own) if t and len(words(t)) >= 2]
    parts = [Part(t, _window(t, dated) or window) for t in texts] or [Part(own, window)]
    if len(parts) == 1:
        parts = [Part(own, window)]
        if window and len(window.spans) > 1:  # "in 2016 and in 2019"
            parts = [Part(own, replace(window, spans=(span,))) for span in window.spans]
    return Focus(
        own=own,
        carried=carried,
        parts=_with_context(parts),
        window=window,
        only_time=window is not None and not (_content(untimed(own), correct) - _HAPPENING),
    )
