"""Events two parties take part in: "when did Putin and May meet?", "where did they meet?",
"what did May and Putin agree on?".

A question names the event by its verb and the parties by name. Reports name the parties in
other words once they have named them ("the pair agreed", "the two leaders met"), tell what
the parties agreed to do ("have agreed to meet"), and give the time and place of the event in
clauses of long sentences ("At the meeting with ... May, held on the sidelines of the G20
summit in the Chinese Hangzhou, ...").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.text import STOPWORDS, normalise, verb_forms, words
from rag.timeline import FUTURE

_PARTY = r"[\w'’-]+(?: (?-i:[A-Z])[\w'’-]+)?"  # "Putin", "Theresa May"
_QUESTION = re.compile(
    r"\b(?:when|where|what|how) (?P<aux>did|do|does|will|would|had|have|has) "
    rf"(?P<one>{_PARTY}) (?:and|&) (?P<two>{_PARTY})(?: (?:\w+ly|first|last|ever|again|finally))* "
    r"(?P<verb>[a-z]+)\b",
    re.I,
)
# Words a report uses for two parties it has named.
_PARTIES = re.compile(
    r"\b(?:the pair|the (?:two )?(?:leaders|sides|men|women|presidents|ministers|diplomats)|"
    r"both (?:leaders|sides|men|women|presidents|ministers|countries)|the two)\b",
    re.I,
)
# Verbs that leave the event to their noun: "hold their first meeting", "have talks".
_LIGHT_VERBS = frozenset("hold held have had make made take took conduct".split())
_EVENT_NOUN = re.compile(
    r"(?:\s+(?:a|an|the|their|its|his|her|first|last|second|next|face-to-face|personal|"
    r"official|bilateral|direct|private|phone|telephone))*\s+"
    r"(?P<noun>meeting|meetings|talks|talk|call|conversation|summit|visit|negotiations)\b",
    re.I,
)
_AGREED_TO = re.compile(
    r"\b(?:agree|decide|plan|promise|vow|pledge|undertake)[ds]?\s+to\s+(?P<verb>[a-z]+)\b", re.I
)
# A clause that cannot open a quote: the clause before says who or what it is about.
_DEPENDENT = re.compile(
    r"^\W*(?:which|who|whom|whose|when|where|while|although|though|but|and|or)\b", re.I
)
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;:]|\s[–—-])\s+")


@dataclass(frozen=True)
class JointEvent:
    """The event a question asks about: its verb's forms, the parties (each by its last name:
    "Theresa May" is "May" in most sentences) and whether it is asked in the past tense."""

    verbs: frozenset[str]
    parties: frozenset[str]
    past: bool

    def resolved(
        self, found: frozenset[str], sentence: str, named: frozenset[str]
    ) -> frozenset[str]:
        """A sentence's terms with the parties added when it speaks of them together ("the
        pair agreed ...") and its article names them (`named`: the article's names)."""
        if self.parties <= named and _PARTIES.search(sentence):
            return found | self.parties
        return found

    def told_in(self, found: frozenset[str]) -> bool:
        """The sentence (its terms, parties resolved) has the verb and both parties."""
        return bool(self.verbs & found) and self.parties <= found

    def happened_in(self, sentence: str, found: frozenset[str]) -> bool:
        """... and tells of it as it happened when asked about the past ("when did they
        meet": not "the pair will meet")."""
        return self.told_in(found) and not (self.past and FUTURE.search(sentence))


def joint_event(question: str, correct: Callable[[str], str | None]) -> JointEvent | None:
    """The joint event of "when (where, what) did X and Y <verb>", if the question asks one;
    `correct` maps misspelt names to the corpus's words. "Hold a meeting", "have talks": the
    event is the noun."""
    m = _QUESTION.search(question)
    if m is None:
        return None
    verb = m.group("verb").lower()
    if verb in _LIGHT_VERBS:
        noun = _EVENT_NOUN.match(question, m.end())
        verbs = frozenset({normalise(noun.group("noun"))}) if noun else frozenset()
    else:
        verbs = frozenset() if verb in STOPWORDS else verb_forms(verb)
    if not verbs:
        return None
    last_names = (words(m.group(p))[-1] for p in ("one", "two"))
    parties = frozenset(normalise(correct(w) or w) for w in last_names)
    past = m.group("aux").lower() in ("did", "had")
    return JointEvent(verbs, parties, past)


def agreed_to(sentence: str) -> frozenset[str]:
    """What the sentence's parties agreed (decided, planned ...) to do, as verb forms:
    "have agreed to meet" → meet, met. Other reports of that ("the pair will meet at the G20")
    say what came of it."""
    found: set[str] = set()
    for m in _AGREED_TO.finditer(sentence):
        if m.group("verb").lower() not in STOPWORDS:
            found |= verb_forms(m.group("verb"))
    return frozenset(found)


def telling_clauses(text: str, tells: Callable[[str], bool]) -> tuple[int, int] | None:
    """Offsets of the fewest clauses of `text` that `tells` accepts, not opening with a
    dependent clause ("when Trump met him ..."); None if only the whole sentence will do."""
    cuts = [m.span() for m in _CLAUSE_BREAK.finditer(text)]
    clauses = list(zip([0] + [b for _, b in cuts], [a for a, _ in cuts] + [len(text)], strict=True))
    runs = [
        (first, last)
        for first in range(len(clauses))
        for last in range(first, len(clauses))
        if not _DEPENDENT.match(text[clauses[first][0] :])
        and tells(text[clauses[first][0] : clauses[last][1]])
    ]
    if not runs:
        return None
    first, last = min(runs, key=lambda run: (run[1] - run[0], run[0]))
    if len(words(text[: clauses[first][0]])) <= 3:
        first = 0  # "Earlier, at the press conference ...": keep the sentence's opening
    if first == 0 and last == len(clauses) - 1:
        return None
    return clauses[first][0], clauses[last][1]
