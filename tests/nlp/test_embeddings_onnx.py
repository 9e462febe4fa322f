"""The local model through onnxruntime: the same vectors as sentence-transformers, and a new
process that answers without importing torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.ingest.corpus import scan
from rag.nlp.embeddings import CachedEmbedder, LocalEmbedder, OnnxEmbedder
from rag.nlp.text import sentence_spans
from tests.conftest import HEADLINE, ROOT, SEEDS


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    embedder = OnnxEmbedder(tmp_path_factory.mktemp("models"))
    embedder.ensure_exported()
    return embedder


def seed_texts() -> list[str]:
    articles = scan([SEEDS]).articles
    sentences = [a.text[s:e] for a in articles for s, e in sentence_spans(a.text)]
    # whole articles are longer than the model's 256 tokens: truncated alike
    return sentences + [a.text for a in articles] + [HEADLINE, "Putin", ""]


def test_onnx_vectors_match_sentence_transformers(
    onnx_embedder: OnnxEmbedder, embedder: LocalEmbedder
) -> None:
    texts = seed_texts()
    ours, reference = onnx_embedder.embed(texts), embedder.embed(texts)
    assert ours.shape == reference.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() >= 0.9999, texts[int(cosine.argmin())]
    assert onnx_embedder.name == embedder.name  # an index built by either serves the other
    # batches sorted by length give each text back in its place
    one = onnx_embedder.embed([texts[-3]])
    assert np.allclose(one[0], ours[-3], atol=1e-5)
    assert onnx_embedder.embed([]).shape == (0, 384)


def test_an_unwritable_model_cache_builds_the_graph_in_the_temp_folder(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    elsewhere = OnnxEmbedder(blocked / "models")
    vectors = elsewhere.embed([HEADLINE])
    assert np.allclose(vectors, embedder.embed([HEADLINE]), atol=1e-5)
    assert not (blocked / "models").exists()


def test_the_graph_is_built_from_the_weights_without_torch(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from rag.nlp.embeddings import export_onnx\n"
        "export_onnx(Path(sys.argv[1]))\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers')"
        " if m in sys.modules))\n"
    )
    target = tmp_path / "model.onnx"
    built = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    assert built.stdout.strip() == "[]" and target.stat().st_size > 80_000_000


def test_a_new_process_answers_without_importing_torch(
    seeded_copy: Path, onnx_embedder: OnnxEmbedder
) -> None:
    """The seeded index was built through sentence-transformers; the onnx embedder answers
    from it, and the process never imports torch, transformers or sentence-transformers."""
    models = seeded_copy / "models"
    models.mkdir(exist_ok=True)
    shutil.copy(onnx_embedder.path, models / onnx_embedder.path.name)
    script = (
        "import json, sys\n"
        "from rag.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'sklearn')"
        " if m in sys.modules)\n"
        "print(json.dumps(heavy), file=sys.stderr)\n"
    )
    env = {**os.environ, "RAG_DATA_DIR": str(seeded_copy), "RAG_LLM": "extractive"}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run(
        [sys.executable, "-c", script, "ask", HEADLINE, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    answer = json.loads(run.stdout)
    assert not answer["abstained"] and "remains real" in answer["answer"]
    assert json.loads(run.stderr.strip().splitlines()[-1]) == []


def test_the_vector_cache_keeps_the_newest_texts(onnx_embedder: OnnxEmbedder) -> None:
    """Cached vectors are the model's; beyond its size, the oldest texts are dropped first."""
    embedded: list[str] = []

    class Counting:
        name = onnx_embedder.name

        def embed(self, texts: list[str]) -> np.ndarray:
            embedded.extend(texts)
            return onnx_embedder.embed(texts)

    cache = CachedEmbedder(Counting(), size=3)
    texts = ["Putin met May.", "Lavrov spoke.", "The summit ended.", "Talks began.", "Oil rose."]
    first = cache.embed(texts[:3])
    assert np.allclose(first, onnx_embedder.embed(texts[:3]), atol=1e-6)
    cache.embed(texts[3:])
    embedded.clear()
    cache.embed(texts[2:])  # the three newest: remembered
    assert embedded == []
    cache.embed(texts[:1])  # the oldest: embedded again
    assert embedded == texts[:1]
