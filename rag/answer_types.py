"""Expected answer types: "how long" wants a duration, "when" a date, "who" a person.

A sentence that contains the kind of thing the question asks for is a better answer than one
that merely repeats the question's words; when no evidence has it, the honest answer is none.
"""

from __future__ import annotations

import re
from collections.abc import Set
from enum import Enum
from functools import lru_cache

from rag.text import STOPWORDS, normalise, word_pieces, words
from rag.timeline import time_expressions

_NUMBER_WORDS = (
    r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty|thirty|forty|fifty|sixty|hundred|thousand|million|billion|dozen|several|half|"
    r"a few|a couple of|an?)"
)
# Nouns whose value is a quantity: "what is the range of ..." wants a number.
_QUANTITIES = (
    r"(?:range|speed|distance|length|height|depth|weight|size|cost|price|population|budget|"
    r"toll|age|value|capacity|amount|total|number|percentage|share|rate|salary|income|score)"
)
# Role nouns that name a person: "which expert", "which minister".
_PERSON_ROLES = (
    r"(?:expert|official|spokesman|spokeswoman|spokesperson|person|minister|leader|president|"
    r"analyst|aide|diplomat|envoy|ambassador|secretary|politician|journalist|reporter|adviser|"
    r"advisor|general|commander|judge|lawyer|investigator|prosecutor|chancellor|premier|mayor)"
)
_THING_NOUNS = (
    r"(?:country|countries|city|cities|town|treaty|agreement|"
    r"organisation|organization|party|company|missile|weapon|summit|resort|port|region)"
)
# News media: "which newspaper reported it" wants the outlet.
_MEDIA_NOUNS = (
    r"(?:newspapers?|papers?|outlets?|publications?|(?:news )?agenc(?:y|ies)|broadcasters?|"
    r"channels?|magazines?|media|websites?|tabloids?|dailies|daily)"
)
# Up to two adjectives between "which" and its noun ("which Russian expert"), not a verb.
_MODIFIERS = r"(?: (?!(?:did|does|do|is|was|were|has|had|will|would|can|could)\b)[\w-]+){0,2}"
# Titles that precede a person's name.
_TITLES = frozenset(
    "president minister secretary mr mrs ms dr spokesman spokeswoman aide adviser advisor "
    "chancellor premier ambassador envoy investigator counsel general leader".split()
)
# Capitalised words that are not names of people even in a run of capitals.
_NOT_PERSON = frozenset(
    "states street council sea union nations kingdom ministry office department house summit "
    "times group prime affairs parliament government kremlin white black north south east "
    "west new war cold".split()
)


class AnswerType(Enum):
    DURATION = "duration"
    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    MEDIUM = "medium"  # the newspaper, agency or channel that reported something
    ORIGIN = "origin"  # whose idea or initiative something was
    NAME = "name"
    PLACE = "place"
    REASON = "reason"
    ISSUES = "issues"  # "what issues were discussed": the things a sentence lists


_QUESTION_PATTERNS: list[tuple[AnswerType, re.Pattern[str]]] = [
    (
        AnswerType.DURATION,
        re.compile(r"\bhow long\b|\bfor how (?:long|many (?:days|hours|years))\b", re.I),
    ),
    (
        AnswerType.NUMBER,
        re.compile(
            rf"\bhow (?:many|much|far|old|big|large|fast)\b"
            rf"|\bwhat (?:is|was|are|were|'s) the {_QUANTITIES}\b|\bwhat {_QUANTITIES}\b",
            re.I,
        ),
    ),
    (
        AnswerType.DATE,
        re.compile(
            r"^\s*when\b|\bwhen (?:did|was|were|is|will|does|do|had|has)\b"
            r"|\b(?:what|which) (?:date|day|year|month)\b|\bon what (?:date|day)\b",
            re.I,
        ),
    ),
    (
        AnswerType.MEDIUM,
        re.compile(
            rf"\b(?:which|what){_MODIFIERS} {_MEDIA_NOUNS}\b|\bwho (?:reported|broke|published)\b"
            r"|\baccording to (?:which|what|whom)\b",
            re.I,
        ),
    ),
    (
        AnswerType.ORIGIN,
        re.compile(
            r"\b(?:at )?whose (?:idea|initiative|proposal|suggestion|request|invitation|plan)\b"
            r"|\bwho (?:proposed|suggested|initiated|requested|asked for|invited|came up with)\b"
            r"|\bwho (?:was|is) behind\b|\bon whose (?:initiative|request|invitation)\b",
            re.I,
        ),
    ),
    (
        AnswerType.PERSON,
        re.compile(
            rf"^\s*(?:who|whom)\b|\b(?:which|what){_MODIFIERS} {_PERSON_ROLES}s?\b"
            rf"|\bname of (?:the |that |this |a )?(?:[\w-]+ ){{0,2}}{_PERSON_ROLES}s?\b",
            re.I,
        ),
    ),
    (
        AnswerType.NAME,
        re.compile(rf"^\s*whose\b|\b(?:which|what){_MODIFIERS} {_THING_NOUNS}\b", re.I),
    ),
    (AnswerType.PLACE, re.compile(r"^\s*where\b|\bwhere (?:did|was|were|is|will|do)\b", re.I)),
    (AnswerType.REASON, re.compile(r"^\s*why\b|\bwhat (?:was|is) the reason\b", re.I)),
    (
        AnswerType.ISSUES,
        re.compile(
            r"\b(?:what|which)(?: \w+)? (?:issues|topics|subjects|problems|matters|questions|"
            r"disagreements|differences|crises|conflicts|areas)\b"
            r"|\bwhat (?:was|were|did they|did the \w+) (?:discuss|discussed|on the table)\b",
            re.I,
        ),
    ),
]

_SENTENCE_PATTERNS: dict[AnswerType, re.Pattern[str]] = {
    AnswerType.DURATION: re.compile(
        rf"\b{_NUMBER_WORDS}[\s-]+(?:and a half\s+)?(?:seconds?|minutes?|hours?|days?|weeks?|"
        rf"months?|years?|decades?)\b|\bhalf an? (?:hour|day|year)\b"
        r"|\b(?:just|only|mere|within)\s+(?:days|weeks|months|years)\b",  # "just weeks before"
        re.I,
    ),
    # Counts and amounts; a year is a date, not an answer to "how many".
    AnswerType.NUMBER: re.compile(
        r"\b(?!(?:1[89]|20)\d\d\b)\d[\d,.]*\b|\b(?:two|three|four|five|six|seven|eight|nine|"
        r"ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)\b",
        re.I,
    ),
    # A capitalised name after a preposition of place ("in Turkey", "in the Chinese Hangzhou").
    AnswerType.PLACE: re.compile(
        r"\b(?:[Ii]n|[Aa]t|[Tt]o|[Ff]rom|[Nn]ear)\s+(?:the\s+)?(?:[A-Z][\w-]*\s+){0,3}[A-Z][\w-]+"
    ),
    # An outlet named as the source: "reports The Times", "told RT", "according to Reuters".
    AnswerType.MEDIUM: re.compile(
        r"\b(?:[Rr]eport(?:s|ed)?(?: by)?|[Ww]rites|[Ww]rote|[Cc]iting|[Cc]ited by|[Pp]ublished by)"
        r"\s+(?:the\s+)?[A-Z][\w.&-]*"
        # a person can be "told" too: only "the Times" or an acronym such as RT or BBC
        r"|\b(?:[Tt]old|[Aa]ccording to|[Qq]uoted by|[Ss]aid on)\s+"
        r"(?:the\s+[A-Z][\w.&-]*|[A-Z]{2,}\b)"
        r"|\b[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*){0,2}\s+(?:reported|reports|newspaper|news agency)\b"
        r"|\b(?:newspaper|news agency|broadcaster|tabloid|magazine)\b"
    ),
    # Whose idea: "at Britain's initiative", "proposed by", "at the request of".
    # The cue with its owner where there is one: "at Britain's initiative" answers "whose
    # initiative?", in which "initiative" alone is only the question's own word.
    AnswerType.ORIGIN: re.compile(
        r"\b(?:at|on|by)\s+(?:the\s+)?[\w'’-]+\s+(?:initiative|idea|request|invitation|"
        r"behest|instigation|suggestion|proposal)\b"
        r"|\b(?:initiative|idea|request|invitation|behest|proposal)\s+of\s+(?:the\s+)?[\w'’-]+"
        r"|\b(?:initiative|idea|propos(?:al|ed|es)|suggest(?:ion|ed|s)|request(?:ed)?|"
        r"invit(?:ation|ed)|behest|instigation|initiated|brainchild)\b",
        re.I,
    ),
    # A list of names: "Iran, Ukraine and Venezuela", "the Venezuela and Iran crises".
    AnswerType.ISSUES: re.compile(
        r"\b[A-Z][\w-]+(?:,\s+(?:the\s+)?[A-Z][\w-]+)+,?\s+(?:and|or)\s+(?:the\s+)?[A-Z][\w-]+"
        r"|\b[A-Z][\w-]+\s+and\s+[A-Z][\w-]+\s+(?:crises|issues|conflicts|disputes|questions)\b"
    ),
    AnswerType.REASON: re.compile(
        r"\b(?:because|since|due to|owing to|in order to|so as to|so that|as a result|"
        r"reason|in a bid to|aimed at|to instead|in response to|amid|over)\b",
        re.I,
    ),
}

# Types the evidence must contain for an answer; NAME, PLACE and REASON only guide the choice.
REQUIRED = frozenset(
    {
        AnswerType.DURATION,
        AnswerType.NUMBER,
        AnswerType.DATE,
        AnswerType.PERSON,
        AnswerType.MEDIUM,
        AnswerType.ORIGIN,
    }
)


# "Who is Juan Guaido?" asks for a description of a named person, not for a name.
_DEFINITION = re.compile(r"^\s*[Ww]ho(?:'s|’s| is| was| are| were)\s+[A-Z]")


def expected_type(question: str) -> AnswerType | None:
    """The kind of answer the question asks for, if it is one we can recognise."""
    if _DEFINITION.match(question):
        return None
    for kind, pattern in _QUESTION_PATTERNS:
        if pattern.search(question):
            return kind
    return None


@lru_cache(maxsize=16384)
def _capitalised_runs(sentence: str) -> tuple[tuple[str, ...], ...]:
    """Runs of capitalised words after the sentence's first word, joined by spaces only:
    "Dmitry Peskov" is one run, "Osaka, Japan" two (remembered: a sentence is read for
    several kinds of answer)."""
    pieces = word_pieces(sentence)
    found, gaps = pieces[1::2], pieces[0::2]  # gaps[k] comes right before found[k]
    runs: list[tuple[str, ...]] = []
    current: list[str] = []
    last = -1  # the place among `found` of the current run's last word
    for k in range(1, len(found)):
        word = found[k]
        if not word[0].isupper():
            continue
        if current and last == k - 1 and gaps[k].isspace():
            current.append(word)
        else:
            if current:
                runs.append(tuple(current))
            current = [word]
        last = k
    if current:
        runs.append(tuple(current))
    return tuple(runs)


def person_names(sentence: str) -> set[str]:
    """Lowercased surnames a sentence gives people: the last name after a title ("President
    Vladimir Putin", "his spokesman Dmitry Peskov")."""
    tokens = words(sentence)
    found = set()
    for i, word in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if not _NAME.fullmatch(word) or _NAME.fullmatch(following):
            continue  # not a name, or not the last of a run of names
        if word.lower() in _TITLES or word.lower() in _NOT_PERSON:
            continue
        before = [t.lower() for t in tokens[max(0, i - 2) : i]]
        titled = bool(before) and (
            before[-1] in _TITLES
            or (len(before) == 2 and before[0] in _TITLES and _NAME.fullmatch(tokens[i - 1]))
        )
        if titled:
            found.add(word.lower())
    return found


_NAME = re.compile(r"[A-Z][a-z]{2,}(?:-[A-Z][a-z]+)?")  # "Putin", "Al-Assad"; not "UK", "Putin's"


_ROLE = re.compile(rf"\b{_PERSON_ROLES}s?\b", re.I)
_ASKED_ROLE = re.compile(
    rf"\b(?:which|what){_MODIFIERS} (?P<role>{_PERSON_ROLES})s?\b"
    rf"|\bname of (?:the |that |this |a )?(?:[\w-]+ ){{0,2}}(?P<named>{_PERSON_ROLES})s?\b",
    re.I,
)


def asked_role(question: str) -> frozenset[str]:
    """The role whose holder "which minister ...?" or "the name of the mayor" asks for
    (normalised): the name the answer gives should be that role's."""
    m = _ASKED_ROLE.search(question)
    return frozenset({normalise(m.group("role") or m.group("named"))}) if m else frozenset()


def has_person(
    sentence: str, asked: Set[str], people: frozenset[str] = frozenset(), roles: bool = False
) -> bool:
    """A person's name the question does not already contain: a run of two capitalised words
    ("Dmitry Peskov"), a title before a capitalised word ("President Trump"), or a name the
    articles give a person elsewhere (`people`: "Putin", named "Vladimir Putin" there); with
    `roles`, also a role the question does not name ("who greeted him?": "the mayor")."""
    if roles and any(role not in asked for role in _roles_in(sentence)):
        return True
    titled, runs = _person_clues(sentence)
    if any(word not in asked for word in titled):
        return True
    for named in runs:
        if len(named) >= 2 and any(w not in asked for w in named):
            return True
        if any(w in people and w not in asked for w in named):
            return True
    return False


@lru_cache(maxsize=16384)
def _roles_in(sentence: str) -> tuple[str, ...]:
    """The roles a sentence names ("ministers": minister), lowercased."""
    return tuple(m.group(0).lower().rstrip("s") for m in _ROLE.finditer(sentence))


@lru_cache(maxsize=16384)
def _person_clues(sentence: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """What `has_person` weighs, lowercased, whatever the question: the capitalised words
    that follow a title, and the words of each capitalised run that may be a person's."""
    tokens = words(sentence)
    titled = tuple(
        following.lower()
        for word, following in zip(tokens, tokens[1:], strict=False)
        if following[0].isupper() and word.lower() in _TITLES
    )
    runs = tuple(
        tuple(lower for w in run if (lower := w.lower()) not in _NOT_PERSON)
        for run in _capitalised_runs(sentence)
    )
    return titled, runs


@lru_cache(maxsize=1024)
def _lowered_words(text: str) -> frozenset[str]:
    """A question's (or an expression's) words in lower case, for what it already says."""
    return frozenset(w.lower() for w in words(text))


def has_type(
    sentence: str,
    kind: AnswerType,
    question: str,
    people: frozenset[str] = frozenset(),
    roles: bool = False,
) -> bool:
    """True if the sentence contains something of the expected kind that the question lacks
    (`people`, `roles`: see `has_person`)."""
    asked = _lowered_words(question)
    if kind is AnswerType.PERSON:
        return has_person(sentence, asked, people, roles)
    if kind is AnswerType.NAME:
        return any(w.lower() not in asked for run in _capitalised_runs(sentence) for w in run)
    if kind is AnswerType.DATE:  # the expressions of time the date reader understands
        found = time_expressions(sentence)
    else:
        found = [(m.group(0), m.end()) for m in _SENTENCE_PATTERNS[kind].finditer(sentence)]
    found = [(text, end) for text, end in found if not _lowered_words(text) <= asked]
    if kind is AnswerType.NUMBER and found:
        counted = _counted(question)
        if counted:  # "how many sailors": a number that counts sailors, not any number
            return any(_counts(sentence[end:], counted) for _, end in found)
    return bool(found)


def _counted(question: str) -> set[str]:
    """The words after "how many": what the number must count."""
    match = re.search(r"\bhow many\s+(.*)", question, re.I)
    if not match:
        return set()
    following = [w for w in words(match.group(1))[:2] if w.lower() not in STOPWORDS]
    return {normalise(w) for w in following}


def _counts(after_number: str, counted: set[str]) -> bool:
    return any(normalise(w) in counted for w in words(after_number)[:3])
