"""`make train`: fit the offline reader and choose its thresholds, then write
`rag/compose/reader.json` and the cross-encoder `rag/compose/cross.onnx`.

1. Every labelled question is retrieved and read as at answer time (`examples`): SQuAD 2.0's
   train pages, and the news sets: `eval/reuters_train.jsonl` (over eight Reuters-21578 files
   written to `.rag-train/`), `eval/reuters_dev.jsonl` (over `eval/reuters/`) and
   `eval/seeds_blind_dev.jsonl` and `eval/gold.jsonl` (over the seeds); and, as questions no
   article answers, SQuAD questions asked of the Reuters training corpus. Test splits and
   SQuAD's held-out pages are never read here.
2. The token model is fitted on the words of the sentences that hold an answer.
3. The first-stage sentence model is fitted on every candidate sentence, with the token
   model's chances among its features; it shortlists each question's likeliest candidates.
4. The cross-encoder is fine-tuned on the shortlists (`cross`): twice on half of the
   questions, each scoring the other half, and once on all of them (the shipped model).
5. The second-stage sentence model is fitted on the shortlists with the cross-encoder's
   scores among the features, then the answerability model on each question's best.
6. The answer threshold, the share of the first sentence's chance at which a second joins,
   the answer's word budget, the length beyond which a sentence is cut, and the lead's
   floor are chosen on validation data: SQuAD's validation pages, and the news dev sets
   through cross-fitting (each fold scored by a model fitted without it).

    python -m train [--squad-limit N] [--out rag/compose/reader.json] [--cross-top 8]
                    [--state FILE]  (keep, or start from, the work up to the cross-encoder)
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import pickle
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.compose import features as sentence_features
from rag.compose import tokens
from rag.compose.cross import CROSS, load_tokenizer, seconds
from rag.compose.model import WEIGHTS, ReaderModel
from rag.compose.reader import Reader
from rag.evaluation.metrics import aggregate, answer_words, score_item
from rag.types import Answer
from train import cross, reuters
from train.examples import (
    TRAIN_DIR,
    Example,
    Item,
    answer_tokens,
    engine_for,
    gold_items,
    read,
    squad_items,
)
from train.fit import conditional_logistic, log_loss, logistic

ROOT = Path(__file__).resolve().parent.parent
REUTERS_TRAIN = TRAIN_DIR / "reuters-train"  # written by `train.reuters` from these files:
REUTERS_TRAIN_FILES = ["002", "003", "004", "005", "006", "007", "008", "009"]
NEWS = (
    ("reuters-train", ROOT / "eval" / "reuters_train.jsonl", REUTERS_TRAIN),
    ("reuters-dev", ROOT / "eval" / "reuters_dev.jsonl", ROOT / "eval" / "reuters"),
    ("seeds-blind-dev", ROOT / "eval" / "seeds_blind_dev.jsonl", ROOT / "seeds"),
    ("seeds-gold", ROOT / "eval" / "gold.jsonl", ROOT / "seeds"),
)
FOLDS = 5
CROSS_TOP = 8  # candidates the cross-encoder reads per question part
OFF_TOPIC = 300  # SQuAD questions asked of the news, where none is answered
NEWS_WEIGHT = 5.0  # a news question's candidates weigh this many SQuAD ones'
# SQuAD's unanswerable questions were written against one paragraph to look answerable from
# it; news questions are unanswerable because no article reports the detail. For answerability
# a SQuAD question weighs this much (a news question NEWS_WEIGHT).
SQUAD_ANSWER_WEIGHT = 0.2
L2 = 1.0
MEDIAN_WORDS = 40  # the median news answer may be this long, no longer
# of answerable news questions, over the news validation sets: at 0.05 the reader abstains on
# about one unanswerable news question in ten, at 0.10 on about one in three
MAX_FALSE_ABSTENTION = 0.10
LEAD_PRECISION = 0.75  # an answer may open with a span only when it is right this often


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _blank() -> ReaderModel:
    return ReaderModel(
        token_weights=np.zeros(len(tokens.FEATURES), dtype=np.float32),
        first_weights=np.zeros(len(sentence_features.FEATURES)),
        sentence_weights=np.zeros(len(sentence_features.FEATURES)),
        answer_weights=np.zeros(len(sentence_features.QUESTION_FEATURES)),
        answer_threshold=0.5,
        lead_floor=0.5,
        second_ratio=1.0,
    )


def _token_data(examples: list[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token rows and labels of every positive candidate (its answer's words are the 1s)."""
    xs, ys, ws = [], [], []
    for ex in examples:
        alternates = [a for fact in ex.item.gold.key_facts for a in fact]
        weight = 1.0 if ex.item.origin.startswith("squad") else NEWS_WEIGHT
        for reading, labels in zip(ex.readings, ex.labels, strict=True):
            for c, label in zip(reading.candidates, labels, strict=True):
                if not label:
                    continue
                asked = reading.asked
                rows = tokens.token_features(c.text, asked.kind, asked.terms, asked.focus)
                inside = answer_tokens(c.text, alternates)
                if not inside.any():
                    continue
                xs.append(rows)
                ys.append(inside)
                ws.append(np.full(len(inside), weight))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


Groups = list[tuple[np.ndarray, np.ndarray]]


def _sentence_data(examples: list[Example], top: int = 0) -> tuple[Groups, np.ndarray]:
    """Each question part's candidate rows with their labels (with `top`, of its shortlist:
    the first `top`, as the first stage ordered them), and its weight."""
    groups, ws = [], []
    for ex in examples:
        weight = 1.0 if ex.item.origin.startswith("squad") else NEWS_WEIGHT
        for reading, labels in zip(ex.readings, ex.labels, strict=True):
            if len(labels):
                k = top or len(labels)
                groups.append((reading.rows[:k], labels[:k]))
                ws.append(weight / len(ex.readings))
    return groups, np.array(ws)


def _fit_sentences(examples: list[Example], top: int = 0) -> np.ndarray:
    groups, ws = _sentence_data(examples, top)
    return conditional_logistic(groups, ws, l2=L2)


def _question_data(
    reader: Reader, examples: list[Example]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per part of a question: its answerability features over the candidates of the
    asked time, labelled 1 when the question is answerable and a candidate answers it."""
    xs, ys, ws = [], [], []
    for ex in examples:
        weight = SQUAD_ANSWER_WEIGHT if ex.item.origin.startswith("squad") else NEWS_WEIGHT
        for reading, labels in zip(ex.readings, ex.labels, strict=True):
            _, row = reader.fitting(reading)
            answered = ex.item.answerable and bool(labels.any())
            xs.append(row)
            ys.append(float(answered))
            ws.append(weight / len(ex.readings))
    return np.vstack(xs), np.array(ys), np.array(ws)


def _rescore(reader: Reader, examples: list[Example]) -> None:
    """Features again (the token model changed), chances and order by the reader's model."""
    for ex in examples:
        for reading in ex.readings:
            reader.score(reading)
        ex.label()


def _apply(examples: list[Example], model: ReaderModel) -> None:
    """Chances and order by the model's two stages, features unchanged (the cross-encoder's
    scores already in the rows)."""
    for ex in examples:
        for reading in ex.readings:
            if not reading.candidates:
                continue
            order, chances = model.ranked(reading.rows, model.shortlist(reading.rows))
            for c, chance in zip(reading.candidates, chances, strict=True):
                c.score = float(chance)
            reading.candidates = [reading.candidates[i] for i in order]
            reading.rows = reading.rows[order]
        ex.label()


def _shortlist_recall(examples: list[Example], top: int) -> float:
    """Of the question parts some candidate answers, the share whose first-stage shortlist
    holds one."""
    found = [bool(labels[:top].any()) for ex in examples for labels in ex.labels if labels.any()]
    return statistics.fmean(found) if found else 0.0


def _cross_fit(sets: dict[str, list[Example]], fitting: list[Example], top: int, out: Path) -> None:
    """The cross-encoder's logits in the shortlist rows of every example (those of the
    fitting sets from a model fine-tuned on the other half of them, the rest from the model
    fine-tuned on all), and that model written to `out`."""
    halves = [fitting[k::2] for k in (0, 1)]
    for k in (0, 1):
        model = cross.fine_tune(cross.pairs_of(halves[k], top), f"half {k + 1} of 2")
        _fill_cross(halves[1 - k], model, top)
    model = cross.fine_tune(cross.pairs_of(fitting, top), "all")
    fitted = {id(e) for e in fitting}
    _fill_cross([e for exs in sets.values() for e in exs if id(e) not in fitted], model, top)
    cross.export(model, out)
    _log(f"  wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def _fill_cross(examples: list[Example], model: object, top: int) -> None:
    column = sentence_features.FEATURES.index("cross")
    tokenizer = load_tokenizer()
    for ex in examples:
        for reading in ex.readings:
            listed = range(min(top, len(reading.candidates)))
            reading.rows[: len(listed), column] = cross.scores(
                model, reading.asked.text, seconds(reading.candidates, listed), tokenizer
            )


def _answers(readers: list[tuple[Reader, list[Example]]]) -> dict[str, float]:
    """The evaluator's metrics of each reader's answers to its examples, together (and under
    "_words", the length of each answer given)."""
    results = []
    for reader, examples in readers:
        for ex in examples:
            composition = reader.answer(ex.retrieval, ex.readings)
            answer = Answer(
                question=ex.item.gold.question,
                text=composition.text,
                abstained=composition.abstained,
                mode=reader.mode,
                citations=composition.citations,
                passages=ex.retrieval.passages,
            )
            results.append(score_item(ex.item.gold, answer, 0.0))
    # every validation set has answerable items: a metric that does not apply is none of them
    metrics = {name: value or 0.0 for name, value in aggregate(results).items()}
    metrics["_words"] = [answer_words(r.answer) for r in results if not r.abstained]  # type: ignore[assignment]
    return metrics


def _objective(by_set: dict[str, dict[str, float]]) -> float:
    """Mean answer accuracy over the validation sets, each set counting once."""
    return statistics.fmean(m["answer_accuracy"] for m in by_set.values())


Validation = dict[str, list[tuple[ReaderModel, list[Example]]]]


def _judge(
    settings: dict[str, float], validation: Validation
) -> tuple[float, dict[str, dict[str, float]]] | None:
    """The objective of these settings on the validation sets, with their metrics; None when
    they break a bound (median words, false abstention on news)."""
    by_set = {
        key: _answers([(Reader(None, replace(m, **settings)), exs) for m, exs in parts])  # type: ignore[arg-type]
        for key, parts in validation.items()
    }
    news = [m for key, m in by_set.items() if not key.startswith("squad")]
    words = statistics.median([w for m in news for w in m["_words"]] or [0])  # type: ignore[attr-defined]
    wrongly = statistics.fmean(m["false_abstention_rate"] for m in news)
    if words > MEDIAN_WORDS or wrongly > MAX_FALSE_ABSTENTION:
        return None
    return _objective(by_set), by_set


def _choose(
    model: ReaderModel, validation: Validation
) -> tuple[ReaderModel, dict[str, dict[str, float]]]:
    """The lead's floor (`_lead_floor`); then the answer threshold and the share of the best
    sentence's chance at which another sentence joins (searched together), then the answer's
    word budget, then the length beyond which a sentence is cut to its clauses around the
    answer, each with the best validation accuracy whose median answer stays within
    `MEDIAN_WORDS` and whose news answers abstain wrongly at most `MAX_FALSE_ABSTENTION` of
    the time. Each validation set is answered by models fitted without it."""
    thresholds = [round(float(x), 3) for x in np.arange(0.05, 0.951, 0.05)]
    ratios = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01]
    chosen: dict[str, float] = {
        "lead_floor": _lead_floor(validation),
        "max_words": float(model.max_words),
        "clause_words": float(model.clause_words),
    }
    best: tuple[float, dict[str, float], dict[str, dict[str, float]]] | None = None
    for threshold in thresholds:
        for ratio in ratios:
            settings = {**chosen, "answer_threshold": threshold, "second_ratio": ratio}
            judged = _judge(settings, validation)
            if judged is not None and (best is None or judged[0] > best[0]):
                best = (judged[0], settings, judged[1])
    if best is None:
        raise SystemExit("no answer threshold keeps false abstention within its bound")
    chosen = best[1]
    for name, values in (("max_words", (30, 40, 50, 60, 70)), ("clause_words", (20, 30, 40, 0))):
        for value in values:
            judged = _judge({**chosen, name: value}, validation)
            if judged is not None and judged[0] > best[0]:
                best = (judged[0], {**chosen, name: value}, judged[1])
        chosen = best[1]
    _log(
        f"  chose {chosen}: "
        + ", ".join(
            f"{k} {m['answer_accuracy']:.3f}/{m['abstention_recall']:.2f}/"
            f"{m['false_abstention_rate']:.2f}/{m['answer_words_median']:g}"
            for k, m in best[2].items()
        )
    )
    model = replace(
        model,
        answer_threshold=float(chosen["answer_threshold"]),
        second_ratio=float(chosen["second_ratio"]),
        max_words=int(chosen["max_words"]),
        clause_words=int(chosen["clause_words"]),
        lead_floor=chosen["lead_floor"],
    )
    return model, best[2]


def _lead_floor(validation: Validation) -> float:
    """The lowest chance (`Reader.span`) at which the answer's lead (its first span) holds a
    key fact at least `LEAD_PRECISION` of the time."""
    leads: list[tuple[float, bool]] = []
    for parts in validation.values():
        for fitted, examples in parts:
            reader = Reader(None, fitted)  # type: ignore[arg-type]
            for ex in examples:
                if not ex.item.answerable:
                    continue
                alternates = [a.lower().strip() for f in ex.item.gold.key_facts for a in f]
                for reading in ex.readings:
                    fitting, _ = reader.fitting(reading)
                    found = reader.span(fitting[0], reading) if fitting else None
                    if found is not None:
                        text = found[0].text.lower()
                        leads.append((found[1], any(a and a in text for a in alternates)))
    for floor in np.arange(0.1, 0.951, 0.05):
        shown = [right for score, right in leads if score >= floor]
        if shown and statistics.fmean(shown) >= LEAD_PRECISION:
            _log(
                f"chose lead_floor = {floor:.2f} ({len(shown)} of {len(leads)} leads shown, "
                f"{statistics.fmean(shown):.2f} right)"
            )
            return round(float(floor), 2)
    return 1.0  # no floor is precise enough: no leads


def _fitting(sets: dict[str, list[Example]]) -> list[Example]:
    """The examples the models are fitted on: SQuAD's training pages and every news set."""
    return sets["squad-train"] + [
        e for name in sets if not name.startswith("squad") for e in sets[name]
    ]


def fit_shortlist(
    sets: dict[str, list[Example]], model: ReaderModel, top: int = 0, cross_out: Path = CROSS
) -> ReaderModel:
    """The token model and the first-stage sentence model fitted, every example's candidates
    in that model's order; with `top`, the cross-encoder fine-tuned and its scores in the
    shortlist rows."""
    fitting = _fitting(sets)

    _log("fitting the token model ...")
    x, y, w = _token_data(fitting)
    token_weights = logistic(x, y, w, l2=L2)
    _log(f"  {len(y)} tokens, {int(y.sum())} in answers, loss {log_loss(x, y, token_weights):.3f}")
    model = replace(model, token_weights=token_weights.astype(np.float32))
    reader = Reader(None, model)  # type: ignore[arg-type]  # features from saved vectors only
    for exs in sets.values():
        _rescore(reader, exs)

    _log("fitting the first-stage sentence model ...")
    first_weights = _fit_sentences(fitting)
    first_weights[sentence_features.FEATURES.index("cross")] = 0.0
    model = replace(model, first_weights=first_weights, sentence_weights=first_weights)
    for exs in sets.values():
        _apply(exs, model)
    if top:
        _log(
            f"  the first {top} hold an answer for {_shortlist_recall(fitting, top):.3f} of the "
            f"answerable question parts (fitting), {_shortlist_recall(sets['squad-val'], top):.3f}"
            " (SQuAD validation)"
        )
        _log("fine-tuning the cross-encoder ...")
        _cross_fit(sets, fitting, top, cross_out)
        model = replace(model, cross_top=top)
    return model


def fit_ranking(
    sets: dict[str, list[Example]], model: ReaderModel, top: int = 0
) -> tuple[ReaderModel, Validation]:
    """The second-stage sentence model and the answerability model fitted on the shortlists
    (`fit_shortlist`), and the validation sets paired with the models to answer them."""
    fitting = _fitting(sets)
    fold = {id(e): i % FOLDS for i, e in enumerate(fitting)}
    reader = Reader(None, model)  # type: ignore[arg-type]  # features from saved vectors only
    _log("fitting the sentence model (and one per fold, for the next step) ...")
    sentence_weights = _fit_sentences(fitting, top)
    groups, _ = _sentence_data(fitting, top)
    _log(f"  {len(groups)} question parts, {sum(len(y) for _, y in groups)} sentences")
    for i in range(FOLDS):
        held = [e for e in fitting if fold[id(e)] == i]
        weights = _fit_sentences([e for e in fitting if fold[id(e)] != i], top)
        _apply(held, replace(model, sentence_weights=weights))
    _apply(sets["squad-val"], replace(model, sentence_weights=sentence_weights))

    _log("fitting the answerability model ...")
    x, y, w = _question_data(reader, fitting)
    answer_weights = logistic(x, y, w, l2=L2)
    _log(
        f"  {len(y)} question parts, {int(y.sum())} answerable from their candidates, "
        f"loss {log_loss(x, y, answer_weights):.3f}"
    )
    model = replace(model, sentence_weights=sentence_weights, answer_weights=answer_weights)
    validation: Validation = {"squad-val": [(model, sets["squad-val"])]}
    for name in sets:
        if name.startswith("squad") or name == "off-topic":
            continue
        validation[name] = []
        for i in range(FOLDS):
            xf, yf, wf = _question_data(reader, [e for e in fitting if fold[id(e)] != i])
            held = [e for e in sets[name] if fold[id(e)] == i]
            validation[name].append(
                (replace(model, answer_weights=logistic(xf, yf, wf, l2=L2)), held)
            )
    return model, validation


def _state_key(cross_out: Path) -> dict[str, object]:
    """What a saved state was made with: the features read, and the cross-encoder written."""
    return {
        "tokens": tokens.FEATURES,
        "sentences": sentence_features.FEATURES,
        "cross": hashlib.sha256(cross_out.read_bytes()).hexdigest() if cross_out.is_file() else "",
    }


def save_state(
    path: Path, sets: dict[str, list[Example]], model: ReaderModel, cross_out: Path
) -> None:
    """The examples and the model after `fit_shortlist`, for `load_state`."""
    with path.open("wb") as f:
        pickle.dump((_state_key(cross_out), sets, model), f, protocol=pickle.HIGHEST_PROTOCOL)
    _log(f"  kept the state in {path} ({path.stat().st_size / 1e6:.0f} MB)")


def load_state(path: Path, cross_out: Path) -> tuple[dict[str, list[Example]], ReaderModel]:
    """What `save_state` kept, if the reader still computes the same features and the
    cross-encoder is the one fitted with it."""
    with path.open("rb") as f:
        key, sets, model = pickle.load(f)  # noqa: S301  # written by save_state
    if key != _state_key(cross_out):
        raise SystemExit(
            f"{path} was made with other features or another cross-encoder than "
            f"{cross_out}: delete it to read and fit everything again"
        )
    return sets, model


def read_sets(squad_limit: int | None, val_limit: int | None) -> dict[str, list[Example]]:
    """Every labelled question, retrieved and read with a blank model."""
    model = _blank()
    sets: dict[str, list[Example]] = {}
    for split, limit in (("train", squad_limit), ("val", val_limit)):
        corpus, items = squad_items(split, limit)
        sets[f"squad-{split}"] = read(engine_for(corpus, f"squad-{split}"), model, items)
    reuters.write(REUTERS_TRAIN, REUTERS_TRAIN_FILES)  # a few seconds; unchanged files stay
    for name, gold, corpus in NEWS:
        sets[name] = read(engine_for(corpus, name), model, gold_items(gold, name))
    # questions about other things altogether (SQuAD's, asked of the news): none answers
    _, unrelated = squad_items("train", OFF_TOPIC)
    asked = [
        Item(
            i.gold.model_copy(update={"key_facts": [], "sources": [], "type": "unanswerable"}),
            "off-topic",
        )
        for i in unrelated
        if i.answerable
    ]
    sets["off-topic"] = read(engine_for(REUTERS_TRAIN, "reuters-train"), model, asked)
    for name, exs in sets.items():
        _log(
            f"  {name}: {len(exs)} questions, "
            f"{sum(len(r.candidates) for e in exs for r in e.readings)} candidates"
        )
    return sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fit the offline reader")
    parser.add_argument("--squad-limit", type=int, default=None, help="SQuAD train questions")
    parser.add_argument("--val-limit", type=int, default=600, help="SQuAD validation questions")
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--cross-out", type=Path, default=CROSS)
    parser.add_argument(
        "--cross-top", type=int, default=CROSS_TOP, help="shortlist of the cross-encoder (0: none)"
    )
    parser.add_argument(
        "--state",
        type=Path,
        help="keep what was read and fitted up to the cross-encoder in this file; when it "
        "exists, start from it (with the options it was made with) and fit only the later "
        "models and thresholds again",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.state is not None and args.state.is_file():
        _log(f"starting from {args.state} ...")
        sets, model = load_state(args.state, args.cross_out)
    else:
        _log("reading the labelled questions ...")
        sets = read_sets(args.squad_limit, args.val_limit)
        model = fit_shortlist(sets, _blank(), args.cross_top, args.cross_out)
        if args.state is not None:
            save_state(args.state, sets, model, args.cross_out)
    model, validation = fit_ranking(sets, model, model.cross_top)
    _log("choosing thresholds on validation ...")
    model, metrics = _choose(model, validation)
    model = replace(
        model,
        trained={
            "date": dt.date.today().isoformat(),
            "questions": {name: len(exs) for name, exs in sets.items()},
            "news_weight": NEWS_WEIGHT,
            "l2": L2,
            "validation": {
                name: {
                    k: m[k]
                    for k in (
                        "answer_accuracy",
                        "abstention_recall",
                        "false_abstention_rate",
                        "answer_words_median",
                    )
                }
                for name, m in metrics.items()
            },
            "seconds": round(time.perf_counter() - started),
        },
    )
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n", "utf-8")
    _log(f"wrote {args.out}")
    for name, m in metrics.items():
        _log(
            f"  {name}: accuracy {m['answer_accuracy']}, abstention {m['abstention_recall']}, "
            f"false abstention {m['false_abstention_rate']}, words {m['answer_words_median']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
