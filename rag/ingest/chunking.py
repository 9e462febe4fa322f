"""Token-aware chunking on sentence boundaries, with exact character offsets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.nlp.text import sentence_spans


@dataclass(frozen=True)
class Chunk:
    """A span `[start, end)` of the cleaned article text."""

    index: int
    start: int
    end: int
    text: str


def _split_long(text: str, span: tuple[int, int], limit: int, count: Callable[[str], int]):
    """Cut a sentence longer than `limit` tokens into word-aligned pieces."""
    start, end = span
    pieces: list[tuple[int, int]] = []
    piece_start = start
    last_end = start
    for word in re.finditer(r"\S+", text[start:end]):
        word_end = start + word.end()
        if count(text[piece_start:word_end]) > limit and last_end > piece_start:
            pieces.append((piece_start, last_end))
            piece_start = start + word.start()
        last_end = word_end
    pieces.append((piece_start, last_end))
    return pieces


def chunk_text(
    text: str, max_tokens: int, overlap_tokens: int, count: Callable[[str], int]
) -> list[Chunk]:
    """Group whole sentences into chunks of at most `max_tokens`; consecutive chunks share
    trailing sentences worth at most `overlap_tokens`."""
    units: list[tuple[int, int, int]] = []  # (start, end, tokens)
    for span in sentence_spans(text):
        tokens = count(text[span[0] : span[1]])
        if tokens <= max_tokens:
            units.append((*span, tokens))
        else:
            units.extend(
                (s, e, count(text[s:e])) for s, e in _split_long(text, span, max_tokens, count)
            )

    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j][2] <= max_tokens):
            total += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if j >= len(units):
            break
        # Step back over trailing sentences that fit in the overlap, but always move forward.
        k, shared = j, 0
        while k - 1 > i and shared + units[k - 1][2] <= overlap_tokens:
            k -= 1
            shared += units[k][2]
        i = k
    return chunks
