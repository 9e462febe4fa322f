"""Expected answer types: "how long" wants a duration, "when" a date, "who" a name.

A sentence that contains the kind of thing the question asks for is a better answer than one
that merely repeats the question's words; when no evidence has it, the honest answer is none.
"""

from __future__ import annotations

import re
from enum import Enum

from rag.text import words

_NUMBER_WORDS = (
    r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty|thirty|forty|fifty|sixty|hundred|thousand|million|billion|dozen|several|half|"
    r"a few|a couple of|an?)"
)
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"


class AnswerType(Enum):
    DURATION = "duration"
    NUMBER = "number"
    DATE = "date"
    NAME = "name"


_QUESTION_PATTERNS: list[tuple[AnswerType, re.Pattern[str]]] = [
    (
        AnswerType.DURATION,
        re.compile(r"\bhow long\b|\bfor how (?:long|many (?:days|hours|years))\b", re.I),
    ),
    (
        AnswerType.NUMBER,
        re.compile(r"\bhow (?:many|much)\b|\bwhat (?:number|percentage|share)\b", re.I),
    ),
    (
        AnswerType.DATE,
        re.compile(
            r"^\s*when\b|\bwhen (?:did|was|were|is|will|does)\b|\bwhat (?:date|day|year|month)\b"
            r"|\bwhich (?:date|day|year|month)\b|\bon what (?:date|day)\b",
            re.I,
        ),
    ),
    (
        AnswerType.NAME,
        re.compile(
            r"^\s*(?:who|whom|whose)\b|\bwhich (?:newspaper|paper|outlet|expert|official|spokesman|"
            r"spokeswoman|person|minister|leader|president|analyst|aide|diplomat|country|city|treaty)\b",
            re.I,
        ),
    ),
]

_SENTENCE_PATTERNS: dict[AnswerType, re.Pattern[str]] = {
    AnswerType.DURATION: re.compile(
        rf"\b{_NUMBER_WORDS}[\s-]+(?:and a half\s+)?(?:seconds?|minutes?|hours?|days?|weeks?|"
        rf"months?|years?|decades?)\b|\bhalf an? (?:hour|day|year)\b",
        re.I,
    ),
    # Counts and amounts; a year is a date, not an answer to "how many".
    AnswerType.NUMBER: re.compile(
        r"\b(?!(?:1[89]|20)\d\d\b)\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
        r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)\b",
        re.I,
    ),
    AnswerType.DATE: re.compile(
        rf"\b{_MONTHS}\b\.?\s*\d|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}\b|\b{_WEEKDAYS}\b"
        rf"|\b(?:1[89]|20)\d\d\b"
        rf"|\b(?:last|next|this) (?:week|month|year|summer|winter|spring|autumn)\b"
        rf"|\b(?:yesterday|today|tomorrow)\b|\bin (?:{_MONTHS})\b",
        re.I,
    ),
}


def expected_type(question: str) -> AnswerType | None:
    """The kind of answer the question asks for, if it is one we can recognise."""
    for kind, pattern in _QUESTION_PATTERNS:
        if pattern.search(question):
            return kind
    return None


def has_type(sentence: str, kind: AnswerType, question: str) -> bool:
    """True if the sentence contains something of the expected kind that the question lacks."""
    if kind is AnswerType.NAME:
        asked = {w.lower() for w in words(question)}
        names = [w for w in words(sentence)[1:] if w[0].isupper() and w.lower() not in asked]
        return bool(names)
    return bool(_SENTENCE_PATTERNS[kind].search(sentence))
