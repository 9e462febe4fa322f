"""Time in questions and in articles.

A question's time expressions ("in July 2016", "between August and September 2016", "last
summer", "since May 2019") become a `Window`. An article sentence's expressions ("last month",
"on Tuesday", "4 September") become `Span`s resolved against the article's publication date.
Expressions are found by a small grammar and read by `dateparser`. Where `dateparser` guesses
a year or a week on its own, the guess is corrected for news: a weekday means the one on or
before publication, and a day or month without a year the last one before publication, or
the next one after it when the sentence speaks of the future.

"May" is a month only beside a day or a year ("14 May", "May 2019") or after "in", "during",
"of", "early", "mid" or "late", and not when a name follows ("in May and Putin's call").
Otherwise it is the Prime Minister ("what did May say?", "before May, ...").
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Sept)"  # noqa: E501
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11)}
_LEAD = r"in|during|since|until|till|by|before|after|from|between|of|early|mid|late"
# "May" alone is a month only after these: "before May" and "since May" are the PM as often.
_MAY_LEADS = frozenset("in during of early mid late".split())
_JOINED_NAME = re.compile(rf"\s+(?:and|or|&)\s+(?!{_MONTH}\b)[A-Za-z]", re.I)


def _grammar(month: str) -> str:
    """The expressions of time, with `month` the pattern for month names. Every expression
    starts a word: anchoring the whole grammar at a word boundary lets the matcher skip the
    inside of words quickly (2.2 times faster, the same matches)."""
    return rf"""
  \b(?:
    (?P<dm>(?P<dm_day>{_DAY})(?:\s*(?:-|–|to|and)\s*(?P<dm_day2>{_DAY}))?\s+(?:of\s+)?
        (?P<dm_month>{month})\b(?:,?\s+(?P<dm_year>{_YEAR})\b)?)
  | (?P<md>(?P<md_month>{month})\s+(?P<md_day>{_DAY})(?![\d:])(?:,?\s+(?P<md_year>{_YEAR})\b)?)
  | (?P<my>(?:(?P<my_part>early|mid|late)[\s-]+)?(?P<my_month>{month}),?\s+(?:of\s+)?
        (?P<my_year>{_YEAR})\b)
  | (?P<season>(?:(?P<s_rel>last|this|next|past)\s+)?(?:the\s+)?
        (?P<s_name>spring|summer|autumn|fall|winter)\b(?:\s+(?:of\s+)?(?P<s_year>{_YEAR})\b)?)
  | (?P<lm>(?P<lm_rel>last|next|this)\s+(?P<lm_month>{month})\b(?!['’]s))
  | (?P<rel>(?:(?P<r_side>earlier|later)\s+)?(?P<r_which>last|next|this|past)\s+
        (?P<r_unit>week|month|year)\b)
  | (?P<near>\b(?:yesterday|today|tomorrow)\b)
  | (?P<ago>\b(?P<ago_n>\d{{1,2}}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|
        twelve)\s+(?P<ago_unit>day|week|month|year)s?\s+ago\b)
  | (?P<iso>\b(?P<iso_y>(?:19|20)\d\d)-(?P<iso_m>[01]\d)-(?P<iso_d>[0-3]\d)\b)
  | (?P<wd>\b(?P<wd_name>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b)
  | (?P<bm>\b(?P<bm_lead>{_LEAD})[\s-]+(?P<bm_month>{month})\b(?!['’]s)(?!,?\s+\d)
        (?:\s+(?P<bm_rel>last|next|this)\s+year\b)?)
  | (?P<yr>(?<![\d,.$£€-])\b(?P<yr_year>{_YEAR})\b(?![\d%-]))
  )"""


# Prose: month names capitalised ("may" is a verb), other words in any case ("Last month").
_ARTICLE = re.compile(_grammar(f"(?-i:{_MONTH})"), re.X | re.I)
# Questions are often typed in lower case.
_QUESTION = re.compile(_grammar(_MONTH), re.X | re.I)
_OPEN_BEFORE = re.compile(r"\b(before|until|till|by|prior to)\s+(?:the\s+)?(?:end\s+of\s+)?$", re.I)
_OPEN_AFTER = re.compile(r"\b(after|since|from)\s+(?:the\s+)?$", re.I)
_BETWEEN = re.compile(r"\b(between|from)\b", re.I)
# A sentence about the future: its dates without a year lie ahead of publication (and, for
# the composer, it cannot report how something turned out).
FUTURE = re.compile(
    r"\b(?:will|to be held|is expected|are expected|expected to|next (?:week|month|year)|upcoming|"
    r"scheduled|slated|plans? to|is due|are due|(?:is|are) set (?:to|for))\b",
    re.I,
)


@dataclass(frozen=True, order=True)
class Span:
    """A stretch of time, both ends inclusive. `grain` says how it was given: day, days,
    week, month, season, year or range (open-ended or between two dates)."""

    start: dt.date
    end: dt.date
    grain: str = "day"

    def overlaps(self, other: Span) -> bool:
        return self.start <= other.end and other.start <= self.end

    @property
    def iso(self) -> str:
        """ISO 8601: '2016-07-20', '2016-07', '2016', or an interval 'start/end'."""
        if self.grain == "day":
            return self.start.isoformat()
        if self.grain == "month":
            return self.start.isoformat()[:7]
        if self.grain == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    @property
    def label(self) -> str:
        """For people: '20 July 2016', 'July 2016', '2016', '1–7 August 2016'."""
        start, end = self.start, self.end
        if self.grain == "day":
            return _day_label(start)
        if self.grain == "month":
            return f"{start:%B %Y}"
        if self.grain == "year":
            return str(start.year)
        if start == dt.date.min:
            return f"before {_day_label(end + dt.timedelta(days=1))}"
        if end == dt.date.max:
            return f"since {_day_label(start)}"
        if start == end:
            return _day_label(start)
        if start == dt.date(start.year, 1, 1) and end == dt.date(start.year, 12, 31):
            return str(start.year)  # a whole year given as dates: --after/--before
        if start.day == 1 and end == _month_end(start.year, start.month):
            return f"{start:%B %Y}"
        if start.year == end.year and start.month == end.month:
            return f"{start.day}–{end.day} {start:%B %Y}"
        if start.year == end.year:
            if start.day == 1 and end == _month_end(end.year, end.month):
                return f"{start:%B}–{end:%B %Y}"
            return f"{start.day} {start:%B} – {end.day} {end:%B %Y}"
        return f"{start.day} {start:%B %Y} – {end.day} {end:%B %Y}"

    @property
    def period(self) -> str:
        """The label after "from": "from 1 January 2020 onwards", not "from since ..."."""
        if self.end == dt.date.max and self.start != dt.date.min:
            return f"{_day_label(self.start)} onwards"
        return self.label

    @property
    def saved(self) -> str:
        """'2016-07-01/2016-07-31/month': the span as index metadata keeps it, grain and all."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}/{self.grain}"

    @classmethod
    def from_saved(cls, text: str) -> Span:
        start, end, grain = text.split("/")
        return cls(dt.date.fromisoformat(start), dt.date.fromisoformat(end), grain)

    @classmethod
    def from_iso(cls, text: str) -> Span:
        if "/" in text:
            first, last = text.split("/", 1)
            return cls(dt.date.fromisoformat(first), dt.date.fromisoformat(last), "range")
        if len(text) == 4:
            return _year(int(text))
        if len(text) == 7:
            return _month(int(text[:4]), int(text[5:7]))
        day = dt.date.fromisoformat(text)
        return cls(day, day, "day")


@dataclass(frozen=True)
class Yearless:
    """A day or month asked without a year ("on 4 September", "in July"): any year fits."""

    month: int
    first: int
    last: int  # day of the month; 31 stands for the month's end
    whole_month: bool

    @classmethod
    def of(cls, m: re.Match[str]) -> Yearless | None:
        if m.group("bm"):
            return cls(_month_number(m.group("bm_month")), 1, 31, True)
        prefix = "dm" if m.group("dm") else "md"
        first = int(re.sub(r"\D", "", m.group(f"{prefix}_day")))
        second = m.group("dm_day2") if prefix == "dm" else None
        last = int(re.sub(r"\D", "", second)) if second else first
        if not 1 <= first <= last <= 31:
            return None
        return cls(_month_number(m.group(f"{prefix}_month")), first, last, False)

    @property
    def days(self) -> int:
        return 31 if self.whole_month else self.last - self.first

    def overlaps(self, span: Span) -> bool:
        if span.end.year - span.start.year > 1:
            return True  # a span of several years holds every day of the year
        for year in range(span.start.year, span.end.year + 1):
            ends = calendar.monthrange(year, self.month)[1]
            start = dt.date(year, self.month, min(self.first, ends))
            if start <= span.end and span.start <= dt.date(year, self.month, min(self.last, ends)):
                return True
        return False

    @property
    def label(self) -> str:
        name = _MONTHS[self.month - 1].capitalize()
        if self.whole_month:
            return name
        days = str(self.first) if self.first == self.last else f"{self.first}–{self.last}"
        return f"{days} {name}"


@dataclass(frozen=True)
class Window:
    """The time a question asks about: any of its spans. `certain` when every span was given
    as a date ("in July 2016"), not relative to today ("last summer") or open-ended."""

    spans: tuple[Span, ...]
    certain: bool
    yearless: tuple[Yearless, ...] = ()

    @property
    def label(self) -> str:
        return " and ".join([s.label for s in self.spans] + [y.label for y in self.yearless])

    @property
    def period(self) -> str:
        """The label as it reads after "nothing from"."""
        return " and ".join([s.period for s in self.spans] + [y.label for y in self.yearless])

    @property
    def precise(self) -> bool:
        """Narrower than a year: sentences dated inside it stand out from their articles."""
        return all(s.end - s.start < dt.timedelta(days=300) for s in self.spans)

    def years(self) -> Window:
        """The same window widened to whole years ("July 2016" → 2016)."""
        spans = tuple(
            Span(
                s.start if s.start == dt.date.min else dt.date(s.start.year, 1, 1),
                s.end if s.end == dt.date.max else dt.date(s.end.year, 12, 31),
                "year" if s.start.year == s.end.year else "range",
            )
            for s in self.spans
        )
        return Window(spans, self.certain, self.yearless)

    def holds(self, span: Span) -> bool:
        """The span falls in the window and is no vaguer than it: "2016" does not date
        anything to July 2016, "July 2016" and "13 July 2016" do."""
        length = span.end - span.start
        return any(w.overlaps(span) and length <= w.end - w.start for w in self.spans) or any(
            y.overlaps(span) and length.days <= y.days for y in self.yearless
        )

    def admits(self, published: str | None, spans: Iterable[Span]) -> bool:
        """Text fits the window if its article came out in it or the text names a time in it."""
        day = parse_published(published)
        if day and self.holds(Span(day, day)):
            return True
        return any(self.holds(span) for span in spans)

    def before(self, spans: Iterable[Span]) -> bool:
        """The text dates itself to a month or day before the window opens: background ("In
        July 2016, ..." in an article of September 2016), not news of the window ("the 2006
        poisoning" and "next month" may be)."""
        opens = min((s.start for s in self.spans), default=dt.date.min)
        return any(s.end - s.start <= _A_MONTH and s.end < opens for s in spans)


_A_MONTH = dt.timedelta(days=31)


def _day_label(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def parse_published(published: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((published or "")[:10])
    except ValueError:
        return None


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _month(year: int, month: int) -> Span:
    return Span(dt.date(year, month, 1), _month_end(year, month), "month")


def _year(year: int) -> Span:
    return Span(dt.date(year, 1, 1), dt.date(year, 12, 31), "year")


def _month_number(name: str) -> int:
    name = name.lower()
    return 9 if name == "sept" else _MONTHS.index(name) + 1


@lru_cache(maxsize=512)
def _parser(base: dt.date) -> Any:
    from dateparser.date import DateDataParser  # imported on first use: it is slow to load

    settings = {
        "RELATIVE_BASE": dt.datetime(base.year, base.month, base.day, 12),
        "PREFER_DATES_FROM": "past",
        "PREFER_DAY_OF_MONTH": "first",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    return DateDataParser(languages=["en"], settings=settings)


@lru_cache(maxsize=65536)
def _parse(text: str, base: dt.date) -> dt.date | None:
    """dateparser's reading of one expression, relative to `base` (remembered: the same few
    expressions recur in sentence after sentence, and each reading costs about a
    millisecond)."""
    data = _parser(base).get_date_data(text)
    return None if data is None or data.date_obj is None else data.date_obj.date()


def _year_for(month: int, day: int, base: dt.date, ahead: bool) -> int:
    """The year of a day/month written without one in an article published on `base`: the
    last occurrence on or before publication, or the next one on or after it when the
    sentence speaks of the future ("will attend the summit on 4 September")."""
    this_year = _safe_date(base.year, month, day)
    if ahead:
        return base.year if this_year >= base else base.year + 1
    return base.year if this_year <= base else base.year - 1


def _safe_date(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _days(
    m: re.Match[str], base: dt.date | None, year_hint: int | None, ahead: bool
) -> Span | None:
    prefix = "dm" if m.group("dm") else "md"
    month = _month_number(m.group(f"{prefix}_month"))
    first = int(re.sub(r"\D", "", m.group(f"{prefix}_day")))
    second = m.group("dm_day2") if prefix == "dm" else None
    last = int(re.sub(r"\D", "", second)) if second else first
    if not 1 <= first <= last <= 31:
        return None  # "May 0", "30-1 June": no day
    year_text = m.group(f"{prefix}_year")
    if year_text:
        year = int(year_text)
    elif year_hint:
        year = year_hint
    elif base:
        year = _year_for(month, first, base, ahead)
    else:
        return None
    # the day, month and year are all known: the date is built, not parsed (dateparser reads
    # the expressions whose date depends on when they were written)
    if not first <= last <= calendar.monthrange(year, month)[1]:
        return None  # "31 February"
    start, end = dt.date(year, month, first), dt.date(year, month, last)
    return Span(start, end, "day" if start == end else "days")


def _month_span(m: re.Match[str], year: int, month: int) -> Span:
    span = _month(year, month)
    part = (m.group("my_part") or "").lower()
    if part == "early":
        return Span(span.start, span.start.replace(day=10), "days")
    if part == "mid":
        return Span(span.start.replace(day=11), span.start.replace(day=20), "days")
    if part == "late":
        return Span(span.start.replace(day=21), span.end, "days")
    return span


def _season_in(name: str, year: int) -> Span:
    """The season that begins in `year` (winter runs into the next year)."""
    if name == "winter":
        return Span(dt.date(year, 12, 1), _month_end(year + 1, 2), "season")
    first, last = _SEASONS[name]
    return Span(dt.date(year, first, 1), _month_end(year, last), "season")


def _season(m: re.Match[str], base: dt.date | None) -> Span | None:
    name = m.group("s_name").lower()
    which = (m.group("s_rel") or "").lower()
    if m.group("s_year"):
        return _season_in(name, int(m.group("s_year")))
    if base is None or not which:
        return None  # "in the summer": no year to place it in
    around = [_season_in(name, year) for year in range(base.year - 2, base.year + 2)]
    if which in ("last", "past"):
        return [s for s in around if s.end < base][-1]
    if which == "next":
        return [s for s in around if s.start > base][0]
    current = [s for s in around if s.start <= base <= s.end]
    return current[0] if current else [s for s in around if s.start.year == base.year][0]


def _relative(m: re.Match[str], base: dt.date) -> Span | None:
    unit = m.group("r_unit").lower()
    which = m.group("r_which").lower()
    side = (m.group("r_side") or "").lower()
    day = _parse(f"{'last' if which == 'past' else which} {unit}", base)
    if day is None:
        return None
    if unit == "week":
        start = day - dt.timedelta(days=day.weekday())
        span = Span(start, start + dt.timedelta(days=6), "week")
    elif unit == "month":
        span = _month(day.year, day.month)
    else:
        span = _year(day.year)
    if which == "this" and side == "earlier":
        return Span(span.start, base, "range")
    if which == "this" and side == "later":
        return Span(base, span.end, "range")
    return span


def _named_month(which: str, month: int, base: dt.date) -> Span:
    """'last July' in May 2019 is July 2018, 'next March' the first March after, 'this May'
    the one of the same year."""
    if which == "last":
        return _month(base.year if month < base.month else base.year - 1, month)
    if which == "next":
        return _month(base.year if month > base.month else base.year + 1, month)
    return _month(base.year, month)


def _weekday(name: str, base: dt.date) -> Span:
    """'on Tuesday' in an article: the Tuesday on or before its publication."""
    back = (base.weekday() - _WEEKDAYS.index(name.lower())) % 7
    day = base - dt.timedelta(days=back)
    return Span(day, day, "day")


_COUNTS = {
    w: i
    for i, w in enumerate(
        "one two three four five six seven eight nine ten eleven twelve".split(), 1
    )
} | {"a": 1, "an": 1}


def _ago(count: str, unit: str, base: dt.date) -> Span:
    """'two years ago' in an article of May 2019: 2017; 'three weeks ago': that week."""
    n = int(count) if count.isdigit() else _COUNTS[count]
    if unit == "year":
        return _year(base.year - n)
    if unit == "month":
        months = base.year * 12 + base.month - 1 - n
        return _month(months // 12, months % 12 + 1)
    day = base - dt.timedelta(days=n * (7 if unit == "week" else 1))
    if unit == "week":
        start = day - dt.timedelta(days=day.weekday())
        return Span(start, start + dt.timedelta(days=6), "week")
    return Span(day, day, "day")


def _near(word: str, base: dt.date) -> Span:
    day = _parse(word, base) or base
    return Span(day, day, "day")


@lru_cache(maxsize=16384)
def _matches(pattern: re.Pattern[str], text: str) -> tuple[re.Match[str], ...]:
    """The grammar's matches, without a "May" that is more likely the Prime Minister
    (remembered: a candidate sentence is read for dates several times while answering)."""
    return tuple(m for m in pattern.finditer(text) if not _may_is_a_person(m, text))


def _may_is_a_person(m: re.Match[str], text: str) -> bool:
    """A bare "May" after "before", "since" ..., or joined to a name ("in May and Putin's
    call") is the Prime Minister; "in May" and "in May and June" are the month."""
    if not (m.group("bm") and m.group("bm_month").lower() == "may"):
        return False
    return m.group("bm_lead").lower() not in _MAY_LEADS or bool(_JOINED_NAME.match(text, m.end()))


def _span(
    m: re.Match[str], base: dt.date | None, year_hint: int | None, ahead: bool = False
) -> Span | None:
    """The span one grammar match stands for; None when it cannot be placed in time."""
    if m.group("dm") or m.group("md"):
        return _days(m, base, year_hint, ahead)
    if m.group("my"):
        return _month_span(m, int(m.group("my_year")), _month_number(m.group("my_month")))
    if m.group("yr"):
        return _year(int(m.group("yr_year")))
    if m.group("iso"):
        try:
            day = dt.date(int(m.group("iso_y")), int(m.group("iso_m")), int(m.group("iso_d")))
        except ValueError:
            return None  # "2016-02-30"
        return Span(day, day, "day")
    if m.group("season"):
        return _season(m, base)
    if m.group("bm"):
        month = _month_number(m.group("bm_month"))
        if year_hint:
            return _month(year_hint, month)
        if base is None:
            return None
        shift = {"last": -1, "next": 1, "this": 0}.get((m.group("bm_rel") or "").lower())
        if shift is not None:  # "in November last year"
            return _month(base.year + shift, month)
        return _month(_year_for(month, 1, base.replace(day=1), ahead), month)
    if base is None:
        return None
    if m.group("lm"):
        return _named_month(m.group("lm_rel").lower(), _month_number(m.group("lm_month")), base)
    if m.group("rel"):
        return _relative(m, base)
    if m.group("near"):
        return _near(m.group("near").lower(), base)
    if m.group("ago"):
        return _ago(m.group("ago_n").lower(), m.group("ago_unit").lower(), base)
    if m.group("wd"):
        return _weekday(m.group("wd_name"), base)
    return None


# "Before meeting Putin, which took place on 4 September, Ushakov said ...": what the
# sentence reports happened before its first date.
_LEADING_BEFORE = re.compile(r"^\W*(?:before|ahead of|prior to)\b", re.I)


# What ingest read in articles' sentences and saved with their chunks: the dates, by
# (sentence, publication date), and the expressions of time, by sentence. `dates_in` and
# `time_expressions` look here before reading a sentence themselves.
_SAVED: dict[tuple[str, str | None], tuple[Span, ...]] = {}
_SAVED_TIMES: dict[str, tuple[tuple[int, int], ...]] = {}
_SAVED_LIMIT = 200_000


def remember(
    text: str,
    published: str | None,
    spans: tuple[Span, ...],
    expressions: tuple[tuple[int, int], ...],
) -> None:
    """What `dates_in(text, published)` and `time_expressions(text)` give (the expressions
    as offsets in the text), as saved at ingest: the text will not be read again."""
    if len(_SAVED) >= _SAVED_LIMIT:
        _SAVED.clear()  # what was dropped is read again on demand
        _SAVED_TIMES.clear()
    _SAVED[(text, published)] = spans
    _SAVED_TIMES[text] = expressions


def remembered(text: str, published: str | None) -> bool:
    return (text, published) in _SAVED


def dates_in(text: str, published: str | None) -> tuple[Span, ...]:
    """The times an article's sentence talks about, relative expressions resolved against the
    article's publication date (without one, only absolute dates are kept)."""
    saved = _SAVED.get((text, published))
    return saved if saved is not None else _read_dates(text, published)


@lru_cache(maxsize=65536)
def _read_dates(text: str, published: str | None) -> tuple[Span, ...]:
    base = parse_published(published)
    ahead = bool(FUTURE.search(text))
    found = [_span(m, base, None, ahead) for m in _matches(_ARTICLE, text)]
    spans = {span for span in found if span is not None}
    first = next((span for span in found if span is not None), None)
    if first is not None and _LEADING_BEFORE.match(text):
        spans.add(Span(dt.date.min, first.start - dt.timedelta(days=1), "range"))
    return tuple(sorted(spans))


def question_window(question: str, today: dt.date | None = None) -> Window | None:
    """The time a question asks about, or None when it names none. Relative expressions
    ("last month") count from `today`; a day or month without a year is taken from another
    expression of the question ("between August and September 2016"), else it fits any year."""
    today = today or dt.date.today()
    matches = [m for m in _matches(_QUESTION, question) if not m.group("wd")]
    years = [int(y) for m in matches for y in _years_of(m)]
    hint = years[-1] if years else None
    spans: list[Span] = []
    yearless: list[Yearless] = []
    certain = True
    if matches and all(_attributive(question, m) for m in matches):
        certain = False  # "May's July 2016 remarks": the remarks' date, not the question's
    for m in matches:
        if (
            m.group("rel")
            or m.group("lm")
            or m.group("near")
            or m.group("ago")
            or m.group("bm_rel")
            or (m.group("season") and not m.group("s_year"))
        ):
            certain = False
        if (
            hint is None
            and not m.group("bm_rel")
            and (m.group("bm") or m.group("dm") or m.group("md"))
        ):
            if (asked := Yearless.of(m)) is not None:
                yearless.append(asked)
            continue
        span = _span(m, today, None if _years_of(m) else hint)
        if span is not None:
            spans.append(_opened(question[: m.start()], span))
            certain = certain and spans[-1].grain != "range"
    if (
        len(spans) > 1
        and _BETWEEN.search(question[: matches[0].end()])
        and all(s.grain != "year" for s in spans)
    ):  # "between August and September 2016"; "between 2016 and 2019" compares two years
        spans = [Span(min(s.start for s in spans), max(s.end for s in spans), "range")]
    if not spans and not yearless:
        return None
    return Window(tuple(spans), certain, tuple(yearless))


_LEADS_IN = re.compile(
    r"\b(?:in|on|during|since|before|after|between|from|by|until|till|of|at|around|and|to|"
    r"through|throughout|over|early|mid|late)[\s-]*$",
    re.I,
)
_NOUN_AFTER = re.compile(
    r"\s+(?!(?:and|or|but|when|where|while|about|to|for|with|as|in|on|at|"
    r"by|from|during|before|after|that|which|who|was|were|is|did)\b)[a-z]",
    re.I,
)


def _attributive(question: str, m: re.Match[str]) -> bool:
    """A date that qualifies a noun ("May's July 2016 remarks", "the 2016 election") rather
    than saying when the question asks about ("in July 2016", "on 14 May")."""
    return not _LEADS_IN.search(question[: m.start()]) and bool(
        _NOUN_AFTER.match(question, m.end())
    )


def _years_of(m: re.Match[str]) -> list[str]:
    names = ("dm_year", "md_year", "my_year", "s_year", "yr_year", "iso_y")
    return [m.group(name) for name in names if m.group(name)]


def _opened(before: str, span: Span) -> Span:
    """'before May 2019' → everything up to 30 April 2019; 'since 2016' → 2016 onwards."""
    if _OPEN_BEFORE.search(before):
        return Span(dt.date.min, span.start - dt.timedelta(days=1), "range")
    if _OPEN_AFTER.search(before):
        return Span(span.start, dt.date.max, "range")
    return span


def iso_dates(text: str, published: str | None) -> list[str]:
    """`dates_in` as ISO strings, for chunk metadata and the JSON output."""
    return [span.iso for span in dates_in(text, published)]


def _needs_base(m: re.Match[str]) -> bool:
    """An expression whose date depends on when it was written ("last month", "on Tuesday",
    "in July", "4 September")."""
    return not _years_of(m) and not m.group("yr")


def with_dates(sentence: str, published: str | None) -> str:
    """'… last month …' → '… last month [July 2016] …': each relative expression of an
    article's sentence followed by the date it stands for ("on Tuesday, 14 May" once)."""
    base = parse_published(published)
    if base is None:
        return sentence
    ahead = bool(FUTURE.search(sentence))
    resolved = [
        (m, span)
        for m in _matches(_ARTICLE, sentence)
        if _needs_base(m) and (span := _span(m, base, None, ahead)) is not None
    ]
    pieces: list[str] = []
    last = 0
    for i, (m, span) in enumerate(resolved):
        following = resolved[i + 1] if i + 1 < len(resolved) else None
        if (
            following
            and following[1] == span
            and not sentence[m.end() : following[0].start()].strip(" ,")
        ):
            continue  # "on Tuesday, 14 May": one date, said twice
        end = m.end()
        possessive = _POSSESSIVE.match(sentence, end)
        end = possessive.end() if possessive else end  # "Tuesday’s [14 May 2019] meeting"
        pieces += [sentence[last:end], f" [{span.label}]"]
        last = end
    return "".join(pieces) + sentence[last:]


_POSSESSIVE = re.compile(r"['’]s\b")


def day_label(published: str | None) -> str | None:
    """'2016-08-09' → '9 August 2016'."""
    day = parse_published(published)
    return _day_label(day) if day else None


def stated_when(window: Window, sentences: list[tuple[str | None, str]]) -> str:
    """A lead-in that says when, for an answer to a question about a time whose sentences
    (publication date, text) name no time in the window: 'As reported on 9 August 2016: '."""
    if any(
        window.holds(span) for published, text in sentences for span in dates_in(text, published)
    ):
        return ""
    when = day_label(sentences[0][0]) if sentences else None
    return f"As reported on {when}: " if when else ""


def dated_in(window: Window, text: str, published: str | None) -> bool:
    """The text itself names a time in the window (its publication date aside)."""
    return any(window.holds(span) for span in dates_in(text, published))


def untimed(question: str) -> str:
    """The question without its expressions of time: "May" in "14 May 2019" is no name."""
    for m in reversed(_matches(_QUESTION, question)):
        question = question[: m.start()] + " " + question[m.end() :]
    return question


def time_expressions(text: str) -> list[tuple[str, int]]:
    """The expressions of time in an article's sentence, each with its end offset."""
    offsets = _SAVED_TIMES.get(text)
    if offsets is None:
        offsets = time_offsets(text)
    return [(text[start:end], end) for start, end in offsets]


def time_offsets(text: str) -> tuple[tuple[int, int], ...]:
    """Where `time_expressions(text)` are in the text (what ingest saves)."""
    return tuple(m.span() for m in _matches(_ARTICLE, text))
