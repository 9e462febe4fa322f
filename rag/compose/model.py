"""The reader's fitted weights: a token model (a logistic regression over a sentence's words),
a sentence model in two stages (a softmax over a question's candidate sentences, then one over
its shortlist with the cross-encoder's score among the features), an answerability model (a
logistic regression over the question's best candidate), and the thresholds chosen on
validation data. `make train` writes them to `reader.json` (the cross-encoder to
`cross.onnx`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.compose import features, tokens
from rag.errors import ConfigError

WEIGHTS = Path(__file__).with_name("reader.json")


@dataclass(frozen=True)
class ReaderModel:
    token_weights: np.ndarray  # over tokens.FEATURES
    first_weights: np.ndarray  # over features.FEATURES (none on "cross"): the shortlist
    sentence_weights: np.ndarray  # over features.FEATURES, of a softmax over the shortlist
    answer_weights: np.ndarray  # over features.QUESTION_FEATURES
    answer_threshold: float  # the answerability below which the reader abstains
    lead_floor: float  # the chance (the sentence's times its span's) at which an answer leads
    second_ratio: float  # another sentence joins at this share of the first one's chance
    max_words: int = 60  # of the whole answer
    clause_words: int = 30  # a longer sentence is cut to the clauses around its answer (0: never)
    cross_top: int = 0  # the shortlist the cross-encoder reads (0: none, all candidates)
    trained: dict[str, Any] = field(default_factory=dict)  # what it was fitted on, and how

    def shortlist(self, rows: np.ndarray) -> np.ndarray:
        """The candidates (indices into `rows`) the cross-encoder reads, likeliest first by
        the first-stage model; all of them when there is no cross-encoder."""
        order = np.argsort(-(rows @ self.first_weights), kind="stable")
        return order[: self.cross_top] if self.cross_top else order

    def ranked(self, rows: np.ndarray, shortlist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every candidate's chance of answering, shared among the shortlist (a softmax over
        its rows, the cross-encoder's score filled in; 0 for the rest), and the candidates'
        order: the shortlist by chance, then the rest as the first stage ranked them. What
        to quote, not whether to answer."""
        chances = np.zeros(len(rows))
        chances[shortlist] = softmax(rows[shortlist] @ self.sentence_weights)
        listed = set(shortlist.tolist())
        first = np.argsort(-(rows @ self.first_weights), kind="stable")
        rest = np.array([i for i in first if i not in listed], dtype=int)
        inside = shortlist[np.argsort(-chances[shortlist], kind="stable")]
        return np.concatenate([inside, rest]).astype(int), chances

    def answerability(self, row: np.ndarray) -> float:
        """The chance that the best sentence answers the question (one question's row)."""
        return float(1.0 / (1.0 + np.exp(-(row @ self.answer_weights))))

    def to_json(self) -> dict[str, Any]:
        return {
            "token_features": list(tokens.FEATURES),
            "token_weights": [round(float(w), 6) for w in self.token_weights],
            "sentence_features": list(features.FEATURES),
            "first_weights": [round(float(w), 6) for w in self.first_weights],
            "sentence_weights": [round(float(w), 6) for w in self.sentence_weights],
            "question_features": list(features.QUESTION_FEATURES),
            "answer_weights": [round(float(w), 6) for w in self.answer_weights],
            "answer_threshold": self.answer_threshold,
            "lead_floor": self.lead_floor,
            "second_ratio": self.second_ratio,
            "max_words": self.max_words,
            "clause_words": self.clause_words,
            "cross_top": self.cross_top,
            "trained": self.trained,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "reader weights") -> ReaderModel:
        if (
            tuple(data.get("token_features", ())) != tokens.FEATURES
            or tuple(data.get("sentence_features", ())) != features.FEATURES
            or tuple(data.get("question_features", ())) != features.QUESTION_FEATURES
        ):
            raise ConfigError(
                f"{source} were fitted for other features than the reader computes: "
                "run `make train` to fit them again"
            )
        return cls(
            token_weights=np.asarray(data["token_weights"], dtype=np.float32),
            first_weights=np.asarray(data["first_weights"], dtype=np.float64),
            sentence_weights=np.asarray(data["sentence_weights"], dtype=np.float64),
            answer_weights=np.asarray(data["answer_weights"], dtype=np.float64),
            answer_threshold=float(data["answer_threshold"]),
            lead_floor=float(data["lead_floor"]),
            second_ratio=float(data["second_ratio"]),
            max_words=int(data["max_words"]),
            clause_words=int(data["clause_words"]),
            cross_top=int(data["cross_top"]),
            trained=dict(data.get("trained", {})),
        )


def softmax(scores: np.ndarray) -> np.ndarray:
    if not len(scores):
        return scores
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


@lru_cache(maxsize=4)
def load(path: Path = WEIGHTS) -> ReaderModel:
    """The fitted reader (read once per process)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the reader's weights {path}: {exc}") from None
    return ReaderModel.from_json(data, str(path))
