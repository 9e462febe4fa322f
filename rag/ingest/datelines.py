"""Datelines: the place (and often the date) a news story opens with, by wire convention:
"CLEVELAND, Feb 26 -", "LONDON (Reuters) -", "Glenmoor, 3 March 2021 —"."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_DATE = (
    rf"{_WEEKDAY}(?:(?P<m1>{_MONTH})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH}))"
    r"(?:,?\s+(?P<y>\d{4}))?"
)
# A place: capitalised words (commas for "WASHINGTON, D.C."), then an optional date and an
# optional agency in brackets, then a dash. Hedged below: an all-capitals place, a date or an
# agency must be there, so an ordinary clause before a dash does not count.
_DATELINE = re.compile(
    rf"""^\s*(?P<place>[A-Z][\w.'’&-]*(?:\s+[A-Za-z][\w.'’&-]*){{0,3}}
           (?:,\s*[A-Z][\w.'’&-]*(?:\s+[A-Z][\w.'’&-]*){{0,2}})?)
        (?:,\s*(?P<date>{_DATE}))?
        \s*(?:\((?P<agency>[A-Z][\w .&/-]{{0,30}})\))?
        \s*(?:[-–—]{{1,2}}|:)\s""",
    re.VERBOSE | re.IGNORECASE,
)
NO_YEAR = "no year in the dateline, the file name or its folder"
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


@dataclass(frozen=True)
class Dateline:
    place: str
    end: int  # where the story proper starts
    published: str | None = None  # ISO date, when the dateline names one (and its year is known)
    year_from: str | None = None  # where the year came from when the dateline has none
    problem: str | None = None  # "impossible date Feb 30"


def find(text: str, year: int | None = None, year_from: str | None = None) -> Dateline | None:
    """The dateline `text` opens with, if any. A dateline without a year takes `year` (from the
    file name or the collection); a date that cannot exist is reported, not used."""
    match = _DATELINE.match(text[:200])
    if not match:
        return None
    place, date, agency = match.group("place"), match.group("date"), match.group("agency")
    letters = [c for c in place if c.isalpha()]
    if not (date or agency or (len(letters) >= 3 and all(c.isupper() for c in letters))):
        return None
    if match.group(0).rstrip().endswith(":") and not date:
        return None  # "WARNING:" is a label, not a place
    place = place.strip().rstrip(",")
    if not date:
        return Dateline(place, match.end())
    month = MONTHS[(match.group("m1") or match.group("m2")).lower().rstrip(".")]
    day = int(match.group("d1") or match.group("d2"))
    written_year = match.group("y")
    taken = int(written_year) if written_year else year
    if taken is None:
        return Dateline(place, match.end(), problem=NO_YEAR)
    try:
        when = dt.date(taken, month, day)
    except ValueError:
        return Dateline(place, match.end(), problem=f"impossible date {date.strip()}")
    return Dateline(
        place,
        match.end(),
        published=when.isoformat(),
        year_from=None if written_year else year_from,
    )


# The year of a collection: the latest year that at least this share of the articles naming
# the most-named year also name. News names last year's results more often than this year
# (Reuters-21578 of 1987 names 1986 most), so the most-named year is the wrong pick; on its 22
# files, one folder each, shares from 1/3 to 1/2 give the right year for 20.
FOLDER_YEAR_SHARE = 0.4


def collection_year(texts: Iterable[str]) -> int | None:
    """The year a collection of articles was most likely written in (see FOLDER_YEAR_SHARE)."""
    named: Counter[int] = Counter()
    for text in texts:
        named.update({int(y) for y in _YEAR.findall(text)})
    if not named:
        return None
    top = max(named.values())
    return max(y for y, n in named.items() if n >= FOLDER_YEAR_SHARE * top)


def year_in_name(name: str) -> int | None:
    """A year written in a file name ("2016-07-12-talks.txt"), the last if several."""
    found = _YEAR.findall(name)
    return int(found[-1]) if found else None
