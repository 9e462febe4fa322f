"""Deterministic questions about the generated articles' facts, so that each is answerable.

Five kinds per article (where, when, who, how described, how much pledged); a question is
kept only if the facts it names pick out one article of the corpus, so its source is known.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bench.generate import MONTHS, Facts


@dataclass(frozen=True)
class Question:
    kind: str
    question: str
    answer: str
    source: str  # doc id of the one article that answers it


def _month_year(iso: str) -> str:
    date = dt.date.fromisoformat(iso)
    return f"{MONTHS[date.month - 1]} {date.year}"


def _candidates(f: Facts) -> list[tuple[tuple[str, ...], Question]]:
    """(the facts the question names, the question) for one article."""
    when = _month_year(f.date)
    year = f.date[:4]
    day = dt.date.fromisoformat(f.date)
    return [
        (
            ("where", f.host, f.guest, when),
            Question("where", f"Where did {f.host} meet {f.guest} in {when}?", f.venue, f.doc_id),
        ),
        (
            ("when", f.host_last, f.guest_last, f.venue),
            Question(
                "when",
                f"When did {f.host_last} and {f.guest_last} meet in {f.venue}?",
                f"{day.day} {MONTHS[day.month - 1]} {day.year}",
                f.doc_id,
            ),
        ),
        (
            ("who", f.host, f.venue, year),
            Question("who", f"Who did {f.host} meet in {f.venue} in {year}?", f.guest, f.doc_id),
        ),
        (
            ("describe", f.guest, f.venue),
            Question(
                "describe",
                f"How did {f.guest} describe the talks in {f.venue}?",
                f.description,
                f.doc_id,
            ),
        ),
        (
            ("pledge", f.host_country, f.project, year),
            Question(
                "pledge",
                f"How much did {f.host_country} pledge for {f.project} in {year}?",
                f"{f.amount} million dollars",
                f.doc_id,
            ),
        ),
    ]


def make_questions(facts: Iterable[Facts], n: int, seed: int) -> list[Question]:
    """`n` questions (fewer if the corpus has fewer unambiguous ones), the same for a seed."""
    candidates = [c for f in facts for c in _candidates(f)]
    counts = Counter(key for key, _ in candidates)
    unique = [q for key, q in candidates if counts[key] == 1]
    rng = random.Random(seed)
    return rng.sample(unique, min(n, len(unique)))
