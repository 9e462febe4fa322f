"""The offline reader's parts: what a question asks for, the token model's view of a
sentence, leads and cut sentences, the weights file, and the fitting it is trained with.

The wordings here are made up for the tests (not gold questions): they check the general
method, not answers to particular questions.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from rag import RagEngine
from rag.compose import features, tokens
from rag.compose.base import Sentence
from rag.compose.model import WEIGHTS, ReaderModel, load
from rag.compose.reader import Reader, Reading, _cut
from rag.errors import ConfigError
from rag.nlp.asked import Kind, Unit, focus_words, kind_of, unit_of
from rag.nlp.text import dateline_end, normalise
from rag.types import Passage
from tests.conftest import ROOT
from train.fit import log_loss, logistic

GOLD = ROOT / "eval" / "gold.jsonl"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who will chair the new inquiry?", Kind.PERSON),
        ("whose plan was it?", Kind.PERSON),
        ("How many jobs will the closure cost?", Kind.NUMBER),
        ("What price did the buyer pay per share?", Kind.NUMBER),
        ("and what did it pay for the stake?", Kind.NUMBER),
        ("When will the plant stop production?", Kind.DATE),
        ("In what year was the bridge built?", Kind.DATE),
        ("Where is the company based?", Kind.PLACE),
        ("Which country hosted the talks?", Kind.PLACE),
        ("Which bank is buying the insurer?", Kind.NAME),
        ("What is the new fund called?", Kind.NAME),
        ("Why did the talks collapse?", Kind.REASON),
        ("What did the minister say about prices?", Kind.QUOTE),
        ("How did the union react to the offer?", Kind.QUOTE),
        ("What happened at the shareholder meeting?", Kind.OTHER),
    ],
)
def test_the_question_word_names_the_kind_of_answer(question: str, kind: Kind) -> None:
    assert kind_of(question) is kind


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("How many engines does the new plane have?", ["engines"]),
        ("Which engine maker won the order?", ["engine", "maker"]),
        ("What was the average price of a new car in May?", ["average", "price"]),
        ("Who is the bank's chief economist?", ["chief", "economist"]),
        ("How much did the group pay for it?", []),
        ("Why did the mayor resign?", []),
    ],
)
def test_the_noun_a_question_asks_about(question: str, focus: list[str]) -> None:
    assert focus_words(question) == focus


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("How much did the group pay for the stake?", Unit.MONEY),
        ("What was the value of the contract?", Unit.MONEY),
        ("How much in damages is the company seeking?", Unit.MONEY),
        ("What percentage of the shares does it hold?", Unit.PERCENT),
        ("What interest rate is the loan at?", Unit.PERCENT),
        ("How many seats did the party win?", Unit.COUNT),
        ("How long will the strike last?", None),
        ("Who paid for the stake?", None),  # not a number question
    ],
)
def test_a_number_question_names_its_unit(question: str, unit: Unit | None) -> None:
    assert unit_of(question, kind_of(question)) is unit


@pytest.mark.parametrize(
    ("sentence", "unit", "holds"),
    [
        ("It agreed to pay 2.8 mln dlrs for the expenses.", Unit.MONEY, True),
        ("The stake was sold for $5 million.", Unit.MONEY, True),
        ("It sold 103,000 shares on March 9.", Unit.MONEY, False),
        ("Profit rose 12.5 pct in the year.", Unit.PERCENT, True),
        ("Profit rose 12.5 per cent in the year.", Unit.PERCENT, True),
        ("Profit rose to 40 mln dlrs.", Unit.PERCENT, False),
        ("The party gained nine new seats in parliament.", Unit.COUNT, True),
        ("The party gained nine points in the polls.", Unit.COUNT, False),
        ("Nothing here is a number.", None, False),
    ],
)
def test_a_sentence_holds_a_number_of_the_asked_unit(
    sentence: str, unit: Unit | None, holds: bool
) -> None:
    assert tokens.holds_unit(sentence, unit, frozenset(), frozenset({normalise("seats")})) is holds


def test_the_question_own_number_is_no_answer_of_its_unit() -> None:
    asked = frozenset({normalise("260")})
    assert not tokens.holds_unit("The 260 mln dlr loan was signed.", Unit.MONEY, asked, asked)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Profit fell in the fourth quarter.", {"fourth quarter"}),
        ("4th-quarter sales and first half sales", {"fourth quarter", "first half"}),
        ("Profit fell in the quarter to March.", set()),
    ],
)
def test_the_parts_of_a_year_a_text_names(text: str, named: set[str]) -> None:
    assert features.periods(text) == named


@pytest.mark.parametrize(
    ("sentence", "cause"),
    [
        ("Sales fell because of weak demand.", True),
        ("The company cut prices, citing higher competition.", True),
        ("It raised rates in an effort to curb inflation.", True),
        ("Sales fell 12 pct in March.", False),
    ],
)
def test_a_sentence_that_gives_a_reason(sentence: str, cause: bool) -> None:
    assert features._static(sentence).cause == float(cause)


def test_a_sentence_is_read_into_shaped_tokens() -> None:
    sentence = 'Acme Corp said on March 2 it sold 1,250 "red" units for 3.5 mln dlrs in 1986.'
    found = tokens.shaped(sentence)
    texts = [t.text for t in found.tokens]
    assert "1,250" in texts and "3.5" in texts and "1986" in texts
    shape = {name: i for i, name in enumerate(tokens.SHAPES)}
    row = {t.text: found.shapes[i] for i, t in enumerate(found.tokens)}
    assert row["Corp"][shape["in_name"]] and row["Acme"][shape["first_word"]]
    assert row["2"][shape["after_calendar"]] and row["2"][shape["number"]]
    assert row["1986"][shape["year"]] and not row["1,250"][shape["year"]]
    assert row["dlrs"][shape["after_number"]] is not None and row["mln"][shape["after_number"]]
    assert row["red"][shape["in_quotes"]] and not row["units"][shape["in_quotes"]]
    for t in found.tokens:
        assert sentence[t.start : t.end] == t.text  # offsets into the sentence


def test_token_features_place_shapes_in_the_block_of_the_asked_kind() -> None:
    sentence = "The board named Anna Berg to run the inquiry."
    rows = tokens.token_features(sentence, Kind.PERSON, frozenset({"inquiri", "run"}))
    assert rows.shape == (len(tokens.shaped(sentence).tokens), len(tokens.FEATURES))
    block = len(tokens.SHAPES)
    person = tokens.FEATURES.index("person:bias")
    assert rows[:, person].all() and not rows[:, :person].any()
    assert not rows[:, person + block : person + 2 * block].any()
    asked = tokens.FEATURES.index("in_question")
    words = [t.text for t in tokens.shaped(sentence).tokens]
    assert rows[words.index("inquiry"), asked] == 1 and rows[words.index("Anna"), asked] == 0


def test_the_lead_is_the_likeliest_run_trimmed_of_function_words() -> None:
    sentence = "The board said that Anna Berg and Tom Hale will chair it."
    words = [t.text for t in tokens.shaped(sentence).tokens]
    chances = np.full(len(words), 0.1)
    for w in ("that", "Anna", "Berg", "and", "Tom", "Hale"):
        chances[words.index(w)] = 0.9
    lead = tokens.best_lead(sentence, chances)
    assert lead is not None and lead.text == "Anna Berg and Tom Hale"
    assert sentence[lead.start : lead.end] == lead.text
    assert tokens.best_lead(sentence, np.full(len(words), 0.2)) is None


def _chances(sentence: str, likely: tuple[str, ...]) -> np.ndarray:
    """The token model's chances as if it found the `likely` words of the sentence likely."""
    words = [t.text for t in tokens.shaped(sentence).tokens]
    chances = np.full(len(words), 0.1)
    for w in likely:
        chances[words.index(w)] = 0.9
    return chances


def _lead_of(sentence: str, likely: tuple[str, ...]) -> str | None:
    lead = tokens.best_lead(sentence, _chances(sentence, likely))
    return None if lead is None else lead.text


def _reading_of(
    sentence: str,
    likely: tuple[str, ...],
    score: float,
    question: str,
    kind: Kind,
    published: str | None = None,
) -> tuple[features.Candidate, Reading]:
    """A question read with one candidate: the sentence, with this chance of answering it."""
    passage = Passage(doc_id="a", chunk_id="a:0", text=sentence, score=1.0, published=published)
    candidate = features.Candidate(
        Sentence(0, 0, len(sentence), sentence),
        passage,
        0,
        np.zeros(3),
        frozenset(),
        _chances(sentence, likely),
    )
    candidate.score = score
    asked_terms = frozenset(normalise(w) for w in question.rstrip("?").split()[1:])
    asked = features.Asked(
        question, np.zeros(3), asked_terms, dict.fromkeys(asked_terms, 1.0), kind, None
    )
    return candidate, Reading(asked, [candidate], np.zeros((1, len(features.FEATURES))))


@pytest.mark.parametrize(
    ("sentence", "likely", "lead"),
    [
        ("It will pay 13 mln dlrs for the stake, the company said.", ("13",), "13 mln dlrs"),
        ("It will pay 13 mln dlrs for the stake, the company said.", ("dlrs",), "13 mln dlrs"),
        ("Profit rose to $5.2 billion last year.", ("5.2",), "$5.2 billion"),
        ("Sales rose 4.5 pct in March.", ("4.5",), "4.5 pct"),
        (
            "The port returns to Norland on December 20, 1999, they agreed.",
            ("20",),
            "December 20, 1999",
        ),
        ("The talks began on 4 August 1915 in Velden.", ("4",), "4 August 1915"),
        ("Officials said 40 may leave before the vote.", ("40",), "40"),
        ("Each cell has around 200–300 receptors.", ("200",), "around 200–300"),
        ("They make up 50% to 60% of the total.", ("60",), "50% to 60%"),
        (
            "It lost between 150,000 and 200,000 people.",
            ("150,000",),
            "between 150,000 and 200,000",
        ),
        ("Sales rose to more than 2 billion dlrs.", ("2",), "more than 2 billion dlrs"),
    ],
)
def test_a_lead_holds_the_whole_amount_or_date_it_cuts(
    sentence: str, likely: tuple[str, ...], lead: str
) -> None:
    assert _lead_of(sentence, likely) == lead


def test_a_number_of_another_unit_than_the_asked_one_is_no_lead() -> None:
    sentence = "Lifetime will pay 3.28 dlrs a share for a 16 pct stake, it said."
    words = [t.text for t in tokens.shaped(sentence).tokens]

    def marked(unit: Unit | None) -> list[str]:
        return [w for w, o in zip(words, tokens.other_units(sentence, unit), strict=True) if o]

    assert marked(Unit.MONEY) == ["16", "pct"]
    assert marked(Unit.PERCENT) == ["3.28", "dlrs"]
    assert marked(Unit.COUNT) == ["3.28", "dlrs", "16", "pct"]
    assert marked(None) == []


def test_a_long_sentence_is_cut_to_the_clauses_around_its_answer() -> None:
    sentence = (
        "The company, which was founded in Ohio more than forty years ago by two brothers, "
        "said on Monday that its profit rose to 12 mln dlrs in the quarter, helped by strong "
        "demand for its new engines, while costs fell for the third quarter in a row."
    )
    start = sentence.index("12 mln")
    cut = _cut(sentence, (start, start + len("12 mln dlrs")), frozenset(), 30)
    assert "12 mln dlrs" in cut and cut.endswith(" …")
    assert len(cut.split()) <= 30 + 1 < len(sentence.split())
    shorter = _cut(sentence, (start, start + len("12 mln dlrs")), frozenset(), 15)
    assert "12 mln dlrs" in shorter and len(shorter.split()) < len(cut.split())
    assert _cut(sentence, None, frozenset(), 0) == sentence  # a limit of 0 cuts nothing
    assert (
        _cut("A short sentence stays whole.", None, frozenset(), 30)
        == "A short sentence stays whole."
    )


def test_a_number_question_keeps_the_clause_with_the_likeliest_number_without_a_lead() -> None:
    sentence = (
        "The company, which was founded in Ohio more than forty years ago by two brothers, "
        "said on Monday that its sales in Europe rose sharply in the quarter, while its "
        "profit, helped by strong demand for its new engines, reached 12 mln dlrs."
    )
    candidate, reading = _reading_of(
        sentence, ("12", "mln"), 0.5, "How much profit did the company make?", Kind.NUMBER
    )
    reader = Reader(None, replace(load(), clause_words=20, lead_floor=1.0))  # type: ignore[arg-type]
    said = reader._said(candidate, reading)
    assert "12 mln dlrs" in said.text and said.text.startswith("… ") and said.lead is None
    shown = Reader(None, replace(load(), clause_words=20, lead_floor=0.4))  # type: ignore[arg-type]
    lead = shown._said(candidate, reading).lead  # 0.9 for its words, times 0.5 for the sentence
    assert lead is not None and lead.text == "12 mln dlrs"


def test_a_lead_that_is_a_relative_date_carries_the_date_it_stands_for() -> None:
    sentence = "A spokesman said the strike at the mine started on Wednesday."
    candidate, reading = _reading_of(
        sentence, ("Wednesday",), 0.8, "When did the strike start?", Kind.DATE, "1987-04-03"
    )
    reader = Reader(None, replace(load(), lead_floor=0.5))  # type: ignore[arg-type]
    written = reader._written([reader._said(candidate, reading)], None)
    assert written.text.startswith("Wednesday [1 April 1987]: A spokesman said")
    assert written.citations[0].quote == sentence


@pytest.mark.parametrize(
    ("sentence", "body"),
    [
        ("NEWPORT NEWS, Va., March 4 - Noland Co said it would", "Noland Co said it would"),
        ("LONDON (Reuters) - Shares fell sharply today.", "Shares fell sharply today."),
        ("Caracas, march 11 - venezuela will supply oil", "venezuela will supply oil"),
        ("The company said it would sell - not buy - units.", None),
    ],
)
def test_a_dateline_is_found_where_it_opens_a_story(sentence: str, body: str | None) -> None:
    end = dateline_end(sentence)
    assert (sentence[end:] if end else None) == body


def test_the_shipped_weights_fit_the_features_the_reader_computes() -> None:
    model = load()
    assert model.token_weights.shape == (len(tokens.FEATURES),)
    assert model.first_weights.shape == model.sentence_weights.shape == (len(features.FEATURES),)
    # the first stage shortlists before the cross-encoder has read anything
    assert model.first_weights[features.FEATURES.index("cross")] == 0.0
    assert model.sentence_weights[features.FEATURES.index("cross")] > 0.0
    assert model.answer_weights.shape == (len(features.QUESTION_FEATURES),)
    assert 0 < model.answer_threshold < 1 and 0 <= model.second_ratio <= 1.01
    assert model.trained.get("questions", {}).get("squad-train", 0) > 1000


def test_weights_for_other_features_are_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(WEIGHTS.read_text("utf-8"))
    data["sentence_features"] = data["sentence_features"][:-1]
    with pytest.raises(ConfigError, match="make train"):
        ReaderModel.from_json(data)
    broken = tmp_path / "reader.json"
    broken.write_text("{not json", "utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        load(broken)


def test_logistic_regression_finds_the_separating_direction() -> None:
    rng = np.random.default_rng(0)
    x = np.hstack([np.ones((400, 1)), rng.normal(size=(400, 2))])
    y = (x[:, 1] - 2 * x[:, 2] + rng.normal(scale=0.3, size=400) > 0).astype(float)
    w = logistic(x, y, l2=0.1)
    assert w[1] > 0 > w[2] and abs(w[2] / w[1] + 2) < 0.5
    assert log_loss(x, y, w) < log_loss(x, y, np.zeros(3)) / 3
    # weights count: the same rows weighted twice move the fit towards them
    heavy = np.where(y == 1, 5.0, 1.0)
    assert (x @ logistic(x, y, heavy, l2=0.1) > 0).mean() > (x @ w > 0).mean()


def test_token_chances_are_the_model_over_the_token_rows() -> None:
    sentence = 'On March 2, Acme said it would pay 12 mln dlrs, "a fair price", for Zeta Corp.'
    weights = np.random.default_rng(1).normal(size=len(tokens.FEATURES)).astype(np.float32)
    terms, focus = frozenset({"acm", "pay"}), frozenset({"price"})
    for kind in Kind:
        rows = tokens.token_features(sentence, kind, terms, focus)
        direct, _ = tokens.token_chances(sentence, kind, terms, focus, weights)
        assert np.allclose(direct, tokens.probabilities(rows, weights), atol=1e-5)


def test_training_fits_a_reader_that_answers(engine: RagEngine) -> None:
    """`make train`'s steps on the seeds' gold set, as every kind of set (no ../shared)."""
    import train.__main__ as training
    from train.examples import gold_items, read

    items = gold_items(GOLD, "seeds-gold")
    blank = training._blank()
    sets = {
        "squad-train": read(engine, blank, items[::2]),
        "squad-val": read(engine, blank, items[1::4]),
        "seeds-gold": read(engine, blank, items[1::2]),
    }
    model, validation = training.fit_ranking(sets, training.fit_shortlist(sets, blank))
    model, metrics = training._choose(model, validation)
    assert set(metrics) == {"squad-val", "seeds-gold"}
    assert 0 < model.answer_threshold < 1 and model.max_words in (30, 40, 50, 60, 70)
    restored = ReaderModel.from_json(json.loads(json.dumps(model.to_json())))
    assert np.allclose(restored.sentence_weights, model.sentence_weights, atol=1e-5)
    reader = Reader(engine.query_embedder, restored)
    answer = reader.compose(engine.retrieval("What did May say about Russia in July 2016?"))
    assert answer.citations and "threat" in answer.text


def test_training_from_a_kept_state_fits_the_same_reader(engine: RagEngine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`python -m train --state FILE` keeps what the first stages read and fitted, and a run
    from that file fits the later stages as a run from scratch does."""
    import train.__main__ as training
    from train.examples import gold_items, read

    items = gold_items(GOLD, "seeds-gold")
    blank = training._blank()

    def sets() -> dict:  # type: ignore[type-arg]
        return {
            "squad-train": read(engine, blank, items[::2]),
            "squad-val": read(engine, blank, items[1::4]),
            "seeds-gold": read(engine, blank, items[1::2]),
        }

    cross = tmp_path / "cross.onnx"
    cross.write_bytes(b"the cross-encoder of the run")
    state = tmp_path / "state.pickle"
    fresh = sets()
    training.save_state(state, fresh, training.fit_shortlist(fresh, blank), cross)
    scratch = sets()
    whole, _ = training.fit_ranking(scratch, training.fit_shortlist(scratch, blank))
    kept, model = training.load_state(state, cross)
    again, _ = training.fit_ranking(kept, model)
    assert np.allclose(again.sentence_weights, whole.sentence_weights)
    assert np.allclose(again.answer_weights, whole.answer_weights)
    cross.write_bytes(b"another cross-encoder")
    with pytest.raises(SystemExit, match="delete it"):
        training.load_state(state, cross)


def test_the_cross_encoder_reads_the_first_stage_shortlist_and_ranks_only_it() -> None:
    n = len(features.FEATURES)
    cross = features.FEATURES.index("cross")
    first, second = np.zeros(n), np.zeros(n)
    first[0], second[cross] = 1.0, 1.0  # the first stage reads column 0, the second "cross"
    model = replace(load(), first_weights=first, sentence_weights=second, cross_top=2)
    rows = np.zeros((4, n))
    rows[:, 0] = [0.1, 0.9, 0.5, 0.7]  # first-stage order: 1, 3, 2, 0
    assert model.shortlist(rows).tolist() == [1, 3]
    rows[[1, 3], cross] = [-2.0, 3.0]  # the cross-encoder prefers the second of them
    order, chances = model.ranked(rows, model.shortlist(rows))
    assert order.tolist() == [3, 1, 2, 0]  # the shortlist by chance, then the rest as ranked
    assert chances[3] > chances[1] > 0 and chances[0] == chances[2] == 0
    assert abs(chances.sum() - 1) < 1e-9
    everything = replace(model, cross_top=0)
    assert sorted(everything.shortlist(rows).tolist()) == [0, 1, 2, 3]
