"""Follow-up questions: turn "and what did Putin say?" into a standalone question."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.errors import InputError
from rag.llm.client import ChatClient
from rag.llm.prompts import ABSTENTION_OPENINGS, CONDENSE_PROMPT
from rag.nlp.text import STOPWORDS, words
from rag.nlp.timeline import question_window, untimed

Message = dict[str, str]

# Openings and pronouns that lean on an earlier turn.
_LEANS_ON_CONTEXT = re.compile(
    r"^\s*(?:and|but|also|so|then|what about|how about|and what|why|when was)\b"
    r"|\b(?:he|she|they|him|her|them|his|their|its|it|that|this|those|these|there|then|else)\b",
    re.IGNORECASE,
)


# "and what about Iran?", "how about May?": the earlier question asked again of a new topic
_ELLIPTICAL = re.compile(
    r"^\W*(?:(?:and|but|so|then)\s+)?(?:what|how)\s+about\s+(?P<topic>[^?]+?)\W*$", re.I
)
# the topic that closes a question: "... say about *Venezuela*?"
_CLOSING_TOPIC = re.compile(
    r"\b(?P<preposition>about|on|regarding|concerning|over|towards?)\s+[^?]+?(?P<end>\W*)$",
    re.I,
)


# How `condense_heuristic` marks words carried from earlier turns (weighed less than the
# question's own words when answering).
_CONTEXT_OPEN = "[context: "
_CITATION_MARK = re.compile(r"\[\d+\]")
MAX_REPLY_WORDS = 25  # of the last answer; its opening names what it was about


def split_history(messages: Sequence[Message]) -> tuple[list[Message], str]:
    """Earlier turns and the last user message, or a clear error for a malformed history."""
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in {
            "user",
            "assistant",
            "system",
        }:
            raise InputError("each chat message needs a role (user/assistant) and content")
        if not isinstance(message.get("content"), str):
            raise InputError("each chat message needs text content")
    if not messages or messages[-1]["role"] != "user":
        raise InputError("the conversation must end with a user message")
    return list(messages[:-1]), messages[-1]["content"]


def condense_heuristic(history: Sequence[Message], question: str) -> str:
    """Carry the topic words of the last exchange (the earlier question, then the answer it
    got: "they" may be who the answer was about) into a question that leans on it, and its
    time unless the question names one."""
    earlier = [m["content"] for m in history if m["role"] == "user"]
    if not earlier or not _LEANS_ON_CONTEXT.search(question):
        return question
    if (asked_again := _asked_again(earlier[-1], question)) is not None:
        return asked_again
    last = history[-1]
    reply = last["content"] if last["role"] == "assistant" else ""
    if reply.startswith(ABSTENTION_OPENINGS):
        reply = ""  # nothing was found: the question alone says what the talk is about
    reply = _CITATION_MARK.sub("", reply)
    present = {w.lower() for w in words(question)}
    before = f"{earlier[-1]} {' '.join(words(reply)[:MAX_REPLY_WORDS])}"
    if question_window(question) is not None:
        before = untimed(before)  # "and in May 2019?": the new time replaces the old one
    carried: list[str] = []
    for word in words(before):
        lower = word.lower()
        if (
            lower not in STOPWORDS
            and lower not in present
            and lower not in {c.lower() for c in carried}
        ):
            carried.append(word)
    return f"{question.rstrip()} {_CONTEXT_OPEN}{' '.join(carried)}]" if carried else question


def _asked_again(earlier: str, question: str) -> str | None:
    """An elliptical follow-up as the earlier question with its closing topic replaced: "and
    what about Iran?" after "What did Pompeo say about Venezuela?" is "What did Pompeo say
    about Iran?" (None when the question is no such ellipsis, the earlier one closes on no
    topic, or the new topic is a pronoun)."""
    elliptical = _ELLIPTICAL.match(question)
    closing = _CLOSING_TOPIC.search(earlier.strip())
    if elliptical is None or closing is None:
        return None
    topic = elliptical.group("topic").strip()
    if _LEANS_ON_CONTEXT.search(topic):
        return None  # "what about him?": who he is comes from the conversation
    return f"{earlier.strip()[: closing.start()]}{closing.group('preposition')} {topic}?"


def plain(question: str) -> str:
    """A condensed question as words to search for, without the context marker."""
    own, carried = split_context(question)
    return f"{own} {carried}".strip()


def split_context(question: str) -> tuple[str, str]:
    """A condensed question's own words and the words carried from earlier turns."""
    own, marker, carried = question.partition(f" {_CONTEXT_OPEN}")
    return (own, carried.rstrip("]")) if marker else (question, "")


def condense_with_llm(client: ChatClient, history: Sequence[Message], question: str) -> str:
    """Ask the model for a standalone question; fall back to the heuristic on an empty reply."""
    transcript = "\n".join(f"{m['role']}: {m['content']}" for m in history if m["role"] != "system")
    prompt = CONDENSE_PROMPT.format(history=transcript, question=question)
    rewritten = client.complete([{"role": "user", "content": prompt}]).strip().strip('"')
    return rewritten or condense_heuristic(history, question)
