"""Exact and near-duplicate articles at ingest: wire copy republished, the same story again
with a changed word, sentence or dateline.

Exact duplicates share `exact_key` (the same words, whatever the case, spacing or punctuation).
Near duplicates share most of their word 5-shingles: MinHash signatures estimate the Jaccard
similarity of two shingle sets, and LSH banding finds the few earlier articles worth comparing
without a scan of all of them. Give the index the story (dateline and body), not its headline:
a reprint's own headline of ten words would cost it about fourteen shingles.

    index = DuplicateIndex()
    index.add("wire-1", story)              # None: it copies nothing seen before
    index.add("paper-3", story_reprinted)   # "wire-1": a copy of wire-1
    index.groups()                          # [["wire-1", "paper-3"]]
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from rag.nlp.text import words

SHINGLE = 5  # words per shingle
PERMUTATIONS = 128  # hash functions, positions in a signature

# LSH banding: a pair becomes a candidate if all ROWS positions of some band agree, which for
# Jaccard s has probability 1 - (1 - s**ROWS) ** BANDS. With 21 bands of 6 rows (126 of the
# 128 positions; all 128 still count in `similarity`):
#   s    0.2     0.3    0.4    0.5    0.6    0.7    0.75   0.8     0.9
#   P    0.0013  0.015  0.083  0.28   0.63   0.93   0.984  0.9983  1.0000
# 32 bands of 4 rows would find s = 0.8 just as surely, but make 87% of pairs at s = 0.5 (and
# 23% at 0.3, where articles sharing boilerplate sit) candidates; 16 of 8 would miss 5% at 0.8.
BANDS = 21
ROWS = 6

# The usual near-duplicate convention for news and web text (Broder's resemblance of word
# shingles), not tuned on any set. It is applied to the estimate from 128 positions (standard
# deviation about 0.035 here), so the edge is soft: a pair at a true 0.75 is grouped 9% of the
# time, at 0.8 half the time, at 0.85 94%, at 0.88 99.5%.
THRESHOLD = 0.8

_PRIME = (1 << 32) - 5  # the largest prime below 2**32: a*x + b < 2**64 stays exact in uint64


def _seeded(name: str, count: int, low: int) -> np.ndarray:
    """Fixed coefficients in [low, _PRIME), from a hash of their name and index, not an RNG
    stream: saved signatures must stay comparable across numpy versions."""
    digests = [hashlib.blake2b(f"{name}{i}".encode(), digest_size=8).digest() for i in range(count)]
    values = [low + int.from_bytes(d) % (_PRIME - low) for d in digests]
    return np.array(values, dtype=np.uint64).reshape(count, 1)


_A = _seeded("minhash-a-", PERMUTATIONS, 1)
_B = _seeded("minhash-b-", PERMUTATIONS, 0)


def _lowered_words(text: str) -> list[str]:
    return [word.lower() for word in words(text)]


def exact_key(text: str) -> str:
    """The sha1 of the lowercased words joined by single spaces: texts that differ only in
    case, whitespace or punctuation share it."""
    return hashlib.sha1(" ".join(_lowered_words(text)).encode("utf-8")).hexdigest()


def shingles(text: str) -> set[str]:
    """The lowercased word 5-shingles of a text; a text of fewer words is one shingle of all."""
    # The dateline stays in: in Reuters-21578, leaving it out grouped 27 more pairs of
    # different news (other companies' dividend notices and the Fed's daily operations, whose
    # body text is the same template) against 6 more real copies.
    found = _lowered_words(text)
    if len(found) < SHINGLE:
        return {" ".join(found)}
    return {" ".join(found[i : i + SHINGLE]) for i in range(len(found) - SHINGLE + 1)}


def signature(text: str) -> np.ndarray:
    """The MinHash signature (PERMUTATIONS uint32 values) of a text's shingle set; the same
    in every process and on every run."""
    digests = b"".join(
        hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest() for s in shingles(text)
    )
    x = np.frombuffer(digests, dtype="<u8") % np.uint64(_PRIME)  # each shingle in [0, p)
    hashed = (_A * x + _B) % np.uint64(_PRIME)  # (PERMUTATIONS, shingles): (a*x + b) mod p
    return hashed.min(axis=1).astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity of two signatures: the share of equal positions."""
    return float(np.count_nonzero(a == b)) / len(a)


def to_text(sig: np.ndarray) -> str:
    """A signature as compact ASCII (base64 of its little-endian uint32s), for a metadata field."""
    return base64.b64encode(sig.astype("<u4").tobytes()).decode("ascii")


def from_text(s: str) -> np.ndarray:
    """The signature `to_text` wrote."""
    sig = np.frombuffer(base64.b64decode(s), dtype="<u4").astype(np.uint32)
    if len(sig) != PERMUTATIONS:
        raise ValueError(f"a signature has {PERMUTATIONS} values, this one {len(sig)}")
    return sig


# Each band's ROWS values become one 64-bit number (a random linear form, mod 2**64): buckets
# are keyed by numbers, for many signatures at once; a rare collision only adds a candidate,
# which `similarity` then rejects.
_BAND_WEIGHTS = _seeded("minhash-band-", ROWS, 1).reshape(ROWS) | np.uint64(1)


def _band_hashes(sigs: np.ndarray) -> np.ndarray:
    """(n, BANDS) uint64: the band keys of n signatures."""
    rows = sigs[:, : BANDS * ROWS].astype(np.uint64).reshape(len(sigs), BANDS, ROWS)
    return (rows * _BAND_WEIGHTS).sum(axis=2, dtype=np.uint64)


@dataclass(frozen=True)
class _Restored:
    """Articles added in bulk (`DuplicateIndex.restore`): their band keys sorted band by band,
    so candidates are found by binary search instead of a dict entry per band and article."""

    ids: list[str]
    order: np.ndarray  # (n, BANDS): row numbers in the order of each band's keys
    keys: np.ndarray  # (n, BANDS): each band's keys, sorted

    @classmethod
    def of(cls, ids: list[str], hashes: np.ndarray) -> _Restored:
        order = np.argsort(hashes, axis=0, kind="stable")
        return cls(ids, order, np.take_along_axis(hashes, order, axis=0))

    def candidates(self, bands: np.ndarray) -> set[str]:
        found: set[int] = set()
        for band, key in enumerate(bands):
            column = self.keys[:, band]
            low, high = np.searchsorted(column, key, "left"), np.searchsorted(column, key, "right")
            found.update(self.order[low:high, band].tolist())
        return {self.ids[i] for i in found}


class DuplicateIndex:
    """The articles seen so far, by exact key and LSH band, each with the original of its
    duplicate group (the first-added article; itself if it copies nothing)."""

    def __init__(self) -> None:
        self._signatures: dict[str, np.ndarray] = {}
        self._keys: dict[str, str | None] = {}
        self._by_key: dict[str, list[str]] = {}  # exact key -> doc_ids, in add order
        self._buckets: dict[tuple[int, int], list[str]] = {}  # (band, its key) -> doc_ids
        self._added: dict[str, int] = {}  # doc_id -> add order
        self._count = 0
        self._original: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}  # original -> its group, in add order
        self._restored: list[_Restored] = []

    def __len__(self) -> int:
        return len(self._signatures)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._signatures

    def add(
        self,
        doc_id: str,
        text: str | None = None,
        *,
        sig: np.ndarray | None = None,
        key: str | None = None,
        accept: Callable[[str], bool] = lambda other: True,
    ) -> str | None:
        """Add an article; return the original of the earlier article it duplicates (an exact
        key match, else the most similar LSH candidate at THRESHOLD or above), or None.

        Pass `sig` and `key` saved earlier instead of the text; without a key (and a text)
        only near duplicates are found. A near duplicate counts only if `accept(its id)`."""
        if doc_id in self._signatures:
            raise ValueError(f"{doc_id!r} is already in the duplicate index")
        if sig is None:
            if text is None:
                raise ValueError("add() needs the text or its signature")
            sig = signature(text)
        if key is None and text is not None:
            key = exact_key(text)
        sig = np.asarray(sig, dtype=np.uint32)  # band keys are the bytes of uint32 values
        if sig.shape != (PERMUTATIONS,):
            raise ValueError(f"a signature has {PERMUTATIONS} values, this one {sig.shape}")

        hashes = _band_hashes(sig[None, :])[0]
        match = self._exact_match(key) or self._near_match(hashes, sig, accept)
        original = self._original[match] if match else doc_id
        self._insert(doc_id, sig, key, original)
        for band in enumerate(hashes.tolist()):
            self._buckets.setdefault(band, []).append(doc_id)
        return original if match else None

    def restore(
        self, doc_ids: list[str], sigs: np.ndarray, keys: list[str | None], copy_of: list[str]
    ) -> None:
        """Add articles whose groups are already known (`copy_of`: the original each was found
        to copy at its ingest, "" for none), originals first, without matching them again. A
        group whose original is gone takes its first copy as original."""
        found: dict[str, str] = {}  # the original an article was found to copy -> its stand-in
        sigs = sigs.astype(np.uint32)
        for doc_id, sig, key, of in zip(doc_ids, sigs, keys, copy_of, strict=True):
            if doc_id in self._signatures:
                raise ValueError(f"{doc_id!r} is already in the duplicate index")
            if of and of in self._signatures:
                original = self._original[of]
            else:
                original = found.setdefault(of, doc_id) if of else doc_id
            self._insert(doc_id, sig, key, original)
        self._restored.append(_Restored.of(list(doc_ids), _band_hashes(sigs)))

    def _insert(self, doc_id: str, sig: np.ndarray, key: str | None, original: str) -> None:
        self._signatures[doc_id] = sig
        self._keys[doc_id] = key
        if key is not None:
            self._by_key.setdefault(key, []).append(doc_id)
        self._added[doc_id] = self._count
        self._count += 1
        self._original[doc_id] = original
        self._members.setdefault(original, []).append(doc_id)

    def _exact_match(self, key: str | None) -> str | None:
        earlier = self._by_key.get(key) if key is not None else None
        return earlier[0] if earlier else None

    def _near_match(
        self, hashes: np.ndarray, sig: np.ndarray, accept: Callable[[str], bool]
    ) -> str | None:
        """The most similar candidate at THRESHOLD or above; the earliest added on a tie."""
        bands = enumerate(hashes.tolist())
        candidates = {doc_id for band in bands for doc_id in self._buckets.get(band, ())}
        for restored in self._restored:
            candidates |= restored.candidates(hashes) & self._signatures.keys()
        best, best_score = None, 0.0
        for doc_id in sorted(candidates, key=self._added.__getitem__):
            score = similarity(sig, self._signatures[doc_id])
            if score >= THRESHOLD and score > best_score and accept(doc_id):
                best, best_score = doc_id, score
        return best

    def remove(self, doc_id: str) -> None:
        """Take an article out. If it was a group's original, the next copy in add order
        becomes the original of the rest (they stay one group). KeyError if unknown."""
        sig = self._signatures.pop(doc_id)
        key = self._keys.pop(doc_id)
        if key is not None:
            _discard(self._by_key, key, doc_id)
        for band in enumerate(_band_hashes(sig[None, :])[0].tolist()):
            if doc_id in self._buckets.get(band, ()):  # restored articles have no buckets
                _discard(self._buckets, band, doc_id)
        del self._added[doc_id]
        original = self._original.pop(doc_id)
        members = self._members.pop(original)
        members.remove(doc_id)
        if members:
            successor = members[0]
            self._members[successor] = members
            for member in members:
                self._original[member] = successor

    def original(self, doc_id: str) -> str:
        """The first-added article of this article's group (itself if it copies nothing)."""
        return self._original[doc_id]

    def groups(self) -> list[list[str]]:
        """The groups of two or more articles, each its original first and then its copies in
        add order; groups in the order their originals were added."""
        found = [members for members in self._members.values() if len(members) > 1]
        return sorted((list(g) for g in found), key=lambda g: self._added[g[0]])


_K = TypeVar("_K")


def _discard(table: dict[_K, list[str]], key: _K, doc_id: str) -> None:
    """Take doc_id out of table[key], and the key out when nothing is left under it."""
    listed = table[key]
    listed.remove(doc_id)
    if not listed:
        del table[key]
