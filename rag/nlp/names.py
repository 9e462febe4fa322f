"""Names in article text: the capitalised words inside sentences, and a name an article spells
two ways (its headline one way, its text another that sounds alike)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from rag.nlp.text import STOPWORDS, normalise, sentence_spans, sound_key, words

CALENDAR_NAMES = frozenset(
    "January February March April June July August September October November December "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)  # "May" is left out: it is a name as often


def names_in(text: str) -> set[str]:
    """Capitalised words inside the sentences of `text`: names."""
    found = set()
    for start, end in sentence_spans(text):
        for word in words(text[start:end])[1:]:
            if word[0].isupper() and len(word) >= 3 and word.lower() not in STOPWORDS:
                found.add(word)
    return found


def spelt_alike(one: str, other: str) -> bool:
    """Sounding alike is enough for short names ("May", "Mei"); longer ones must also share
    most letters ("Zelensky", "Zelenskyy"), so that "Robert" and "Rupert" stay two people."""
    if max(len(one), len(other)) <= 4:
        return True
    return difflib.SequenceMatcher(None, one.lower(), other.lower()).ratio() >= 0.75


def variant_pairs(title: str, text_names: Iterable[str]) -> list[tuple[str, str]]:
    """(normalised headline spelling, normalised text spelling) for each name the headline
    spells one way and the text only another way that sounds alike: "May" and "Mei" in a
    translated article."""
    text = set(text_names) - CALENDAR_NAMES
    pairs = []
    for name in sorted(names_in(title) - text - CALENDAR_NAMES):
        for other in sorted(text):
            if sound_key(other) == sound_key(name) and spelt_alike(name, other):
                pairs.append((normalise(name), normalise(other)))
    return pairs
