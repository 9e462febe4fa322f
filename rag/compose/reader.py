"""The offline reader: answers with the retrieved sentences its learned models rate likeliest
to answer, or abstains (how it was fitted: `docs/reader.md`, `train/`).

For each part of the question, the sentence model shares the chance of answering among the
candidate sentences (`features`), and the answerability model reads the best of them: below
the answer threshold chosen on validation data the reader says the articles don't say, or,
when what the question names is reported only at other times, that the articles have
nothing from the asked time. The answer is the best sentence and those nearly as likely,
cut to the clauses that tell; one asking for a name, place, date or number opens with that
span ("Anna Berg and Tom Hale: ...") when the token model is sure enough of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.compose.base import (
    ABSTENTION,
    Composition,
    make_citation,
    time_scoped_abstention,
)
from rag.compose.cross import CrossEncoder, seconds, shared
from rag.compose.features import (
    FEATURES,
    Asked,
    Candidate,
    features,
    gather,
    leans_back,
    neighbours,
    question_features,
    quotes_on,
)
from rag.compose.model import ReaderModel, load
from rag.compose.tokens import Lead, best_lead, other_units, shaped
from rag.nlp.asked import SPAN_KINDS, Kind, asking_words, focus_words, kind_of, unit_of
from rag.nlp.embeddings import Embedder
from rag.nlp.events import anchor_in
from rag.nlp.text import STOPWORDS, normalise, terms, words
from rag.nlp.timeline import Window, dated_in, dates_in, stated_when, untimed, with_dates
from rag.retrieve.hybrid import Retrieval, query_terms
from rag.retrieve.question import Part

STOP_TERMS = frozenset(normalise(w) for w in STOPWORDS)
MAX_SENTENCES = 3  # of the whole answer
CROSS = FEATURES.index("cross")
CARRIED_WEIGHT = 0.4  # words carried from earlier turns count less than the question's own
_CLAUSE_END = re.compile(r"[,;:]\s+|\s+[—–-]\s+")


@dataclass(frozen=True)
class Said:
    """A sentence chosen for the answer, with its lead and the words the answer gives of it."""

    candidate: Candidate
    reading: Reading
    lead: Lead | None
    text: str
    words: int


@dataclass
class Reading:
    """One part of a question as the reader saw it: its candidates, scored, best first."""

    asked: Asked
    candidates: list[Candidate]
    rows: np.ndarray  # the features of each candidate, in the order of `candidates`


class Reader:
    """The offline composer: a learned sentence scorer, one calibrated threshold."""

    mode = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        model: ReaderModel | None = None,
        cross: CrossEncoder | None = None,
    ) -> None:
        self.embedder = embedder
        self.model = model or load()
        self._cross = cross

    # -- reading ---------------------------------------------------------------------------
    def asked(self, retrieval: Retrieval, part: Part, vector: np.ndarray) -> Asked:
        analysis = retrieval.analysis
        lexical = retrieval.lexical
        own = set(query_terms(part.text, lexical))
        single = len(analysis.focus.parts) == 1
        asked = analysis.terms if single else query_terms(part.searched, lexical)
        # "how *long*", and the words of the time asked about ("in July 2016", "before the
        # Hangzhou summit"): the window weighs the time; none is a topic to cover
        asking = {normalise(w) for w in asking_words(part.text)}
        if part.window is not None:
            asking |= set(terms(part.text)) - set(terms(untimed(part.text)))
            anchor = anchor_in(part.text)
            asking |= set(anchor.terms) if anchor is not None else set()
        weights = {
            t: lexical.idf(t) * (1.0 if t in own else CARRIED_WEIGHT)
            for t in dict.fromkeys(asked)
            if t not in asking
        }
        names = frozenset(
            t
            for w in analysis.entities
            if w in part.text or len(analysis.focus.parts) == 1
            for t in query_terms(w, lexical)
        )
        kind = kind_of(part.text)
        return Asked(
            text=part.text,
            vector=vector,
            terms=frozenset(weights),
            weights=weights,
            kind=kind,
            window=part.window,
            names=names & frozenset(weights),
            focus=frozenset(normalise(w) for w in focus_words(part.text)) - STOP_TERMS,
            unit=unit_of(part.text, kind),
        )

    def read(self, retrieval: Retrieval) -> list[Reading]:
        """Each part of the question with its candidate sentences, scored, best first."""
        focus = retrieval.analysis.focus
        parts = focus.parts if len(focus.parts) > 1 else [Part(focus.own, focus.window)]
        # a follow-up's own words, not the context carried into it, say what it asks (the
        # retrieval embedded them already: the cache has them)
        vectors = (
            self.embedder.embed([p.searched for p in parts])
            if len(parts) > 1 or focus.carried
            else [retrieval.query_vector]
        )
        pool = gather(retrieval.passages, retrieval.lexical, self.embedder.embed)
        readings = []
        for part, vector in zip(parts, vectors, strict=True):
            candidates = [Candidate(c.sentence, c.passage, c.rank, c.vector, c.terms) for c in pool]
            reading = Reading(self.asked(retrieval, part, vector), candidates, np.zeros((0, 0)))
            readings.append(self.score(reading))
        return readings

    def score(self, reading: Reading) -> Reading:
        """The reading with its candidates' features and chances, best first: the first-stage
        model shortlists, the cross-encoder reads the shortlist, the sentence model ranks it."""
        candidates = reading.candidates
        rows = features(candidates, reading.asked, self.model.token_weights)
        shortlist = self.model.shortlist(rows)
        if self.model.cross_top and len(shortlist):
            self._cross = self._cross or shared()
            rows[shortlist, CROSS] = self._cross.logits(
                reading.asked.text, seconds(candidates, shortlist)
            )
        order, chances = self.model.ranked(rows, shortlist)
        for c, chance in zip(candidates, chances, strict=True):
            c.score = float(chance)
        reading.candidates = [candidates[i] for i in order]
        reading.rows = rows[order] if len(order) else rows
        return reading

    # -- composing -------------------------------------------------------------------------
    def compose(self, retrieval: Retrieval) -> Composition:
        if retrieval.analysis.unknown_entities or not retrieval.passages:
            return ABSTENTION
        return self.answer(retrieval, self.read(retrieval))

    def answer(self, retrieval: Retrieval, readings: list[Reading]) -> Composition:
        """The answer from the readings of the question's parts (scored by `read`)."""
        if retrieval.analysis.unknown_entities or not retrieval.passages:
            return ABSTENTION
        threshold = self.model.answer_threshold
        only_time = retrieval.analysis.focus.only_time
        answered: list[tuple[list[Candidate], Reading]] = []
        elsewhere: Candidate | None = None
        for reading in readings:
            window = reading.asked.window
            fitting, row = self.fitting(reading)
            if only_time and window is not None:
                # "what happened on 13 May 2019?": what the articles of then report, and what
                # others date then; not the background they date before it ("In July 2016")
                fitting = sorted(
                    (c for c in fitting if _dated(c, window) or not _background(c, window)),
                    key=lambda c: (-_published_in(c, window), -_dated(c, window), -c.score),
                )
            elif window is not None and (other := _named_elsewhere(reading, fitting)):
                # what the question names is reported, but not from the asked time
                elsewhere = elsewhere or other
                continue
            elif self.model.answerability(row) < threshold:
                if window is not None and reading.candidates:
                    everywhere = question_features(reading.candidates, reading.rows, reading.asked)
                    best = reading.candidates[0]
                    if self.model.answerability(everywhere) >= threshold and _names_all(
                        reading, best
                    ):
                        elsewhere = elsewhere or best
                continue
            if fitting:
                answered.append((fitting, reading))
        if not answered:
            window = retrieval.analysis.focus.window
            if elsewhere is not None and window is not None:
                return time_scoped_abstention(window, elsewhere.passage)
            return ABSTENTION
        said = self._chosen(answered)
        window = retrieval.analysis.focus.window
        if window is not None and window.precise:
            said = self._corroborated(said, answered, window)
        return self._written(said, window)

    def fitting(self, reading: Reading) -> tuple[list[Candidate], np.ndarray]:
        """The candidates of the asked time (all when none is asked), best first, and the
        answerability features of the question over them."""
        window = reading.asked.window
        keep = [i for i, c in enumerate(reading.candidates) if _fits(c, window)]
        fitting = [reading.candidates[i] for i in keep]
        return fitting, question_features(fitting, reading.rows[keep], reading.asked)

    def _chosen(self, answered: list[tuple[list[Candidate], Reading]]) -> list[Said]:
        """Each part's best sentence, then the others close to their part's best (at least
        `second_ratio` of its chance), likeliest first, while the answer stays within
        `max_words` and no sentence restates one already chosen."""
        said = [self._said(fitting[0], reading) for fitting, reading in answered]
        said = list({id(s.candidate.sentence): s for s in said}.values())
        used = sum(s.words for s in said)
        others = [
            (c, reading)
            for fitting, reading in answered
            for c in fitting[1:MAX_SENTENCES]
            if c.score > 0 and c.score >= self.model.second_ratio * fitting[0].score
        ]
        for c, reading in sorted(others, key=lambda o: -o[0].score):
            if len(said) >= MAX_SENTENCES:
                break
            if any(float(c.vector @ s.candidate.vector) > 0.9 for s in said):
                continue
            extra = self._said(c, reading)
            if used + extra.words <= self.model.max_words:
                said.append(extra)
                used += extra.words
        return self._joined(said, used)

    def _joined(self, said: list[Said], used: int) -> list[Said]:
        """The chosen sentences with those they lean on: the one before a sentence that opens
        with "He ..." or ends "..., he said", and the quotation that follows a sentence
        introducing it ("... in remarks on Saturday." "“...,” he said."); each article's
        sentences in its own order."""
        out: list[Said] = []
        chosen = {id(s.candidate.sentence) for s in said}
        for s in said:
            candidates = s.reading.candidates
            around = dict(zip(map(id, candidates), neighbours(candidates), strict=True))
            before, after = around.get(id(s.candidate), (None, None))
            group = [s]
            if before is not None and leans_back(s.candidate.text):
                group.insert(0, self._said(before, s.reading))
            if after is not None and quotes_on(after.text):
                group.append(self._said(after, s.reading))
            for extra in group:
                key = id(extra.candidate.sentence)
                if extra is s or (key not in chosen and used + extra.words <= self.model.max_words):
                    if extra is not s:
                        chosen.add(key)
                        used += extra.words
                    out.append(extra)
        # each article's sentences together and in its order, the articles as they came
        first: dict[str, int] = {}
        for i, s in enumerate(out):
            first.setdefault(s.candidate.passage.doc_id, i)
        return sorted(out, key=lambda s: (first[s.candidate.passage.doc_id], s.candidate.offset))

    def _corroborated(
        self, said: list[Said], answered: list[tuple[list[Candidate], Reading]], window: Window
    ) -> list[Said]:
        """For a question about a short time ("in July 2016"), the likeliest sentence of
        another article that itself dates what it says to that time ("Last month, ..."): a
        second source, if the answer has room for it."""
        cited = {s.candidate.passage.doc_id for s in said}
        used = sum(s.words for s in said)
        fitting, reading = answered[0]
        for c in fitting:
            if c.passage.doc_id in cited or not _dated(c, window) or leans_back(c.text):
                continue
            if any(float(c.vector @ s.candidate.vector) > 0.9 for s in said):
                continue
            extra = self._said(c, reading)
            return [*said, extra] if used + extra.words <= self.model.max_words else said
        return said

    def _said(self, c: Candidate, reading: Reading) -> Said:
        """A sentence as the answer says it: cut to its clauses around its likeliest span (or
        those with most of the question's words), opened by that span when it is likely
        enough."""
        found = self.span(c, reading)
        keep = (found[0].start, found[0].end) if found is not None else None
        text = _cut(c.text, keep, reading.asked.terms, self.model.clause_words)
        lead = found[0] if found is not None and found[1] >= self.model.lead_floor else None
        return Said(
            c, reading, lead, text, len(words(text)) + (len(words(lead.text)) if lead else 0)
        )

    def _written(self, said: list[Said], window: Window | None) -> Composition:
        citations = []
        pieces = []
        for n, s in enumerate(said, start=1):
            c = s.candidate
            citations.append(make_citation(n, c.passage, c.sentence))
            text = s.text
            if window is not None or s.reading.asked.kind is Kind.DATE:
                text = with_dates(text, c.passage.published)
            lead = s.lead
            opening = (
                f"{_with_its_date(lead.text, text)}: "
                if lead is not None and not text.startswith(lead.text)
                else ""
            )
            pieces.append(f"{opening}{text} [{n}]")
        answer = " ".join(pieces)
        if window is not None:
            answer = stated_when(window, [(c.published, c.quote) for c in citations]) + answer
        return Composition(answer, citations)

    def span(self, c: Candidate, reading: Reading) -> tuple[Lead, float] | None:
        """For a question for a name, place, date or number, the likeliest span of the
        sentence that answers it (not the question's words, nor an amount of another unit
        than the asked one), with the chance that it is the answer: the sentence's chance
        times the mean chance of the span's tokens."""
        if reading.asked.kind not in SPAN_KINDS or c.chances is None:
            return None
        chances = np.array(c.chances, copy=True)
        for i, token in enumerate(shaped(c.text).tokens):
            if token.term in reading.asked.terms:
                chances[i] = 0.0
        chances[other_units(c.text, reading.asked.unit)] = 0.0
        lead = best_lead(c.text, chances)
        return (lead, lead.score * c.score) if lead is not None else None


def _with_its_date(lead: str, text: str) -> str:
    """The lead with the date the answer's text gives it: "Wednesday [1 April 1987]"."""
    found = re.search(re.escape(lead) + r" \[[^\]]+\]", text)
    return found.group() if found else lead


def _fits(c: Candidate, window: Window | None) -> bool:
    """The sentence, or its article, is of the asked year(s)."""
    if window is None:
        return True
    return window.years().admits(c.passage.published, dates_in(c.text, c.passage.published))


def _dated(c: Candidate, window: Window | None) -> bool:
    return window is not None and dated_in(window, c.text, c.passage.published)


def _named_elsewhere(reading: Reading, fitting: list[Candidate]) -> Candidate | None:
    """The best candidate whose passage names all that the question names, when no
    candidate of the asked time names any of it ("What did Pompeo say in 2016?": the 2016
    articles never mention him, the 2019 ones do)."""
    names = reading.asked.names
    if not names or any(names & c.terms for c in fitting):
        return None
    return next((c for c in reading.candidates if _names_all(reading, c)), None)


def _names_all(reading: Reading, c: Candidate) -> bool:
    """The candidate's passage names everything the question names: coverage of what was
    asked, only from another time."""
    named = frozenset().union(*(o.terms for o in reading.candidates if o.passage is c.passage))
    return reading.asked.names <= named


def _background(c: Candidate, window: Window) -> bool:
    """The sentence dates itself to a month or day before the window opens."""
    return window.before(dates_in(c.text, c.passage.published))


def _published_in(c: Candidate, window: Window | None) -> bool:
    return window is not None and window.admits(c.passage.published, ())


def _cut(sentence: str, keep: tuple[int, int] | None, asked: frozenset[str], limit: int) -> str:
    """The sentence, or for one longer than `limit` words (0: none is cut) the run of its
    clauses around `keep` (the answer's span) or around the clause with most of the
    question's words, marked with "…"."""
    if not limit or len(words(sentence)) <= limit:
        return sentence
    bounds = [0] + [m.end() for m in _CLAUSE_END.finditer(sentence)] + [len(sentence)]
    clauses = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    if len(clauses) < 2:
        return sentence
    if keep is not None:
        centre = next(i for i, (a, b) in enumerate(clauses) if a <= keep[0] < b)
    else:
        tokens = shaped(sentence).tokens
        centre = max(
            range(len(clauses)),
            key=lambda i: sum(
                t.term in asked for t in tokens if clauses[i][0] <= t.start < clauses[i][1]
            ),
        )
    low = high = centre
    count = lambda a, b: len(words(sentence[clauses[a][0] : clauses[b][1]]))  # noqa: E731
    while True:
        grown = False
        if low > 0 and count(low - 1, high) <= limit:
            low -= 1
            grown = True
        if high + 1 < len(clauses) and count(low, high + 1) <= limit:
            high += 1
            grown = True
        if not grown:
            break
    text = sentence[clauses[low][0] : clauses[high][1]].strip().rstrip(",;:—–-").strip()
    return ("… " if low > 0 else "") + text + (" …" if high + 1 < len(clauses) else "")
