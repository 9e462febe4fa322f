"""Duplicate detection at ingest: republished wire copy is grouped with its original, different
stories on one topic are not."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import numpy as np

from rag.ingest.duplicates import (
    PERMUTATIONS,
    THRESHOLD,
    DuplicateIndex,
    exact_key,
    from_text,
    shingles,
    signature,
    similarity,
    to_text,
)
from tests.conftest import ROOT

# A wire story of twelve sentences, as the agency filed it (headline: "Corvane to shut
# Brayford mill, 640 jobs to go"; the index is given the story, not its headline).
MILL = """HARTWELL, March 3 - Corvane Steel Corp said it will close its Brayford rolling mill \
by the end of June, cutting about 640 jobs, as cheaper imports and weak demand from carmakers \
eat into its margins. The company said the mill lost 38 mln dlrs last year on sales of 210 mln \
dlrs. Chief executive Marta Ellingsen told reporters the decision followed eighteen months of \
talks with the union and two state governments. "We looked at every option to keep Brayford \
open, including a sale, and none of them worked," Ellingsen said. Production will move to the \
company's newer plant in Dunmore, which now runs at about 70 pct of capacity. The United \
Steelworkers local in Brayford said it would ask the state to delay the closure while a buyer \
is sought. Union president Ray Okafor called the move a betrayal of workers who accepted a \
wage freeze two years ago. Corvane shares fell 1-1/4 to 22-3/8 in early trading on the New \
York Stock Exchange. Analysts at Pemberton Securities said the closure should add about 40 cts \
a share to earnings next year. The Brayford mill, opened in 1952, was once the largest \
employer in Tolland County. Local officials said they would seek federal retraining funds for \
the laid-off workers. Corvane said it expects to take a one-time charge of about 55 mln dlrs \
in the second quarter."""

# The same story republished by a paper under its own headline ("Steelmaker Corvane closing
# Brayford plant"), with the agency's fuller dateline and one of its twelve sentences reworded.
MILL_REPRINT = MILL.replace("HARTWELL, March 3 -", "HARTWELL, Conn., March 3 (Reuters) -").replace(
    "Local officials said they would seek federal retraining funds for the laid-off workers.",
    "Local officials said on Tuesday they would seek federal retraining funds for the workers.",
)


# Another steelmaker's story the same week: the same trade, the same wire phrases, even one
# sentence word for word, but different news.
FOUNDRY = """HARTWELL, March 5 - Kessel Alloys Inc said it will cut about 300 jobs at its \
Tolland foundry by the end of June, as cheaper imports and weak demand from carmakers eat into \
its margins. The company said the foundry lost 12 mln dlrs last year on sales of 95 mln dlrs. \
Chief executive Anders Brulin said the cuts would fall mostly on the night shift and on office \
staff. Kessel will keep the foundry open and invest 20 mln dlrs in a new electric furnace \
there next year. The United Steelworkers local in Tolland said it would meet the company on \
Monday to discuss early retirement offers. Kessel shares rose 1/2 to 14-1/8 in early trading \
on the New York Stock Exchange. Analysts at Pemberton Securities said the cuts should add \
about 25 cts a share to earnings next year. Local officials said they would seek federal \
retraining funds for the laid-off workers. Kessel said it expects to take a one-time charge of \
about 18 mln dlrs in the second quarter."""

# A wire story for the copy-of-a-copy chain.
HARBOUR = """PORT ELLIS, June 11 - The Port Ellis harbour board approved a 140 mln dlr plan on \
Thursday to deepen the main shipping channel so that larger container ships can dock. Board \
chairman Lucia Ferrante said dredging would start in October and take about three years. The \
plan is paid for by a state bond issue approved by voters in 1986 and by higher berth fees. \
Shipping lines had warned that they would move services to rival ports unless the channel was \
deepened to 14 metres. Environmental groups said the dredging could harm oyster beds in the \
bay and asked for a fuller study. Ferrante said the board had already agreed to fund a \
five-year survey of the oyster beds. Container traffic through Port Ellis rose 11 pct last \
year to 410,000 boxes, the board said. The port employs about 2,300 people directly and \
supports many more jobs in trucking and warehousing. Work on a new rail link to the container \
terminal is due to finish next spring. The board will open bids from dredging contractors in \
August."""

# A paper's edit of the wire story, and a second paper's edit of that edit: each changes one
# phrase of the one before.
HARBOUR_EDIT = HARBOUR.replace(
    "Environmental groups said the dredging could harm", "Conservationists fear the work may harm"
)
HARBOUR_EDIT_OF_EDIT = HARBOUR_EDIT.replace(
    "supports many more jobs in trucking and warehousing",
    "thousands more depend on it for their living",
)


def _resemblance(a: str, b: str) -> float:
    """The true Jaccard similarity of two texts' shingle sets (what a signature estimates)."""
    left, right = shingles(a), shingles(b)
    return len(left & right) / len(left | right)


def test_an_exact_republication_is_found_whatever_its_spacing_and_case() -> None:
    index = DuplicateIndex()
    assert index.add("wire-1", MILL) is None
    reposted = "  ".join(MILL.upper().split())  # one line, double spaces, capitals
    assert exact_key(reposted) == exact_key(MILL)
    assert index.add("site-7", reposted) == "wire-1"
    assert index.groups() == [["wire-1", "site-7"]]
    assert index.original("site-7") == "wire-1"


def test_wire_copy_with_its_own_dateline_and_one_reworded_sentence_is_found() -> None:
    index = DuplicateIndex()
    index.add("wire-1", MILL)
    assert exact_key(MILL_REPRINT) != exact_key(MILL)  # not an exact copy
    # a clear copy (0.89), not one so near THRESHOLD that the estimate decides it by chance
    assert _resemblance(MILL, MILL_REPRINT) > 0.85
    assert index.add("paper-3", MILL_REPRINT) == "wire-1"
    assert index.groups() == [["wire-1", "paper-3"]]


def test_different_stories_on_one_topic_with_shared_phrases_are_not_grouped() -> None:
    index = DuplicateIndex()
    index.add("wire-1", MILL)
    assert index.add("wire-2", FOUNDRY) is None
    assert similarity(signature(MILL), signature(FOUNDRY)) < 0.5
    assert index.groups() == []
    assert index.original("wire-2") == "wire-2"


def test_a_copy_of_a_copy_joins_the_first_articles_group() -> None:
    first, edit, edit_of_edit = (
        signature(t) for t in (HARBOUR, HARBOUR_EDIT, HARBOUR_EDIT_OF_EDIT)
    )
    # the chain this test is about: the last copy resembles the middle one, not the first
    assert similarity(edit, edit_of_edit) >= THRESHOLD
    assert similarity(first, edit_of_edit) < THRESHOLD
    index = DuplicateIndex()
    index.add("wire-9", HARBOUR)
    index.add("mill-1", MILL)
    assert index.add("paper-1", HARBOUR_EDIT) == "wire-9"
    assert index.add("paper-2", HARBOUR_EDIT_OF_EDIT) == "wire-9"
    assert index.groups() == [["wire-9", "paper-1", "paper-2"]]
    assert index.original("paper-2") == "wire-9"


def test_remove_takes_an_article_out_of_its_group_and_the_index() -> None:
    index = DuplicateIndex()
    index.add("wire-1", MILL)
    index.add("paper-3", MILL_REPRINT)
    index.add("site-7", MILL.lower())
    index.remove("paper-3")
    assert index.groups() == [["wire-1", "site-7"]]
    assert "paper-3" not in index
    index.remove("wire-1")  # the original goes: the copy left is an article of its own
    assert index.groups() == []
    assert index.original("site-7") == "site-7"
    assert len(index) == 1
    # removed articles are no longer matched: the reprint now copies the one left
    assert index.add("paper-4", MILL_REPRINT) == "site-7"


def test_restored_articles_keep_their_groups_and_are_matched_like_added_ones() -> None:
    texts = {"wire-1": MILL, "paper-3": MILL_REPRINT, "wire-9": HARBOUR, "mill-2": FOUNDRY}
    ids = ["wire-1", "wire-9", "mill-2", "paper-3"]  # originals first, as saved
    index = DuplicateIndex()
    index.restore(
        ids,
        np.stack([signature(texts[i]) for i in ids]),
        [exact_key(texts[i]) for i in ids],
        ["", "", "", "wire-1"],
    )
    assert index.groups() == [["wire-1", "paper-3"]]
    assert index.add("paper-8", HARBOUR_EDIT) == "wire-9"  # near: found by the bands
    assert index.add("site-2", MILL.upper()) == "wire-1"  # exact: found by the key
    index.remove("wire-9")
    assert index.original("paper-8") == "paper-8"
    # a saved group whose original is gone: its first copy stands in
    again = DuplicateIndex()
    again.restore(["paper-3"], signature(MILL_REPRINT)[None, :], [None], ["wire-1"])
    assert again.original("paper-3") == "paper-3"
    assert again.add("site-5", MILL_REPRINT) == "paper-3"


def test_signatures_are_the_same_in_another_process() -> None:
    script = (
        "import sys; from rag.ingest.duplicates import signature, to_text; "
        "print(to_text(signature(sys.stdin.read())))"
    )
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}  # a different str hash()
    run = subprocess.run(
        [sys.executable, "-c", script],
        input=MILL,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert from_text(run.stdout.strip()).tolist() == signature(MILL).tolist()


def test_a_signature_survives_a_text_field_and_can_be_added_without_the_text() -> None:
    sig = signature(HARBOUR)
    saved = to_text(sig)
    assert saved.isascii() and len(saved) < 700
    restored = from_text(saved)
    assert restored.dtype == np.uint32 and np.array_equal(restored, sig)
    index = DuplicateIndex()
    index.add("wire-9", sig=restored, key=exact_key(HARBOUR))
    assert index.add("paper-1", HARBOUR_EDIT) == "wire-9"


def test_a_three_word_text_has_a_signature_and_is_matched_only_by_itself() -> None:
    sig = signature("Markets closed higher")
    assert sig.shape == (PERMUTATIONS,) and sig.dtype == np.uint32
    index = DuplicateIndex()
    assert index.add("brief-1", "Markets closed higher") is None
    assert index.add("brief-2", "Markets closed lower") is None
    assert index.add("brief-3", "markets closed HIGHER.") == "brief-1"
    assert index.add("empty", "") is None


def _synthetic_article(rng: random.Random) -> str:
    """About 150 words of made-up company news."""
    companies = ["Corvane", "Kessel", "Marlow", "Ostrander", "Tesk", "Vallin", "Heddon", "Quarry"]
    verbs = ["raised", "cut", "held", "sold", "bought", "reported", "forecast", "doubled"]
    things = ["its dividend", "output", "prices", "a stake", "profit", "sales", "its debt"]
    places = ["Hartwell", "Dunmore", "Port Ellis", "Brayford", "Tolland", "Glenmoor"]
    sentences = [
        f"{rng.choice(companies)} said it {rng.choice(verbs)} {rng.choice(things)} in "
        f"{rng.choice(places)} by {rng.randint(2, 90)} pct in the {rng.choice(['first', 'second'])}"
        f" quarter, after {rng.choice(companies)} {rng.choice(verbs)} {rng.choice(things)}."
        for _ in range(8)
    ]
    return f"{rng.choice(places).upper()}, March {rng.randint(1, 28)} - " + " ".join(sentences)


def test_signing_two_thousand_articles_finishes() -> None:
    rng = random.Random(7)
    articles = [_synthetic_article(rng) for _ in range(2000)]
    started = time.perf_counter()
    index = DuplicateIndex()
    for i, text in enumerate(articles):
        index.add(f"a{i}", text)
    seconds = time.perf_counter() - started
    print(
        f"\nsigned and indexed {len(articles)} articles in {seconds:.2f} s "
        f"({len(articles) / seconds:,.0f} a second)"
    )
    assert len(index) == 2000
    assert index.groups() == []  # random sentences: nothing is a copy
