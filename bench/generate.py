"""A seeded generator of synthetic news articles, recombined from the seed articles.

Each article is about one meeting between two officials of two countries. Its lede states the
meeting (who, whom, where, when); a quote and a pledge follow; the body is sentences of the
seed articles with their people, countries, capitals and dates replaced by the article's own.
Lengths vary (a skewed distribution, 4 to 40 body sentences); publication dates are spread
over 2010-2024. The same seed gives a byte-identical corpus. The facts each article states are
kept so that `bench.questions` can ask about them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.corpus import scan
from rag.nlp.text import sentence_spans, words

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
MONTHS = (
    "January February March April May June July August September October November December"
).split()
FIRST = (
    "Elena Marek Amara Tomas Ingrid Rafael Nadia Viktor Leila Oskar Mirela Anders Sofia Dmitri "
    "Helena Kwame Yuki Laszlo Farah Stefan Irena Mateo Zofia Arjun Lucia Emil Hana Gustav Noor "
    "Pavel Ines Bruno"
).split()
LAST = (
    "Varga Lindqvist Okafor Castellano Brandt Haddad Novak Moreau Sato Kowalski Andersen Petrov "
    "Mendes Aziz Halvorsen Duarte Richter Nakamura Sorensen Balogun Ferreira Volkova Hartmann "
    "Quiroga Kaplan Eriksen Mwangi Dragan Ortega Fischer Takeda Lambert"
).split()
# country, adjective, capital, seat of government, another city
COUNTRIES = (
    ("Russia", "Russian", "Moscow", "Kremlin", "Sochi"),
    ("Britain", "British", "London", "Downing Street", "Manchester"),
    ("the United States", "American", "Washington", "White House", "Chicago"),
    ("France", "French", "Paris", "Elysee Palace", "Lyon"),
    ("Germany", "German", "Berlin", "Chancellery", "Hamburg"),
    ("Japan", "Japanese", "Tokyo", "Kantei", "Osaka"),
    ("India", "Indian", "New Delhi", "South Block", "Mumbai"),
    ("Brazil", "Brazilian", "Brasilia", "Planalto Palace", "Sao Paulo"),
    ("Turkey", "Turkish", "Ankara", "presidential complex", "Istanbul"),
    ("Canada", "Canadian", "Ottawa", "Prime Minister's Office", "Toronto"),
    ("Italy", "Italian", "Rome", "Palazzo Chigi", "Milan"),
    ("Poland", "Polish", "Warsaw", "chancellery", "Krakow"),
    ("Norway", "Norwegian", "Oslo", "government office", "Bergen"),
    ("Kenya", "Kenyan", "Nairobi", "State House", "Mombasa"),
    ("Mexico", "Mexican", "Mexico City", "National Palace", "Monterrey"),
    ("Indonesia", "Indonesian", "Jakarta", "Merdeka Palace", "Surabaya"),
    ("South Korea", "South Korean", "Seoul", "presidential office", "Busan"),
    ("Egypt", "Egyptian", "Cairo", "Ittihadiya Palace", "Alexandria"),
)
VENUES = (
    "Geneva Vienna Helsinki Singapore Doha Reykjavik Brussels Hangzhou Osaka Istanbul Davos "
    "Nairobi Lisbon Tallinn Valletta Baku Astana Muscat Hanoi Montevideo Zagreb Dubrovnik"
).split()
HOST_ROLES = ("President", "Prime Minister", "Foreign Minister")
GUEST_ROLES = ("Prime Minister", "Foreign Secretary", "Secretary of State", "Trade Minister")
PROJECTS = (
    "a new rail link",
    "flood defences",
    "a joint research centre",
    "grain storage",
    "a cyber security programme",
    "port upgrades",
    "a student exchange scheme",
    "vaccine production",
    "border monitoring",
    "a solar power plant",
    "aviation security",
    "drought relief",
)
DESCRIPTIONS = (
    "frank and useful",
    "long and difficult",
    "open and honest",
    "warm and constructive",
    "tense but necessary",
    "brief and businesslike",
    "formal and explicit",
    "cordial and productive",
)
OUTLETS = (
    "RT",
    "The Quint",
    "Sahar News",
    "The Times",
    "Northern Herald",
    "Daily Ledger",
    "Capital Post",
    "Global Wire",
    "The Evening Courier",
    None,
)
_YEAR = re.compile(r"\b(20[012]\d)\b")
_MONTH = re.compile(r"\b(" + "|".join(m for m in MONTHS if m != "May") + r")\b")
# "May" is the month only next to a day number ("14 May", "May 14"): elsewhere a seed's name.
_MAY_DATE = re.compile(r"\b(\d{1,2}) May\b|\bMay (\d{1,2})\b")


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    role: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Country:
    name: str
    adjective: str
    capital: str
    seat: str
    city: str


@dataclass(frozen=True)
class Facts:
    """What one article states, for the questions."""

    doc_id: str
    host: str  # full names
    guest: str
    host_last: str
    guest_last: str
    venue: str
    date: str  # ISO date of the meeting
    host_country: str
    description: str  # how the guest described the talks
    project: str
    amount: int  # million dollars the host country pledged for the project


@dataclass(frozen=True)
class GeneratedArticle:
    doc_id: str
    title: str
    outlet: str | None
    published: str
    url: str | None
    text: str
    facts: Facts


@dataclass(frozen=True)
class Corpus:
    """The generated articles (in doc id order) and where they were written."""

    folder: Path
    articles: list[GeneratedArticle]

    @property
    def words(self) -> int:
        return sum(len(words(a.text)) for a in self.articles)


def seed_sentences(seeds: Path = SEEDS) -> list[str]:
    """The body sentences of the seed articles, cleaned as the engine cleans them (headlines,
    bylines and fragments left out)."""
    found: list[str] = []
    for article in scan([seeds]).articles:
        for start, end in sentence_spans(article.text)[1:]:
            sentence = article.text[start:end].strip()
            if (
                len(sentence.split()) >= 6
                and not sentence.startswith("(")
                and sentence[-1] in '.”"'
            ):
                found.append(sentence)
    return found


def _people(rng: random.Random, roles: tuple[str, ...]) -> Person:
    return Person(rng.choice(FIRST), rng.choice(LAST), rng.choice(roles))


def _substitutions(
    host: Person, guest: Person, a: Country, b: Country, extra: list[Person]
) -> list[tuple[re.Pattern[str], str]]:
    """Seed names to the article's: longest names first, so 'Vladimir Putin' goes whole."""
    spokesman, minister, leader, former, aide, expert = extra
    pairs = [
        (r"(?:THERESA|Theresa|Teresa) (?:May|may)|Mike Pompeo", guest.full),
        (r"Mrs May|Mei|Pompeo|(?<=Putin and )may|(?<!\d )May(?! \d)", ""),
        (r"(?:Vladimir|Vla\w+) Putin", host.full),
        (r"Putin", host.last),
        (r"Sergey Lavrov|Lavrov", minister.full),
        (r"Dmitry Peskov|Peskov", spokesman.full),
        (r"(?:President )?\(?Donald\)? Trump|Trump", leader.full),
        (r"David Cameron|Cameron", former.full),
        (r"Yuri Ushakov", aide.full),
        (r"John Wight|Robert Mueller|Mueller", expert.full),
        (r"Kremlin", a.seat),
        (r"Downing Street|White House", b.seat),
        (r"Russian", a.adjective),
        (r"Russia", a.name),
        (r"Moscow|MOSCOW", a.capital),
        (r"British|American", b.adjective),
        (r"Britain|great Britain|United Kingdom|the UK|UK|the United States|US|America", b.name),
        (r"London|Washington", b.capital),
        (r"Sochi|Archangelsk|Hangzhou", a.city),
    ]
    compiled = []
    for pattern, replacement in pairs:
        compiled.append((re.compile(rf"\b{pattern}\b"), replacement or guest.last))
    return compiled


def _redate(sentence: str, date: dt.date, shift: int) -> str:
    """Move years by `shift` and put the article's month into dates the sentence gives."""
    month = MONTHS[date.month - 1]
    sentence = _YEAR.sub(lambda m: str(int(m.group(1)) + shift), sentence)
    sentence = _MAY_DATE.sub(
        lambda m: f"{m.group(1)} {month}" if m.group(1) else f"{month} {m.group(2)}", sentence
    )
    return _MONTH.sub(lambda _m: month, sentence)


def _article(i: int, seed: int, rng: random.Random, pool: list[str]) -> GeneratedArticle:
    a, b = rng.sample(COUNTRIES, 2)
    host_country, guest_country = Country(*a), Country(*b)
    host, guest = _people(rng, HOST_ROLES), _people(rng, GUEST_ROLES)
    while guest.last == host.last:
        guest = _people(rng, GUEST_ROLES)
    extra = [_people(rng, ("spokesman",)) for _ in range(6)]
    venue = rng.choice(VENUES)
    date = dt.date(2010, 1, 1) + dt.timedelta(days=rng.randrange(15 * 365))
    published = date + dt.timedelta(days=rng.choice((0, 0, 1, 1, 2)))
    shift = date.year - 2016
    description = rng.choice(DESCRIPTIONS)
    project = rng.choice(PROJECTS)
    amount = rng.randrange(5, 95) * 10
    day = f"{date.day} {MONTHS[date.month - 1]} {date.year}"

    lede = (
        f"{host_country.adjective} {host.role} {host.full} met {guest_country.adjective} "
        f"{guest.role} {guest.full} in {venue} on {day}, their first talks in more than a year."
    )
    quote = f"{guest.full} described the talks in {venue} as “{description}”."
    pledge = (
        f"{host_country.name[0].upper()}{host_country.name[1:]} pledged {amount} million dollars "
        f"for {project}, {extra[0].full} told reporters."
    )
    substitutions = _substitutions(host, guest, host_country, guest_country, extra)
    body: list[str] = []
    for sentence in rng.sample(
        pool, min(len(pool), max(4, min(40, int(rng.lognormvariate(2.4, 0.5)))))
    ):
        for pattern, replacement in substitutions:
            sentence = pattern.sub(replacement, sentence)
        body.append(_redate(sentence, date, shift))
    body.insert(rng.randrange(1, len(body) + 1), pledge)
    body.insert(rng.randrange(0, min(3, len(body)) + 1), quote)

    paragraphs = [lede]
    while body:
        size = rng.choice((1, 2, 2, 3, 3, 4))
        paragraphs.append(" ".join(body[:size]))
        body = body[size:]
    title = rng.choice(
        (
            f"{host.last} and {guest.last} meet in {venue}, vow to mend ties",
            f"{guest_country.adjective} and {host_country.adjective} leaders hold talks in {venue}",
            f"{host.last} hosts {guest.last} as {host_country.capital} seeks a new start",
            f"{guest.full} in {venue}: talks with {host.full} end without a breakthrough",
        )
    )
    digest = hashlib.sha256(f"{seed}-{i}".encode()).hexdigest()[:16]
    doc_id = f"{i:05d}_{digest}"
    outlet = rng.choice(OUTLETS)
    url = f"https://news.example/{digest}" if rng.random() < 0.3 else None
    facts = Facts(
        doc_id=doc_id,
        host=host.full,
        guest=guest.full,
        host_last=host.last,
        guest_last=guest.last,
        venue=venue,
        date=date.isoformat(),
        host_country=host_country.name,
        description=description,
        project=project,
        amount=amount,
    )
    text = title + "\n\n" + "\n\n".join(paragraphs) + "\n"
    return GeneratedArticle(doc_id, title, outlet, published.isoformat(), url, text, facts)


def generate_articles(n: int, seed: int, seeds: Path = SEEDS) -> list[GeneratedArticle]:
    """`n` articles, the same for the same seed."""
    if n < 1:
        raise ValueError(f"the number of articles must be at least 1, got {n}")
    pool = seed_sentences(seeds)
    rng = random.Random(seed)
    return [_article(i, seed, rng, pool) for i in range(n)]


def write_articles(folder: Path, articles: list[GeneratedArticle]) -> Corpus:
    """Write `.txt` files and the `metadata.json` manifest `rag ingest` reads."""
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {}
    for article in articles:
        (folder / f"{article.doc_id}.txt").write_text(article.text, "utf-8")
        metadata[article.doc_id] = {
            "title": article.title,
            "outlet": article.outlet,
            "published": article.published,
            "url": article.url,
        }
    manifest = json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"
    (folder / "metadata.json").write_text(manifest, "utf-8")
    return Corpus(folder, articles)


def generate(folder: Path, n: int, seed: int) -> Corpus:
    """Generate `n` articles into `folder` (see the module docstring)."""
    return write_articles(folder, generate_articles(n, seed))
