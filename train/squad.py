"""SQuAD 2.0 (first half of the official dev set, in `../shared/data/squad2-dev/`) as a corpus
and a gold set: each paragraph is an article, each question a gold item whose key fact is any
of its answers; `is_impossible` questions are unanswerable.

It is split by article (Wikipedia page), never by question, into `train`, `val` and
`heldout`. The split is fixed by a seeded shuffle of the page titles.

    python -m train.squad --split heldout --out DIR [--limit N]

writes `DIR/corpus/*.md` and `DIR/gold.jsonl`. SQuAD 2.0 is CC BY-SA 4.0 (Rajpurkar, Jia and
Liang, ACL 2018); it is read from `../shared` and never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "squad2-dev" / "dev-v2.0.json"
SPLITS = ("train", "val", "heldout")
SEED = 20  # the issue that asked for the split
HELD = 3  # pages held out, and pages for validation


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]  # empty when unanswerable
    doc_id: str
    context: str
    starts: tuple[int, ...]  # answer_start of each answer, in `context`


def pages(source: Path = SOURCE) -> list[dict]:
    if not source.is_file():
        raise FileNotFoundError(f"{source} not found (SQuAD 2.0 lives in ../shared/data)")
    return json.loads(source.read_text("utf-8"))["data"]


def split_titles(titles: list[str]) -> dict[str, str]:
    """page title → split: a seeded shuffle, `HELD` pages held out, `HELD` for validation."""
    order = sorted(titles)
    random.Random(SEED).shuffle(order)
    return {
        t: "heldout" if i < HELD else "val" if i < 2 * HELD else "train"
        for i, t in enumerate(order)
    }


def load(split: str, source: Path = SOURCE) -> tuple[dict[str, tuple[str, str]], list[Question]]:
    """The split's paragraphs (doc id → (title, text)) and questions."""
    data = pages(source)
    which = split_titles([p["title"] for p in data])
    docs: dict[str, tuple[str, str]] = {}
    questions: list[Question] = []
    for page_no, page in enumerate(data):
        if which[page["title"]] != split:
            continue
        title = page["title"].replace("_", " ")
        for para_no, paragraph in enumerate(page["paragraphs"]):
            doc_id = f"squad-{page_no:02d}-{para_no:03d}"
            docs[doc_id] = (title, paragraph["context"])
            for qa in paragraph["qas"]:
                answers = tuple(
                    dict.fromkeys(a["text"] for a in qa["answers"] if a["text"].strip())
                )
                starts = tuple(a["answer_start"] for a in qa["answers"])
                questions.append(
                    Question(
                        qa["id"],
                        qa["question"].strip(),
                        () if qa["is_impossible"] else answers,
                        doc_id,
                        paragraph["context"],
                        () if qa["is_impossible"] else starts,
                    )
                )
    return docs, questions


def sample(questions: list[Question], limit: int | None) -> list[Question]:
    """A seeded sample of `limit` questions (all when None), in a stable order."""
    if limit is None or limit >= len(questions):
        return questions
    return sorted(random.Random(SEED).sample(questions, limit), key=lambda q: q.id)


def gold_item(q: Question) -> dict:
    return {
        "id": f"squad-{q.id}",
        "question": q.text,
        "answer": q.answers[0] if q.answers else "",
        "key_facts": [list(q.answers)] if q.answers else [],
        "sources": [q.doc_id] if q.answers else [],
        "type": "single" if q.answers else "unanswerable",
    }


def write(split: str, out: Path, limit: int | None = None, source: Path = SOURCE) -> int:
    docs, questions = load(split, source)
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, text) in docs.items():
        (corpus / f"{doc_id}.md").write_text(
            f'---\ntitle: "{title}"\noutlet: Wikipedia\n---\n\n{text}\n', "utf-8"
        )
    chosen = sample(questions, limit)
    lines = [json.dumps(gold_item(q), ensure_ascii=False) for q in chosen]
    (out / "gold.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    return len(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SQuAD 2.0 split as a corpus and a gold set")
    parser.add_argument("--split", choices=SPLITS, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="a seeded sample of questions")
    parser.add_argument("--source", type=Path, default=SOURCE)
    args = parser.parse_args(argv)
    try:
        n = write(args.split, args.out, args.limit, args.source)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{n} questions of the {args.split} split in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
