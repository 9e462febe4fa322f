"""The incremental lexical index: the same scores as a full rebuild, writes that touch only
what changed, and a saved copy that survives interrupted writes and catches up with Chroma."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

import rag.ingest.segment
from rag import RagEngine
from rag.ingest.lexical import LexicalIndex
from rag.ingest.segment import searched_text
from rag.ingest.store import ChunkStore
from rag.nlp.embeddings import LocalEmbedder
from rag.nlp.text import terms
from rag.retrieve.hybrid import analyse
from rag.types import ChunkRecord
from tests.conftest import SEEDS, settings
from tests.test_cli import run

WORDS = (
    "Putin May Lavrov Pompeo summit talks sanctions Moscow London Kremlin minister trade "
    "Arctic oil gas visit agreement border Helsinki Finnish Norway fishing quota Ukraine"
).split()


def article(doc_id: str, chunks: int, seed: int) -> list[ChunkRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(chunks):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))).capitalize() + "."
            for _ in range(rng.randint(1, 4))
        ]
        records.append(
            ChunkRecord(
                f"{doc_id}#{seed:012d}-{i:04d}",
                " ".join(sentences),
                {
                    "doc_id": doc_id,
                    "title": f"{rng.choice(WORDS)} and {rng.choice(WORDS)}",
                    "published_ord": 20160000 + seed % 12 * 100 + 1,
                    "doc_sha": f"{seed:064d}",
                    "doc_chunks": chunks,
                },
            )
        )
    return records


QUERIES = [["putin", "summit"], ["arctic", "oil", "oil"], ["helsinki"], ["trade", "moscow", "x"]]


def assert_same_index(incremental: LexicalIndex, rebuilt: LexicalIndex) -> None:
    assert len(incremental) == len(rebuilt)
    assert {r.chunk_id for r in incremental.records} == {r.chunk_id for r in rebuilt.records}
    for query in QUERIES:
        assert incremental.bm25_scores(query) == rebuilt.bm25_scores(query)  # exactly
        for term in query:
            assert incremental.idf(term) == rebuilt.idf(term)
    assert incremental.names == rebuilt.names
    assert incremental.variants == rebuilt.variants
    for word in ("putin", "helsinki", "nowhere"):
        assert incremental.knows(word) == rebuilt.knows(word)


def test_incremental_scores_equal_a_full_rebuild() -> None:
    docs = {f"d{i}": article(f"d{i}", 1 + i % 4, i) for i in range(30)}
    index = LexicalIndex.build([r for i in range(20) for r in docs[f"d{i}"]], "v0")
    live = {f"d{i}" for i in range(20)}
    for step in range(10):  # adds, replacements and deletions, one write at a time
        added = docs[f"d{20 + step}"]
        gone = f"d{step * 2}"
        removed = [r.chunk_id for r in docs[gone]]
        index = index.apply(added, removed, {}, f"v{step + 1}")
        live = (live - {gone}) | {f"d{20 + step}"}
        rebuilt = LexicalIndex.build([r for d in sorted(live) for r in docs[d]], "")
        assert_same_index(index, rebuilt)
    assert len(index.segments) <= 4  # small segments were merged as they piled up


def test_bm25_matches_bm25s() -> None:
    """The same figures as the bm25s index this one replaced (its default, Lucene's BM25)."""
    import bm25s

    records = [r for i in range(12) for r in article(f"d{i}", 2, i)]
    index = LexicalIndex.build(records, "v")
    reference = bm25s.BM25()
    reference.index([terms(searched_text(r)) or ["_"] for r in records], show_progress=False)
    for query in QUERIES * 2:  # the second time from the term scores the index remembers
        expected = reference.get_scores(query)
        ours = index.bm25_scores(query)
        got = np.array([ours.get(r.chunk_id, 0.0) for r in records])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_deleted_article_leaves_no_words_or_names() -> None:
    one = ChunkRecord("a#1-0000", "Talks in Kirkenes went well.", {"doc_id": "a", "title": "x"})
    two = ChunkRecord("b#1-0000", "Lavrov met Soreide in Oslo.", {"doc_id": "b", "title": "y"})
    index = LexicalIndex.build([one, two], "v0")
    assert index.knows("kirkenes") and "kirkenes" in index.names
    after = index.apply([], [one.chunk_id], {}, "v1")
    assert not after.knows("kirkenes") and "kirkenes" not in after.names
    assert after.correct("Kirkenes") is None and after.correct("Lavrov") == "lavrov"
    assert after.top(["kirkenes"], 5) == [] and after.record(one.chunk_id) is None
    assert not after.holds(one.chunk_id) and after.holds(two.chunk_id)
    assert after.top(["oslo"], 5) == [
        (two.chunk_id, pytest.approx(after.bm25_scores(["oslo"])[two.chunk_id]))
    ]


def test_the_names_of_a_question_that_no_article_writes() -> None:
    record = ChunkRecord("a#1-0000", "Lavrov met Soreide in Oslo.", {"doc_id": "a", "title": "x"})
    index = LexicalIndex.build([record], "v0")
    # the first word is capitalised by grammar, an acronym may be spelled out in the article,
    # a possessive is its name, and a misspelt name is corrected
    question = "Did Lavrov's deputy meet the BOJ governor in Kirkenes or in Olso?"
    assert analyse(question, index).unknown_entities == ["Kirkenes"]


def test_a_write_touches_only_what_it_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "bm25"
    base = [r for i in range(40) for r in article(f"d{i}", 3, i)]
    LexicalIndex.build(base, "v0", embed_model="m").save(folder)
    before = {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.*")}

    tokenised: list[str] = []
    real = rag.ingest.segment._terms
    monkeypatch.setattr(
        rag.ingest.segment,
        "_terms",
        lambda text, stems: tokenised.append(text) or real(text, stems),
    )
    loaded = LexicalIndex.load(folder)
    assert loaded is not None and len(loaded) == len(base)
    assert tokenised == []  # opening reads the saved postings, not the texts
    new = article("new", 2, 99)
    vectors = {s: np.ones(4, np.float32) / 2 for s in {new[0].text, new[1].text}}
    loaded.apply(new, [], vectors, "v1").save(folder)
    assert tokenised == [searched_text(r) for r in new]  # only the new chunks were tokenised
    after = {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.*")}
    assert {k: v for k, v in after.items() if k in before and k != "manifest.json"} == {
        k: v for k, v in before.items() if k != "manifest.json"
    }  # the existing segment's files were not rewritten
    again = LexicalIndex.load(folder)
    assert again is not None and again.version == "v1" and len(again) == len(base) + 2


def test_an_interrupted_save_leaves_the_old_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "bm25"
    index = LexicalIndex.build(article("a", 3, 1), "v0", embed_model="m")
    index.save(folder)
    real = os.replace

    def fail_on_manifest(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == "manifest.json":
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        index.apply(article("b", 2, 2), [], {}, "v1").save(folder)
    monkeypatch.setattr(os, "replace", real)
    saved = LexicalIndex.load(folder)
    assert saved is not None and saved.version == "v0" and len(saved) == 3
    assert saved.bm25_scores(["putin"]) == index.bm25_scores(["putin"])


def test_a_damaged_copy_is_rebuilt_from_chroma(seeded_copy: Path, embedder: LocalEmbedder) -> None:
    (next((seeded_copy / "bm25").glob("seg-*")) / "texts.bin").write_bytes(b"broken")
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    assert not engine.ask("What did May say about Russia in July 2016?").abstained
    assert len(engine.indexer.lexical()) == engine.indexer.store.count()


def test_a_stale_copy_catches_up_by_ids(
    tmp_path: Path, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two engines share one Chroma (as replicas share a server), each with its own copy:
    the second sees the first's writes, reading from Chroma only the chunks it lacks."""
    first = RagEngine(settings(tmp_path / "a"), embedder=embedder)
    first.ingest([SEEDS])
    second = RagEngine(settings(tmp_path / "b"), embedder=embedder, chroma_client=first._client)
    assert len(second.documents()) == 5
    extra = tmp_path / "extra.txt"
    extra.write_text("Lavrov met the Finnish foreign minister in Rovaniemi to discuss the Arctic.")
    first.ingest([extra])

    fetched: list[str] = []
    real_get = ChunkStore.get
    monkeypatch.setattr(ChunkStore, "records", lambda *a, **k: pytest.fail("read every chunk"))
    monkeypatch.setattr(
        ChunkStore, "get", lambda self, ids: fetched.extend(ids) or real_get(self, ids)
    )
    assert second.retrieve("Rovaniemi Arctic Finnish", k=1)[0].doc_id == "extra"
    assert len(fetched) == 1 and fetched[0].startswith("extra#")
    assert first.delete("extra")
    assert "extra" not in {p.doc_id for p in second.retrieve("Rovaniemi Arctic Finnish", k=3)}
    assert "extra" not in {d.doc_id for d in second.documents()}


def test_a_write_by_another_process_is_seen_by_one_answering(
    seeded_copy: Path, tmp_path: Path, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Questions on an index nobody writes skip re-reading Chroma's collection; an article
    that `rag ingest` adds from another process is still found by the next question."""
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    assert engine.retrieve("Rovaniemi Arctic Finnish", k=1)  # the collection open
    marker = engine.indexer.store.marker
    assert marker is not None and marker.is_file()
    settled = marker.stat().st_mtime - 60  # as an index last written a minute ago
    os.utime(marker, (settled, settled))
    reads: list[str] = []
    real = engine._client.get_collection
    monkeypatch.setattr(
        engine._client, "get_collection", lambda *a, **k: reads.append(a[0]) or real(*a, **k)
    )
    for _ in range(3):
        assert engine.retrieve("Rovaniemi Arctic Finnish", k=1)[0].doc_id != "extra"
    assert len(reads) == 1

    extra = tmp_path / "extra.txt"
    extra.write_text("Lavrov met the Finnish foreign minister in Rovaniemi to discuss the Arctic.")
    added = run("ingest", str(extra), data=seeded_copy)
    assert added.returncode == 0, added.stderr
    os.utime(marker, (settled + 30, settled + 30))  # and that write long done, too
    assert engine.retrieve("Rovaniemi Arctic Finnish", k=1)[0].doc_id == "extra"
    assert len(reads) == 2


def test_adding_an_article_from_a_new_process_touches_only_it(
    seeded_copy: Path, tmp_path: Path, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No chunk of the index is read back from Chroma, tokenised or embedded again."""
    article = tmp_path / "kirkenes.txt"
    article.write_text("Lavrov in Kirkenes\n\nLavrov met Soreide in Kirkenes on Thursday.\n")
    tokenised: list[str] = []
    real = rag.ingest.segment._terms
    monkeypatch.setattr(
        rag.ingest.segment,
        "_terms",
        lambda text, stems: tokenised.append(text) or real(text, stems),
    )
    monkeypatch.setattr(ChunkStore, "records", lambda *a, **k: pytest.fail("read every chunk"))
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    report = engine.ingest([article])
    assert report.added == 1 and report.chunks > 20
    assert len(tokenised) == 1 and "Soreide" in tokenised[0]
    assert engine.retrieve("Soreide Kirkenes", k=1)[0].doc_id == "kirkenes"
    again = RagEngine(settings(seeded_copy), embedder=embedder)  # and from the saved copy
    assert again.retrieve("Soreide Kirkenes", k=1)[0].doc_id == "kirkenes"
    assert len(tokenised) == 1


def test_saved_chunk_dates_are_what_the_date_reader_reads(
    engine: RagEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reranker reads each chunk's dates from its metadata, saved at ingest, only while
    the date reader is the one that saved them; either way they are `dates_in`'s."""
    import rag.ingest.index
    from rag.nlp.timeline import dates_in

    records = engine.indexer.lexical().records
    live = [dates_in(r.text, r.metadata.get("published") or None) for r in records]
    assert any(live)
    assert all(r.metadata["dates_version"] == rag.ingest.index.dates_version() for r in records)
    assert all(r.metadata["date_spans"] for r, spans in zip(records, live, strict=True) if spans)
    for record, spans in zip(records, live, strict=True):
        assert {(s.start, s.end) for s in rag.ingest.index.chunk_spans(record)} == {
            (s.start, s.end) for s in spans
        }
    monkeypatch.setattr(rag.ingest.index, "dates_version", lambda: "another reader")
    monkeypatch.setattr(rag.ingest.index, "dates_in", lambda text, published: ("read now",))
    assert rag.ingest.index.chunk_spans(records[0]) == ("read now",)


def test_saved_sentence_reads_spare_reading_them_again(
    engine: RagEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest saves what `dates_in` and `time_expressions` read in each sentence of a chunk; a
    question's candidates hand it to them, which then do not read those sentences again, and
    give the same spans (grain and all) and expressions. Saved by another date reader, or for
    sentences split otherwise, they are not used."""
    import rag.ingest.index
    import rag.nlp.timeline
    from rag.nlp.text import sentence_spans
    from rag.nlp.timeline import dates_in, time_expressions

    records = engine.indexer.lexical().records

    def sentences(record: ChunkRecord) -> list[tuple[str, str | None]]:
        published = record.metadata.get("published") or None
        return [(record.text[a:b], published) for a, b in sentence_spans(record.text)]

    expected = {key: dates_in(*key) for record in records for key in sentences(record)}
    assert any(expected.values()) and not all(expected.values())
    times = {text: time_expressions(text) for text, _ in expected}
    assert any(times.values())

    monkeypatch.setattr(rag.nlp.timeline, "_SAVED", {})
    monkeypatch.setattr(rag.nlp.timeline, "_SAVED_TIMES", {})
    monkeypatch.setattr(rag.ingest.index, "dates_version", lambda: "another reader")
    rag.ingest.index.remember_sentence_reads(records[0])
    assert not rag.nlp.timeline._SAVED  # saved by another reader: read again
    monkeypatch.undo()
    monkeypatch.setattr(rag.nlp.timeline, "_SAVED", {})
    moved = ";".join(f"1{part}" for part in records[0].metadata["sentence_reads"].split(";"))
    shifted = ChunkRecord(
        records[0].chunk_id, records[0].text, records[0].metadata | {"sentence_reads": moved}
    )
    rag.ingest.index.remember_sentence_reads(shifted)
    assert not rag.nlp.timeline._SAVED  # its sentences split otherwise at ingest: read again

    monkeypatch.undo()
    monkeypatch.setattr(rag.nlp.timeline, "_SAVED", {})
    monkeypatch.setattr(rag.nlp.timeline, "_SAVED_TIMES", {})
    for record in records:
        rag.ingest.index.remember_sentence_reads(record)
    monkeypatch.setattr(rag.nlp.timeline, "_read_dates", lambda *a: pytest.fail(f"read {a}"))
    with monkeypatch.context() as reading:  # the grammar, which questions need too
        reading.setattr(rag.nlp.timeline, "_matches", lambda *a: pytest.fail(f"read {a}"))
        assert {key: dates_in(*key) for key in expected} == expected
        assert {text: time_expressions(text) for text, _ in expected} == times
    # and a question over the index answers, its dates as before
    answer = engine.ask("What did May say about Russia in July 2016?")
    assert not answer.abstained and "July 2016" in answer.text
