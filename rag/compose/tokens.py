"""The reader's token model: how likely each word of a sentence is part of the answer.

A word is described by its shape (capitalised, a number, a month, a year, inside quotes, after
a number ...) and by where it stands from the question's words in the sentence. Each shape
feature has its own weight for each kind of question (`asked.Kind`): digits make an answer to
"how many", capitalised runs an answer to "who". The weights are learned from the answer spans
of SQuAD 2.0 (`make train`). The best run of likely words is the answer's lead ("Anna Berg and
Tom Hale"), and the likeliest word not in the question says whether a sentence holds an answer
of the asked kind at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from rag.nlp.asked import KINDS, Kind, Unit
from rag.nlp.text import STOPWORDS, normalise

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’.-][^\W\d_]+)*|[^\w\s]", re.UNICODE)
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday "
    "friday saturday sunday".split()
)
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
    "hundred thousand million billion trillion dozen half quarter".split()
)
_TIME_UNITS = frozenset(
    "second seconds minute minutes hour hours day days week weeks month months year years "
    "decade decades century centuries".split()
)
# currencies as news writes them ("13 mln dlrs", "50 cts", "$5 million", "2.4 billion yen")
_CURRENCIES = frozenset(
    "dlr dlrs dollar dollars ct cts cent cents stg sterling pound pounds yen euro euros franc "
    "francs lira lire peso pesos rupee rupees yuan rand rouble roubles ruble rubles krona kronor "
    "krone kroner guilder guilders schilling schillings riyal riyals dinar dinars ringgit "
    "baht".split()
)
_CURRENCY_SIGNS = frozenset("$£€¥")
_PERCENT = frozenset("pct percent %".split())
# what may follow a number in one amount: its magnitude, currency or percent ("1.2 bln dlrs")
_AMOUNT_WORDS = (
    frozenset("thousand million billion trillion mln bln bn m k bc bce".split())
    | _CURRENCIES
    | _PERCENT
)
UNIT_REACH = 3  # words after a number that may name what it counts ("553,687 *transistors*")
_PLACE_TIME_PREPOSITIONS = frozenset("in at on from to near since until by during".split())
_QUOTES = frozenset('"“”«»')

SHAPES = (
    "bias",
    "capitalised",  # not the sentence's first word
    "first_word",
    "all_caps",
    "number",
    "year",
    "number_word",
    "calendar",
    "stopword",
    "punctuation",
    "after_number",  # "mln", "dlrs", "pct": a unit
    "before_number",
    "in_name",  # capitalised after a capitalised word
    "in_quotes",
    "after_preposition",
    "long_word",
    "after_calendar",  # "March 2": a day, not an amount
    "time_unit",  # "half an *hour*", "three *years*"
)
RELATIONS = ("in_question", "near_1", "near_3", "near_8", "far", "no_anchor", "near_focus")
FEATURES = tuple(f"{k.value}:{s}" for k in KINDS for s in SHAPES) + RELATIONS


class Token(NamedTuple):
    start: int
    end: int
    text: str
    term: str  # as question terms are compared


@dataclass(frozen=True)
class Shaped:
    """A sentence's tokens and their shape features (the same for every question)."""

    tokens: tuple[Token, ...]
    shapes: np.ndarray  # (tokens, len(SHAPES))


@lru_cache(maxsize=65536)
def shaped(sentence: str) -> Shaped:
    """The sentence's tokens and their `SHAPES` (remembered: sentences recur across
    questions)."""
    found = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(sentence)]
    tokens = tuple([Token(a, b, text, normalise(text)) for a, b, text in found])
    texts = [t[2] for t in found]
    lowers = [t.lower() for t in texts]
    rows = []
    quoted = False
    last = len(texts) - 1
    for i, text in enumerate(texts):
        lower = lowers[i]
        if text in _QUOTES:
            quoted = not quoted if text == '"' else text in "“«"
        first = text[0]
        word = first.isalpha()
        previous = lowers[i - 1] if i else ""
        following = texts[i + 1] if i < last else ""
        capitalised = word and first.isupper() and i > 0
        rows.append(
            (
                1.0,
                capitalised,
                i == 0,
                word and len(text) > 1 and text.isupper(),
                first.isdigit(),
                len(text) == 4 and text.isdigit() and 1500 <= int(text) <= 2100,
                lower in _NUMBER_WORDS,
                lower in _CALENDAR,
                lower in STOPWORDS,
                not first.isalnum(),
                bool(previous) and (previous[0].isdigit() or previous in _NUMBER_WORDS),
                bool(following) and following[0].isdigit(),
                capitalised and bool(previous) and texts[i - 1][0].isupper(),
                quoted and text not in _QUOTES,
                previous in _PLACE_TIME_PREPOSITIONS,
                len(text) >= 8,
                previous in _CALENDAR,
                lower in _TIME_UNITS,
            )
        )
    shapes = np.array(rows, dtype=np.float32).reshape(len(rows), len(SHAPES))
    return Shaped(tokens, shapes)


def _relations(
    found: Shaped, question_terms: frozenset[str], focus: frozenset[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The `RELATIONS` of each token (in the question, how near the nearest question word,
    whether next to the noun the question asks about), and which tokens are the question's."""
    n = len(found.tokens)
    out = np.zeros((n, len(RELATIONS)), dtype=np.float32)
    asked = np.array([bool(t.term) and t.term in question_terms for t in found.tokens], bool)
    if not n:
        return out, asked
    out[:, 0] = asked
    if not asked.any():
        out[:, 5] = 1.0
        return out, asked
    focused = np.array([bool(t.term) and t.term in focus for t in found.tokens], bool)
    where = np.arange(n)
    distance = np.abs(where[:, None] - where[asked][None, :]).min(axis=1)
    rest = ~asked
    out[:, 1] = rest & (distance <= 1)
    out[:, 2] = rest & (distance > 1) & (distance <= 3)
    out[:, 3] = rest & (distance > 3) & (distance <= 8)
    out[:, 4] = rest & (distance > 8)
    if focused.any():
        near = np.abs(where[:, None] - where[focused][None, :]).min(axis=1) <= 2
        out[:, 6] = rest & near
    return out, asked


def token_features(
    sentence: str, kind: Kind, question_terms: frozenset[str], focus: frozenset[str] = frozenset()
) -> np.ndarray:
    """One row per token of the sentence: its shape features in the block of the asked kind,
    then how it stands to the question's words and to the noun it asks about (`focus`)."""
    found = shaped(sentence)
    block = len(SHAPES)
    rows = np.zeros((len(found.tokens), len(FEATURES)), dtype=np.float32)
    offset = KINDS.index(kind) * block
    rows[:, offset : offset + block] = found.shapes
    rows[:, len(KINDS) * block :] = _relations(found, question_terms, focus)[0]
    return rows


def token_chances(
    sentence: str,
    kind: Kind,
    question_terms: frozenset[str],
    focus: frozenset[str],
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The token model's chance for each token, as `probabilities(token_features(...))`
    without building the rows, and which tokens are the question's own words."""
    found = shaped(sentence)
    block = len(SHAPES)
    offset = KINDS.index(kind) * block
    relation = len(KINDS) * block
    relations, asked = _relations(found, question_terms, focus)
    logits = found.shapes @ weights[offset : offset + block] + relations @ weights[relation:]
    return 1.0 / (1.0 + np.exp(-logits)), asked


def holds_unit(
    sentence: str, unit: Unit | None, asked: frozenset[str], focus: frozenset[str]
) -> bool:
    """The sentence holds a number the question does not give, of the asked unit: an amount of
    money, a percentage, or a count of the noun asked about."""
    if unit is None:
        return False
    tokens = shaped(sentence).tokens
    lowers = [t.text.lower() for t in tokens]
    for i, token in enumerate(tokens):
        if not (token.text[0].isdigit() or lowers[i] in _NUMBER_WORDS) or token.term in asked:
            continue
        after = range(i + 1, min(len(tokens), i + 1 + UNIT_REACH))
        if unit is Unit.MONEY:
            found = (i > 0 and tokens[i - 1].text in _CURRENCY_SIGNS) or any(
                lowers[j] in _CURRENCIES for j in after
            )
        elif unit is Unit.PERCENT:
            found = any(
                lowers[j] in _PERCENT or lowers[j : j + 2] == ["per", "cent"] for j in after
            )
        else:
            found = any(tokens[j].term in focus for j in after)
        if found:
            return True
    return False


def other_units(sentence: str, unit: Unit | None) -> np.ndarray:
    """Which tokens of the sentence are in an amount of another unit than the asked one: a
    percentage when money or a count is asked for, money when a percentage or a count is."""
    tokens = shaped(sentence).tokens
    out = np.zeros(len(tokens), dtype=bool)
    if unit is None:
        return out
    lowers = [t.text.lower() for t in tokens]
    for k, token in enumerate(tokens):
        if not token.text[0].isdigit() or out[k]:
            continue
        i, j = _amount(tokens, k, k)
        said = set(lowers[i : j + 1])
        money = bool(said & (_CURRENCIES | _CURRENCY_SIGNS))
        percent = bool(said & _PERCENT)
        if (percent and unit is not Unit.PERCENT) or (money and unit is not Unit.MONEY):
            out[i : j + 1] = True
    return out


@dataclass(frozen=True)
class Lead:
    """The likeliest answer span of a sentence: offsets into it, its text, its mean chance."""

    start: int
    end: int
    text: str
    score: float


def probabilities(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(rows @ weights)))


# the words that join the two ends of a range, and that hedge an amount, in English
_RANGE = frozenset({"to", "-", "–", "—"})
_HEDGES = frozenset(
    "about around approximately roughly nearly almost over under some circa".split()
)
_HEDGE_PAIRS = frozenset(
    {("more", "than"), ("less", "than"), ("fewer", "than"), ("at", "least"), ("up", "to")}
)
_EDGE = STOPWORDS | frozenset(",;:-–—'’\"“”()")
MAX_LEAD_TOKENS = 12


def best_lead(sentence: str, chances: np.ndarray, floor: float = 0.5) -> Lead | None:
    """The run of tokens whose chances most exceed `floor` (at most `MAX_LEAD_TOKENS`), trimmed
    of function words and punctuation at its ends; None when no token reaches the floor."""
    tokens = shaped(sentence).tokens
    best, best_gain = None, 0.0
    for i in range(len(tokens)):
        gain = 0.0
        for j in range(i, min(len(tokens), i + MAX_LEAD_TOKENS)):
            gain += float(chances[j]) - floor
            if gain > best_gain:
                best, best_gain = (i, j), gain
    if best is None:
        return None
    i, j = best
    while i <= j and tokens[i].text.lower() in _EDGE:
        i += 1
    while j >= i and tokens[j].text.lower() in _EDGE:
        j -= 1
    if i > j:
        return None
    score = float(np.mean(chances[i : j + 1]))
    i, j = _whole(tokens, i, j)
    start, end = tokens[i].start, tokens[j].end
    return Lead(start, end, sentence[start:end], score)


def _number(token: Token) -> bool:
    return token.text[0].isdigit() or token.text.lower() in _NUMBER_WORDS


def _whole(tokens: tuple[Token, ...], i: int, j: int) -> tuple[int, int]:
    """The span from token i to j widened to the whole amounts and dates it cuts (`_amount`),
    to the range they are an end of ("200 to 300", "1759-60", "between 150,000 and
    200,000") and to the word that hedges them ("about", "more than")."""
    i, j = _amount(tokens, i, j)
    if not any(_number(tokens[k]) for k in range(i, j + 1)):
        return i, j
    lowers = [t.text.lower() for t in tokens]
    between = i > 0 and lowers[i - 1] == "between"
    joins = _RANGE | ({"and"} if between else set())
    if j + 2 < len(tokens) and lowers[j + 1] in joins:
        k = j + 2 + (tokens[j + 2].text in _CURRENCY_SIGNS)
        if k < len(tokens) and _number(tokens[k]):
            j = _amount(tokens, k, k)[1]
    if i >= 2 and lowers[i - 1] in _RANGE:
        if _number(tokens[i - 2]) or lowers[i - 2] in _AMOUNT_WORDS:
            i = _amount(tokens, i - 2, i - 2)[0]
    if i > 0 and lowers[i - 1] == "between":
        i -= 1
    elif i > 1 and (lowers[i - 2], lowers[i - 1]) in _HEDGE_PAIRS:
        i -= 2
    elif i > 0 and lowers[i - 1] in _HEDGES:
        i -= 1
    return i, j


def _amount(tokens: tuple[Token, ...], i: int, j: int) -> tuple[int, int]:
    """The span widened to a number's sign, magnitude and unit ("$", "13 mln dlrs", "5.2
    pct") and a day's month and year ("December 20, 1999", "20 December 1999")."""
    lowers = [t.text.lower() for t in tokens]
    last = len(tokens) - 1
    while i > 0 and (
        tokens[i - 1].text in _CURRENCY_SIGNS
        or (
            lowers[i] in _AMOUNT_WORDS
            and (_number(tokens[i - 1]) or lowers[i - 1] in _AMOUNT_WORDS)
        )
        or (_month(tokens[i - 1]) and tokens[i].text.isdigit())
    ):
        i -= 1
    while j < last and (
        (lowers[j + 1] in _AMOUNT_WORDS and (_number(tokens[j]) or lowers[j] in _AMOUNT_WORDS))
        or (_month(tokens[j]) and tokens[j + 1].text.isdigit())
        or (tokens[j].text.isdigit() and _month(tokens[j + 1]))
    ):
        j += 1
    # "December 20, 1999": the year after the day
    if j + 2 <= last and tokens[j].text.isdigit() and lowers[j + 1] == ",":
        if any(_month(tokens[k]) for k in range(max(i, j - 2), j)) and _year(tokens[j + 2]):
            j += 2
    return i, j


def _month(token: Token) -> bool:
    """A capitalised month or day name ("March", not the verb "march")."""
    return token.text[0].isupper() and token.text.lower() in _CALENDAR


def _year(token: Token) -> bool:
    return len(token.text) == 4 and token.text.isdigit()
