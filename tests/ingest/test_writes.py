"""One writer at a time: concurrent ingests into one data directory wait for each other and
leave every article and vector in place; a writer that may not wait fails at once, by name."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from filelock import FileLock

from rag import RagEngine
from rag.ingest.writelock import LOCK_FILE, OWNER_FILE
from rag.nlp.embeddings import LocalEmbedder
from tests.conftest import ROOT, settings
from tests.test_cli import RAG, cli_env


def _folders(tmp_path: Path, count: int, size: int) -> list[Path]:
    articles = sorted((ROOT / "eval" / "reuters").glob("*.md"))[: count * size]
    folders = []
    for i in range(count):
        folder = tmp_path / f"part{i}"
        folder.mkdir()
        for article in articles[i * size : (i + 1) * size]:
            shutil.copy(article, folder / article.name)
        folders.append(folder)
    return folders


def test_three_concurrent_ingests_keep_every_article_and_vector(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    data = tmp_path / "data"
    folders = _folders(tmp_path, 3, 100)
    started = time.perf_counter()
    runs = [
        subprocess.Popen(
            [RAG, "ingest", str(folder), "--json"],
            env=cli_env(data),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in folders
    ]
    outputs, finished = [], []
    for run in runs:
        outputs.append(run.communicate(timeout=600))
        finished.append(time.perf_counter() - started)
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    assert sum(r["added"] for r in reports) == 300
    waited = sum("waiting for another ingest (pid" in err for _, err in outputs)
    ends = ", ".join(f"{t:.1f}" for t in sorted(finished))
    print(f"3 concurrent ingests of 100 articles each: done after {ends} s; {waited} waited")
    engine = RagEngine(settings(data), embedder=embedder)
    lexical = engine.indexer.lexical()
    assert len(engine.documents()) == 300
    assert engine.indexer.store.count() == len(lexical) == sum(d.chunks for d in engine.documents())
    assert engine.indexer.store.ids() == lexical.alive_ids()  # every vector is there
    again = engine.ingest(folders)
    assert (again.unchanged, again.embedded) == (300, 0)
    checked = subprocess.run(
        [RAG, "check", "--dry-run"], env=cli_env(data), capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0 and checked.stdout.startswith("index in order: 4"), checked


def test_an_ingest_that_may_not_wait_fails_at_once_naming_the_writer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (folder,) = _folders(tmp_path, 1, 2)
    lock = FileLock(str(data / LOCK_FILE))
    with lock:
        (data / OWNER_FILE).write_text("pid 4242")
        refused = subprocess.run(
            [RAG, "ingest", str(folder), "--no-wait"],
            env=cli_env(data), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert refused.returncode == 1
        assert refused.stderr.strip().splitlines() == [
            f"error: another ingest (pid 4242) is writing to {data}; try again when it ends"
        ]
        waiting = subprocess.Popen(
            [RAG, "ingest", str(folder), "--json"],
            env=cli_env(data), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(8)
        assert waiting.poll() is None  # it waits for the lock
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0 and json.loads(out)["added"] == 2
    assert "waiting for another ingest (pid 4242) …" in err
