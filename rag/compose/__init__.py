"""Composers: turn retrieved passages into a short answer whose claims carry checked citations.

- `Reader` (offline, `reader.py`): a learned model picks the sentences that answer, or abstains.
- `LLMComposer` (`llm.py`): an OpenAI-compatible model writes the answer; its markers are checked.

Both follow `Composer`, return a `Composition`, and abstain with `prompts.ABSTAIN_PHRASE`.
"""

from __future__ import annotations

from typing import Protocol

from rag.compose.base import ABSTENTION, Composition, time_scoped_abstention
from rag.retrieve.hybrid import Retrieval


class Composer(Protocol):
    mode: str

    def compose(self, retrieval: Retrieval) -> Composition:
        """The answer to the retrieval's question from its passages (the LLM composer can
        also `stream` it)."""
        ...


__all__ = ["ABSTENTION", "Composer", "Composition", "time_scoped_abstention"]
