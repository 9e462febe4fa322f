"""The kind of answer a question asks for, read from its question word: "who" wants a person,
"how many" a number, "when" a date. The reader's token model learns, per kind, which words of
a sentence make such an answer (capitalised runs for a person, digits for a number)."""

from __future__ import annotations

import re
from enum import Enum

from rag.nlp.text import IRREGULAR_PAST, words


class Kind(Enum):
    PERSON = "person"
    PLACE = "place"
    DATE = "date"
    NUMBER = "number"
    NAME = "name"  # "which company", "what newspaper": a named thing other than a person
    REASON = "reason"
    QUOTE = "quote"  # "what did X say", "how did X describe ..."
    OTHER = "other"


KINDS = tuple(Kind)
# Kinds answered by a short span of the sentence: the answer leads with it.
SPAN_KINDS = frozenset({Kind.PERSON, Kind.PLACE, Kind.DATE, Kind.NUMBER, Kind.NAME})

_AUX = r"(?:did|does|do|has|have|had|will|would|was|were|is|are|can|could)"
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        Kind.QUOTE,
        re.compile(
            rf"\bwhat {_AUX} (?P<said>(?:\S+ ){{1,4}})(?:say|said|tell|told|warn|think|claim|"
            r"announce|call|describe|write|reply|answer|argue|suggest|predict|expect|forecast)\b"
            rf"|\bhow {_AUX} (?P<reacted>(?:\S+ ){{1,4}})(?:describe|react|respond|"
            r"characteri[sz]e|view)\b",
            re.I,
        ),
    ),
    (
        Kind.NUMBER,
        re.compile(
            r"\bhow (?:many|much|long|far|old|big|large|high|fast|often)\b"
            r"|\bwhat (?:[\w'’]+ ){0,5}?(?:percentage|percent|share|price|prices|amount|number|"
            r"rate|cost|value|sum|total|size|proportion|figure|level|loss|profit|revenue|"
            r"dividend|range|speed|distance|length|height|depth|weight|population|budget|toll|"
            r"age|capacity|salary|income|output|volume)s?\b"
            r"|\bat what (?:price|rate|level)\b|\bby how much\b"
            rf"|\bwhat {_AUX} (?:\S+ ){{1,5}}(?:pay|paid|cost|fetch|earn|lose|lost|raise|spend|"
            r"charge|offer|bid)\b",
            re.I,
        ),
    ),
    (
        Kind.DATE,
        re.compile(
            r"^\W*when\b|\bwhat (?:year|date|day|month|time|decade|century)\b"
            r"|\bin (?:what|which) (?:year|month|decade|century)\b|\bsince when\b"
            r"|\bwhich (?:year|date|day|month)\b",
            re.I,
        ),
    ),
    (Kind.REASON, re.compile(r"^\W*why\b|\bfor what reason\b|\bwhat (?:caused|led to)\b", re.I)),
    (Kind.PERSON, re.compile(r"^\W*(?:who|whom|whose)\b|\b(?:by|to|with) whom\b", re.I)),
    (
        Kind.PLACE,
        re.compile(
            r"^\W*where\b|\b(?:which|what) (?:country|countries|city|cities|state|states|region|"
            r"place|town|port|province|nation|continent|area)\b",
            re.I,
        ),
    ),
    # "which engine maker", "what is the new company called", "the name of the consortium"
    (
        Kind.NAME,
        re.compile(
            r"^\W*which\b|\bwhat (?:is|was|are|were) (?:\S+ ){1,12}(?:called|named)\b|\bname of\b"
            r"|\bwhat(?:'s| is| was)? (?:the )?names?\b"
            r"|\bwhat (?:(?!(?:is|was|are|were|did|does|do)\b)[\w'’]+ ){0,2}(?:company|companies|"
            r"firm|bank|group|agency|organi[sz]ation|party|newspaper|exchange|unit|subsidiary|team|union|airline|fund|ministry|court|"
            r"product|drug|brand|index)\b",
            re.I,
        ),
    ),
)
_ASKING = re.compile(r"\b(?:who|whom|whose|what|which|when|where|why|how)\b", re.I)


class Unit(Enum):
    """What a number that answers is a number of: "how much did it pay" wants an amount of
    money, "what percentage" a share, "how many transistors" a count of the asked noun."""

    MONEY = "money"
    PERCENT = "percent"
    COUNT = "count"


_PERCENT_ASKED = re.compile(r"\b(?:percent(?:age)?|pct|per cent|proportion|rate)\b|%", re.I)
_COUNT_ASKED = re.compile(r"\bhow many\b", re.I)
# words of money in English questions: what is paid, earned, owed or valued
_MONEY_ASKED = re.compile(
    r"\b(?:pay|pays|paid|paying|cost|costs|costing|price|prices|priced|worth|value|valued|"
    r"fine|fined|fee|fees|offer|offered|offering|bid|raise|raised|raising|spend|spent|"
    r"spending|earn|earned|earnings|profit|profits|loss|losses|revenue|revenues|sales|damages|"
    r"salary|budget|dividend|charge|charged|bribe|bribes|compensation|money|cash|dollars?|"
    r"invest|invested|investment|funding|loan|loans|debt|debts)\b",
    re.I,
)


def unit_of(question: str, kind: Kind) -> Unit | None:
    """The unit a number question asks for, when its words tell (None for other kinds)."""
    if kind is not Kind.NUMBER:
        return None
    if _PERCENT_ASKED.search(question):
        return Unit.PERCENT
    if _COUNT_ASKED.search(question):
        return Unit.COUNT
    if _MONEY_ASKED.search(question):
        return Unit.MONEY
    return None


def kind_of(question: str) -> Kind:
    """The kind of answer the question asks for ("Who ...?" → person); OTHER when its words
    name none. The first clause with a question word decides ("and when ...")."""
    found = _ASKING.search(question)
    asked = question[found.start() :] if found else question
    for kind, pattern in _PATTERNS:
        if pattern.search(asked):
            return kind
    if not found and words(question)[:1] and words(question)[0].lower() in {"name", "list"}:
        return Kind.NAME
    return Kind.OTHER


_AUXILIARY = frozenset(
    "did does do is was were are has have had will would can could should may might".split()
)
_BE = frozenset("is was are were".split())
_WH = frozenset("what which how who whom whose when where why".split())
_FOCUS_END = frozenset("of in for that to on at by from with about and or".split())
_ARTICLES = frozenset("the a an its their his her".split())


def speaker_words(question: str) -> list[str]:
    """The names of whose words a quotation question asks for: "what did *Lavrov* say",
    "how did *Theresa May* react" (none for "what did the aide say")."""
    found = _PATTERNS[0][1].search(question)
    if not found:
        return []
    said = found.group("said") or found.group("reacted") or ""
    return [w for w in words(said) if w[0].isupper()]


def asking_words(question: str) -> frozenset[str]:
    """The words that make the question ("how *long*", "how *much*"): no topic to match."""
    found = _HOW.search(question)
    return frozenset({found.group(1).lower()}) if found else frozenset()


_HOW = re.compile(r"\bhow (\w+)\b", re.I)


def focus_words(question: str) -> list[str]:
    """The noun the question asks about: "how many *transistors*", "which *engine maker*",
    "what was the *median price* of ...", "who is ChemLawn's *chief executive*". The answer
    stands next to it; when no article names it, nothing answers."""
    tokens = words(question)
    lowered = [w.lower() for w in tokens]
    start = next((i for i, w in enumerate(lowered) if w in _WH), None)
    if start is None:
        return []
    i = start + 1
    if lowered[start] == "how":
        if i >= len(lowered) or lowered[i] not in {"many", "much"}:
            return []  # "how long", "how did ...": no noun is asked about
        i += 1
    found: list[str] = []
    if i < len(lowered) and lowered[i] in _AUXILIARY:
        if lowered[start] not in {"what", "which", "who"} or lowered[i] not in _BE:
            return []  # "how much did the group pay": the noun after "did" is who acts
        # "what was the median price of ...": the noun phrase after the verb
        i += 1
        while i < len(lowered) and lowered[i] in _ARTICLES:
            i += 1
        if i + 1 < len(tokens) and tokens[i].endswith(("'s", "’s")):
            i += 1  # "ChemLawn's chief executive"
        while i < len(lowered) and lowered[i] not in _FOCUS_END and lowered[i] not in _AUXILIARY:
            found.append(tokens[i])
            i += 1
        return found[-3:] if found and not found[0][0].isupper() else []
    # "which engine maker won the order": up to the verb, as far as it can be told apart
    while i < len(lowered) and not _ends_noun(lowered[i]):
        found.append(tokens[i])
        i += 1
    return found[-3:]


def _ends_noun(word: str) -> bool:
    return (
        word in _AUXILIARY
        or word in _FOCUS_END
        or word in _ARTICLES
        or word in IRREGULAR_PAST
        or (word.endswith("ed") and len(word) > 4)
    )
