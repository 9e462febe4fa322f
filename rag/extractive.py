"""The offline composer: answers with the few retrieved sentences that answer the question.

Each sentence is scored by meaning (embedding similarity to the question) and by how much of
the question's distinctive wording it contains, where a word is distinctive when few of the
candidate sentences share it ("Putin" in a question about Putin tells sentences apart less
than "business"). The answer must contain the kind of thing asked for ("how long" → a
duration), must fit the time the question names, and must speak to every part of a
two-part question; when the evidence cannot meet that, the composer abstains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from rag.answer import (
    ABSTENTION,
    Composition,
    make_citation,
    passage_sentences,
    time_scoped_abstention,
)
from rag.answer_types import REQUIRED, AnswerType, expected_type, has_type
from rag.candidate import (
    CONTINUES,
    PERSONAL_PRONOUN,
    QUOTED_PRONOUN,
    SETTINGS,
    Candidate,
    claim,
    dated_by_previous,
    event_clauses,
    event_happened,
    fits,
    in_role,
    leans_back,
    missing_settings,
    narrowed,
    neighbour,
    only_later,
    previous_sentence,
    subject_of,
    tells_event,
    timely,
)
from rag.embeddings import Embedder
from rag.joint import agreed_to
from rag.lexical import LexicalIndex
from rag.question import (
    Focus,
    Part,
    fits_time,
    mentions,
    signals,
    surname_will_do,
)
from rag.retrieve import Retrieval, analyse, sentence_terms
from rag.text import normalise, terms, words
from rag.timeline import (
    FUTURE,
    Window,
    dated_in,
    stated_when,
    untimed,
    with_dates,
)

_BOTH = re.compile(r"\bboth\b|\bin each\b", re.I)  # "shows up in both the 2016 and 2019 ..."
CARRIED_WEIGHT = 0.4  # words carried from earlier turns count less than the question's own
TOPIC_WEIGHT = 2.0  # "what did May say about Russia": "Russia" is what the answer must address


class ExtractiveComposer:
    """Offline composer: sentence scoring, type and year checks, coverage of every part."""

    mode = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 3,
        max_words: int = 60,
        min_score: float = 0.35,
        min_similarity: float = 0.2,
        keep_ratio: float = 0.9,
        gain_ratio: float = 0.8,
        adjacent_ratio: float = 0.6,
        corroboration_ratio: float = 0.8,
        corroboration_room: float = 1.25,
        type_floor: float = 0.65,
        type_meaning_floor: float = 0.55,
        speaker_floor: float = 0.55,
        joint_meaning_floor: float = 0.6,
        semantic_weight: float = 0.5,
        type_bonus: float = 0.15,
        speaker_bonus: float = 0.1,
        date_bonus: float = 0.15,
    ) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_words = max_words
        self.min_score = min_score
        self.min_similarity = min_similarity
        self.keep_ratio = keep_ratio
        self.gain_ratio = gain_ratio
        self.adjacent_ratio = adjacent_ratio
        self.corroboration_ratio = corroboration_ratio  # of the first sentence's meaning score
        self.corroboration_room = corroboration_room  # times max_words, for a second source
        self.type_floor = type_floor
        self.type_meaning_floor = type_meaning_floor
        self.speaker_floor = speaker_floor
        # another account of the asked joint event: its verb and parties vetted it, so a bar
        # on meaning alone (its wording shares less with the question than the first's)
        self.joint_meaning_floor = joint_meaning_floor
        self.semantic_weight = semantic_weight
        self.type_bonus = type_bonus
        self.speaker_bonus = speaker_bonus
        self.date_bonus = date_bonus  # a sentence that names a time in a window under a year

    # -- scoring ---------------------------------------------------------------------------
    def _term_weights(
        self,
        retrieval: Retrieval,
        own: list[str],
        topic: frozenset[str],
        candidates: list[Candidate],
        lexical: LexicalIndex,
    ) -> dict[str, float]:
        """Question terms weighted by corpus IDF times how few candidate sentences share them;
        terms no candidate contains are left out (nothing can cover them)."""
        n = len(candidates)
        weights: dict[str, float] = {}
        question = retrieval.analysis.question
        # "in September 2016": the window weighs the time; its words are no topic to cover
        timed = (
            set(terms(question)) - set(terms(untimed(question)))
            if retrieval.analysis.focus.window
            else set()
        )
        for term in dict.fromkeys(retrieval.analysis.terms):
            if term in timed:
                continue
            df = sum(term in c.terms for c in candidates)
            if df == 0:
                continue
            local = math.log((n + 1) / (df + 0.5))
            role = 1.0 if term in own else CARRIED_WEIGHT
            role *= TOPIC_WEIGHT if term in topic else 1.0
            weights[term] = lexical.idf(term) * local * role
        return weights

    @staticmethod
    def _coverage(candidate_terms: frozenset[str], weights: dict[str, float]) -> float:
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in candidate_terms) / total if total else 0.0

    def candidates(
        self, retrieval: Retrieval, lexical: LexicalIndex, asked: Focus
    ) -> list[Candidate]:
        """Every sentence of the retrieved passages, scored, best first."""
        sentences = [
            s
            for s in passage_sentences(retrieval.passages, skip_titles=True)
            if len(words(s.text)) >= 4
        ]
        if not sentences:
            return []
        vectors = self.embedder.embed([s.text for s in sentences])
        question_vector = (
            self.embedder.embed([asked.own])[0] if asked.carried else retrieval.query_vector
        )
        semantic = vectors @ question_vector
        related = vectors @ retrieval.query_vector  # the whole question, context included
        found = []
        rows = zip(sentences, vectors, semantic, related, strict=True)
        asked_names = frozenset(normalise(e) for e in retrieval.analysis.entities)
        for sentence, vector, similarity, relatedness in rows:
            text = sentence.text
            passage = retrieval.passages[sentence.passage]
            signal = signals(text, asked)
            spoke = signal.speech
            found_terms = sentence_terms(text, passage.doc_id, lexical, asked.joint)
            if PERSONAL_PRONOUN.match(text):
                # "He also said ...": he is who spoke or acted in the sentence before, not
                # anyone it names ("... after talks with Lavrov, Pompeo sent warnings")
                before = previous_sentence(passage.text, sentence.start)
                if spoke == 0.5 and subject_of(before, asked.speaker):
                    spoke = 1.0
                found_terms |= {n for n in asked_names if subject_of(before, frozenset({n}))}
            found.append(
                Candidate(
                    sentence=sentence,
                    passage=passage,
                    vector=vector,
                    terms=found_terms,
                    semantic=float(similarity),
                    related=float(relatedness),
                    typed=signal.holds_answer(float(similarity))
                    and not only_later(asked, text, passage.published)
                    and in_role(asked, passage, sentence),
                    spoke=spoke,
                )
            )
        # retrieval analysed the question; its own words differ only when context was carried
        analysis = retrieval.analysis
        own = (analysis if analysis.question == asked.own else analyse(asked.own, lexical)).terms
        # "what happened on 13 May 2019?": no wording to match, only the time
        weights = (
            {}
            if asked.only_time
            else self._term_weights(retrieval, own, asked.topic, found, lexical)
        )
        # a window given as a date under a year ("on 13 May 2019"; not one read from an event,
        # whose date the sentences about the event name whatever they answer); a question
        # that wants a kind of answer ("how long") has its own bar, set by the best sentence
        window = asked.window
        if window is None or not (window.precise and window.certain) or asked.wanted in REQUIRED:
            window = None

        def dated(c: Candidate) -> bool:  # "on 13 May 2019": it says so itself
            return window is not None and dated_in(window, c.sentence.text, c.passage.published)

        for c in found:
            c.score = (
                self.semantic_weight * c.semantic
                + (1 - self.semantic_weight) * self._coverage(c.terms, weights)
                + self.type_bonus * c.typed
                + self.speaker_bonus * c.spoke
                + self.date_bonus * dated(c)
            )
        found.sort(key=lambda c: -c.score)
        return found

    # -- selection -------------------------------------------------------------------------
    def _opening(
        self, pool: list[Candidate], asked: Focus, fitting: list[Candidate], reported: bool
    ) -> list[Candidate]:
        """The sentences the answer starts with, or none when the evidence can't answer: they
        must hold the kind of answer asked for and, for "what did X say", prefer X's words.
        `reported`: some candidate, of any time, tells of the asked joint event."""
        if not pool or (pool[0].score < self.min_score and not asked.only_time):
            return []
        if max(c.related for c in pool) < self.min_similarity and not asked.only_time:
            return []  # the evidence shares words with the question but is about else
        if asked.joint:
            # "when did Putin and May meet": the sentences where both take part in that event
            told = [c for c in pool if event_happened(c, asked)] or [
                c for c in pool if tells_event(c, asked)
            ]
            if reported and not told:
                return []  # the articles tell of it, but not in the asked time
            pool = told or pool
        eligible = pool
        if asked.wanted in REQUIRED:
            closest = max(c.semantic for c in pool)
            eligible = [
                c
                for c in pool
                if c.typed
                and c.score >= self.type_floor * pool[0].score
                and c.semantic >= self.type_meaning_floor * closest
            ]
            if not eligible:
                # The best sentence may set the scene for the answer in the next one
                # ("Experts said ..." followed by the expert's name).
                after = self._next(pool[0], pool)
                if after is None or not after.typed or after.score < 0.5 * pool[0].score:
                    return []
                return [pool[0], after]
        if asked.speaker and not any(asked.speaker <= c.terms for c in pool):
            return []  # asked what someone said; the evidence never mentions them
        if asked.named_topic:
            # "What did May say about China": May's words that touch China, or nothing.
            eligible = [c for c in eligible if self._speaks_on(c, fitting, asked)]
            if not eligible:
                return []
        spoken = [
            c
            for c in eligible
            if c.spoke == 1 and c.score >= self.speaker_floor * eligible[0].score
        ]
        first = (spoken or eligible)[0]
        if asked.outcome and FUTURE.search(first.sentence.text):
            # asked how something went: what was written before it happened does not say; a
            # report of what did happen, nearly as close, does ("what happened in September?")
            done = [
                c
                for c in spoken or eligible
                if not FUTURE.search(c.sentence.text) and c.score >= self.gain_ratio * first.score
            ]
            return done[:1]
        return [first]

    def _speaks_on(self, c: Candidate, fitting: list[Candidate], asked: Focus) -> bool:
        """The sentence reports the asked speaker's words and it, or the sentence leaning on
        it (from all year-fitting sentences, like every neighbour), names the asked topic."""
        if c.spoke != 1:
            return False
        after = self._next(c, fitting)
        if after is not None and CONTINUES.match(after.sentence.text):
            return mentions(c.terms | after.terms, asked.named_topic)
        return mentions(c.terms, asked.named_topic)

    @staticmethod
    def _previous(c: Candidate, pool: list[Candidate]) -> Candidate | None:
        """The sentence right before this one in its article, if it is a candidate."""
        return neighbour(c, pool, before=True)

    @staticmethod
    def _next(c: Candidate, pool: list[Candidate]) -> Candidate | None:
        """The sentence right after this one in its article, if it is a candidate."""
        return neighbour(c, pool, before=False)

    def _part_answers(
        self, pool: list[Candidate], asked: Focus, lexical: LexicalIndex, first: Candidate
    ) -> list[Candidate] | None:
        """For a question with several parts, the best sentence for each part not already
        answered by `first`; None if some part has no acceptable evidence."""
        if len(asked.parts) < 2:
            return []
        vectors = self.embedder.embed([p.text for p in asked.parts])
        ranked: list[list[tuple[float, Candidate]]] = []
        for part, vector in zip(asked.parts, vectors, strict=True):
            fitting = [c for c in pool if fits(c, part.window)]
            if not fitting:
                return None
            score = self._part_scorer(part, vector, lexical)
            ranked.append(sorted(((score(c), c) for c in fitting), key=lambda x: -x[0]))
        best = [r[0][1] for r in ranked]
        if _BOTH.search(asked.own) and len(ranked) == 2:
            best = list(self._shared(ranked[0], ranked[1], asked, lexical))
        picked: list[Candidate] = []
        for c in best:
            if c is not first and c not in picked:
                picked.append(c)
        return picked

    def _shared(
        self,
        one: list[tuple[float, Candidate]],
        two: list[tuple[float, Candidate]],
        asked: Focus,
        lexical: LexicalIndex,
    ) -> tuple[Candidate, Candidate]:
        """For "which spokesman shows up in both ...": of each part's closest sentences, the
        pair that names the same thing the question does not ("Peskov" in 2016 and in 2019),
        else each part's best."""
        asked_terms = frozenset(analyse(asked.own, lexical).terms)

        def shared(a: Candidate, b: Candidate) -> float:
            common = (a.terms & b.terms) - asked_terms
            return max((lexical.idf(t) for t in common if t in lexical.names), default=0.0)

        # the rarer the shared name, the surer it is the one thing asked about ("Peskov", not
        # "Putin", who is everywhere); the parts' scores decide between equals
        pairs = [(shared(a, b), sa + sb, a, b) for sa, a in one[:5] for sb, b in two[:5]]
        found = [pair for pair in pairs if pair[0] > 0 and pair[2] is not pair[3]]
        if not found:
            return one[0][1], two[0][1]
        _, _, a, b = max(found, key=lambda pair: (pair[0], pair[1]))
        return a, b

    def _part_scorer(
        self, part: Part, vector: np.ndarray, lexical: LexicalIndex
    ) -> Callable[[Candidate], float]:
        """How well a sentence answers one part: meaning, the part's words, its answer type."""
        weights = {t: lexical.idf(t) for t in analyse(part.text, lexical).terms}
        total = sum(weights.values())
        kind = expected_type(part.text)
        people = lexical.people if surname_will_do(part.text) else frozenset()

        def score(c: Candidate) -> float:
            overlap = sum(w for t, w in weights.items() if t in c.terms) / total if total else 0.0
            typed = kind is not None and has_type(
                c.sentence.text, kind, part.text, people, roles=bool(people)
            )
            return (
                self.semantic_weight * float(c.vector @ vector)
                + (1 - self.semantic_weight) * overlap
                + self.type_bonus * typed
            )

        return score

    def _with_neighbours(
        self, picked: list[Candidate], fitting: list[Candidate], window: Window | None
    ) -> list[Candidate]:
        """The picked sentences with those they cannot go without. Neighbours come from all
        year-fitting sentences: they need not name the month or day themselves."""
        chosen: list[Candidate] = []
        for c in picked:
            after = self._next(c, fitting)
            # "He added ...": a sentence that leans on a chosen one comes with it ...
            leaning = after if after is not None and CONTINUES.match(after.sentence.text) else None
            # ... and one that opens with "He" comes after the sentence that says who he is,
            # one that has the asked time from the sentence before after that sentence.
            leads = (
                PERSONAL_PRONOUN.match(c.sentence.text) or QUOTED_PRONOUN.search(c.sentence.text)
            ) or (
                not fits_time(window, c.passage.published, c.sentence.text)
                and dated_by_previous(c, window)
            )
            before = self._previous(c, fitting) if leads else None
            chosen += [o for o in (before, c, leaning) if o is not None and o not in chosen]
        return chosen

    def _filled(
        self,
        chosen: list[Candidate],
        pool: list[Candidate],
        fitting: list[Candidate],
        question_terms: set[str],
        first: Candidate,
        asked: Focus,
        lexical: LexicalIndex,
    ) -> list[Candidate]:
        """Up to `max_sentences`/`max_words`: other accounts of the asked joint event ("the
        pair agreed ..."), from any article; the sentence right after a chosen one if it
        scores well enough ("... in November last year. Putin met then-PM Cameron ..."), then
        other close seconds from the articles already cited; `first` sets the bar."""
        chosen = list(chosen)
        used = sum(c.n_words for c in chosen)
        covered = set().union(*(c.terms for c in chosen))
        joint = self._other_accounts(chosen, pool, asked, first, lexical)
        following = [self._next(c, fitting) for c in chosen]
        adjacent = [
            c
            for c in following
            if c is not None
            and c not in chosen
            and c.score >= self.adjacent_ratio * first.score
            and timely(c, asked.window)
        ]
        if asked.wanted in SETTINGS and event_happened(first, asked):
            adjacent, pool = [], []  # "when did they meet": its time and place, nothing else
        for c in joint + adjacent + pool:
            if len(chosen) >= self.max_sentences:
                break
            told = c in joint
            if c in chosen or used + c.n_words > self.max_words:
                continue
            if any(float(c.vector @ other.vector) > 0.9 for other in chosen):
                continue
            if not told and c.passage.doc_id not in {o.passage.doc_id for o in chosen}:
                continue  # other articles come in through the parts of the question or the event
            adds = bool((c.terms - covered) & question_terms)
            if not (
                told
                or c in adjacent
                or c.score >= self.keep_ratio * first.score
                or (adds and c.score >= self.gain_ratio * first.score)
            ):
                continue
            # "He also said ...", "“...,” he said.": with the sentence that says who he is
            before = self._previous(c, fitting) if leans_back(c) else None
            added = [o for o in (before, c) if o is not None and o not in chosen]
            if leans_back(c) and before is None:
                continue
            if len(chosen) + len(added) > self.max_sentences:
                continue
            if used + sum(o.n_words for o in added) > self.max_words:
                continue
            chosen += added
            used += sum(o.n_words for o in added)
            covered |= c.terms.union(*(o.terms for o in added))
        return chosen

    def _other_accounts(
        self,
        chosen: list[Candidate],
        pool: list[Candidate],
        asked: Focus,
        first: Candidate,
        lexical: LexicalIndex,
    ) -> list[Candidate]:
        """Other reports of the asked joint event, from any article: what else the parties
        agreed, and what came of what they agreed to do. For "when (where) did they meet",
        only the first that gives the place (time) the answer lacks, cut to the clauses that
        tell it."""
        if asked.joint is None:
            return []
        parties = asked.joint.parties
        joint = [
            c
            for c in pool
            if event_happened(c, asked) and c.semantic >= self.joint_meaning_floor * first.semantic
        ]
        # "the pair agreed to meet": reports of the parties meeting say where and when (they
        # speak of meeting, not of agreeing: the verb and the parties are the bar)
        planned = frozenset().union(
            *(agreed_to(c.sentence.text) for c in chosen + joint if tells_event(c, asked))
        )
        joint += [c for c in pool if planned & c.terms and parties <= c.terms and c not in joint]
        if asked.wanted not in SETTINGS:
            return joint
        missing = missing_settings(chosen, asked)
        for c in joint:
            if any(has_type(c.sentence.text, kind, asked.own) for kind in missing):
                return [event_clauses(c, asked, missing, lexical) or c]
        return []

    def compose(self, retrieval: Retrieval, lexical: LexicalIndex) -> Composition:
        if retrieval.analysis.unknown_entities or not retrieval.passages:
            return ABSTENTION
        asked = retrieval.analysis.focus
        candidates = self.candidates(retrieval, lexical, asked)
        question_terms = set(retrieval.analysis.terms)
        chosen = self._chosen(candidates, asked, lexical, question_terms)
        if chosen is None and asked.window is not None:
            # Nothing from that time answers: say so, and when the closest coverage is from.
            anytime = replace(asked, window=None)
            elsewhere = self._chosen(candidates, anytime, lexical, question_terms)
            if elsewhere and fits(elsewhere[0], asked.window):
                chosen = elsewhere  # it answers from that time after all, by the wider bar
            elif elsewhere:
                return time_scoped_abstention(asked.window, elsewhere[0].passage)
        if not chosen:
            return ABSTENTION
        citations = [make_citation(n, c.passage, c.sentence) for n, c in enumerate(chosen, start=1)]
        if asked.window is None and asked.wanted is not AnswerType.DATE:
            text = " ".join(f"{claim(c.quote)} [{c.n}]" for c in citations)
            return Composition(text, citations)
        # a question about a time, or "when": the answer says when, relative dates resolved
        text = " ".join(f"{claim(with_dates(c.quote, c.published))} [{c.n}]" for c in citations)
        if asked.window is None:
            return Composition(text, citations)
        lead = stated_when(asked.window, [(c.published, c.quote) for c in citations])
        return Composition(lead + text, citations)

    def _chosen(
        self,
        candidates: list[Candidate],
        asked: Focus,
        lexical: LexicalIndex,
        question_terms: set[str],
    ) -> list[Candidate] | None:
        """The sentences of the answer, in order; None when the evidence does not answer."""
        reported = any(tells_event(c, asked) for c in candidates)
        years = asked.window.years() if asked.window else None
        fitting = [c for c in candidates if fits(c, years)]
        pool = narrowed(fitting, asked)
        opening = self._opening(pool, asked, fitting, reported)
        if not opening and asked.window is not None and not asked.window.certain:
            pool = fitting  # a vague window only narrows when what fits it answers
            opening = self._opening(pool, asked, fitting, reported)
        if not opening or sum(c.n_words for c in opening) > 2 * self.max_words:
            return None
        parts = self._part_answers(pool, asked, lexical, opening[0])
        if parts is None:
            return None
        chosen = self._with_neighbours(opening + parts, fitting, asked.window)[: self.max_sentences]
        if asked.wanted in SETTINGS:
            # "when did they meet": of an account of it, the clauses that tell it and when
            chosen = [
                (event_clauses(c, asked, {asked.wanted}, lexical) or c)
                if event_happened(c, asked)
                else c
                for c in chosen
            ]
        chosen = self._filled(chosen, pool, fitting, question_terms, opening[0], asked, lexical)
        return self._corroborated(chosen, pool, asked, opening[0])

    def _corroborated(
        self, chosen: list[Candidate], pool: list[Candidate], asked: Focus, first: Candidate
    ) -> list[Candidate]:
        """For a question about a short time ("in July 2016"), one sentence from another
        article that itself dates the same kind of thing to that time ("Last month [July
        2016], the British PM ... 'real' nuclear threat"): a second source, over the usual
        length if need be."""
        window = asked.window
        if window is None or not window.precise:
            return chosen
        cited = {c.passage.doc_id for c in chosen}
        budget = self.max_words * self.corroboration_room - sum(c.n_words for c in chosen)
        seconds = [
            c
            for c in pool
            if c.passage.doc_id not in cited
            and c.n_words <= budget
            and c.semantic >= self.corroboration_ratio * first.semantic
            and (not asked.topic or mentions(c.terms, asked.topic))
            and (not asked.speaker or c.spoke >= 0.5)
            and (asked.joint is None or event_happened(c, asked))
            and dated_in(window, c.sentence.text, c.passage.published)
            and all(float(c.vector @ o.vector) <= 0.9 for o in chosen)
            and not leans_back(c)  # a second source stands alone
        ]
        return chosen + [max(seconds, key=lambda c: c.score)] if seconds else chosen
