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
import sys
from pathlib import Path

from rag.ingest.reuters import Story, stories


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
            if not isinstance(story, Story):
                continue
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
