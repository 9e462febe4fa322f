"""The kinds of file `rag ingest` reads, by suffix: one list that the readers, the upload check
and the settings share."""

from __future__ import annotations

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})
RECORD_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json", ".csv"})
SGML_SUFFIXES = frozenset({".sgm", ".sgml"})
FEED_SUFFIXES = frozenset({".rss", ".atom", ".xml"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | RECORD_SUFFIXES | SGML_SUFFIXES | FEED_SUFFIXES
