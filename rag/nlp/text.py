"""Text primitives shared by chunking, BM25 and the composers: sentences, terms, token counts."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

# Function words only. Deliberately absent: "may" (Theresa May), "will", "can", "us" (the US),
# and other words that double as names or entities in news text.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom whose why with would you your yours yourself yourselves
    tell told say said says saying""".split()
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?]+[\"”’'»)\]]*(?=\s)")
_NEXT_START = re.compile(r"\s+[\"“‘'«(\[—–-]*\s*[A-Z0-9\u0400-\u04FF]")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr gen col lt sgt rep sen gov pres no vs etc inc ltd co corp "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k e.g i.e".split()
)


# What reads as one of the engine's citation markers ("[2]", "[1, 3]", "[^4]", "[2-5]") when
# it stands in article text: a footnote of the source, or text planted to look like a citation.
_MARKER_LOOKALIKE = re.compile(r"\[(\s*\^?\d{1,3}(?:\s*[,;–-]\s*\d{1,3})*\s*)\]")


def neutral_markers(text: str) -> str:
    """Article text with marker look-alikes in round brackets ("[1]" -> "(1)"): only the
    engine's own markers link to a citation. The length is kept, so offsets still hold."""
    if "[" not in text:
        return text
    return _MARKER_LOOKALIKE.sub(lambda m: f"({m.group(1)})", text)


# Sentences that speak to the reader of the text as to an assistant: the conventions of
# prompt injection ("Ignore previous instructions", "SYSTEM:", "you must answer"). Such a
# sentence is an instruction planted in the text, not a report of the news.
_ADDRESSES_ASSISTANT = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?"
    r"(?:(?:previous|prior|above|earlier|preceding|original|system)\s+)?(?:instructions?|prompts?|"
    r"directions|guidelines)\b"
    r"|\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?(?:previous|prior|"
    r"above|earlier|preceding)\s+(?:rules|context|messages|text)\b"
    r"|(?:^|[\s\"“'(\[])(?:system|assistant|developer)\s*(?:prompt\s*)?:"
    r"|\b(?:you|the assistant|the model|the ai|the chatbot|the bot|language models?)\s+(?:must|"
    r"should|shall|are to|have to|need to|will now)\s+(?:\w+\s+)?(?:answer|reply|respond|say|"
    r"state|output|write|tell the user|claim|print|repeat)\s+(?:that|with|only|exactly|:|[\"“])"
    r"|\bas an ai\b|\bnew instructions?\s*:",
    re.I,
)


def addresses_assistant(sentence: str) -> bool:
    """Whether a sentence gives orders to whoever reads it (`_ADDRESSES_ASSISTANT`)."""
    return _ADDRESSES_ASSISTANT.search(sentence) is not None


def same_words(a: str, b: str) -> bool:
    """The same words in the same order, whatever the case, spacing and punctuation."""
    return [w.lower() for w in words(a)] == [w.lower() for w in words(b)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split text into sentence spans `(start, end)`; line breaks always end a sentence."""
    return list(_sentence_spans(text))


@lru_cache(maxsize=4096)
def _sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        offset, body = line.start(), line.group()
        start = 0
        for match in _SENTENCE_END.finditer(body):
            end = match.end()
            if not _NEXT_START.match(body, end) or _is_abbreviation(body, match.start()):
                continue
            spans.append((offset + start, offset + end))
            start = end
        spans.append((offset + start, offset + len(body)))
    return tuple(trimmed for span in spans if (trimmed := _trim(text, span)))


def _is_abbreviation(body: str, dot: int) -> bool:
    start = dot  # back over the word (and dots) before the full stop: what [\w.]+$ matches
    while start and (body[start - 1].isalnum() or body[start - 1] in "_."):
        start -= 1
    token = body[start:dot].lower().rstrip(".")
    return start < dot and (token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()))


def _trim(text: str, span: tuple[int, int]) -> tuple[int, int] | None:
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


# "NEWPORT NEWS, Va., March 4 - ", "LONDON (Reuters) - ": where and when a wire story was filed,
# ahead of its first sentence.
_DATELINE = re.compile(
    r"[A-Z][^\n]{0,60}?(?:,\s*(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
    r"\d{1,2}|\((?:Reuters|AP|AFP|UPI|dpa)\))\s*[-–—]+\s+"
)


def dateline_end(sentence: str) -> int:
    """Where a sentence's opening dateline ends ("SALVADOR, Feb 26 - "); 0 if it has none."""
    m = _DATELINE.match(sentence)
    return m.end() if m else 0


# Verbs that report someone's words: "Lavrov said", "said the minister", "according to Peskov".
SPEECH_VERBS = frozenset(
    "said says say told tells added stated announced warned urged stressed noted according "
    "declared described called insisted argued suggested explained confirmed denied replied "
    "commented claimed accused promised pledged vowed predicted forecast".split()
)


def speaks(sentence: str, names: frozenset[str]) -> bool:
    """One of the names (normalised terms) stands within four words of a verb that reports
    speech: the sentence reports that person's words."""
    found = words(sentence)
    verbs = [i for i, w in enumerate(found) if w.lower() in SPEECH_VERBS]
    return any(normalise(w) in names for i in verbs for w in found[max(0, i - 4) : i + 5])


_REMEMBERED_WORDS = 600  # characters: a sentence's words are remembered, a chunk's are not


def words(text: str) -> list[str]:
    """Word tokens in their original case (apostrophes kept inside words)."""
    return list(_words(text)) if len(text) <= _REMEMBERED_WORDS else _WORD.findall(text)


@lru_cache(maxsize=65536)
def _words(text: str) -> tuple[str, ...]:
    # every candidate sentence is read by several scorers, question after question; a whole
    # chunk's words (tokenised once at ingest) would only fill memory
    return tuple(_WORD.findall(text))


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    import Stemmer  # PyStemmer (Snowball)

    stem = Stemmer.Stemmer("english").stemWord
    return lambda word: stem(word)


@lru_cache(maxsize=262144)
def normalise(word: str) -> str:
    """Lowercase, drop possessive endings, stem: the form BM25 and overlap scoring compare
    (remembered: the same words recur in every sentence read)."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return _stemmer()(word)


_SOUND_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


# Irregular verbs: present → past ("Putin met", "when did they meet").
_IRREGULAR = dict(
    pair.split(":")
    for pair in """meet:met make:made take:took give:gave go:went see:saw hold:held speak:spoke
    send:sent put:put set:set lead:led win:won run:ran begin:began bring:brought think:thought
    become:became come:came leave:left get:got tell:told say:said seek:sought pay:paid
    keep:kept strike:struck throw:threw draw:drew write:wrote ride:rode fly:flew
    fight:fought""".split()
)
IRREGULAR_PAST = frozenset(_IRREGULAR.values())
_BASE = {past: base for base, past in _IRREGULAR.items() if past != base}


def base_form(word: str) -> str | None:
    """The present of an irregular past ("met" → "meet", normalised), else None: "when they
    met" should find "the meeting"."""
    base = _BASE.get(word.lower())
    return normalise(base) if base else None


def sound_key(word: str) -> str:
    """Soundex: names that sound alike share it ("May" and "Mei", "Zelensky" and "Zelenskyy")."""
    letters = [ch for ch in word.lower() if ch.isalpha()]
    if not letters:
        return ""
    key, last = letters[0], _SOUND_CODES.get(letters[0], "")
    for ch in letters[1:]:
        code = _SOUND_CODES.get(ch, "")
        if code and code != last:
            key += code
        if ch not in "hw":  # h and w do not separate letters of one sound
            last = code
    return (key + "000")[:4]


def terms(text: str) -> list[str]:
    """Content terms of a text for lexical matching: stop words out, entities such as May kept."""
    return list(_terms(text))


@lru_cache(maxsize=65536)
def term_set(text: str) -> frozenset[str]:
    """`terms` as a set (remembered: scorers compare a sentence's terms again and again)."""
    return frozenset(_terms(text))


_TERM_OF: dict[str, str | None] = {}  # a word as written -> its term (None: a stop word)


@lru_cache(maxsize=65536)
def _terms(text: str) -> tuple[str, ...]:
    # Answering re-reads the same retrieved sentences question after question; the first
    # reading of one looks each word up once (the same words recur in every sentence)
    found = []
    for word in words(text):
        if word in _TERM_OF:
            term = _TERM_OF[word]
        else:
            term = None if word.lower() in STOPWORDS else normalise(word)
            if len(_TERM_OF) < 262144:
                _TERM_OF[word] = term
        if term is not None:
            found.append(term)
    return tuple(found)


def _llama_index_tiktoken_cache() -> Path | None:
    spec = importlib.util.find_spec("llama_index.core")
    if not spec or not spec.submodule_search_locations:
        return None
    cache = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
    return cache if cache.is_dir() else None


@lru_cache(maxsize=1)
def token_counter() -> Callable[[str], int]:
    """Token counter for chunking: tiktoken cl100k_base from the cache that ships with
    llama-index-core; never a download. Falls back to a word-based estimate if unavailable."""
    cache = _llama_index_tiktoken_cache()
    if cache and "TIKTOKEN_CACHE_DIR" not in os.environ:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base")
        return lambda text: len(encoding.encode(text, disallowed_special=()))
    except Exception:  # noqa: BLE001 - any failure to load the encoding must not stop a run
        return lambda text: int(len(words(text)) * 1.3) + 1
