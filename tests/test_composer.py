"""The extractive composer's method: answer types, speakers, time, parts and abstention.

The questions here are not in the gold set: they check that the method carries over to new
wordings rather than to the gold questions it was measured on.
"""

from __future__ import annotations

import pytest

from rag import RagEngine
from rag.answer_types import AnswerType, expected_type, has_person, has_type, person_names
from rag.joint import agreed_to, joint_event, telling_clauses
from rag.lexical import LexicalIndex
from rag.prompts import TIME_ABSTAIN_OPENING
from rag.question import acts, focus, speech
from rag.store import ChunkRecord
from rag.text import terms
from tests.test_engine import check_quotes


def no_fix(word: str) -> str | None:
    return None  # no corpus to correct names against


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How long did the talks last?", AnswerType.DURATION),
        ("What is the speed of the missile?", AnswerType.NUMBER),
        ("Which Russian expert said that?", AnswerType.PERSON),
        ("what did the president say", None),
        ("Who is Juan Guaido?", None),
        ("Who was the president then?", AnswerType.PERSON),
        ("Which British newspaper reported it?", AnswerType.MEDIUM),
        ("At whose initiative did the call take place?", AnswerType.ORIGIN),
        ("Which treaty did they sign?", AnswerType.NAME),
        ("Where did they meet?", AnswerType.PLACE),
        ("Why did he cancel?", AnswerType.REASON),
        ("On what date did she take office?", AnswerType.DATE),
        ("What issues were on the table at the talks?", AnswerType.ISSUES),
        ("What was discussed at the meeting?", AnswerType.ISSUES),
    ],
)
def test_questions_name_the_kind_of_answer_they_want(question: str, kind: AnswerType) -> None:
    assert expected_type(question) is kind


def test_sentences_hold_the_kind_of_answer_or_not() -> None:
    assert has_type("They met since last July in Helsinki.", AnswerType.DATE, "When did they?")
    assert not has_type("They met in July.", AnswerType.DATE, "What happened in July?")
    assert has_type("It lasted nearly two hours.", AnswerType.DURATION, "How long?")
    assert not has_type("It was a meeting in 2019.", AnswerType.NUMBER, "How many?")
    assert has_type(
        "The US and 50 other countries agree.", AnswerType.NUMBER, "How many countries?"
    )
    assert not has_type("The G20 summit in Osaka.", AnswerType.NUMBER, "How many people came?")
    assert has_person("His spokesman Dmitry Peskov denied it.", set())
    assert not has_person("The UK will send a delegation to the Russian port.", set())
    assert has_type("They met in the Chinese Hangzhou.", AnswerType.PLACE, "Where?")
    assert has_type("Talks are over, reports The Guardian.", AnswerType.MEDIUM, "Which paper?")
    assert has_type("He told RT on Monday.", AnswerType.MEDIUM, "Which channel?")
    assert not has_type("He told Putin on Monday.", AnswerType.MEDIUM, "Which channel did he tell?")
    assert has_type("It came just weeks before the summit.", AnswerType.DURATION, "How long?")
    assert has_type("It was at Britain's initiative.", AnswerType.ORIGIN, "Whose initiative?")
    assert not has_type("It was an initiative.", AnswerType.ORIGIN, "Whose initiative?")
    assert has_type("Iran, Syria and Ukraine came up.", AnswerType.ISSUES, "What issues?")
    assert has_type("Amid the Venezuela and Iran crises.", AnswerType.ISSUES, "What issues?")
    assert not has_type("Moscow and Washington agreed.", AnswerType.ISSUES, "What issues?")
    assert has_type("It was held at Britain's initiative.", AnswerType.ORIGIN, "Whose idea?")
    assert not has_type("It was held in Britain.", AnswerType.ORIGIN, "Whose idea was it?")


def test_names_are_runs_of_capitalised_words_joined_by_spaces() -> None:
    """A name the question lacks ("which treaty?"): capitalised words after the first, a run
    broken by anything but spaces, with the question's own words not counting."""
    from rag.answer_types import _capitalised_runs

    assert _capitalised_runs("Talks in Osaka, Japan, with Dmitry  Peskov’s aide.") == (
        ("Osaka",),
        ("Japan",),
        ("Dmitry", "Peskov’s"),
    )
    assert _capitalised_runs("Putin met May and Xi Jinping\nToday.") == (
        ("May",),
        ("Xi", "Jinping", "Today"),
    )
    assert _capitalised_runs("Putin (Russia) - Élysée.") == (("Russia",), ("Élysée",))
    assert has_type("They signed the New START treaty.", AnswerType.NAME, "Which treaty?")
    assert not has_type("They signed it in Helsinki.", AnswerType.NAME, "Did they in Helsinki?")


def test_a_question_is_read_into_parts_years_speaker_and_topic() -> None:
    asked = focus("What did Lavrov say about Syria in 2019, and what did Pompeo say?")
    assert len(asked.parts) == 2
    assert asked.window and asked.window.label == "2019"
    assert asked.speaker == {"lavrov"}
    assert asked.topic == {"syria"}
    assert len(focus("How did the story change between 2016 and 2019?").parts) == 2
    assert focus("How did the summit go?").outcome
    assert not focus("Where did they say they would meet?").outcome
    assert focus("What did May say about China?").named_topic == {"china"}
    assert focus("What did May say about relations with China?").named_topic == set()
    did = focus("What did Putin do on the Monday before the talks?")
    assert did.deeds and did.speaker == {"putin"} and did.days == {"monday"}
    met = joint_event("when did putin and may actually meet for the first time?", no_fix)
    assert met and met.verbs == {"meet", "met"} and met.parties == {"putin", "may"}
    assert focus("When did Theresa May take office?").joint is None  # one party: no joint event
    signed = joint_event("What did Lavrov and Pompeo sign in Sochi?", no_fix)
    assert signed and signed.verbs == {"sign"} and signed.parties == {"lavrov", "pompeo"}
    assert signed.past and not focus("Where will Trump and Putin meet?").joint.past  # type: ignore[union-attr]
    assert focus("What did Putin and Theresa May agree?").joint.parties == {"putin", "may"}  # type: ignore[union-attr]
    assert focus("What did the Kremlin spokesman say?").speaker == {"spokesman"}
    assert focus("What did Yuri Ushakov say?").speaker == {"yuri", "ushakov"}
    assert focus("What did May stress about Syria?").speaker == {"may"}
    assert focus("What did May say about Russia the week before?").topic == {"russia"}
    assert focus("Who led the delegation?").who_did == {"led"}
    assert focus("Who did Trump meet in Helsinki?").who_did == {"meet", "met"}
    assert focus("Who is Russia's foreign minister?").who_did == set()
    assert focus("Which British minister led it?").role == {"minist"}
    assert focus("When did they meet?").past and not focus("When were they due to meet?").past


def test_the_pair_stands_for_both_parties_when_the_article_names_them() -> None:
    agreed = joint_event("What did Lavrov and Pompeo agree on?", no_fix)
    assert agreed is not None
    named = frozenset({"lavrov", "pompeo", "sochi"})
    said = "The two ministers agreed to resume talks."
    assert agreed.told_in(agreed.resolved(frozenset(terms(said)), said, named))
    elsewhere = agreed.resolved(frozenset(terms(said)), said, frozenset({"lavrov"}))
    assert not agreed.told_in(elsewhere)  # the article never names Pompeo
    plan = "The pair will meet in Osaka."
    met = joint_event("When did Lavrov and Pompeo meet?", no_fix)
    assert met is not None and met.told_in(met.resolved(frozenset(terms(plan)), plan, named))
    assert not met.happened_in(plan, met.resolved(frozenset(terms(plan)), plan, named))


def test_a_long_sentence_is_cut_to_the_clauses_that_tell() -> None:
    said = "At the talks with Lavrov, held in Sochi, Pompeo raised Iran and arms control."
    span = telling_clauses(said, lambda part: "talks" in part and "Sochi" in part)
    assert span is not None and said[span[0] : span[1]] == "At the talks with Lavrov, held in Sochi"
    assert telling_clauses(said, lambda part: "Iran" in part and "talks" in part) is None  # all
    late = "Pompeo saw Putin last July, when Trump met him in Helsinki."
    assert telling_clauses(late, lambda part: "Helsinki" in part) is None  # not "when Trump ..."


def test_a_name_is_a_person_where_the_articles_title_it() -> None:
    assert person_names("His spokesman Dmitry Peskov denied it.") == {"peskov"}
    assert person_names("Foreign Minister Sergey Lavrov and President Trump met.") == {
        "lavrov",
        "trump",
    }
    assert person_names("A Downing Street spokeswoman said the Security Council met.") == set()
    people = frozenset({"peskov"})
    assert has_person("Later, Peskov denied it.", set(), people)
    assert not has_person("Later, Peskov denied it.", set())  # one word: a name, or a place
    assert not has_person("Later, Peskov denied it.", {"peskov"}, people)  # already asked
    assert has_person("He was met by the mayor.", set(), roles=True)  # "who met him?"
    assert not has_person("He was met by the mayor.", set())  # "which mayor?": a name
    assert expected_type("What is the name of the Sochi mayor?") is AnswerType.PERSON


def test_a_name_spelt_two_ways_in_one_article_is_one_name() -> None:
    def record(doc: str, title: str, text: str) -> ChunkRecord:
        return ChunkRecord(doc, text, {"doc_id": doc, "title": title})

    lexical = LexicalIndex.build(
        [
            record("a", "Putin and May meet in June", "After meeting Mei and Putin, they left."),
            record("b", "Robert and Juan", "Later, Rupert met Robert and Juan in June."),
            record("c", "Theresa May speaks", "Then Theresa May spoke."),
        ],
        "v1",
    )
    # the headline's "May" is the text's "Mei"; Robert and Rupert are two; June is a month
    assert lexical.variants == {"may": {"mei"}, "mei": {"may"}}
    assert lexical.with_variants(frozenset({"mei", "putin"})) == {"mei", "may", "putin"}


def test_a_misspelt_name_is_corrected_another_name_is_not() -> None:
    lexical = LexicalIndex.build(
        [ChunkRecord("a", "Then Pompeo met Peskov and the British envoy.", {"doc_id": "a"})], "v1"
    )
    assert lexical.correct("Pompeio") == "pompeo" and lexical.correct("Peskoff") == "peskov"
    assert lexical.correct("Brits") == "british"  # a short form keeps the start
    assert lexical.correct("Pope") is None  # a word of its own, not a typo


def test_what_two_parties_agreed_comes_from_every_article_that_reports_it(
    engine: RagEngine,
) -> None:
    answer = engine.ask("What did Putin and Theresa May agree during their first phone call?")
    assert not answer.abstained
    assert {"000", "001"} <= {c.doc_id[:3] for c in answer.citations}
    assert "aviation security" in answer.text
    check_quotes(answer)


def test_a_joint_event_the_articles_date_elsewhere_is_a_time_scoped_abstention(
    engine: RagEngine,
) -> None:
    answer = engine.ask("What did May and Putin agree on in 2018?")
    assert answer.abstained and not answer.citations
    assert answer.text.startswith(TIME_ABSTAIN_OPENING + " 2018")
    assert "9 August 2016" in answer.text


def test_who_finds_a_person_named_by_surname_alone(engine: RagEngine) -> None:
    answer = engine.ask("Who did Trump meet in Helsinki?")
    assert not answer.abstained and "Putin" in answer.text


def test_what_parties_agreed_to_do_is_read_from_the_sentence() -> None:
    assert agreed_to("Putin and May have agreed to meet to discuss trade.") == {"meet", "met"}
    assert agreed_to("The pair decided to sign it.") == {"sign"}
    assert agreed_to("They agreed that co-operation was vital.") == set()


def test_when_they_met_gives_the_time_and_place_in_the_clauses_that_tell_them(
    engine: RagEngine,
) -> None:
    answer = engine.ask("When did Putin and Theresa May meet in person?")
    assert not answer.abstained
    assert "4 September" in answer.text and "Hangzhou" in answer.text
    assert len(answer.text.split()) <= 60  # two long sentences, cut to the clauses that tell
    assert any(not c.quote.endswith(".") for c in answer.citations)  # a part of a sentence ...
    assert " … [" in answer.text  # ... is shown as one
    check_quotes(answer)  # ... and quoted exactly


def test_when_two_parties_met_is_the_sentence_where_both_meet(engine: RagEngine) -> None:
    answer = engine.ask("when did putin and may actually meet face to face for the first time?")
    assert not answer.abstained
    assert answer.citations[0].doc_id.startswith("002")
    assert "4 September" in answer.citations[0].quote and "Mei and Putin" in answer.text


def test_speech_belongs_to_the_speaker_near_the_verb() -> None:
    lavrov = frozenset({"lavrov"})
    assert speech("Lavrov said Russia was ready.", lavrov) == 1.0
    assert speech("After talks with Lavrov on Tuesday, Pompeo said more.", lavrov) == 0.5
    assert speech("Lavrov met Pompeo.", lavrov) == 0.0


def test_deeds_belong_to_the_subject_of_a_verb() -> None:
    putin = frozenset({"putin"})
    assert acts("At a meeting, Putin also tasked his generals.", putin) == 1.0
    assert acts("President Vladimir Putin hosts Mike Pompeo.", putin) == 1.0
    assert acts("Trump said he will meet Putin on the sidelines.", putin) == 0.0
    assert acts("Talks with Putin and Lavrov lasted two hours.", putin) == 0.0


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How long did Pompeo's meeting with Putin and Lavrov last?", "two hours"),
        ("What did Pompeo tell Russia about the 2020 election?", "interfere"),
        ("Where was the 2019 G20 summit to be held?", "Osaka"),
        ("Who is Russia's foreign minister?", "Lavrov"),
        ("Who is Juan Guaido?", "opposition leader"),
        ("Which outlet did political commentator John Wight speak to?", "RT"),
        ("What did Peskov say about Iran?", "maximum pressure"),
        ("What did Trump do on Monday?", "summit"),
        ("Who welcomed Pompeo on the tarmac in Sochi?", "mayor of Sochi"),  # a role answers who
        ("On whose initiative did Putin and May speak by phone?", "Britain"),  # not "initiative"
        ("When and where did Putin and May hold their first meeting?", "Hangzhou"),  # the noun
        ("What did Trump do in Helsinki in July 2018?", "meddle"),  # "Then, ..." continues
    ],
)
def test_new_wordings_are_answered(engine: RagEngine, question: str, expected: str) -> None:
    answer = engine.ask(question)
    assert not answer.abstained
    assert expected.lower() in answer.text.lower()
    check_quotes(answer)


@pytest.mark.parametrize(
    "question",
    [
        "What is the speed of the Kinzhal missile?",  # no number in the evidence
        "What did Lavrov say in 2016?",  # Lavrov appears only in the 2019 articles
        "What was the outcome of the G20 summit in Osaka?",  # after the articles were written
        "How many people attended the convoy ceremony in Arkhangelsk?",
        "What did Lavrov say about China?",  # China comes up, but not in Lavrov's words
        "What did Pompeo say about Iran?",  # others speak of Iran
        "Which news agency reported the Kremlin statement?",  # no outlet is named for it
        "At whose initiative did Pompeo visit Sochi?",
        "What did the Pope say about football?",  # the Pope is not a misspelt Pompeo
        "What was the name of the mayor who met Pompeo?",  # a role is no name
        "Who led the British delegation to Arkhangelsk?",  # May is near, but leads nothing
        "Which minister led the UK delegation to the convoy ceremony?",  # no minister named
        "What came out of the Osaka summit?",  # after the articles were written
        "What did Lavrov say about Maduro?",  # "He also said ..." is Pompeo, who spoke before
    ],
)
def test_near_topic_questions_the_articles_cannot_answer_abstain(
    engine: RagEngine, question: str
) -> None:
    answer = engine.ask(question)
    assert answer.abstained, answer.text
    assert answer.citations == []
