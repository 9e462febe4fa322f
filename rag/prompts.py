"""Every piece of prompt text and the fixed abstention phrase, in one place."""

from __future__ import annotations

from rag.types import Passage

# The fixed phrase of an abstention; tests and callers match on it.
ABSTAIN_PHRASE = "The articles don't say."

SYSTEM_PROMPT = f"""You answer questions about news articles using ONLY the numbered passages \
you are given. Rules:
- Every sentence of your answer ends with one or more citation markers like [1] or [2][3] that \
name the passages supporting it. Never cite a number that is not in the list.
- Use no outside knowledge. If the passages do not answer the question, reply exactly: \
{ABSTAIN_PHRASE}
- Be concise: at most three sentences. Say when things happened where the passages tell you.
- Quote short key phrases from the passages where wording matters."""

CONDENSE_PROMPT = """Rewrite the user's last message as one standalone question that can be \
understood without the conversation. Keep names, places and dates from the conversation that \
the question refers to. Reply with the question only.

Conversation:
{history}

Last message: {question}
Standalone question:"""


def passage_block(passages: list[Passage]) -> str:
    """The numbered passages as the model sees them."""
    parts = []
    for n, passage in enumerate(passages, start=1):
        source = ", ".join(x for x in (passage.outlet, passage.published) if x)
        header = f"[{n}] {passage.title}" + (f" ({source})" if source else "")
        parts.append(f"{header}\n{passage.text}")
    return "\n\n".join(parts)


def user_prompt(question: str, passages: list[Passage]) -> str:
    return f"Passages:\n\n{passage_block(passages)}\n\nQuestion: {question}"
