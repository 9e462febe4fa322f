"""The cross-encoder: the question and a candidate sentence read together by one transformer,
which says how likely the sentence is to answer the question.

The embedding model compares a question's vector with a sentence's, each made alone; this
model reads the two side by side, word against word, so it sees that "who will run it?" is
answered by the sentence with the names, not the one that repeats "run". It is the packaged
all-MiniLM-L6-v2 fine-tuned by `make train` (`train/cross.py`) on SQuAD 2.0's training pages
and the hand-written news training sets, then quantised to int8 ONNX (`cross.onnx`, about
23 MB). It runs through onnxruntime with the model's own `tokenizers` tokenizer: no torch.
The reader scores only a question's likeliest candidates with it (`ReaderModel.cross_top`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rag.compose.features import Candidate, leans_back, neighbours
from rag.errors import ConfigError
from rag.nlp.embeddings import model_dir

CROSS = Path(__file__).with_name("cross.onnx")
MAX_TOKENS = 128  # question and sentence together; the longer of the two is cut first


def second_segment(sentence: str, title: str | None, before: str | None = None) -> str:
    """What the model reads beside the question: the sentence, after the one before it when
    given, then its article's headline (the headline often names who or what the sentence's
    "it" or "the company" is)."""
    read = f"{before} {sentence}" if before else sentence
    return f"{read} | {title}" if title else read


def seconds(candidates: list[Candidate], chosen: Iterable[int]) -> list[str]:
    """The `second_segment` of each chosen candidate, a sentence that leans on the one before
    it ("..., she said.") read after that one, when it is a candidate too."""
    around = neighbours(candidates)
    out = []
    for i in chosen:
        c, before = candidates[i], around[i][0]
        context = before.text if before is not None and leans_back(c.text) else None
        out.append(second_segment(c.text, c.passage.title, context))
    return out


def load_tokenizer() -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
    tokenizer.no_padding()
    return tokenizer


def encode(
    tokenizer: Any, pairs: list[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's inputs for (question, second) pairs, padded to the longest: token ids,
    attention mask and segment ids (training reads the same)."""
    encoded = tokenizer.encode_batch(pairs)
    width = max(len(e.ids) for e in encoded)
    ids = np.zeros((len(encoded), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, e in enumerate(encoded):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
        types[i, : len(e.ids)] = e.type_ids
    return ids, mask, types


class CrossEncoder:
    """Scores (question, sentence) pairs: the model's logit that the sentence answers."""

    def __init__(self, path: Path = CROSS) -> None:
        self.path = path
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                if not self.path.is_file():
                    raise ConfigError(
                        f"the reader's cross-encoder {self.path} is missing: run `make train`"
                    )
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                options.add_session_config_entry("session.intra_op.allow_spinning", "1")
                self._session = onnxruntime.InferenceSession(
                    str(self.path), options, providers=["CPUExecutionProvider"]
                )
                self._tokenizer = load_tokenizer()
            return self._session, self._tokenizer

    def logits(self, question: str, seconds: list[str]) -> np.ndarray:
        if not seconds:
            return np.zeros(0)
        session, tokenizer = self._load()
        out = np.empty(len(seconds))
        # one pair at a time: no padding, which on two cores beat one padded batch of eight
        # sentences of 11 to 42 words (28 against 33 ms)
        for i, second in enumerate(seconds):
            ids, mask, types = encode(tokenizer, [(question, second)])
            (logit,) = session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            )
            out[i] = float(np.asarray(logit).reshape(-1)[0])
        return out


_shared: CrossEncoder | None = None


def shared() -> CrossEncoder:
    """One cross-encoder per process (its session is thread-safe)."""
    global _shared
    if _shared is None:
        _shared = CrossEncoder()
    return _shared
