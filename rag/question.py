"""What a question asks for, in the terms the extractive composer checks evidence against:
its own words versus words carried from earlier turns, its parts, the time it names, the
person whose words it asks about, and the kind of answer it expects."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rag.answer_types import AnswerType, asked_role, expected_type, has_type
from rag.conversation import split_context
from rag.events import Anchor, anchor_in, anchored
from rag.joint import JointEvent, joint_event
from rag.text import IRREGULAR_PAST, STOPWORDS, normalise, term_set, verb_forms, words
from rag.timeline import Span, Window, dates_in, question_window, untimed

_AUX = r"(?:what|how|where|when|who|whom|whose|why|which|did|does|do|is|was|were|has|had)"
_PART_SPLIT = re.compile(
    rf",?\s+(?:and|while|but)\s+(?={_AUX}\b)|\s+compared? (?:with|to)\s+|;\s*", re.I
)
# "what did X say", "how did X describe": X is one to three words, "the British side".
_WHO = r"((?:the )?[\w'’.-]+(?: (?!and\b)[\w'’.-]+){0,2}?)"
_SPEECH_QUESTION = re.compile(
    rf"\bwhat (?:did|does|do|had|has|have|would|will) {_WHO} "
    r"(?:say|said|tell|told|call|think|warn|announce|claim|write|reply|answer|promise|propose|"
    r"ask|urge|accuse|suggest|stress|emphasi[sz]e|reiterate|insist|note|highlight|underline|"
    r"express|pledge|vow|demand)\b"
    rf"|\bhow (?:did|does|do|had|has|would) {_WHO} "
    r"(?:describe|react|respond|reply|characteri[sz]e|call)\b",
    re.I,
)
# "what did Putin do": the answer is something Putin did.
_DEED_QUESTION = re.compile(
    rf"\bwhat (?:did|does|do|has|have|had|will|would) {_WHO} (?:do|done|doing)\b"
    rf"|\bwhat (?:was|is|were|are) {_WHO} doing\b",
    re.I,
)
# Words that may stand between a doer and the verb: "Putin also tasked", "Lavrov has said".
_BEFORE_VERB = frozenset(
    "also then has had have later again reportedly personally himself herself still first".split()
)
_WEEKDAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b", re.I)
_SPEECH_VERBS = frozenset(
    "said says say saying told tells call called calling calls described describing warned urged "
    "stressed noted added stated announced accused insisted according declared remarked asked "
    "replied explained commented argued suggested vowed promised confirmed denied expressed "
    "referred dismissed labelled labeled slammed praised reiterated emphasised emphasized "
    "underlined highlighted pledged demanded".split()
)
# "what did May say about Russia": the words after "about" are what the answer must address.
_ABOUT = re.compile(
    r"\babout (?P<topic>.+?)(?=\s+(?:in|when|during|at|on|before|after|earlier|later|"
    r"(?:the|a|last|next|this) (?:day|week|month|year)s?)\b|[?.]|$)",
    re.I,
)


# Questions about how something turned out ...
_OUTCOME = re.compile(
    r"\bhow did .+ (?:go|end|turn out)\b|\bwhat happened\b|\bwho won\b|\bwhat came (?:out )?of\b"
    r"|\bwhat (?:was|were) the (?:outcome|result)s?\b|\bdid .+ (?:succeed|fail)\b",
    re.I,
)


Dated = Callable[[Anchor], Span | None]  # an event → its date
_WHO_ASKED = re.compile(r"^\W*(?:who|whom)\b", re.I)
_WHO_DID = re.compile(
    r"^\W*(?:who|whom) (?:(?:did|does|do|had|has|will|would) [\w'’-]+ )?(?P<verb>[a-z]+)\b", re.I
)
# "when did they meet", not "when were they expected to meet" (a plan, then in the future)
_PAST = re.compile(
    r"\b(?:did|had|was|were)\b(?!(?:\s+[\w'’-]+){0,3}\s+(?:expected|scheduled|due|set|planned|"
    r"supposed|going|slated|to be)\b)",
    re.I,
)
_NO_DEED = frozenset("is was are were be been being become became".split())


# "What happened", "what took place", "what was the news": words that ask for anything.
_HAPPENING = frozenset(
    normalise(w)
    for w in "happen happened occur occurred take took place "
    "go went on news event events report reported".split()
)


@dataclass(frozen=True)
class Part:
    """One thing the question asks; a question with two asks needs evidence for each."""

    text: str
    window: Window | None = None


@dataclass
class Focus:
    own: str
    carried: str
    parts: list[Part]
    window: Window | None  # the time the question asks about: "in July 2016"
    speaker: frozenset[str]
    topic: frozenset[str]
    named_topic: frozenset[str]  # the topic when it is only names ("about China"), else empty
    deeds: bool  # asks what the speaker did ("what did Putin do"), not what they said
    days: frozenset[str]  # weekdays the question names: "on Monday"
    wanted: AnswerType | None
    outcome: bool  # asks how something turned out
    joint: JointEvent | None = None  # "when did Putin and May meet": meet, met; Putin, May
    people: frozenset[str] = frozenset()  # the articles' person names, for "who ...?"
    who: bool = False  # "who ...?": a surname or a role answers ("Putin", "the mayor")
    who_did: frozenset[str] = frozenset()  # "who greeted him?": greet, the verb the answer has
    only_time: bool = False  # "what happened on 13 May 2019?": nothing to match but the time
    past: bool = False  # "when did ...", "when was ...": asked about what has happened
    role: frozenset[str] = frozenset()  # "which minister ...?": the role the person holds
    # sentence → its signals; the reranker and the composer read the same sentences
    seen: dict[str, Signals] = field(default_factory=dict, repr=False, compare=False)


def _content(text: str, correct: Callable[[str], str | None]) -> frozenset[str]:
    return frozenset(normalise(correct(w) or w) for w in words(text) if w.lower() not in STOPWORDS)


def mentions(terms: frozenset[str], names: frozenset[str]) -> bool:
    """Any of the names among the terms, also as its adjective ("China": "Chinese")."""
    return any(
        name in terms or (len(name) >= 5 and any(t.startswith(name[:-1]) for t in terms))
        for name in names
    )


def _who_did(question: str) -> frozenset[str]:
    """The verb of "who greeted Pompeo?" or "who did Trump meet?": the person the answer names
    must be said to have done it, not merely be near the topic."""
    m = _WHO_DID.match(question)
    verb = m.group("verb").lower() if m else ""
    if not verb or verb in STOPWORDS or verb in _NO_DEED:
        return frozenset()
    return verb_forms(verb)


def surname_will_do(question: str) -> bool:
    """ "Who met him?" is answered by a surname alone ("Putin") or a role ("the mayor");
    "which spokesman?" wants the name beside its role ("his spokesman Dmitry Peskov")."""
    return expected_type(question) is AnswerType.PERSON and bool(_WHO_ASKED.match(question))


def _speaker(who: str, correct: Callable[[str], str | None]) -> frozenset[str]:
    """Whose words are asked for: a name ("Lavrov", "Yuri Ushakov"), or for a description
    ("the Kremlin aide") its head noun: reports name the aide in other words ("Russian
    presidential aide Yuri Ushakov said")."""
    found = words(who)
    if len(found) > 2 and found[0].lower() in ("the", "a", "an"):
        return _content(found[-1], correct)
    return _content(who, correct)


def _who(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group)


def speech(sentence: str, speaker: frozenset[str]) -> float:
    """For "what did X say": 1 if the sentence reports X's words (X within a few words of a
    speech verb: "Lavrov said", "said Lavrov", "according to Lavrov"), 0.5 if it reports
    someone's words, else 0. Always 0 when the question asks for no one's words."""
    if not speaker:
        return 0.0
    tokens = words(sentence)
    verbs = [i for i, token in enumerate(tokens) if token.lower() in _SPEECH_VERBS]
    for i in verbs:
        near = tokens[max(0, i - 3) : i] + tokens[i + 1 : i + 4]
        if any(normalise(w) in speaker for w in near):
            return 1.0
    return 0.5 if verbs else 0.0


def acts(sentence: str, doer: frozenset[str]) -> float:
    """For "what did X do": 1 if X is the subject of a verb in the sentence ("Putin also
    tasked", "Putin hosts"), else 0."""
    if not doer:
        return 0.0
    tokens = words(sentence)
    for i, token in enumerate(tokens[:-1]):
        if normalise(token) not in doer:
            continue
        following = [w for w in tokens[i + 1 : i + 4] if w.lower() not in _BEFORE_VERB]
        verb = following[0].lower() if following else ""
        if verb in IRREGULAR_PAST or (
            following and following[0].islower() and len(verb) > 3 and verb.endswith(("ed", "s"))
        ):
            return 1.0
    return 0.0


def fits_time(window: Window | None, published: str | None, text: str) -> bool:
    """Text fits the question's time if its article came out then or it names a time then."""
    return window is None or window.admits(published, dates_in(text, published))


def weekdays(text: str) -> frozenset[str]:
    return frozenset(day.lower() for day in _WEEKDAY.findall(text))


PARAPHRASE = 0.75  # cosine of all-MiniLM-L6-v2 at which a sentence restates the question


@dataclass(frozen=True)
class Signals:
    typed: bool  # holds the kind of answer asked for
    speech: float  # the asked person's words (`speech`) or deeds (`acts`)
    did: bool = True  # for "who greeted him?": says someone greeted (see `holds_answer`)

    def holds_answer(self, similarity: float) -> bool:
        """Holds the kind of answer asked for: for "who greeted him?", a person said to have
        greeted, or one in a sentence that restates the question in other words ("was
        welcomed by the mayor"; similarity to the question of `PARAPHRASE` or more)."""
        return self.typed and (self.did or similarity >= PARAPHRASE)


def signals(sentence: str, asked: Focus) -> Signals:
    if sentence in asked.seen:
        return asked.seen[sentence]
    typed = asked.wanted is not None and has_type(
        sentence, asked.wanted, asked.own, asked.people, roles=asked.who
    )
    did = not asked.who_did or bool(asked.who_did & term_set(sentence))
    person = acts if asked.deeds else speech
    found = asked.seen[sentence] = Signals(
        typed=typed, speech=person(sentence, asked.speaker), did=did
    )
    return found


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
    spelt: Callable[[frozenset[str]], frozenset[str]] = lambda names: names,
    people: Callable[[], frozenset[str]] = frozenset,
) -> Focus:
    """Read a (possibly condensed) question; `correct` maps misspelt names to corpus words,
    `dated` gives the date of an event the question's time hangs on ("before the summit"),
    `spelt` adds the other spellings of names ("May": "Mei"), `people` gives the articles'
    person names (read only for a question about a person)."""
    own, carried = split_context(question)
    window = _window(own, dated)
    texts = [t.strip() for t in _PART_SPLIT.split(own) if t and len(words(t)) >= 2]
    parts = [Part(t, _window(t, dated)) for t in texts] or [Part(own, window)]
    deed = _DEED_QUESTION.search(own)
    speech = _SPEECH_QUESTION.search(own)
    person = speech or deed
    about = _ABOUT.search(own) if speech else None
    topic = _content(about.group("topic"), correct) if about else frozenset()
    names = [w for w in words(about.group("topic")) if w[0].isupper()] if about else []
    named = _content(" ".join(names), correct)
    wanted = expected_type(own)
    if len(parts) == 1 and window and len(window.spans) > 1:  # "in 2016 and in 2019"
        parts = [Part(own, replace(window, spans=(span,))) for span in window.spans]
    return Focus(
        own=own,
        carried=carried,
        parts=parts,
        window=window,
        speaker=spelt(_speaker(_who(person), correct)) if person else frozenset(),
        topic=topic,
        named_topic=named if named == topic else frozenset(),
        deeds=bool(deed) and not speech,
        days=weekdays(own),
        wanted=wanted,
        outcome=bool(_OUTCOME.search(own)),
        joint=joint_event(own, correct),
        people=people() if surname_will_do(own) else frozenset(),
        who=surname_will_do(own),
        who_did=_who_did(own),
        only_time=window is not None and not (_content(untimed(own), correct) - _HAPPENING),
        past=bool(_PAST.search(own)),
        role=asked_role(own) if wanted is AnswerType.PERSON else frozenset(),
    )
