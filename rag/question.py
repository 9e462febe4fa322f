"""What a question asks for, in the terms the extractive composer checks evidence against:
its own words versus words carried from earlier turns, its parts, the years it names, the
person whose words it asks about, and the kind of answer it expects."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer_types import AnswerType, expected_type
from rag.conversation import split_context
from rag.text import STOPWORDS, normalise, words

_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_AUX = r"(?:what|how|where|when|who|whom|whose|why|which|did|does|do|is|was|were|has|had)"
_PART_SPLIT = re.compile(
    rf",?\s+(?:and|while|but)\s+(?={_AUX}\b)|\s+compared? (?:with|to)\s+|;\s*", re.I
)
_SPEECH_QUESTION = re.compile(
    r"\b(?:what|how) (?:did|does|do|had|has|have|would|will) (?P<who>[\w' .-]+?) "
    r"(?:say|said|tell|told|call|think|describe|warn|announce|claim|write|reply|answer|respond|"
    r"promise|propose|offer|ask|want|urge|react|characteri[sz]e|accuse|suggest)\b",
    re.I,
)
SPEECH_VERBS = re.compile(
    r"\b(?:said|says|say|saying|told|tells|called|calling|calls|described|describing|warned|"
    r"urged|stressed|noted|added|stated|announced|accused|insisted|according to|declared|"
    r"remarked|asked|replied|explained|commented|argued|suggested|vowed|promised|confirmed|"
    r"denied|expressed|offered|referred|dismissed|labelled|labeled)\b",
    re.I,
)


@dataclass(frozen=True)
class Part:
    """One thing the question asks; a question with two asks needs evidence for each."""

    text: str
    years: frozenset[int] = frozenset()


@dataclass
class Focus:
    own: str
    carried: str
    parts: list[Part]
    years: frozenset[int]
    speaker: frozenset[str]
    wanted: AnswerType | None


def years_in(text: str) -> frozenset[int]:
    return frozenset(int(y) for y in _YEAR.findall(text))


def _speaker(question: str) -> frozenset[str]:
    match = _SPEECH_QUESTION.search(question)
    if not match:
        return frozenset()
    who = [w for w in words(match.group("who")) if w.lower() not in STOPWORDS]
    return frozenset(normalise(w) for w in who)


def focus(question: str) -> Focus:
    """Read a (possibly condensed) question."""
    own, carried = split_context(question)
    years = years_in(own)
    texts = [t.strip() for t in _PART_SPLIT.split(own) if t and len(words(t)) >= 2]
    parts = [Part(t, years_in(t)) for t in texts] or [Part(own, years)]
    if len(parts) == 1 and len(years) > 1:
        parts = [Part(own, frozenset({y})) for y in sorted(years)]
    return Focus(
        own=own,
        carried=carried,
        parts=parts,
        years=years,
        speaker=_speaker(own),
        wanted=expected_type(own),
    )
