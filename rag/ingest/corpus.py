"""Read articles from files, folders, record dumps, feeds and URLs; clean boilerplate by
general rules; find their metadata (headline, date, outlet, url) and say where each came from.

The cleaned text is the canonical article text: chunks and citations hold offsets into it,
and `CleanText.source_offset` maps any of those offsets back to the source's own text. The
headline is metadata, never part of the text.
"""

from __future__ import annotations

import bisect
import datetime as dt
import email.utils
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InputError
from rag.formats import (
    FEED_SUFFIXES,
    RECORD_SUFFIXES,
    SGML_SUFFIXES,
    SUPPORTED_SUFFIXES,
    TEXT_SUFFIXES,
)
from rag.ingest import datelines
from rag.ingest.decode import BinaryData, decode
from rag.ingest.records import FieldNames, Problem, Record, count_records
from rag.ingest.records import read_records as read_dump
from rag.ingest.reuters import count_stories, read_sgml
from rag.ingest.web import (
    html_to_text,
    is_url,
    page_text,
    read_feed_file,
    read_url,
)
from rag.nlp.text import same_words, words
from rag.types import SkippedFile

METADATA_FILE = "metadata.json"
FIELDS = ("title", "published", "outlet", "url")

# A whole line that is page furniture rather than article text.
_JUNK_LINE = re.compile(
    r"""^(?:
        advertisement(?:\s*[-–:].*)?            # ad slots
      | (?:read\ more|related\ stories|related|see\ also|also\ read|more\ on\ this|recommended)
        \s*:.*                                  # inline promos and their headline
      | (?:share|tweet|email|print|pin\ it|whatsapp|comments?)
        (?:\ (?:this|on\ \w+))?(?:\ (?:article|story|page))?  # share buttons
      | .*\b(?:become\ a\ member|subscribe\ (?:now|today|to\ our)|sign\ up\ (?:for|to)\ our
             |support\ our\ journalism|shaping\ our\ journalism)\b.*   # membership promos
      | .*\b(?:your\ email\ address\ will\ not\ be\ published|required\ fields\ are\ marked)\b.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# A line that starts the footer: everything from it to the end is dropped, when it stands in
# the last half of the text and what follows it is short.
_FOOTER_START = re.compile(
    r"^(?:check\ also|leave\ a\ reply|leave\ a\ comment|you\ may\ also\ like|more\ stories"
    r"|popular\ stories|comments)\s*:?\s*$",
    re.IGNORECASE | re.VERBOSE,
)
# "Home / World / Headline": a breadcrumb trail.
_BREADCRUMB = re.compile(r"^[^/.!?]{1,40}(?:\s/\s[^/]{1,120}){2,}$")
_SENTENCE_PUNCTUATION = re.compile(r"[.,;!?\"“”]")


@dataclass(frozen=True)
class CleanText:
    """Cleaned article text plus the map back to the source text it was cut from."""

    text: str
    # (offset in cleaned text, offset in source text) at the start of each kept line.
    anchors: tuple[tuple[int, int], ...] = ()

    def source_offset(self, offset: int) -> int:
        """Offset in the source text of the character at `offset` in the cleaned text."""
        starts = [clean for clean, _ in self.anchors]
        i = max(bisect.bisect_right(starts, offset) - 1, 0)
        clean, source = self.anchors[i] if self.anchors else (0, 0)
        return source + (offset - clean)


@dataclass(frozen=True)
class Article:
    """One article ready to chunk: cleaned text, metadata and the hash of its file."""

    doc_id: str
    path: Path
    text: str
    sha256: str
    title: str
    outlet: str | None = None
    published: str | None = None
    url: str | None = None
    # field -> where its value came from ("dateline", "metadata.json", "record field 'date'")
    origins: dict[str, str] = field(default_factory=dict, compare=False)
    where: str = ""  # the file, record or URL, for messages
    source: str = ""  # the file (absolute) or web address it was read from


class SkipFile(Exception):
    """A file that cannot be ingested; the message is the reason shown to the user."""


def is_junk_line(line: str) -> bool:
    """True for navigation, share, promo and comment-form lines (general rules, not per-site)."""
    stripped = line.strip()
    if _JUNK_LINE.match(stripped) or _BREADCRUMB.match(stripped):
        return True
    # Icon/menu strips: long runs of words with no sentence punctuation at all.
    return len(words(stripped)) >= 20 and not _SENTENCE_PUNCTUATION.search(stripped)


def clean(source: str) -> CleanText:
    """Drop boilerplate lines and footers; paragraphs are joined by one blank line, and the
    lines of a hard-wrapped paragraph by a space (`_wrapped`)."""
    lines = [(m.start(), m.group()) for m in re.finditer(r"[^\n]*", source) if m.group().strip()]
    for i, (start, line) in enumerate(lines):
        tail = len(source) - start
        if (
            start > len(source) // 2
            and tail < len(source) // 3
            and _FOOTER_START.match(line.strip())
        ):
            lines = lines[:i]
            break
    lines = [(start, line) for start, line in lines if not is_junk_line(line)]
    width = max((len(line.rstrip()) for _, line in lines), default=0)
    if sum(len(line.rstrip()) >= _WRAPPED_SHARE * width for _, line in lines) < _WRAPPED_LINES:
        width = WRAP_COLUMNS + 1  # too few full lines to tell a wrapped text
    pieces: list[str] = []
    anchors: list[tuple[int, int]] = []
    offset = 0
    for i, (start, line) in enumerate(lines):
        body = line.strip()
        if i:
            joined = i > 1 and _wrapped(lines[i - 1], start, width, source)  # not a headline
            pieces.append(" " if joined else "\n\n")
            offset += 1 if joined else 2
        anchors.append((offset, start + line.index(body)))
        pieces.append(body)
        offset += len(body)
    return CleanText("".join(pieces), tuple(anchors))


# Plain text is hard-wrapped at a fixed width of at most this many columns (72 to 80 by
# convention); a text whose lines run longer puts one paragraph on each line.
WRAP_COLUMNS = 100
# A line wrapped mid-sentence fills at least this share of the text's width, and a wrapped
# text has at least this many such lines.
_WRAPPED_SHARE = 0.6
_WRAPPED_LINES = 3


def _wrapped(previous: tuple[int, str], start: int, width: int, source: str) -> bool:
    """Whether the line at `start` continues the sentence of the line before it: the text
    is hard-wrapped, the line before (never the first, which may be the headline) is nearly
    full, no blank line parts them, and it ends mid-sentence."""
    before, line = previous
    end = before + len(line)
    text = line.rstrip()
    return (
        width <= WRAP_COLUMNS
        and len(text) >= _WRAPPED_SHARE * width
        and source.count("\n", end, start) == 1
        and not _SENTENCE_END_CHARS.search(text)
    )


_SENTENCE_END_CHARS = re.compile(r"[.!?:;\"”’')\]]$")


def _decoded(data: bytes) -> tuple[str, str]:
    if not data.strip():
        raise SkipFile("empty file")
    try:
        return decode(data)
    except BinaryData as exc:
        raise SkipFile(str(exc)) from None


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_FRONT_KEYS = {
    "title": "title", "headline": "title", "outlet": "outlet", "source": "outlet",
    "published": "published", "date": "published", "url": "url", "link": "url",
}  # fmt: skip


def _markdown_to_text(source: str) -> tuple[str, dict[str, str | None]]:
    found: dict[str, str | None] = {}
    match = _FRONT_MATTER.match(source)
    if match:
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            name = _FRONT_KEYS.get(key.strip().lower())
            if name and name not in found and value.strip():
                found[name] = value.strip().strip("\"'")
        # Blank out the front matter so offsets still point into the file's text.
        source = re.sub(r"[^\n]", " ", match.group(0)) + source[match.end() :]
    # Heading and quote markers are layout, not text.
    source = re.sub(r"(?m)^(\s*)(?:#{1,6}|>)\s", lambda m: " " * len(m.group(0)), source)
    return source, found


def iso_date(value: object) -> str | None:
    """An ISO date from the ways dumps and feeds write one: ISO 8601, RFC 822
    ("Tue, 03 Mar 2021 10:00:00 GMT"), a Unix timestamp, or a written date."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        pass
    if re.fullmatch(r"\d{9,13}(?:\.\d+)?", text):  # seconds or milliseconds since 1970
        seconds = float(text) / (1000 if len(text.split(".")[0]) > 11 else 1)
        return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    import dateparser

    parsed = dateparser.parse(text[:100], languages=["en"], settings={"STRICT_PARSING": True})
    return parsed.date().isoformat() if parsed else None


_HEADLINE_END = re.compile(r"[.;:,]$")


def _looks_like_headline(line: str, rest: str) -> bool:
    """A first line standing alone is a headline: short, not a sentence ending in a full stop,
    and followed by the story."""
    n = len(words(line))
    return 2 <= n <= 25 and not _HEADLINE_END.search(line) and len(words(rest)) >= 5


def _without_first_paragraph(cleaned: CleanText) -> CleanText:
    cut = cleaned.text.find("\n\n")
    if cut < 0:
        return cleaned
    cut += 2
    anchors = tuple((c - cut, s) for c, s in cleaned.anchors if c >= cut)
    return CleanText(cleaned.text[cut:], anchors)


@dataclass(frozen=True)
class _Found:
    """Metadata found in the source itself, and where each value came from."""

    values: dict[str, str | None]
    origins: dict[str, str]


def compose(
    doc_id: str,
    source: str,
    found: _Found,
    sidecar: dict[str, object] | None,
    *,
    path: Path,
    where: str,
    headline_line: bool,
    read_from: str = "",
    year: Callable[[], tuple[int | None, str | None]] = lambda: (None, None),
) -> Article:
    """An article from source text and its metadata: boilerplate cleaned, the headline taken
    out of the text, a date read from the dateline when nothing else gives one. `sidecar`
    (metadata.json) wins over what the source says. `read_from`: the web address it came
    from, when not the file `path`."""
    values = {k: v for k, v in found.values.items() if v}
    origins = {k: v for k, v in found.origins.items() if k in values or k not in FIELDS}
    for key, value in (sidecar or {}).items():
        if key in FIELDS and value:
            values[key], origins[key] = str(value), METADATA_FILE
    cleaned = clean(source)
    first, _, rest = cleaned.text.partition("\n\n")
    title = values.get("title")
    if title and same_words(first, title):
        cleaned = _without_first_paragraph(cleaned)
    elif not title and headline_line and _looks_like_headline(first, rest):
        values["title"], origins["title"] = first.strip()[:300], "first line"
        cleaned = _without_first_paragraph(cleaned)
    if len(words(cleaned.text)) < 5:
        raise SkipFile("no article text after cleaning")
    if not values.get("title"):
        values["title"], origins["title"] = _first_meaningful_line(cleaned.text), "first sentence"
    published = iso_date(values.get("published"))
    if values.get("published") and not published:
        origins["published"] = f"unreadable date {str(values['published'])[:40]!r}"
    if not published:
        line = datelines.find(cleaned.text)
        if line is not None and line.problem == datelines.NO_YEAR:
            line = datelines.find(cleaned.text, *year())
        if line is not None and line.published:
            published = line.published
            origins["published"] = "dateline" + (
                f", year from the {line.year_from}" if line.year_from else ""
            )
        elif line is not None and line.problem:
            origins["published"] = f"dateline: {line.problem}"
    url = values.get("url") if values.get("url") and is_url(str(values["url"])) else None
    if values.get("url") and not url:
        origins["url"] = "dropped (not a web address)"
    meta = {"title": values["title"], "outlet": values.get("outlet"), "published": published,
            "url": url}  # fmt: skip
    # of the text as indexed: a change to the cleaning reaches articles already indexed
    sha = hashlib.sha256(
        (cleaned.text + json.dumps(meta, sort_keys=True)).encode("utf-8")
    ).hexdigest()
    return Article(
        doc_id=doc_id,
        path=path,
        text=cleaned.text,
        sha256=sha,
        title=str(values["title"]),
        outlet=str(values["outlet"]) if values.get("outlet") else None,
        published=published,
        url=url,
        origins=origins,
        where=where,
        source=read_from or str(path.resolve()),
    )


def _first_meaningful_line(text: str) -> str:
    for line in text.split("\n"):
        if len(words(line)) >= 3:
            return line.strip()[:200]
    return text.strip()[:200]


def read_article(
    path: Path,
    metadata: dict[str, object] | None = None,
    collection_year: Callable[[], int | None] = lambda: None,
) -> Article:
    """Read, clean and describe one article file; raises `SkipFile` with the reason it can't
    be used. A dateline without a year takes the year in the file name, else
    `collection_year()` (the year of the file's folder, read only when needed)."""
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise SkipFile(f"unsupported file type {suffix or '(none)'}")
    data = path.read_bytes()
    source, encoding = _decoded(data)
    found: dict[str, str | None] = {}
    kind = "front matter"
    if suffix in {".html", ".htm"}:
        source, found = page_text(source)
        kind = "page metadata"
    elif suffix in {".md", ".markdown"}:
        source, found = _markdown_to_text(source)
    origins = {k: kind for k, v in found.items() if v}
    if encoding != "utf-8":
        origins["encoding"] = encoding

    def year() -> tuple[int | None, str | None]:
        if (named := datelines.year_in_name(path.name)) is not None:
            return named, "file name"
        found = collection_year()
        return (found, "articles of its folder") if found else (None, None)

    return compose(
        path.stem,
        source,
        _Found(found, origins),
        metadata,
        path=path,
        where=str(path),
        headline_line=suffix not in {".html", ".htm"},
        year=year,
    )


def article_of(
    record: Record, path: Path, sidecar: dict[str, object] | None = None, source: str = ""
) -> Article:
    """The article a record (from a dump, a feed or a page) holds; `source`: the web address
    it came from, if not the file `path`."""
    text = html_to_text(record.text) if record.is_html else record.text
    values = {"title": record.title, "published": record.published, "outlet": record.outlet,
              "url": record.url}  # fmt: skip
    return compose(
        record.doc_id,
        text,
        _Found(values, dict(record.origins)),
        sidecar,
        path=path,
        where=record.where,
        headline_line=False,
        read_from=source,
    )


def _folder_metadata(folder: Path, cache: dict[Path, dict[str, dict[str, object]]]) -> dict:
    if folder not in cache:
        manifest = folder / METADATA_FILE
        try:
            cache[folder] = json.loads(manifest.read_text("utf-8")) if manifest.is_file() else {}
        except (ValueError, OSError) as exc:
            raise InputError(f"{manifest}: not a valid metadata file ({exc})") from None
    return cache[folder]


@dataclass
class CorpusScan:
    """What a set of paths and URLs holds. Iterating reads the articles one by one (a dump is
    streamed, never loaded whole); what could not be used collects in `skipped` meanwhile."""

    inputs: list[Path | str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    fields: FieldNames = field(default_factory=FieldNames)
    skipped: list[SkippedFile] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    years: dict[Path, int | None] = field(default_factory=dict)
    url_timeout: float = 15.0
    max_article_bytes: int = 10 * 1_048_576  # RAG_MAX_UPLOAD_BYTES

    def expected(self) -> int:
        """About how many articles the inputs hold (for progress bars)."""
        total = 0
        for item in self.inputs:
            suffix = Path(item).suffix.lower() if isinstance(item, Path) else ""
            try:
                if suffix in RECORD_SUFFIXES:
                    total += count_records(Path(item))
                elif suffix in SGML_SUFFIXES:
                    total += count_stories(Path(item))
                else:
                    total += 1
            except OSError:
                total += 1
        return max(total, 1)

    def __iter__(self) -> Iterator[Article]:
        metadata: dict[Path, dict[str, dict[str, object]]] = {}
        for item in self.inputs:
            if isinstance(item, str):
                yield from self._records(
                    read_url(item, self.url_timeout), Path(item), None, source=item
                )
                continue
            yield from self._file(item, metadata)

    @property
    def articles(self) -> list[Article]:
        """Every article, read now."""
        return list(self)

    def _folder_year(self, folder: Path) -> int | None:
        """The year the articles of a folder were written in (`datelines.collection_year`)."""
        if folder not in self.years:
            texts = (
                _text_or_nothing(item)
                for item in self.inputs
                if isinstance(item, Path)
                and item.parent == folder
                and item.suffix.lower() in {".txt", ".md", ".markdown"}
            )
            self.years[folder] = datelines.collection_year(texts)
        return self.years[folder]

    def _too_large(self, size: int) -> str:
        return (
            f"{size:,} bytes; the limit for one article is {self.max_article_bytes:,} "
            "(RAG_MAX_UPLOAD_BYTES)"
        )

    def _skip(self, where: str | Path, reason: str) -> None:
        self.skipped.append(SkippedFile(path=str(where), reason=reason))

    def _fresh(self, doc_id: str, where: str) -> bool:
        if doc_id in self.seen:
            self._skip(where, f"duplicate document id {doc_id}")
            return False
        self.seen.add(doc_id)
        return True

    def _file(
        self, file: Path, cache: dict[Path, dict[str, dict[str, object]]]
    ) -> Iterator[Article]:
        suffix = file.suffix.lower()
        sidecar = _folder_metadata(file.parent, cache)
        try:
            if suffix in RECORD_SUFFIXES:
                yield from self._records(read_dump(file, self.fields), file, sidecar)
            elif suffix in SGML_SUFFIXES:
                yield from self._records(read_sgml(file), file, sidecar)
            elif suffix in FEED_SUFFIXES:
                yield from self._records(read_feed_file(file), file, sidecar)
            else:
                size = file.stat().st_size
                if size > self.max_article_bytes:
                    raise SkipFile(self._too_large(size))
                meta = sidecar.get(file.stem)
                article = read_article(
                    file,
                    meta if isinstance(meta, dict) else None,
                    lambda: self._folder_year(file.parent),
                )
                if self._fresh(article.doc_id, str(file)):
                    yield article
        except SkipFile as reason:
            self._skip(file, str(reason))
        except OSError as exc:
            self._skip(file, f"unreadable ({exc.strerror or exc})")

    def _records(
        self,
        records: Iterable[Record | Problem],
        path: Path,
        sidecar: dict | None,
        source: str = "",
    ) -> Iterator[Article]:
        for record in records:
            if isinstance(record, Problem):
                self._skip(record.where, record.reason)
                continue
            if record.doc_id in self.seen:
                self._skip(record.where, f"duplicate document id {record.doc_id}")
                continue
            meta = (sidecar or {}).get(record.doc_id)
            if len(record.text) > self.max_article_bytes:  # characters: at least as many bytes
                self._skip(record.where, self._too_large(len(record.text)))
                continue
            try:
                article = article_of(record, path, meta if isinstance(meta, dict) else None, source)
            except SkipFile as reason:
                self._skip(record.where, str(reason))
                continue
            self.seen.add(article.doc_id)
            yield article


def _text_or_nothing(path: Path) -> str:
    """The file's text, or "" when it cannot be read (it is skipped later, with its reason)."""
    try:
        return _decoded(path.read_bytes())[0]
    except (OSError, SkipFile):
        return ""


def _files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.name != METADATA_FILE
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def scan(
    paths: Iterable[Path | str],
    fields: FieldNames | None = None,
    max_article_bytes: int | None = None,
) -> CorpusScan:
    """What the given files, folders (recursively) and web addresses hold; read on iteration.
    An article file or record over `max_article_bytes` is skipped."""
    result = CorpusScan(fields=fields or FieldNames())
    if max_article_bytes is not None:
        result.max_article_bytes = max_article_bytes
    for raw in paths:
        if isinstance(raw, str) and is_url(raw):
            result.inputs.append(raw)
            continue
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
        if path.is_dir():
            result.folders.append(path.resolve())
            for file in _files(path):
                if file.suffix.lower() in SUPPORTED_SUFFIXES:
                    result.inputs.append(file)
                else:
                    result._skip(file, f"unsupported file type {file.suffix.lower() or '(none)'}")
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            result.inputs.append(path)
        else:
            result._skip(path, f"unsupported file type {path.suffix.lower() or '(none)'}")
    return result
