"""A measurement, not a test: `rag.ingest.duplicates` over all of Reuters-21578 (each story's
dateline and body), with how many exact and near duplicates it finds, how long it takes, and
example pairs to read: the least similar pairs it grouped, and pairs at 0.5-0.8 it did not.

    python -m train.duplicates_report [--source DIR] [--examples 3] [--misses 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.ingest.duplicates import (
    BANDS,
    ROWS,
    THRESHOLD,
    DuplicateIndex,
    exact_key,
    shingles,
    signature,
    similarity,
)
from rag.ingest.reuters import Story, stories
from train.reuters import SOURCE


@dataclass(frozen=True)
class Article:
    doc_id: str
    title: str
    text: str  # dateline and body, as ingest reads a story


def articles(source: Path) -> list[Article]:
    """Every story with a body in the 22 files of Reuters-21578."""
    found = []
    for path in sorted(source.glob("reut2-*.sgm")):
        for story in stories(path):
            if isinstance(story, Story):
                found.append(Article(f"reuters-{story.newid}", story.title, story.text))
    return found


def jaccard(a: str, b: str) -> float:
    """The true Jaccard similarity of two texts' shingle sets, to set beside the estimate."""
    left, right = shingles(a), shingles(b)
    return len(left & right) / len(left | right)


def near_misses(sigs: dict[str, np.ndarray], low: float, high: float) -> list[tuple[str, str]]:
    """Pairs that share an LSH band and whose estimated similarity is in [low, high)."""
    buckets: dict[tuple[int, bytes], list[str]] = {}
    for doc_id, sig in sigs.items():
        for band in range(BANDS):
            buckets.setdefault((band, sig[band * ROWS : (band + 1) * ROWS].tobytes()), []).append(
                doc_id
            )
    pairs = {
        (a, b)
        for members in buckets.values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    }
    return sorted(p for p in pairs if low <= similarity(sigs[p[0]], sigs[p[1]]) < high)


def show(pair: tuple[str, str], by_id: dict[str, Article], sigs: dict[str, np.ndarray]) -> None:
    a, b = (by_id[doc_id] for doc_id in pair)
    estimate = similarity(sigs[a.doc_id], sigs[b.doc_id])
    print(
        f"  {a.doc_id} / {b.doc_id}: estimated {estimate:.3f}, shingle Jaccard "
        f"{jaccard(a.text, b.text):.3f}, {len(a.text.split())} / {len(b.text.split())} words"
    )
    for article in (a, b):
        print(f"    {article.title!r}: {' '.join(article.text.split())[:110]!r}")


def spread(pairs: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """`count` pairs spread evenly over a list sorted by similarity, its first included."""
    return [pairs[i * len(pairs) // count] for i in range(count)] if pairs else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="duplicate detection over Reuters-21578")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--examples", type=int, default=3, help="grouped pairs to show")
    parser.add_argument("--misses", type=int, default=2, help="0.5-0.8 pairs to show")
    args = parser.parse_args(argv)
    if not (args.source / "reut2-000.sgm").is_file():
        print(f"error: {args.source} has no reut2-000.sgm", file=sys.stderr)
        return 2

    found = articles(args.source)
    by_id = {a.doc_id: a for a in found}
    started = time.perf_counter()
    sigs = {a.doc_id: signature(a.text) for a in found}
    signed = time.perf_counter() - started
    index = DuplicateIndex()
    for a in found:
        index.add(a.doc_id, a.text, sig=sigs[a.doc_id])
    indexed = time.perf_counter() - started - signed

    keys = {a.doc_id: exact_key(a.text) for a in found}
    exact = [n for n in Counter(keys.values()).values() if n > 1]
    groups = index.groups()
    near = [g for g in groups if len({keys[m] for m in g}) > 1]
    print(
        f"{len(found)} articles; signed in {signed:.1f} s ({len(found) / signed:,.0f} a second),"
        f" added to the index in {indexed:.1f} s"
    )
    print(f"exact duplicates: {len(exact)} groups, {sum(exact)} articles")
    print(f"duplicate groups (exact or near): {len(groups)}, {sum(map(len, groups))} articles")
    print(f"groups with a near (not exact) copy: {len(near)}, {sum(map(len, near))} articles")

    def closest_earlier(group: list[str], i: int) -> str:
        """The earlier member of the group the i-th is most like (what it was matched to)."""
        return max(group[:i], key=lambda d: similarity(sigs[d], sigs[group[i]]))

    pairs = [(closest_earlier(g, i), g[i]) for g in near for i in range(1, len(g))]
    near_pairs = sorted(
        (p for p in pairs if keys[p[0]] != keys[p[1]]),
        key=lambda p: similarity(sigs[p[0]], sigs[p[1]]),
    )
    print(f"\n{len(near_pairs)} near-duplicate pairs; the least similar:")
    for pair in near_pairs[: args.examples]:
        show(pair, by_id, sigs)

    misses = sorted(
        (
            p
            for p in near_misses(sigs, 0.5, THRESHOLD)
            if index.original(p[0]) != index.original(p[1])
        ),
        key=lambda p: -similarity(sigs[p[0]], sigs[p[1]]),
    )
    print(f"\n{len(misses)} LSH candidate pairs at 0.5-{THRESHOLD}, not grouped; spread over them:")
    for pair in spread(misses, args.misses):
        show(pair, by_id, sigs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
