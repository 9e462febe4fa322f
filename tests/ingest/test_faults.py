"""Faults the index survives: damage that `rag check` (and every ingest, cheaply) finds and
mends, writes cut short by a failure or a kill, a full disk and read-only storage. Each ends
in one line and an exit code, with no article lost and none left half-written."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from rag import RagEngine, StoreError
from rag.ingest.store import ChunkStore
from rag.nlp.embeddings import LocalEmbedder
from tests.conftest import HEADLINE, ROOT, SEEDS, long_article, settings
from tests.test_cli import RAG, cli_env, run


def _collection(data: Path) -> Any:
    client = chromadb.PersistentClient(
        path=str(data / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    return client.get_collection("news")


def _one_line(result: subprocess.CompletedProcess[str], code: int, says: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert says in result.stderr


def test_an_ingest_restores_chunks_chroma_lost_silently(
    seeded_copy: Path, embedder: LocalEmbedder
) -> None:
    """Vectors that vanish from Chroma with no write recorded: the next sync does not report
    "unchanged" over them, it writes them again from the lexical copy."""
    lost = sorted(RagEngine(settings(seeded_copy), embedder=embedder).indexer.store.ids())[:2]
    _collection(seeded_copy).delete(ids=lost)
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    report = engine.ingest([SEEDS])
    assert report.check is not None and report.check.restored == lost
    assert (report.unchanged, report.embedded) == (5, 0)
    store, lexical = engine.indexer.store, engine.indexer.lexical()
    assert store.ids() == lexical.alive_ids() and set(lost) <= store.ids()
    assert RagEngine(settings(seeded_copy), embedder=embedder).check().clean


def test_check_adds_whole_articles_the_lexical_copy_lacks(
    seeded_copy: Path, embedder: LocalEmbedder
) -> None:
    shutil.rmtree(seeded_copy / "bm25")
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    assert engine.check().clean  # a missing copy is rebuilt from Chroma: nothing is damaged
    assert len(engine.documents()) == 5


def test_a_write_that_fails_midway_leaves_no_half_article_and_check_reads_it_again(
    seeded_copy: Path, embedder: LocalEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    article = long_article(tmp_path / "news", 24)
    monkeypatch.setattr("rag.ingest.index.EMBED_BATCH", 8)
    real_add, calls = ChunkStore._add, []

    def fill_up(self: ChunkStore, records: Any, vectors: Any) -> None:
        calls.append(len(records))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_add(self, records, vectors)

    monkeypatch.setattr(ChunkStore, "_add", fill_up)
    with pytest.raises(StoreError, match=r"^the disk holding .* is full .* run `rag check`$"):
        RagEngine(settings(seeded_copy), embedder=embedder).ingest([article])
    monkeypatch.setattr(ChunkStore, "_add", real_add)

    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    assert [d.doc_id for d in engine.documents()] == [d.doc_id for d in _seed_docs(engine)]
    answer = engine.ask("When will the talks with the dock workers' union resume?")
    assert "long" not in {c.doc_id for c in answer.citations}
    report = engine.check()
    assert [(b.doc_id, b.chunks, b.source) for b in report.broken] == [("long", 8, str(article))]
    assert report.reingested == 1
    long_doc = next(d for d in engine.documents() if d.doc_id == "long")
    assert long_doc.chunks == engine.indexer.store.count() - sum(
        d.chunks for d in _seed_docs(engine)
    )
    assert engine.check().clean


def _seed_docs(engine: RagEngine) -> list[Any]:
    return [d for d in engine.documents() if d.doc_id != "long"]


def test_an_ingest_killed_midway_leaves_no_half_article(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run("ingest", "--json", data=data).returncode == 0
    article = long_article(tmp_path / "news", 900)
    database = data / "chroma" / "chroma.sqlite3"
    before = database.stat().st_size
    writer = subprocess.Popen(
        [RAG, "ingest", str(article)], env=cli_env(data), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while database.stat().st_size <= before and writer.poll() is None:
        assert time.monotonic() < deadline, "the ingest wrote nothing"
        time.sleep(0.2)
    time.sleep(1.0)  # some chunks of the article are written, most are not
    os.killpg(writer.pid, signal.SIGKILL)
    writer.wait()

    started = time.perf_counter()
    asked = run("ask", "--json", "When will the dock talks resume?", data=data)
    assert asked.returncode == 0 and time.perf_counter() - started < 60, asked.stderr
    assert '"doc_id": "long"' not in asked.stdout  # the half article is never answered from
    found = json.loads(run("check", "--dry-run", "--json", data=data).stdout)
    assert [b["doc_id"] for b in found["broken"]] in ([], ["long"])
    assert run("check", data=data).returncode == 0
    assert run("ingest", str(article), data=data).returncode == 0
    again = run("check", "--dry-run", data=data)
    assert again.stdout.startswith("index in order: "), again.stdout
    assert " of 6 articles " in again.stdout


def _mount(*args: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (needs root to mount; the failing-store test covers the rest)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)):
        pytest.skip("mounting a small tmpfs needs root; a full disk is simulated elsewhere")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_is_one_line_and_loses_nothing_once_space_is_back(
    small_disk: Path, tmp_path: Path
) -> None:
    data = small_disk / "data"
    articles = tmp_path / "articles"
    articles.mkdir()
    for source in sorted((ROOT / "eval" / "reuters").glob("*.md"))[:600]:
        shutil.copy(source, articles / source.name)
    full = run("ingest", str(articles), data=data)
    _one_line(full, 1, f"the disk holding {data} is full")
    asked = run("ask", HEADLINE, data=data)
    assert "Traceback" not in asked.stderr and len(asked.stderr.strip().splitlines()) <= 1
    assert _mount("-o", "remount,size=256m", str(small_disk))
    repaired = run("check", data=data)
    assert repaired.returncode == 0, repaired.stderr
    done = run("ingest", str(articles), "--json", data=data)
    assert done.returncode == 0, done.stderr
    checked = run("check", "--dry-run", data=data).stdout
    assert checked.startswith("index in order: ") and " of 600 articles " in checked, checked


def test_a_read_only_index_answers_and_refuses_writes_in_one_line(
    seeded_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "readonly"
    data.mkdir()
    if _mount("--bind", str(seeded_dir), str(data)):
        if not _mount("-o", "remount,bind,ro", str(data)):
            subprocess.run(["umount", str(data)], check=False)
            pytest.skip("this platform cannot make a read-only bind mount")
    elif os.geteuid() != 0:
        shutil.rmtree(data)
        shutil.copytree(seeded_dir, data)
        subprocess.run(["chmod", "-R", "a-w", str(data)], check=True)
    else:
        pytest.skip("root without mount cannot make storage read-only")
    try:
        asked = run("ask", "--json", HEADLINE, data=data)
        assert asked.returncode == 0, asked.stderr
        assert '"abstained": false' in asked.stdout
        for command in (("ingest",), ("check",)):
            refused = run(*command, data=data)
            _one_line(refused, 1, f"the data directory {data} is read-only")
    finally:
        if subprocess.run(["umount", str(data)], capture_output=True).returncode != 0:
            subprocess.run(["chmod", "-R", "u+w", str(data)], check=False)


def _scribble(path: Path, at: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(at)
        handle.write(b"\xde\xad" * 2048)


def test_a_damaged_chroma_database_is_one_line_and_a_rebuild_mends_it(
    seeded_copy: Path,
) -> None:
    _scribble(seeded_copy / "chroma" / "chroma.sqlite3", 4096)
    for command in (("ask", HEADLINE), ("check",), ("ingest",)):
        _one_line(run(*command, data=seeded_copy), 1, f"the index in {seeded_copy / 'chroma'}")
    rebuilt = run("ingest", "--rebuild", "--json", data=seeded_copy)
    assert rebuilt.returncode == 0 and '"added": 5' in rebuilt.stdout, rebuilt.stderr
    assert run("check", "--dry-run", data=seeded_copy).stdout.startswith("index in order: ")


def test_a_damaged_lexical_copy_is_one_line_and_check_rebuilds_it(seeded_copy: Path) -> None:
    for segment in (seeded_copy / "bm25").glob("seg-*"):
        _scribble(segment / "metas.bin", 0)
    _one_line(run("ask", HEADLINE, data=seeded_copy), 1, "the lexical copy is damaged")
    repaired = run("check", data=seeded_copy)
    assert repaired.returncode == 0
    assert "the lexical copy could not be read, built again from Chroma" in repaired.stdout
    asked = run("ask", "--json", HEADLINE, data=seeded_copy)
    assert asked.returncode == 0 and '"abstained": false' in asked.stdout


def test_write_access_lost_mid_ingest_is_one_line_and_check_mends_it(
    seeded_copy: Path, embedder: LocalEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Write access goes while chunks are written (simulated: root ignores permissions and
    Linux refuses a read-only remount under open files): the store's write fails as Chroma's
    does, and the data directory no longer takes files."""
    article = long_article(tmp_path / "news", 24)
    monkeypatch.setattr("rag.ingest.index.EMBED_BATCH", 8)
    real_add, calls = ChunkStore._add, []

    def lose_access(self: ChunkStore, records: Any, vectors: Any) -> None:
        calls.append(len(records))
        if len(calls) > 1:
            monkeypatch.setattr("rag.ingest.failures.writable", lambda folder: False)
            raise OSError(errno.EACCES, "attempt to write a readonly database")
        real_add(self, records, vectors)

    monkeypatch.setattr(ChunkStore, "_add", lose_access)
    with pytest.raises(StoreError) as failed:
        RagEngine(settings(seeded_copy), embedder=embedder).ingest([article])
    assert str(failed.value) == (
        f"the data directory {seeded_copy} is no longer writable while writing chunks: give "
        "write access back, then run `rag check`"
    )
    monkeypatch.undo()
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    assert "long" not in {d.doc_id for d in engine.documents()}
    assert engine.check().reingested == 1 and engine.check().clean
