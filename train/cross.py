"""Fine-tune the reader's cross-encoder (`rag/compose/cross.py`) from the packaged
all-MiniLM-L6-v2, and write it as int8 ONNX.

Its examples are the candidates the reader would show it: each question part's likeliest
candidates by the first-stage sentence model (`ReaderModel.cross_top` of them), labelled 1
when they hold a key fact of a source article (for SQuAD, an answer); from SQuAD only the
hardest few negatives per question, which keeps an epoch to minutes on two cores. The model
is the transformer's mean-pooled output under one linear layer, trained with a weighted
binary log loss (AdamW, a linear warm-up and decay). Needs torch (installed by `make setup`).
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.compose.cross import encode, load_tokenizer, seconds
from rag.nlp.embeddings import model_dir

SEED = 20
BATCH = 32
EPOCHS = 2
LEARNING_RATE = 1e-4
WARMUP = 0.1
SQUAD_NEGATIVES = 3  # the hardest this many of a SQuAD question's candidates that don't answer
NEWS_WEIGHT = 2.0  # a news pair weighs this many SQuAD ones


@dataclass(frozen=True)
class Pair:
    question: str
    second: str
    label: float
    weight: float


def pairs_of(examples: list[Any], top: int) -> list[Pair]:
    """Training pairs from examples whose candidates are in first-stage order: the first
    `top` of each question part (for SQuAD, its positives and hardest negatives), and every
    positive beyond them."""
    out = []
    for ex in examples:
        squad = ex.item.origin.startswith("squad")
        weight = 1.0 if squad else NEWS_WEIGHT
        for reading, labels in zip(ex.readings, ex.labels, strict=True):
            negatives = 0
            chosen = []
            for i, label in enumerate(labels):
                if not label:
                    if i >= top or (squad and negatives >= SQUAD_NEGATIVES):
                        continue
                    negatives += 1
                chosen.append(i)
            for i, second in zip(chosen, seconds(reading.candidates, chosen), strict=True):
                out.append(Pair(reading.asked.text, second, float(labels[i]), weight))
    return out


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _scorer() -> Any:
    import torch
    from transformers import AutoModel

    class Scorer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model_dir()))
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return self.head(pooled).squeeze(-1)

    return Scorer()


def _batches(pairs: list[Pair], rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches of pairs of about the same length (less padding)."""
    order = pairs[:]
    rng.shuffle(order)
    batches = []
    pool = BATCH * 50
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda p: len(p.question + p.second))
        batches += [chunk[i : i + BATCH] for i in range(0, len(chunk), BATCH)]
    rng.shuffle(batches)
    return batches


def fine_tune(pairs: list[Pair], name: str = "cross-encoder") -> Any:
    """The scorer fitted to the pairs (a torch module, in eval mode)."""
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rng = random.Random(SEED)
    tokenizer = load_tokenizer()
    model = _scorer()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    batches = [b for _ in range(EPOCHS) for b in _batches(pairs, rng)]
    warm = max(1, int(WARMUP * len(batches)))
    decay = max(1, len(batches) - warm)

    def rate(step: int) -> float:  # linear warm-up, then linear decay to 0
        return min((step + 1) / warm, max(0.0, (len(batches) - step) / decay))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    started = time.perf_counter()
    running = 0.0
    for step, batch in enumerate(batches, start=1):
        ids, mask, types = (
            torch.from_numpy(a) for a in encode(tokenizer, [(p.question, p.second) for p in batch])
        )
        labels = torch.tensor([p.label for p in batch])
        weights = torch.tensor([p.weight for p in batch])
        logits = model(ids, mask, types)
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
            * weights
        ).sum() / weights.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        value = loss.item()
        running = 0.98 * running + 0.02 * value if step > 1 else value
        if step % 100 == 0 or step == len(batches):
            _log(
                f"  {name}: batch {step}/{len(batches)}, loss {running:.3f}, "
                f"{time.perf_counter() - started:.0f} s"
            )
    model.eval()
    return model


def scores(model: Any, question: str, seconds: list[str], tokenizer: Any = None) -> np.ndarray:
    """The fitted torch scorer's logits (for cross-fitting, before export)."""
    import torch

    if not seconds:
        return np.zeros(0)
    ids, mask, types = encode(tokenizer or load_tokenizer(), [(question, s) for s in seconds])
    with torch.no_grad():
        out = model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types))
    return out.numpy().astype(np.float64)


def export(model: Any, target: Path) -> Path:
    """The scorer as int8 ONNX at `target` (dynamic quantisation of its weights)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    full = target.with_suffix(".fp32.onnx")
    ids, mask, types = encode(load_tokenizer(), [("Who said it?", "She said it.")])
    torch.onnx.export(
        model,
        (torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)),
        str(full),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logit"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "token_type_ids": {0: "batch", 1: "tokens"},
            "logit": {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(full), str(target), weight_type=QuantType.QInt8)
    full.unlink()
    return target
