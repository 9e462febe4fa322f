"""A candidate sentence of an extractive answer, and what it tells: whether it fits the asked
time (itself or through the sentence it continues), whether it is the asked person's, role's
or event's, and the clauses of it that tell the event's time and place."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from rag.answer import Sentence
from rag.answer_types import AnswerType, has_type
from rag.joint import telling_clauses
from rag.lexical import LexicalIndex
from rag.question import Focus, acts, fits_time, speech, weekdays
from rag.retrieve import sentence_terms
from rag.text import sentence_spans, term_set, words
from rag.timeline import Window, dates_in, parse_published
from rag.types import Passage

# A sentence opening with one of these continues the one before it.
CONTINUES = re.compile(
    r"^\W*(?:he|she|they|it|his|her|their|this|that|these|those|then|there)\b"
    r"|^\W*[“\"][^”\"]+[”\"]\W*(?:\w+\W+){0,2}(?:said|says|told|added|stressed|noted)\b",
    re.I,
)  # or a quotation attributed after the fact: "“... remains real,” said the head of ..."


PERSONAL_PRONOUN = re.compile(r"^\W*(?:he|she)\b", re.I)
# "“I am here today ...,” he said.": who he is, the sentence before says
QUOTED_PRONOUN = re.compile(r"[”\"]\W*(?:he|she)\s+(?:said|says|added|told|stressed)\b", re.I)


def leans_back(c: Candidate) -> bool:
    """The sentence needs the one before it to say who speaks ("He also said ...", "“...,”
    he said.")."""
    return bool(PERSONAL_PRONOUN.match(c.sentence.text) or QUOTED_PRONOUN.search(c.sentence.text))


def subject_of(sentence: str, speaker: frozenset[str]) -> bool:
    """The asked speaker is the one who speaks or acts in the sentence."""
    return speech(sentence, speaker) == 1.0 or acts(sentence, speaker) == 1.0


def previous_sentence(text: str, start: int) -> str:
    """The sentence of `text` that ends right before offset `start` ("" if none)."""
    before = sentence_spans(text[:start])
    return text[before[-1][0] : before[-1][1]] if before else ""


@dataclass(eq=False)
class Candidate:
    sentence: Sentence
    passage: Passage
    vector: np.ndarray
    terms: frozenset[str]
    semantic: float
    related: float
    typed: bool
    spoke: float  # 1: the asked speaker's words, 0.5: someone's words
    score: float = 0.0

    @property
    def n_words(self) -> int:
        return len(words(self.sentence.text))

    @property
    def span(self) -> tuple[int, int]:
        """Where the sentence is in its article's cleaned text."""
        return self.passage.start + self.sentence.start, self.passage.start + self.sentence.end


def neighbour(c: Candidate, pool: list[Candidate], before: bool) -> Candidate | None:
    """The candidate sentence right before (or after) `c` in its article, also when the two
    are in different chunks (chunks overlap by whole sentences, not always by this one)."""
    start, end = c.span
    same = [o for o in pool if o.passage.doc_id == c.passage.doc_id and o is not c]
    if before:
        side = [o for o in same if o.span[1] <= start]
        nearest = max(side, key=lambda o: o.span[1], default=None)
    else:
        side = [o for o in same if o.span[0] >= end]
        nearest = min(side, key=lambda o: o.span[0], default=None)
    if nearest is None:
        return None
    first, second = (nearest, c) if before else (c, nearest)
    if second.passage.start <= first.span[1]:  # the later one's chunk holds the gap
        offset = second.passage.start
        gap = second.passage.text[first.span[1] - offset : second.span[0] - offset]
        return None if gap.strip() else nearest
    return nearest if second.span[0] - first.span[1] <= 4 else None  # a paragraph break


def narrowed(fitting: list[Candidate], asked: Focus) -> list[Candidate]:
    """ "in August 2016", "on Monday": the sentences of that time or day. A window given as a
    date leaves nothing when nothing fits it; a vaguer one ("last summer") and a weekday only
    narrow when something fits (and, in `_chosen`, when what fits answers)."""
    window = asked.window
    pool = [c for c in fitting if fits(c, window)]
    if not pool and window is not None and not window.certain:
        pool = fitting
    if asked.days:
        pool = [c for c in pool if asked.days & weekdays(c.sentence.text)] or pool
    return pool


def fits(candidate: Candidate, window: Window | None) -> bool:
    """A sentence fits the question's time if its article was published then or it names a
    time then (an article without a date: if any of the passage does). One that names no
    time and continues the sentence before it (“…,” Pompeo said.) has that sentence's time."""
    published = candidate.passage.published
    if fits_time(window, published, candidate.sentence.text) or (
        published is None and fits_time(window, None, candidate.passage.text)
    ):
        return True
    return dated_by_previous(candidate, window)


def in_role(asked: Focus, passage: Passage, sentence: Sentence) -> bool:
    """For "which minister ...?", the sentence or the one before it names the role ("Experts
    said ... ." then "... said Andrei Kurtunov"): a name near no such role is someone else."""
    if not asked.role:
        return True
    text = sentence.text + " " + previous_sentence(passage.text, sentence.start)
    return bool(asked.role & term_set(text))


def only_later(asked: Focus, text: str, published: str | None) -> bool:
    """Asked when something happened, the sentence's only dates come after its article was
    written ("not interfere in the US 2020 election" in 2019): they are no answer."""
    day = parse_published(published)
    if asked.wanted is not AnswerType.DATE or not asked.past or day is None:
        return False
    spans = dates_in(text, published)
    return bool(spans) and all(span.start > day for span in spans)


def timely(candidate: Candidate, window: Window | None) -> bool:
    """A neighbour may join an answer about a time unless it dates itself to before it ("In
    July 2016, ..." does not follow a sentence about September 2016)."""
    spans = dates_in(candidate.sentence.text, candidate.passage.published)
    return window is None or not window.before(spans)


def dated_by_previous(candidate: Candidate, window: Window | None) -> bool:
    """The sentence names no time, continues the one before it, and that one fits."""
    text, published = candidate.sentence.text, candidate.passage.published
    if window is None or not CONTINUES.match(text) or dates_in(text, published):
        return False
    before = previous_sentence(candidate.passage.text, candidate.sentence.start)
    return bool(before) and fits_time(window, published, before)


SETTINGS = (AnswerType.DATE, AnswerType.PLACE)


def claim(quote: str) -> str:
    """A quote as the answer says it: a part of a sentence ends with an ellipsis."""
    return (
        quote if quote.rstrip().endswith((".", "!", "?", '"', "”", "’", "'", ")")) else quote + " …"
    )


def missing_settings(chosen: list[Candidate], asked: Focus) -> set[AnswerType]:
    """For "when/where did X and Y meet": the time or place the answer does not give yet."""
    text = " ".join(c.sentence.text for c in chosen)
    return {kind for kind in SETTINGS if not has_type(text, kind, asked.own)}


def event_clauses(
    c: Candidate, asked: Focus, missing: set[AnswerType], lexical: LexicalIndex
) -> Candidate | None:
    """The fewest clauses of an account of the asked event that name the event, a party and
    what the answer lacks: "At the meeting with ... Teresa may, held on the sidelines of the
    G20 summit in the Chinese Hangzhou" out of a 46-word sentence. None if that is all."""
    joint = asked.joint
    if joint is None:
        return None

    def tells(part: str) -> bool:
        found = sentence_terms(part, c.passage.doc_id, lexical, joint)
        return (
            bool(joint.verbs & found)
            and bool(joint.parties & found)
            and any(has_type(part, kind, asked.own) for kind in missing)
        )

    span = telling_clauses(c.sentence.text, tells)
    if span is None:
        return None
    start, end = span
    part = Sentence(
        c.sentence.passage,
        c.sentence.start + start,
        c.sentence.start + end,
        c.sentence.text[start:end],
    )
    return replace(c, sentence=part)


def event_happened(c: Candidate, asked: Focus) -> bool:
    """The sentence tells of the asked joint event as it happened."""
    return asked.joint is not None and asked.joint.happened_in(c.sentence.text, c.terms)


def tells_event(c: Candidate, asked: Focus) -> bool:
    """The sentence tells of the asked joint event (its verb and both parties)."""
    return asked.joint is not None and asked.joint.told_in(c.terms)
