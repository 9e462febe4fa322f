"""The engine's error hierarchy: every failure a user can cause or meet has a one-line message."""

from __future__ import annotations


class RagError(Exception):
    """Base class; `str(error)` is a complete, user-facing sentence."""

    exit_code = 1


class ConfigError(RagError):
    """A setting is missing or wrong (exit code 2)."""

    exit_code = 2


class InputError(RagError):
    """The user's input cannot be used: empty or oversized question, missing path (exit 2)."""

    exit_code = 2


class IndexMismatchError(RagError):
    """The index was built with another embedding model or chunking than the settings ask for."""

    exit_code = 2


class EmptyIndexError(RagError):
    """A question was asked of an index that holds no articles yet."""


class StoreError(RagError):
    """The vector store or the data directory cannot be reached or written."""


class DamagedCopyError(StoreError):
    """A file of the lexical copy beside Chroma cannot be read; `rag check` rebuilds it."""


class LLMError(RagError):
    """The language-model server failed: auth, rate limit, timeout, server error."""
