"""Reuters-21578, Distribution 1.0, as Markdown articles with front matter (title, outlet,
published): the derived sample in `eval/reuters/` (the stories of two files) and the reader's
training corpus (four other files, written under `.rag-train/`).

Reuters-21578 is read from `../shared/corpora/reuters21578/`; copyright stays with Reuters
Ltd., and Reuters and Carnegie Group allow its free distribution for research purposes only.
This sample (about a tenth of the collection) is kept for the evaluation gate.

    python -m train.reuters [--source DIR] [--out eval/reuters] [--files 000,001]
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


def _field(tag: str, text: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S)
    return html.unescape(match.group(1)) if match else ""


def _paragraphs(body: str) -> str:
    """Reuters wraps lines at about 65 characters and opens a paragraph with an indent."""
    body = _TRAILER.sub("", _CONTROL.sub("", body))
    paragraphs = re.split(r"\n(?= {3,}\S)", body.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def stories(path: Path) -> Iterator[Story]:
    """The stories of one SGML file that have a body."""
    text = path.read_text("latin-1")
    for match in _STORY.finditer(text):
        found = _NEWID.search(match.group("attrs"))
        raw = match.group("body")
        body = _field("BODY", raw)
        if not found or not body.strip():
            continue
        stamp = _field("DATE", raw).strip().split()[0]
        published = dt.datetime.strptime(stamp, "%d-%b-%Y").date().isoformat()
        title = " ".join(_CONTROL.sub("", _field("TITLE", raw)).split())
        dateline = " ".join(_CONTROL.sub("", _field("DATELINE", raw)).split())
        yield Story(int(found.group(1)), title, published, dateline, _paragraphs(body))


def markdown(story: Story) -> str:
    title = story.title.replace('"', "'")
    text = f"{story.dateline} {story.body}" if story.dateline else story.body
    return f'---\ntitle: "{title}"\noutlet: Reuters\npublished: {story.published}\n---\n\n{text}\n'


ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "corpora" / "reuters21578"


def write(out: Path, files: list[str], source: Path = SOURCE) -> int:
    """The stories of `reut2-NNN.sgm` for each NNN in `files`, one Markdown file each."""
    if not source.is_dir():
        raise FileNotFoundError(f"{source} not found (Reuters-21578 lives in ../shared)")
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for number in files:
        for story in stories(source / f"reut2-{number}.sgm"):
            (out / f"reuters-{story.newid}.md").write_text(markdown(story), "utf-8")
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reuters-21578 stories as Markdown articles")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reuters")
    parser.add_argument("--files", default="000,001", help="which reut2-NNN.sgm files")
    args = parser.parse_args(argv)
    try:
        written = write(args.out, [n.strip() for n in args.files.split(",")], args.source)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{written} articles in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
