"""Reuters-21578 (Distribution 1.0) SGML files: one record per story that has a body, with its
publication date from `<DATE>` and its dateline ("CLEVELAND, Feb 26 -") opening the text."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.records import Problem, Record

_STORY = re.compile(r"<REUTERS\b(?P<attrs>[^>]*)>(?P<body>.*?)</REUTERS>", re.S)
_NEWID = re.compile(r'NEWID="(\d+)"')
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TRAILER = re.compile(r"\s*\bReuter\s*$")


@dataclass(frozen=True)
class Story:
    newid: int
    title: str
    published: str  # ISO date
    dateline: str
    body: str  # paragraphs joined by blank lines

    @property
    def text(self) -> str:
        return f"{self.dateline} {self.body}" if self.dateline else self.body


def _field(tag: str, text: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S)
    return html.unescape(match.group(1)) if match else ""


def _paragraphs(body: str) -> str:
    """Reuters wraps lines at about 65 characters and opens a paragraph with an indent."""
    body = _TRAILER.sub("", _CONTROL.sub("", body))
    paragraphs = re.split(r"\n(?= {3,}\S)", body.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _elements(path: Path) -> Iterator[re.Match[str]]:
    """The `<REUTERS>` elements of a file, read a story at a time (the files are latin-1)."""
    buffer = ""
    with path.open("r", encoding="latin-1") as handle:
        while chunk := handle.read(1 << 20):
            buffer += chunk
            last = 0
            for match in _STORY.finditer(buffer):
                yield match
                last = match.end()
            buffer = buffer[last:]


def stories(path: Path) -> Iterator[Story | Problem]:
    """The stories of one SGML file; a story without a body (a headline alone) or without a
    readable date is a `Problem`."""
    for match in _elements(path):
        found = _NEWID.search(match.group("attrs"))
        raw = match.group("body")
        where = f"{path.name} NEWID {found.group(1) if found else '?'}"
        title = " ".join(_CONTROL.sub("", _field("TITLE", raw)).split())
        body = _field("BODY", raw)
        if not found or not body.strip():
            yield Problem(where, "a headline without a story")
            continue
        stamp = (_field("DATE", raw).strip().split() or [""])[0]
        try:
            published = dt.datetime.strptime(stamp, "%d-%b-%Y").date().isoformat()
        except ValueError:
            yield Problem(where, f"unreadable <DATE> {stamp!r}")
            continue
        dateline = " ".join(_CONTROL.sub("", _field("DATELINE", raw)).split())
        yield Story(int(found.group(1)), title, published, dateline, _paragraphs(body))


def read_sgml(path: Path) -> Iterator[Record | Problem]:
    """The stories of a Reuters-21578 SGML file as records (`reuters-<NEWID>`)."""
    for story in stories(path):
        if isinstance(story, Problem):
            yield story
            continue
        yield Record(
            doc_id=f"reuters-{story.newid}",
            text=story.text,
            where=f"{path.name} NEWID {story.newid}",
            title=story.title or None,
            published=story.published,
            outlet="Reuters",
            origins={
                "id": "NEWID",
                "title": "<TITLE>",
                "published": "<DATE>",
                "outlet": "Reuters-21578",
            },
        )


def count_stories(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"<REUTERS ") for chunk in iter(lambda: handle.read(1 << 20), b""))
