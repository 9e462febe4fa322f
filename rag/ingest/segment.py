"""One immutable piece of the lexical index: the chunks of whole articles, with their BM25
postings, their words and names, and the vectors of the sentences first seen in them.

A segment is built once from chunk records (tokenised once) and saved as a folder of files
that are memory-mapped when opened, so opening a large index reads little: texts, metadata
and sentence vectors are only touched for the rows a question needs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import DamagedCopyError
from rag.nlp.names import names_in, variant_pairs
from rag.nlp.text import STOPWORDS, normalise, words
from rag.types import ChunkRecord

_META = "segment.json"
_ARRAYS = (
    "row_doc",  # row -> index into `docs`
    "lengths",  # BM25 length of each row (terms, at least 1 as bm25s counts an empty text)
    "published",  # published_ord of each row, for date windows
    "term_ptr",  # term t's postings are post_rows/post_tf[term_ptr[t] : term_ptr[t + 1]]
    "post_rows",
    "post_tf",
    "word_ptr",  # word w (lowercased surface form) is in docs word_docs[word_ptr[w] : ...]
    "word_docs",
    "sent_hash",  # sorted 64-bit hashes of the stored sentences
    "vectors",  # their vectors, in the same order
)


def text_hash(text: str) -> int:
    """A stable 64-bit hash (the same in every process, unlike `hash`)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class Strings(Sequence[str]):
    """Strings as one UTF-8 blob and offsets: memory-mapped from disk, decoded on access."""

    def __init__(self, blob: Any, offsets: np.ndarray) -> None:
        self._blob, self._offsets = blob, offsets

    @classmethod
    def of(cls, texts: Iterable[str]) -> Strings:
        encoded = [t.encode("utf-8") for t in texts]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        return bytes(self._blob[a:b]).decode("utf-8")

    def save(self, folder: Path, name: str) -> None:
        (folder / f"{name}.bin").write_bytes(np.asarray(self._blob).tobytes())
        np.save(folder / f"{name}_off.npy", self._offsets)

    @classmethod
    def open(cls, folder: Path, name: str) -> Strings:
        offsets = _load(folder / f"{name}_off.npy")
        path = folder / f"{name}.bin"
        size = path.stat().st_size
        # a plain array over the mapping: `np.memmap`'s own indexing runs Python code per access
        blob = (
            np.asarray(np.memmap(path, dtype=np.uint8, mode="r")) if size else np.zeros(0, np.uint8)
        )
        if int(offsets[-1]) != size:
            raise ValueError(f"{path} is {size} bytes, its offsets say {int(offsets[-1])}")
        return cls(blob, offsets)


def _load(path: Path) -> np.ndarray:
    """The array in a .npy file, memory-mapped (as a plain array: see `Strings.open`)."""
    try:
        return np.asarray(np.load(path, mmap_mode="r"))
    except ValueError:  # an empty array cannot be mapped
        return np.load(path)


@dataclass(frozen=True)
class DocEntry:
    """One article of a segment: what the document list shows, and per-article name facts."""

    doc_id: str
    title: str
    outlet: str
    published: str
    url: str
    source: str
    rows: int  # its chunks
    names: tuple[str, ...]  # capitalised words inside its sentences
    variants: tuple[tuple[str, str], ...]  # (headline spelling, text spelling), normalised
    copy_of: str = ""  # the article this one repeats (`rag.ingest.duplicates`), if any
    signature: str = ""  # its MinHash signature (`duplicates.to_text`)
    key: str = ""  # its exact-duplicate key


class Segment:
    """Chunks of whole articles with their lexical data; immutable once built."""

    def __init__(
        self,
        ids: list[str],
        docs: list[DocEntry],
        terms: list[str],
        words: list[str],
        arrays: dict[str, np.ndarray],
        texts: Strings,
        metas: Strings,
        sentences: Strings,
        name: str | None = None,
    ) -> None:
        self.ids, self.docs, self.terms, self.words = ids, docs, terms, words
        self.arrays, self.texts, self.metas, self.sentences = arrays, texts, metas, sentences
        self.name = name or f"seg-{uuid.uuid4().hex}"
        self.saved = False
        self.row_of = {chunk_id: i for i, chunk_id in enumerate(ids)}
        self.term_of = {term: i for i, term in enumerate(terms)}
        self.word_of = {word: i for i, word in enumerate(words)}
        self.doc_of = {doc.doc_id: i for i, doc in enumerate(docs)}
        self._records: dict[int, ChunkRecord] = {}
        self._doc_rows: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def record(self, row: int) -> ChunkRecord:
        found = self._records.get(row)
        if found is None:
            try:
                found = ChunkRecord(self.ids[row], self.texts[row], json.loads(self.metas[row]))
            except ValueError as exc:  # undecodable text or metadata (JSON errors are these)
                raise DamagedCopyError(
                    f"the lexical copy is damaged ({type(exc).__name__} in segment "
                    f"{self.name}): run `rag check` to rebuild it from Chroma"
                ) from None
            if len(self._records) < 8192:  # the rows questions keep coming back to
                self._records[row] = found
        return found

    def rows_of_doc(self, doc: int) -> list[int]:
        """The rows of the article at index `doc` of `docs`."""
        if self._doc_rows is None:
            row_doc = self.arrays["row_doc"]
            ptr = np.zeros(len(self.docs) + 1, dtype=np.int64)
            np.cumsum(np.bincount(row_doc, minlength=len(self.docs)), out=ptr[1:])
            self._doc_rows = (np.argsort(row_doc, kind="stable"), ptr)
        order, ptr = self._doc_rows
        return [int(r) for r in order[ptr[doc] : ptr[doc + 1]]]

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, term frequencies) of the rows holding `term`, rows ascending."""
        column = self.term_of.get(term)
        if column is None:
            return None
        ptr = self.arrays["term_ptr"]
        a, b = int(ptr[column]), int(ptr[column + 1])
        return self.arrays["post_rows"][a:b], self.arrays["post_tf"][a:b]

    def word_docs(self, word: str) -> np.ndarray | None:
        column = self.word_of.get(word)
        if column is None:
            return None
        ptr = self.arrays["word_ptr"]
        return self.arrays["word_docs"][int(ptr[column]) : int(ptr[column + 1])]

    def find_sentences(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash, the row of the stored sentence with it, or -1."""
        stored = self.arrays["sent_hash"]
        if not len(stored):
            return np.full(len(hashes), -1)
        at = np.minimum(np.searchsorted(stored, hashes), len(stored) - 1)
        return np.where(stored[at] == hashes, at, -1)

    def stored_sentences(self) -> dict[str, np.ndarray]:
        vectors = self.arrays["vectors"]
        return {self.sentences[i]: vectors[i] for i in range(len(self.sentences))}

    # -- persistence ---------------------------------------------------------------------
    def save(self, parent: Path) -> None:
        """Write under `parent/<name>` atomically (a staging folder renamed into place)."""
        if self.saved:
            return
        staging = parent / f"{self.name}.tmp"
        staging.mkdir(parents=True)
        try:
            meta = {
                "ids": self.ids,
                "docs": [list(_doc_row(d)) for d in self.docs],
                "terms": self.terms,
                "words": self.words,
            }
            (staging / _META).write_text(json.dumps(meta), "utf-8")
            for key in _ARRAYS:
                np.save(staging / f"{key}.npy", self.arrays[key])
            self.texts.save(staging, "texts")
            self.metas.save(staging, "metas")
            self.sentences.save(staging, "sentences")
            os.replace(staging, parent / self.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.saved = True

    @classmethod
    def open(cls, folder: Path) -> Segment:
        """Open a saved segment (`OSError`/`ValueError`/`KeyError` if it is not whole)."""
        meta = json.loads((folder / _META).read_text("utf-8"))
        docs = [_doc_entry(row) for row in meta["docs"]]
        arrays = {key: _load(folder / f"{key}.npy") for key in _ARRAYS}
        segment = cls(
            list(meta["ids"]),
            docs,
            list(meta["terms"]),
            list(meta["words"]),
            arrays,
            Strings.open(folder, "texts"),
            Strings.open(folder, "metas"),
            Strings.open(folder, "sentences"),
            name=folder.name,
        )
        if not (len(arrays["row_doc"]) == len(segment.ids) == len(segment.texts)):
            raise ValueError(f"{folder}: its files disagree on the number of chunks")
        if len(arrays["vectors"]) != len(segment.sentences):
            raise ValueError(f"{folder}: its files disagree on the number of sentences")
        segment.saved = True
        return segment


def _doc_row(d: DocEntry) -> tuple[Any, ...]:
    pairs = [list(p) for p in d.variants]
    return (
        d.doc_id, d.title, d.outlet, d.published, d.url, d.source, d.rows, d.names, pairs,
        d.copy_of, d.signature, d.key,
    )  # fmt: skip


def _doc_entry(row: list[Any]) -> DocEntry:
    doc_id, title, outlet, published, url, source, rows, names, pairs, copy_of, sig, key = row
    return DocEntry(
        doc_id, title, outlet, published, url, source, int(rows), tuple(names),
        tuple((str(a), str(b)) for a, b in pairs), str(copy_of), str(sig), str(key),
    )  # fmt: skip


def _csc(
    cols: array[int], rows: array[int], columns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(column pointers, rows, the order that sorts the entries by column) from parallel
    (column, row) arrays; within a column, rows stay in the order given."""
    col = np.frombuffer(cols, dtype=np.int32) if len(cols) else np.zeros(0, np.int32)
    row = np.frombuffer(rows, dtype=np.int32) if len(rows) else np.zeros(0, np.int32)
    order = np.argsort(col, kind="stable")
    ptr = np.zeros(columns + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=columns), out=ptr[1:])
    return ptr, row[order], order


def build(
    records: Sequence[ChunkRecord], stored: Mapping[str, np.ndarray], dim: int = 0
) -> Segment:
    """A segment of `records` (whole articles), storing the sentence vectors in `stored`."""
    doc_index: dict[str, int] = {}
    row_doc = np.zeros(len(records), dtype=np.int32)
    doc_rows: list[list[int]] = []
    for i, record in enumerate(records):
        doc = str(record.metadata.get("doc_id", ""))
        j = doc_index.setdefault(doc, len(doc_index))
        if j == len(doc_rows):
            doc_rows.append([])
        doc_rows[j].append(i)
        row_doc[i] = j

    # BM25 postings, term by term; stems remembered per word (a corpus repeats its words).
    # Entries go to compact arrays: a large corpus has millions of them.
    stems: dict[str, str] = {}
    term_of: dict[str, int] = {}
    cols, post, frequencies = array("i"), array("i"), array("i")
    lengths = np.zeros(len(records), dtype=np.int32)
    for i, record in enumerate(records):
        found = _terms(searched_text(record), stems)
        lengths[i] = len(found) or 1  # bm25s indexes an empty text as one placeholder token
        for term, tf in Counter(found).items():
            cols.append(term_of.setdefault(term, len(term_of)))
            post.append(i)
            frequencies.append(tf)
    term_ptr, post_rows, order = _csc(cols, post, len(term_of))
    post_tf = np.asarray(frequencies, dtype=np.int32)[order]

    docs: list[DocEntry] = []
    word_of: dict[str, int] = {}
    word_cols, word_rows = array("i"), array("i")
    for j, rows in enumerate(doc_rows):
        texts = [records[i].text for i in rows]
        for word in sorted({w.lower() for text in texts for w in words(text)}):
            word_cols.append(word_of.setdefault(word, len(word_of)))
            word_rows.append(j)
        names = set().union(*(names_in(text) for text in texts))
        meta = records[rows[0]].metadata
        title = str(meta.get("title") or "")
        signed = next(
            (records[i].metadata for i in rows if records[i].metadata.get("signature")), {}
        )
        docs.append(
            DocEntry(
                doc_id=str(meta.get("doc_id", "")),
                title=title,
                outlet=str(meta.get("outlet") or ""),
                published=str(meta.get("published") or ""),
                url=str(meta.get("url") or ""),
                source=str(meta.get("source") or ""),
                rows=len(rows),
                names=tuple(sorted(names)),
                variants=tuple(variant_pairs(title, names)),
                copy_of=str(meta.get("copy_of") or ""),
                signature=str(signed.get("signature") or ""),
                key=str(signed.get("dup_key") or ""),
            )
        )
    word_ptr, word_docs, _ = _csc(word_cols, word_rows, len(word_of))

    sentences = sorted(stored, key=text_hash)
    vectors = np.zeros((0, dim), dtype=np.float32)
    if sentences:
        vectors = np.stack([stored[s] for s in sentences]).astype(np.float32, copy=False)
    arrays = {
        "row_doc": row_doc,
        "lengths": lengths,
        "published": np.fromiter(
            (int(r.metadata.get("published_ord") or 0) for r in records), np.int32, len(records)
        ),
        "term_ptr": term_ptr,
        "post_rows": post_rows,
        "post_tf": post_tf,
        "word_ptr": word_ptr,
        "word_docs": word_docs,
        "sent_hash": np.fromiter((text_hash(s) for s in sentences), np.uint64, len(sentences)),
        "vectors": vectors,
    }
    return Segment(
        [r.chunk_id for r in records],
        docs,
        list(term_of),
        list(word_of),
        arrays,
        Strings.of(r.text for r in records),
        Strings.of(json.dumps(r.metadata) for r in records),
        Strings.of(sentences),
    )


def searched_text(record: ChunkRecord) -> str:
    """What BM25 reads of a chunk: its text, and for the article's first chunk its headline,
    which is metadata (not text) but is searched as if it opened the article."""
    title = str(record.metadata.get("title") or "")
    first = int(record.metadata.get("chunk_index") or 0) == 0
    if not first or not title or record.text.startswith(title):
        return record.text
    return f"{title}\n{record.text}"


def _terms(text: str, stems: dict[str, str]) -> list[str]:
    """`rag.nlp.text.terms(text)`, with each word's stem remembered in `stems`."""
    found = []
    for word in words(text):
        if word.lower() in STOPWORDS:
            continue
        stem = stems.get(word)
        if stem is None:
            stem = stems[word] = normalise(word)
        found.append(stem)
    return found


def remove_folders(parent: Path, names: Iterable[str]) -> None:
    for name in names:
        shutil.rmtree(parent / name, ignore_errors=True)


def folders(parent: Path) -> Iterator[Path]:
    """The segment folders (and staging leftovers) under `parent`."""
    if parent.is_dir():
        yield from (p for p in parent.iterdir() if p.name.startswith("seg-") and p.is_dir())
