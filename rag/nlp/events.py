"""Events named in questions ("before the Hangzhou summit"), dated from the articles.

A question may anchor its time on an event rather than a date. The event is dated by the
sentences that name it: each sentence holding every word of the event gives the dates it
mentions (relative ones resolved against its article's publication date, as at ingest). The
date most of them agree on is the event's; a sentence that dates the event's head word ("the
G20 summit on 4 September") inside that date makes it precise. When the articles date the
event nowhere, or disagree, the question gets no window rather than a guessed one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

from rag.nlp.text import STOPWORDS, sentence_spans, terms, words
from rag.nlp.timeline import Span, Window, dates_in
from rag.types import ChunkRecord

# "before the Hangzhou summit", "after the G20 summit in Osaka", "during the Arctic forum"
_ANCHOR = re.compile(
    r"\b(?P<relation>before|after|since|until|ahead of|prior to|following|during|at the time of)"
    r"\s+the\s+(?P<event>[^?!.,;:()\"“”]+)",
    re.I,
)
_INSIDE = frozenset({"in", "of"})  # words an event's name may hold: "summit in Osaka"
_LONGEST = 6  # words of an event's name


@dataclass(frozen=True)
class Anchor:
    """An event a question's time hangs on, and how: before, after or during it."""

    relation: str  # "before", "after" or "during"
    event: str  # as the question words it: "Hangzhou summit"
    terms: tuple[str, ...]  # its normalised words
    head: str  # the word it is an instance of: "summit" in "G20 summit in Osaka"


def anchor_in(question: str) -> Anchor | None:
    """The event a question anchors its time on, if it names one."""
    for m in _ANCHOR.finditer(question):
        name: list[str] = []
        for word in words(m.group("event"))[:_LONGEST]:
            if word.lower() in STOPWORDS and word.lower() not in _INSIDE:
                break
            name.append(word)
        while name and name[-1].lower() in _INSIDE:
            name.pop()
        event_terms = tuple(terms(" ".join(name)))
        named = next((i for i, w in enumerate(name) if w.lower() in _INSIDE), len(name))
        head = terms(" ".join(name[:named]))
        if event_terms and head:
            relation = m.group("relation").lower()
            side = (
                "before"
                if relation in {"before", "until", "ahead of", "prior to"}
                else "after"
                if relation in {"after", "since", "following"}
                else "during"
            )
            return Anchor(side, " ".join(name), event_terms, head[-1])
    return None


def anchored(anchor: Anchor, when: Span) -> Window:
    """The window an anchored question asks about. Never `certain`: it is read from the
    articles, so it narrows the evidence only when something fits."""
    if anchor.relation == "before":
        span = Span(dt.date.min, when.start - dt.timedelta(days=1), "range")
    elif anchor.relation == "after":
        span = Span(when.end + dt.timedelta(days=1), dt.date.max, "range")
    else:
        span = when
    return Window((span,), certain=False)


class EventDates:
    """Dates events from the sentences of the indexed chunks."""

    def __init__(self, records: Iterable[ChunkRecord]) -> None:
        self._records = list(records)

    @cached_property
    def _sentences(self) -> list[tuple[frozenset[str], str, str | None]]:
        seen: dict[tuple[str, str | None], frozenset[str]] = {}
        for record in self._records:
            published = record.metadata.get("published") or None
            for start, end in sentence_spans(record.text):
                text = record.text[start:end]
                if (text, published) not in seen:
                    seen[(text, published)] = frozenset(terms(text))
        return [(found, text, published) for (text, published), found in seen.items()]

    def _dates(self, needed: frozenset[str]) -> list[Span]:
        """The dates the sentences holding all `needed` words mention (vaguer than a year
        left out)."""
        return [
            span
            for found, text, published in self._sentences
            if needed <= found
            for span in dates_in(text, published)
            if span.grain != "range" and span.end - span.start < dt.timedelta(days=366)
        ]

    @lru_cache(maxsize=256)  # noqa: B019 - one instance per index version; bounded
    def when(self, anchor: Anchor) -> Span | None:
        """The event's date, or None when the articles don't date it or disagree."""
        agreed = _consensus(self._dates(frozenset(anchor.terms)))
        if agreed is None:
            return None
        head = self._dates(frozenset([anchor.head]))
        inside = [s for s in head if agreed.start <= s.start and s.end <= agreed.end]
        narrower = [s for s in inside if s.end - s.start < agreed.end - agreed.start]
        return _consensus(narrower) or agreed


def _consensus(spans: list[Span]) -> Span | None:
    """The narrowest span that more than half of `spans` overlap, if there is one."""
    if not spans:
        return None
    best = max(
        sorted(set(spans)), key=lambda s: (sum(s.overlaps(o) for o in spans), s.start - s.end)
    )
    return best if 2 * sum(best.overlaps(o) for o in spans) > len(spans) else None
