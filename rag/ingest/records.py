"""Record dumps, one article per record: JSON Lines, a JSON array, or CSV, read as streams.

Fields are found by common names (`title`/`headline`, `text`/`body`/`content`, …); `FieldNames`
overrides them. A record without an id gets one from its content, so it is stable across runs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Record:
    """One article as a source gives it: text plus whatever metadata the source names."""

    doc_id: str
    text: str
    where: str  # "dump.jsonl line 12", a URL: for messages
    title: str | None = None
    published: str | None = None
    outlet: str | None = None
    url: str | None = None
    # field -> where its value came from ("record field 'pubDate'", "feed entry", …)
    origins: dict[str, str] = field(default_factory=dict)
    is_html: bool = False


@dataclass(frozen=True)
class Problem:
    """A part of an input that could not be used; `reason` is shown to the user."""

    where: str
    reason: str


@dataclass(frozen=True)
class FieldNames:
    """The names each field may go by in a record, first match wins (case-insensitive)."""

    title: tuple[str, ...] = ("title", "headline", "heading", "name")
    text: tuple[str, ...] = ("text", "body", "content", "article", "story", "description")
    published: tuple[str, ...] = (
        "published", "date", "pubdate", "pub_date", "published_at", "publication_date",
        "datetime", "timestamp", "time", "created", "created_at",
    )  # fmt: skip
    outlet: tuple[str, ...] = ("outlet", "source", "site", "publisher", "site_name", "publication")
    url: tuple[str, ...] = ("url", "link", "href", "permalink")
    id: tuple[str, ...] = ("id", "doc_id", "guid", "uuid", "article_id", "key")

    def override(self, **names: str | None) -> FieldNames:
        """These names with some fields pinned to one given name (`--text-field body`)."""
        return replace(self, **{k: (v,) for k, v in names.items() if v})


def content_id(prefix: str, *parts: str | None) -> str:
    """A stable id from an article's content, for records that carry none."""
    digest = hashlib.sha1("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:12]}"


def _pick(row: dict[str, object], names: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The first non-empty value among `names`, and the key it was found under."""
    lowered = {str(k).strip().lower(): k for k in row}
    for name in names:
        key = lowered.get(name.lower())
        if key is None:
            continue
        value = row[key]
        if isinstance(value, dict):  # {"title": {"rendered": "..."}} (WordPress exports)
            value = value.get("rendered") or value.get("value")
        if isinstance(value, list):
            value = " ".join(str(v) for v in value if v)
        if value is not None and str(value).strip():
            return str(value).strip(), str(key)
    return None, None


def to_record(row: object, names: FieldNames, stem: str, where: str) -> Record | Problem:
    """One record from a decoded row, or the problem with it."""
    if not isinstance(row, dict):
        return Problem(where, f"not a record (a JSON {type(row).__name__})")
    text, text_key = _pick(row, names.text)
    if text is None:
        wanted = "/".join(names.text)
        return Problem(where, f"no text field ({wanted}); fields are {', '.join(map(str, row))}")
    origins = {}
    found: dict[str, str | None] = {}
    for name in ("title", "published", "outlet", "url"):
        value, key = _pick(row, getattr(names, name))
        found[name] = value
        if key:
            origins[name] = f"record field '{key}'"
    raw_id, id_key = _pick(row, names.id)
    doc_id = _safe_id(raw_id) if raw_id else content_id(stem, found["url"], found["title"], text)
    origins["id"] = f"record field '{id_key}'" if id_key else "content hash"
    return Record(
        doc_id=doc_id,
        text=text,
        where=where,
        origins=origins,
        is_html="<" in text and _looks_like_html(text),
        **found,
    )


def _safe_id(raw: str) -> str:
    """An id usable in chunk ids and file-like listings: no '#', '/', control characters."""
    cleaned = "".join(c if c.isprintable() and c not in "#/\\" else "-" for c in raw.strip())
    return cleaned[:200]


def _looks_like_html(text: str) -> bool:
    lowered = text[:2000].lower()
    return any(tag in lowered for tag in ("<p>", "<p ", "<br", "<div", "</a>", "<html"))


def read_records(path: Path, names: FieldNames = FieldNames()) -> Iterator[Record | Problem]:
    """The records of a dump, streamed; a broken part is a `Problem` and reading goes on."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        yield from _json_lines(path, names)
    elif suffix == ".csv":
        yield from _csv_rows(path, names)
    else:
        yield from _json_file(path, names)


def _json_lines(path: Path, names: FieldNames) -> Iterator[Record | Problem]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path.name} line {number}"
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                yield Problem(where, f"not valid JSON ({_first_line(exc)})")
                continue
            yield to_record(row, names, path.stem, where)


def _csv_rows(path: Path, names: FieldNames) -> Iterator[Record | Problem]:
    csv.field_size_limit(min(sys.maxsize, 1 << 31 - 1))
    with path.open("rb") as raw:
        handle = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if not any(h and h.strip().lower() in {n.lower() for n in names.text} for h in header):
            wanted = "/".join(names.text)
            yield Problem(path.name, f"no text column ({wanted}); columns are {', '.join(header)}")
            return
        try:
            for row in reader:
                yield to_record(row, names, path.stem, f"{path.name} row {reader.line_num}")
        except csv.Error as exc:
            yield Problem(f"{path.name} line {reader.line_num}", f"not valid CSV ({exc})")


def _json_file(path: Path, names: FieldNames) -> Iterator[Record | Problem]:
    """A JSON array of records (streamed element by element), or one record, or an object
    whose single list holds the records ({"articles": [...]})."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        head = handle.read(_READ_SIZE)
        stripped = head.lstrip()
        if stripped.startswith("["):
            yield from _json_array(handle, stripped[1:], path, names)
            return
        rest = head + handle.read()  # an object: read whole (one record or a wrapper)
    try:
        data = json.loads(rest)
    except ValueError as exc:
        yield Problem(path.name, f"not valid JSON ({_first_line(exc)})")
        return
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) == 1:
            for i, row in enumerate(lists[0], start=1):
                yield to_record(row, names, path.stem, f"{path.name} record {i}")
            return
    yield to_record(data, names, path.stem, path.name)


def _json_array(
    handle: io.TextIOBase, buffer: str, path: Path, names: FieldNames
) -> Iterator[Record | Problem]:
    decoder = json.JSONDecoder()
    number = 0
    while True:
        buffer = buffer.lstrip().lstrip(",").lstrip()
        while not buffer:
            more = handle.read(_READ_SIZE)
            if not more:
                yield Problem(path.name, "not valid JSON (the array is not closed)")
                return
            buffer = more.lstrip().lstrip(",").lstrip()
        if buffer.startswith("]"):
            return
        try:
            row, end = decoder.raw_decode(buffer)
        except ValueError as exc:
            more = handle.read(_READ_SIZE)
            if more:
                buffer += more
                continue
            yield Problem(
                f"{path.name} record {number + 1}", f"not valid JSON ({_first_line(exc)})"
            )
            return
        number += 1
        buffer = buffer[end:]
        yield to_record(row, names, path.stem, f"{path.name} record {number}")


def count_records(path: Path) -> int:
    """About how many records a dump holds (for progress), read without parsing."""
    suffix = path.suffix.lower()
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_SIZE):
            lines += chunk.count(b"\n")
    if suffix in {".jsonl", ".ndjson"}:
        return max(lines, 1)
    if suffix == ".csv":
        return max(lines - 1, 1)
    return max(lines // 4, 1)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
