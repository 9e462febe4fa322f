"""Labelled questions, read by the engine as it answers them: each question is retrieved and
its candidate sentences gathered exactly as at answer time; a candidate is a positive when it
comes from a source article and holds a key fact (an answer span, for SQuAD)."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag import RagEngine, Settings
from rag.compose.model import ReaderModel
from rag.compose.reader import Reader, Reading
from rag.compose.tokens import shaped
from rag.evaluation.metrics import GoldItem, load_gold
from rag.retrieve.hybrid import Retrieval
from train import squad

TRAIN_DIR = Path(".rag-train")  # corpora and indexes of training, never in the repository


@dataclass
class Item:
    """A question and what answers it."""

    gold: GoldItem
    origin: str  # which set: "squad-train", "reuters-dev", ...

    @property
    def answerable(self) -> bool:
        return self.gold.answerable


@dataclass
class Example:
    item: Item
    retrieval: Retrieval
    readings: list[Reading]
    labels: list[np.ndarray] = field(default_factory=list)  # per reading, per candidate

    def label(self) -> None:
        facts = self.item.gold.key_facts
        sources = set(self.item.gold.sources)
        self.labels = [
            np.array(
                [
                    float(
                        self.item.answerable
                        and c.passage.doc_id in sources
                        and any(_holds(c.text, alternates) for alternates in facts)
                    )
                    for c in reading.candidates
                ]
            )
            for reading in self.readings
        ]


def _holds(text: str, alternates: list[str]) -> bool:
    lowered = text.lower()
    return any(a.strip() and a.lower() in lowered for a in alternates)


def answer_tokens(sentence: str, alternates: list[str]) -> np.ndarray:
    """1 for each token of the sentence inside an occurrence of an answer alternate."""
    tokens = shaped(sentence).tokens
    inside = np.zeros(len(tokens), dtype=np.float64)
    lowered = sentence.lower()
    for alternate in alternates:
        text = alternate.strip().lower()
        if not text:
            continue
        for m in re.finditer(re.escape(text), lowered):
            for i, t in enumerate(tokens):
                if t.start < m.end() and m.start() < t.end:
                    inside[i] = 1.0
    return inside


def gold_items(path: Path, origin: str) -> list[Item]:
    return [Item(g, origin) for g in load_gold(path)]


def squad_items(split: str, limit: int | None = None) -> tuple[Path, list[Item]]:
    """The split's questions as gold items, its paragraphs written as a corpus (under
    `.rag-train/`), which is returned with them."""
    folder = TRAIN_DIR / f"squad-{split}"
    if not (folder / "gold.jsonl").is_file():
        squad.write(split, folder, None)
    lines = (folder / "gold.jsonl").read_text("utf-8").splitlines()
    items = [Item(GoldItem.model_validate(json.loads(x)), f"squad-{split}") for x in lines if x]
    if limit is not None and limit < len(items):
        chosen = random.Random(squad.SEED).sample(items, limit)
        items = sorted(chosen, key=lambda item: item.gold.id)
    return folder / "corpus", items


def engine_for(corpus: Path, name: str) -> RagEngine:
    """An engine over `corpus` with its own index in `.rag-train/NAME`, synced."""
    settings = Settings(
        _env_file=None,
        RAG_DATA_DIR=TRAIN_DIR / f"index-{name}",
        RAG_CORPUS_DIR=corpus,
        RAG_LLM="extractive",
        RAG_CHROMA_URL=None,
    )
    engine = RagEngine(settings)
    engine.ingest([corpus])
    return engine


def read(engine: RagEngine, model: ReaderModel, items: list[Item]) -> list[Example]:
    """Every item retrieved and read as the engine would answer it (follow-ups condensed)."""
    reader = Reader(engine.query_embedder, model)
    examples = []
    for item in items:
        gold = item.gold
        if gold.history:
            messages = [*gold.history, {"role": "user", "content": gold.question}]
            question = engine.standalone_question(messages)
        else:
            question = gold.question
        retrieval = engine.retrieval(question)
        example = Example(item, retrieval, reader.read(retrieval))
        example.label()
        examples.append(example)
    return examples
