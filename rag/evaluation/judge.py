"""`rag eval --judge`: LLM-judged correctness and faithfulness of answers.

The prompts follow llama-index's `CorrectnessEvaluator` (a 1-5 score against the reference
answer, passing at >= 4) and `FaithfulnessEvaluator` (YES/NO: is the answer supported by the
retrieved passages). The judge talks to any OpenAI-compatible endpoint through `ChatClient`,
whatever composer answered.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from rag.config import Settings
from rag.errors import LLMError
from rag.llm.client import ChatClient
from rag.llm.prompts import (
    JUDGE_CORRECTNESS_SYSTEM,
    JUDGE_CORRECTNESS_USER,
    JUDGE_FAITHFULNESS,
    passage_block,
)
from rag.types import Answer

PASSING_SCORE = 4.0
JUDGE_METRICS = ("judge_correctness", "judge_score", "judge_faithfulness", "judge_errors")

_SCORE_LINE = re.compile(r"^\W*(?:score\W*)?([1-5](?:\.\d+)?)(?:\s*/\s*5)?\b", re.IGNORECASE)
_SCORE_ANYWHERE = re.compile(r"\bscore\W{0,3}([1-5](?:\.\d+)?)\b", re.IGNORECASE)
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class JudgeParseError(ValueError):
    """The judge's reply has no score or verdict where the prompt asked for one."""


class Verdict(BaseModel):
    """The judge's view of one answer; None where it did not (or could not) judge."""

    score: float | None = None
    correct: bool | None = None
    correctness_reason: str = ""
    faithful: bool | None = None
    faithfulness_reason: str = ""
    error: str | None = None


def judge_skip_reason(settings: Settings) -> str | None:
    """Why judging cannot run with these settings, or None when it can."""
    if not settings.openai_api_key:
        return (
            "OPENAI_API_KEY is not set; the judge needs an OpenAI-compatible endpoint "
            "(OPENAI_BASE_URL optional, model RAG_LLM_MODEL)"
        )
    return None


def _excerpt(reply: str) -> str:
    flat = " ".join(reply.split())
    return repr(flat[:80] + ("…" if len(flat) > 80 else ""))


def parse_score(reply: str) -> tuple[float, str]:
    """The 1-5 score on the reply's first line (`4`, `4.5`, `Score: 4/5`, `**4**`) or, failing
    that, after the word "score" anywhere; the rest is the reasoning."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if lines:
        match = _SCORE_LINE.match(lines[0])
        if match:
            rest = lines[0][match.end() :].strip(" *:-.")
            return float(match.group(1)), " ".join([rest, *lines[1:]]).strip()
    match = _SCORE_ANYWHERE.search(reply)
    if match:
        return float(match.group(1)), " ".join(lines)
    raise JudgeParseError(f"no 1-5 score in the judge's reply {_excerpt(reply)}")


def parse_verdict(reply: str) -> tuple[bool, str]:
    """YES/NO on the first line (`YES`, `Answer: no`, `**Yes**.`), or the only one of the two
    words in the reply; the rest is the reasoning."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    for scope, reason in ((lines[:1], lines[1:]), (lines, lines)):
        found = {m.lower() for line in scope for m in _YES_NO.findall(line)}
        if len(found) == 1:
            return found.pop() == "yes", " ".join(reason).strip()
    raise JudgeParseError(f"no YES/NO verdict in the judge's reply {_excerpt(reply)}")


class Judge:
    """Scores answers with an LLM. After the endpoint fails once (auth, timeout, down) the
    judge stops calling it and records that error on the remaining items."""

    def __init__(self, settings: Settings, client: ChatClient | None = None) -> None:
        self.client = client or ChatClient(settings)
        self.model = f"openai:{self.client.model}"
        self.failure: str | None = None

    def _ask(self, messages: list[dict[str, str]]) -> str:
        if self.failure:
            raise LLMError(f"not judged: {self.failure}")
        try:
            return self.client.complete(messages)
        except LLMError as exc:
            self.failure = str(exc)
            raise

    def correctness(self, question: str, reference: str, answer: Answer) -> tuple[float, str]:
        """A 1-5 score against the reference answer and the judge's reasoning."""
        user = JUDGE_CORRECTNESS_USER.format(
            question=question, reference=reference or "(none given)", answer=answer.text
        )
        reply = self._ask(
            [
                {"role": "system", "content": JUDGE_CORRECTNESS_SYSTEM},
                {"role": "user", "content": user},
            ]
        )
        return parse_score(reply)

    def faithfulness(self, answer: Answer) -> tuple[bool, str]:
        """Whether the retrieved passages support the answer, and the judge's reasoning."""
        prompt = JUDGE_FAITHFULNESS.format(
            answer=answer.text, context=passage_block(answer.passages) or "(no passages)"
        )
        return parse_verdict(self._ask([{"role": "user", "content": prompt}]))

    def judge(self, question: str, reference: str, answerable: bool, answer: Answer) -> Verdict:
        """Judge one answer. Abstentions need no call: on an unanswerable item an abstention
        is correct (score 5) and an answer wrong (score 1); on an answerable item an abstention
        scores 1. Faithfulness is judged for answers that did not abstain."""
        verdict = Verdict()
        errors: list[str] = []
        if not answerable or answer.abstained:
            right = answer.abstained and not answerable
            verdict.score, verdict.correct = (5.0, True) if right else (1.0, False)
            verdict.correctness_reason = (
                "abstained on an unanswerable question"
                if right
                else "answered an unanswerable question"
                if not answerable
                else "abstained on an answerable question"
            )
        else:
            try:
                score, verdict.correctness_reason = self.correctness(question, reference, answer)
                verdict.score, verdict.correct = score, score >= PASSING_SCORE
            except (LLMError, JudgeParseError) as exc:
                errors.append(f"correctness: {exc}")
        if not answer.abstained:
            try:
                verdict.faithful, verdict.faithfulness_reason = self.faithfulness(answer)
            except (LLMError, JudgeParseError) as exc:
                errors.append(f"faithfulness: {exc}")
        verdict.error = "; ".join(errors) or None
        return verdict
