"""Time in questions and articles (`rag.nlp.timeline`), and answers about a time on the seeds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rag import RagEngine
from rag.llm.prompts import TIME_ABSTAIN_OPENING
from rag.nlp.embeddings import LocalEmbedder
from rag.nlp.timeline import Span, dates_in, question_window, with_dates
from rag.retrieve.question import focus
from tests.conftest import HEADLINE, settings

TODAY = dt.date(2026, 11, 22)


def window_of(question: str) -> list[str] | None:
    window = question_window(question, TODAY)
    return (
        None
        if window is None
        else [s.iso for s in window.spans] + [y.label for y in window.yearless]
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did May say about Russia in July 2016?", ["2016-07"]),
        ("what did pompeo say in sochi in 2019?", ["2019"]),
        ("What happened on 14 May 2019?", ["2019-05-14"]),
        ("What happened on May 14, 2019?", ["2019-05-14"]),
        ("what did may say in may 2019?", ["2019-05"]),
        ("What was agreed between August and September 2016?", ["2016-08-01/2016-09-30"]),
        ("What did Trump say in mid-May 2019?", ["2019-05-11/2019-05-20"]),
        ("What did Putin say before May 2019?", ["0001-01-01/2019-04-30"]),
        ("What has Pompeo said since 2016?", ["2016-01-01/9999-12-31"]),
        ("What was said in the winter of 2018?", ["2018-12-01/2019-02-28"]),
        ("What did Putin say last summer?", ["2026-06-01/2026-08-31"]),
        ("What did he say last month?", ["2026-10"]),
        ("What happened on 4 September?", ["4 September"]),
        ("What did Lavrov say in July?", ["July"]),
        ("How did the story change between 2016 and 2019?", ["2016", "2019"]),
        ("What happened on 2016-09-04?", ["2016-09-04"]),
        ("What happened two years ago?", ["2024"]),
        ("What did he say three weeks ago?", ["2026-10-26/2026-11-01"]),
        ("What happened in September last year?", ["2025-09"]),
    ],
)
def test_time_expressions_in_questions_become_a_window(question: str, expected: list[str]) -> None:
    assert window_of(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What did May say?",  # the Prime Minister, not the month
        "What did May say about Russia?",
        "Before May, when had Putin last met a British prime minister?",
        "Which area of cooperation came up both in May and Putin's first phone call?",
        "Did Putin meet May in Hangzhou?",
        "What did Theresa May tell Putin on the phone?",
        "What is the G20?",  # no time at all
        "Why did Pompeo travel to Sochi?",
    ],
)
def test_questions_without_a_time_have_no_window(question: str) -> None:
    assert question_window(question, TODAY) is None


def test_a_window_given_as_a_date_is_certain_a_relative_one_is_not() -> None:
    assert question_window("What happened in July 2016?", TODAY).certain  # type: ignore[union-attr]
    assert not question_window("What happened last month?", TODAY).certain  # type: ignore[union-attr]
    assert not question_window("What happened before 2019?", TODAY).certain  # type: ignore[union-attr]
    assert not question_window("What happened two years ago?", TODAY).certain  # type: ignore[union-attr]
    # a date that qualifies a noun dates the noun, not what is asked: it narrows only softly
    remarks = question_window("How did Moscow react to May's July 2016 remarks?", TODAY)
    assert remarks is not None and not remarks.certain
    assert not question_window("Who won the 2020 election?", TODAY).certain  # type: ignore[union-attr]
    assert question_window("What happened earlier this month?", TODAY).label == (  # type: ignore[union-attr]
        "1–22 November 2026"
    )


@pytest.mark.parametrize(
    ("sentence", "published", "expected"),
    [
        ("Last month, the PM called Russia a threat.", "2016-08-09", ["2016-07"]),
        ("The delegation will arrive next month.", "2016-08-09", ["2016-09"]),
        ("Speaking by phone Tuesday, the leaders agreed.", "2016-08-09", ["2016-08-09"]),
        ("At a meeting on Monday, Putin tasked his generals.", "2019-05-14", ["2019-05-13"]),
        ("They met on 4 September in Hangzhou.", "2016-09-05", ["2016-09-04"]),
        ("They will meet at the summit on 4 September.", "2016-08-09", ["2016-09-04"]),
        ("The last meeting was in November last year.", "2016-08-09", ["2015-11"]),
        ("He took office on July 13, 2016.", "2016-09-05", ["2016-07-13"]),
        ("It was in July in Helsinki.", "2019-05-14", ["2018-07"]),
        ("The summit is to be held on 28-29 June.", "2019-05-14", ["2019-06-28/2019-06-29"]),
        ("The summit is set for 28-29 June.", "2019-05-14", ["2019-06-28/2019-06-29"]),
        ("Yesterday the minister spoke.", "2019-05-15", ["2019-05-14"]),
        ("Russia may be ready, said May.", "2016-08-09", []),  # "may" and "May" are no dates
        ("No date here.", "2016-08-09", []),
        ("Last month he spoke.", None, []),  # relative, and nothing to count from
        ("In 2011 the war began.", None, ["2011"]),
        ("Two years ago, Putin met Cameron.", "2016-08-09", ["2014"]),
        ("A month ago the talks collapsed.", "2019-05-14", ["2019-04"]),
        ("The 2016-09-04 meeting was short.", None, ["2016-09-04"]),
        ("Nothing on 2016-02-30.", None, []),
    ],
)
def test_article_dates_are_resolved_against_the_publication_date(
    sentence: str, published: str | None, expected: list[str]
) -> None:
    assert [span.iso for span in dates_in(sentence, published)] == expected


def test_text_dated_to_an_earlier_month_is_background_to_its_window() -> None:
    september = question_window("What happened in September 2016?", TODAY)
    assert september is not None
    assert september.before(dates_in("In July 2016, she spoke.", None))
    assert not september.before(dates_in("The 2006 poisoning was raised.", None))
    assert not september.before(dates_in("They will meet next month.", "2016-09-05"))


def test_a_date_follows_the_possessive_it_is_part_of() -> None:
    said = "Iran was also discussed at Tuesday’s meeting."
    assert with_dates(said, "2019-05-15") == (
        "Iran was also discussed at Tuesday’s [14 May 2019] meeting."
    )


def test_relative_dates_are_spelled_out_once() -> None:
    assert with_dates("Last month, he spoke.", "2016-08-09") == "Last month [July 2016], he spoke."
    said = with_dates("They said on Tuesday, 14 May, that ties could improve.", "2019-05-14")
    assert said == "They said on Tuesday, 14 May [14 May 2019], that ties could improve."


def test_a_window_admits_by_publication_date_or_by_a_date_as_precise() -> None:
    july = question_window("in July 2016", TODAY)
    assert july is not None
    assert july.admits("2016-07-20", [])
    assert july.admits("2016-09-05", [Span.from_iso("2016-07-13")])
    assert not july.admits("2016-09-05", [Span.from_iso("2016")])  # a year is no July
    assert not july.admits("2019-05-14", [])


# -- answers about a time, on the seeds --------------------------------------------------
def test_the_headline_cites_both_july_2016_passages_and_says_when(engine: RagEngine) -> None:
    answer = engine.ask(HEADLINE)
    assert not answer.abstained
    assert "remains real" in " ".join(c.quote for c in answer.citations if c.doc_id[:3] == "002")
    assert "July 2016" in answer.text
    # a second source: an article of August 2016 whose sentence dates itself to July
    assert {c.published for c in answer.citations} == {"2016-09-05", "2016-08-09"}
    august = [c for c in answer.citations if c.published == "2016-08-09"]
    assert any("2016-07" in c.event_dates for c in august)
    assert "[July 2016]" in answer.text  # its relative date, resolved


def test_a_time_with_no_coverage_is_a_time_scoped_abstention(engine: RagEngine) -> None:
    answer = engine.ask("What did Pompeo say in Sochi in 2016?")
    assert answer.abstained and not answer.citations
    assert answer.text.startswith(TIME_ABSTAIN_OPENING + " 2016")
    assert "closest coverage is from 1" in answer.text and "May 2019" in answer.text


def test_a_day_finds_that_days_articles(engine: RagEngine) -> None:
    answer = engine.ask("What happened on 14 May 2019?")
    assert not answer.abstained
    assert {c.doc_id[:3] for c in answer.citations} <= {"003", "004"}
    assert "14 May" in answer.text


def test_questions_without_a_time_are_answered_as_before(engine: RagEngine) -> None:
    answer = engine.ask("Why did Pompeo travel to Sochi?")
    assert not answer.abstained and "[" not in answer.text.replace("[1]", "").replace("[2]", "")


@pytest.mark.parametrize(
    "text", ["What happened on 31 February 2016?", "May 0", "on 30-1 June", "in 0 May", "Sept 32"]
)
def test_impossible_dates_are_no_dates(text: str) -> None:
    assert question_window(text, TODAY) is None
    assert dates_in(text, "2016-02-29") == ()


def test_a_month_named_relative_to_publication() -> None:
    said = "Pompeo is the first to see Putin since last July, when Trump met him."
    assert [s.iso for s in dates_in(said, "2019-05-14")] == ["2018-07"]
    assert [s.iso for s in dates_in("They meet next March.", "2019-05-14")] == ["2020-03"]
    assert not question_window("What did Putin say last July?", TODAY).certain  # type: ignore[union-attr]


def test_what_a_sentence_opening_with_before_reports_came_before_its_date() -> None:
    said = "Before the talks, which took place on 4 September, the aide said ties were frozen."
    spans = dates_in(said, "2016-09-05")
    assert [s.iso for s in spans] == ["0001-01-01/2016-09-03", "2016-09-04"]
    assert [s.iso for s in dates_in("The talks took place on 4 September.", "2016-09-05")] == [
        "2016-09-04"
    ]


def test_a_quotation_attributed_after_the_fact_has_the_time_of_the_sentence_before(
    engine: RagEngine,
) -> None:
    answer = engine.ask("What did Pompeo say in California on 11 May 2019?")
    assert not answer.abstained
    assert "Saturday [11 May 2019]" in answer.text  # the sentence that dates the quotation
    assert "slays dissidents" in answer.text


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("What happened on Monday 13 May 2019?", "[13 May 2019]"),
        ("What happened on 9 August 2016?", "[9 August 2016]"),
        ("What happened in 2018?", "[2018]"),
        ("What happened in September 2016?", "4 September"),
    ],
)
def test_a_question_with_nothing_but_a_time_gets_what_the_articles_date_then(
    engine: RagEngine, question: str, said: str
) -> None:
    assert focus(question).only_time
    answer = engine.ask(question)
    assert not answer.abstained and said in answer.text
    assert "In July 2016" not in answer.text  # a neighbour from another month stays out


def test_a_quotation_by_he_comes_after_the_sentence_that_names_him(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "visit.txt").write_text(
        "Mayor visits the harbour\n\nMayor Anna Berg toured the Glenmoor harbour on Monday. "
        "“We will rebuild the harbour wall before the winter storms,” she said. The port "
        "authority said repairs would cost 3 million euros.\n",
        "utf-8",
    )
    engine = RagEngine(settings(tmp_path / "data"), embedder=embedder)
    engine.ingest([folder])
    answer = engine.ask("What did Anna Berg promise to rebuild before the winter storms?")
    quotes = [c.quote for c in answer.citations]
    said = next(i for i, q in enumerate(quotes) if q.endswith("she said."))
    assert said > 0 and "Anna Berg" in quotes[said - 1]
