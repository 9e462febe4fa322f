"""The reader's cross-encoder: what it reads, the shipped int8 model, and the fine-tuning and
export that `make train` runs (on made-up sentences, not gold questions)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rag.compose.base import Sentence
from rag.compose.cross import CROSS, CrossEncoder, encode, load_tokenizer, second_segment, seconds
from rag.compose.features import Candidate
from rag.compose.model import load
from rag.errors import ConfigError
from rag.types import Passage


def test_the_model_reads_the_question_beside_the_sentence_and_its_headline() -> None:
    assert second_segment("It will close in May.", "ACME TO SHUT PLANT") == (
        "It will close in May. | ACME TO SHUT PLANT"
    )
    assert second_segment("It will close in May.", None) == "It will close in May."
    pairs = [("When will it close?", "It closes in May."), ("When will it close?", "x")]
    ids, mask, types = encode(load_tokenizer(), pairs)
    assert ids.shape == mask.shape == types.shape and ids.shape[0] == 2
    assert types[0].max() == 1 and types[0, 0] == 0  # the sentence is the second segment
    assert mask[1].sum() < mask[0].sum()  # padded to the longest pair
    long = encode(load_tokenizer(), [("Why? " * 300, "word " * 300)])[0]
    assert long.shape[1] == 128  # cut to MAX_TOKENS, both sides


def test_the_shipped_cross_encoder_prefers_the_sentence_that_answers() -> None:
    model = load()
    assert model.cross_top > 0 and CROSS.is_file()
    assert CROSS.stat().st_size < 25_000_000
    logits = CrossEncoder().logits(
        "Who will chair the new inquiry into the port?",
        [
            second_segment("Anna Berg and Tom Hale will chair it, the minister said.", None),
            second_segment("The inquiry into the port will open in the autumn.", None),
            second_segment("Shares in the shipping group fell 3 pct on Tuesday.", None),
        ],
    )
    assert logits[0] > logits[1] and logits[0] > logits[2]


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make train"):
        CrossEncoder(tmp_path / "cross.onnx").logits("Who?", ["Someone."])


def _candidates(texts: list[str]) -> list[Candidate]:
    """The sentences of one article, in its order."""
    text = " ".join(texts)
    passage = Passage(doc_id="a", chunk_id="a:0", text=text, score=1.0, title="HEADLINE")
    out, start = [], 0
    for t in texts:
        sentence = Sentence(0, start, start + len(t), t)
        out.append(Candidate(sentence, passage, 0, np.zeros(3), frozenset()))
        start += len(t) + 1
    return out


def test_a_sentence_that_leans_on_the_one_before_is_read_after_it() -> None:
    candidates = _candidates(
        [
            "Mayor Anna Berg toured the harbour on Monday.",
            "“We will rebuild the wall,” she said.",
            "The port authority said repairs would cost 3 million euros.",
        ]
    )
    read = seconds(candidates, [2, 1, 0])
    assert read == [
        "The port authority said repairs would cost 3 million euros. | HEADLINE",
        "Mayor Anna Berg toured the harbour on Monday. “We will rebuild the wall,” she said. "
        "| HEADLINE",
        "Mayor Anna Berg toured the harbour on Monday. | HEADLINE",
    ]
    alone = seconds(candidates[1:], [0])  # the sentence before was not retrieved
    assert alone == ["“We will rebuild the wall,” she said. | HEADLINE"]


def _example(origin: str, labels: list[float]) -> SimpleNamespace:
    candidates = _candidates([f"Sentence {i}." for i in range(6)])
    reading = SimpleNamespace(asked=SimpleNamespace(text="Who?"), candidates=candidates)
    return SimpleNamespace(
        item=SimpleNamespace(origin=origin), readings=[reading], labels=[np.array(labels)]
    )


def test_training_pairs_are_the_shortlist_and_every_answer_beyond_it() -> None:
    from train.cross import SQUAD_NEGATIVES, pairs_of

    news = pairs_of([_example("reuters-dev", [0, 1, 0, 0, 0, 1])], top=3)
    assert [p.second.split(" |")[0] for p in news] == [
        "Sentence 0.",
        "Sentence 1.",
        "Sentence 2.",
        "Sentence 5.",
    ]
    assert [p.label for p in news] == [0, 1, 0, 1] and news[0].second.endswith("| HEADLINE")
    squad = pairs_of([_example("squad-train", [0, 0, 0, 0, 0, 0])], top=5)
    assert len(squad) == SQUAD_NEGATIVES and news[0].weight > squad[0].weight


def test_fine_tuning_learns_pairs_and_the_int8_export_scores_like_torch(tmp_path: Path) -> None:
    from train.cross import Pair, export, fine_tune, scores

    question = "Who will chair the inquiry?"
    right = "Anna Berg will chair the inquiry, the ministry said."
    wrong = "The inquiry is due to report in the spring."
    pairs = [Pair(question, right, 1.0, 1.0), Pair(question, wrong, 0.0, 1.0)] * 24
    model = fine_tune(pairs, "test")
    torch_logits = scores(model, question, [right, wrong])
    assert torch_logits[0] > torch_logits[1]
    path = export(model, tmp_path / "cross.onnx")
    assert path.stat().st_size < 25_000_000 and not (tmp_path / "cross.fp32.onnx").exists()
    onnx_logits = CrossEncoder(path).logits(question, [right, wrong])
    assert np.allclose(onnx_logits, torch_logits, atol=0.25)
    assert onnx_logits[0] > onnx_logits[1]
