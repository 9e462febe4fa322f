"""The chat window's HTML: markers become links, quotes are marked, article text is escaped."""

from __future__ import annotations

from rag import Answer, Citation, DocumentInfo, Passage
from ui import render

ARTICLE = (
    "Officials met on Monday. <img src=x onerror=alert(1)> **Not bold** was typed. "
    "The minister said talks would resume in June. Prices rose by 3% in May."
)


def passage(start: int, end: int, score: float = 0.5) -> Passage:
    return Passage(
        doc_id="d1",
        chunk_id=f"d1#{start}",
        text=ARTICLE[start:end],
        score=score,
        title="Talks <b>resume</b>",
        outlet="Courier",
        published="2019-05-14",
        start=start,
        end=end,
    )


def citation(n: int, quote: str, chunk: Passage) -> Citation:
    start = ARTICLE.index(quote)
    return Citation(
        n=n,
        doc_id="d1",
        title=chunk.title,
        outlet=chunk.outlet,
        published=chunk.published,
        chunk_id=chunk.chunk_id,
        quote=quote,
        start=start,
        end=start + len(quote),
    )


def answer(text: str, citations: list[Citation], passages: list[Passage]) -> Answer:
    return Answer(
        question="q",
        text=text,
        abstained=False,
        mode="extractive",
        citations=citations,
        passages=passages,
    )


def test_known_markers_become_links_and_the_rest_is_escaped() -> None:
    first = passage(0, 80)
    quote = "Officials met on Monday."
    html = render.answer_html(
        answer(f"<script>x</script> {quote} [1] and [7]", [citation(1, quote, first)], [first]),
        turn=3,
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert f'<sup><a href="#nr-3-1" title="{quote}">[1]</a></sup>' in html
    assert "and [7]" in html  # no citation 7: left as text, not a dead link


def test_a_card_marks_each_quote_in_its_passage_and_escapes_the_article() -> None:
    chunk = passage(0, len(ARTICLE))
    quotes = ["The minister said talks would resume in June.", "Officials met on Monday."]
    cited = [citation(n, q, chunk) for n, q in enumerate(quotes, 1)]
    [card] = render.source_cards(answer("a [1] b [2]", cited, [chunk, passage(0, 10)]))
    html = card.html(turn=0)
    assert '<mark id="nr-0-2">Officials met on Monday.</mark><sup>[2]</sup>' in html
    assert (
        '<mark id="nr-0-1">The minister said talks would resume in June.</mark><sup>[1]</sup>'
        in html
    )
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Talks &lt;b&gt;resume&lt;/b&gt;" in html and "Courier · 14 May 2019 · d1" in html


def test_overlapping_cited_chunks_are_shown_once() -> None:
    left, right = passage(0, 90), passage(60, len(ARTICLE))
    cited = [
        citation(1, "Officials met on Monday.", left),
        citation(2, "Prices rose by 3% in May.", right),
    ]
    [card] = render.source_cards(answer("x [1] y [2]", cited, [right, left]))
    [excerpt] = card.excerpts
    assert excerpt.text == ARTICLE
    assert len(excerpt.marks) == 2


def test_a_quote_whose_passage_is_missing_is_shown_on_its_own() -> None:
    chunk = passage(0, 40)
    quote = "Prices rose by 3% in May."
    [card] = render.source_cards(answer("x [1]", [citation(1, quote, chunk)], []))
    [excerpt] = card.excerpts
    assert excerpt.text == quote and excerpt.marks == [(0, len(quote), [1])]


def test_uncited_passages_and_snippets() -> None:
    chunk, other = passage(0, 40), passage(40, len(ARTICLE), score=0.25)
    reply = answer("x [1]", [citation(1, "Officials met on Monday.", chunk)], [chunk, other])
    assert render.uncited(reply) == [other]
    assert "score" not in render.passage_html(other)  # a retrieval score means nothing here
    assert render.snippet("word " * 200, 30).endswith(" …")
    assert render.pretty_date("2016-07-05") == "5 July 2016"
    assert render.pretty_date(None) == "date unknown"


def test_event_dates_are_shown_for_people() -> None:
    assert render.pretty_period("2016-07") == "July 2016"
    assert render.pretty_period("2016-09-04") == "4 September 2016"
    assert render.pretty_period("2019") == "2019"
    assert render.pretty_period("2019-06-28/2019-06-29") == "28 June 2019 – 29 June 2019"
    assert render.dates_line([]) == ""
    assert "Dates mentioned: July 2016, 2016" in render.dates_line(["2016-07", "2016", "2016-07"])


def test_a_card_names_the_other_copies_of_its_story() -> None:
    chunk = passage(0, len(ARTICLE))
    cited = citation(1, "Officials met on Monday.", chunk)
    cited.copies = ["d1-reprint", "<i>d1-again</i>"]
    [card] = render.source_cards(answer("a [1]", [cited], [chunk]))
    assert "Same story also in: d1-reprint, &lt;i&gt;d1-again&lt;/i&gt;" in card.html(turn=0)
    plain = citation(1, "Officials met on Monday.", chunk)
    assert "Same story" not in render.source_cards(answer("a [1]", [plain], [chunk]))[0].html(0)


def test_the_article_list_shows_whole_headlines_newest_first() -> None:
    documents = [
        DocumentInfo(doc_id=f"d{i}", title=f"Headline <{i}> of a long story", outlet="Wire",
                     published=f"2019-05-{i + 10:02d}", url=None, chunks=1)
        for i in range(5)
    ]  # fmt: skip
    listed = render.document_list(documents, limit=3)
    assert listed.index("Headline &lt;4&gt;") < listed.index("Headline &lt;3&gt;")
    assert "Headline &lt;1&gt;" not in listed and "and 2 more" in listed
