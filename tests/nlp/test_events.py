"""Questions whose time hangs on an event ("before the Hangzhou summit"), dated by the articles."""

from __future__ import annotations

import pytest

from rag import RagEngine
from rag.nlp.events import Anchor, EventDates, anchor_in, anchored
from rag.nlp.timeline import Span
from rag.types import ChunkRecord


def record(text: str, published: str | None) -> ChunkRecord:
    return ChunkRecord(chunk_id=text[:12], text=text, metadata={"published": published or ""})


@pytest.mark.parametrize(
    ("question", "relation", "event", "head"),
    [
        ("What did May say before the Hangzhou summit?", "before", "Hangzhou summit", "summit"),
        (
            "What did Putin offer during the G20 summit in Hangzhou?",
            "during",
            "G20 summit in Hangzhou",
            "summit",
        ),  # noqa: E501
        ("what happened after the Arctic forum", "after", "Arctic forum", "forum"),
        (
            "What did Lavrov say ahead of the talks in Sochi, and why?",
            "before",
            "talks in Sochi",
            "talk",
        ),  # noqa: E501
        ("Who spoke since the referendum about trade?", "after", "referendum", "referendum"),
    ],
)
def test_an_event_the_question_hangs_on(
    question: str, relation: str, event: str, head: str
) -> None:
    anchor = anchor_in(question)
    assert anchor is not None
    assert (anchor.relation, anchor.event, anchor.head) == (relation, event, head)


@pytest.mark.parametrize(
    "question",
    ["What did May say about Russia?", "What happened before the", "Who met before the the?"],
)
def test_no_event_no_anchor(question: str) -> None:
    assert anchor_in(question) is None


# An article of 9 August 2016 looks ahead to the summit; one of 5 September dates it to the day.
ARTICLES = [
    record("They will meet at the G20 summit in Hangzhou in September.", "2016-08-09"),
    record("Leaders gathered for the G20 summit in Hangzhou.", "2016-09-05"),
    record("Before the G20 summit on 4 September, the aide spoke.", "2016-09-05"),
    record("Another summit is due in Osaka next month.", "2019-05-14"),
    record("The Osaka summit is set for 28-29 June.", "2019-05-14"),
]


def test_an_event_is_dated_by_the_sentences_that_name_it() -> None:
    dates = EventDates(ARTICLES)
    anchor = anchor_in("What did May say before the Hangzhou summit?")
    assert anchor is not None
    # "in September" (2016, from the August article), made precise by "summit on 4 September"
    assert dates.when(anchor) == Span.from_iso("2016-09-04")
    window = anchored(anchor, Span.from_iso("2016-09-04"))
    assert window.label == "before 4 September 2016" and not window.certain
    osaka = anchor_in("What happened after the Osaka summit?")
    assert osaka is not None
    when = dates.when(osaka)
    assert when is not None and when.label == "28–29 June 2019"
    assert anchored(osaka, when).label == "since 30 June 2019"


def test_an_event_the_articles_do_not_date_or_disagree_on_gets_no_date() -> None:
    dates = EventDates(ARTICLES)
    assert dates.when(Anchor("before", "summit", ("summit",), "summit")) is None  # 2016, or 2019?
    assert dates.when(Anchor("before", "Arctic forum", ("arctic", "forum"), "forum")) is None


def test_before_the_summit_on_the_seeds(engine: RagEngine) -> None:
    question = "What did May say about Russia before the Hangzhou summit?"
    window = engine.retrieval(question).analysis.focus.window
    assert window is not None and window.label == "before 4 September 2016"
    before = engine.ask(question)
    assert not before.abstained
    for citation in before.citations:  # from before the summit, or dating itself before it
        assert str(citation.published) < "2016-09-04" or "2016-07" in citation.event_dates
    during = engine.ask("What did Putin offer May during the G20 summit in Hangzhou?")
    assert not during.abstained
    assert any("offered to ease" in c.quote for c in during.citations)
    assert "5 September 2016" in during.text  # the answer says when it was reported
