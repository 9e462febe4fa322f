"""Bring your own news: record dumps, datelines, encodings and Reuters SGML, each read into
articles with their dates, and bad inputs skipped by name without harm to the index."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from rag import RagEngine
from rag.ingest import datelines
from rag.ingest.corpus import iso_date, scan
from rag.ingest.records import FieldNames, Problem, Record, read_records
from rag.ingest.reuters import read_sgml
from rag.nlp.embeddings import LocalEmbedder
from rag.types import IngestReport
from tests.conftest import SEEDS, long_article, settings

STORY = (
    "The city council approved the new budget on Tuesday after a long debate, officials said. "
    "Spending on schools rises by four percent."
)


def _ingested(
    tmp_path: Path, embedder: LocalEmbedder, files: dict[str, str], **values: object
) -> tuple[RagEngine, IngestReport, Path]:
    """An engine over a fresh index of a folder holding `files` (name -> text), ingested."""
    corpus = tmp_path / "news"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text)
    engine = RagEngine(settings(tmp_path / "data", **values), embedder=embedder)
    return engine, engine.ingest([corpus]), corpus


def _articles(*paths: Path, fields: FieldNames | None = None) -> tuple[dict, list]:
    result = scan(list(paths), fields)
    return {a.doc_id: a for a in result}, result.skipped


def test_json_lines_records_are_articles_with_their_fields(tmp_path: Path) -> None:
    dump = tmp_path / "wire.jsonl"
    rows = [
        {"id": "a1", "headline": "Council passes budget", "body": STORY,
         "pubDate": "Tue, 03 Mar 2021 10:00:00 GMT", "source": "Glenmoor Gazette",
         "link": "https://example.org/budget"},
        {"id": "a2", "title": "Schools get more", "text": STORY, "date": "2021-03-04"},
    ]  # fmt: skip
    dump.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    articles, skipped = _articles(dump)
    assert skipped == []
    first = articles["a1"]
    assert (first.title, first.published, first.outlet, first.url) == (
        "Council passes budget", "2021-03-03", "Glenmoor Gazette", "https://example.org/budget"
    )  # fmt: skip
    assert first.origins["published"] == "record field 'pubDate'"
    assert first.text.startswith("The city council approved")
    assert articles["a2"].published == "2021-03-04"


def test_a_broken_json_line_is_reported_by_number_and_the_rest_read(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    good = json.dumps({"id": "x", "text": STORY})
    dump.write_text(f'{good}\n{{"id": "y", "text": \n{json.dumps({"id": "z", "text": STORY})}\n')
    articles, skipped = _articles(dump)
    assert sorted(articles) == ["x", "z"]
    assert [(s.path, s.reason.split(" (")[0]) for s in skipped] == [
        ("dump.jsonl line 2", "not valid JSON")
    ]


def test_records_without_ids_get_stable_ones_and_repeated_ids_are_skipped(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    rows = [{"text": STORY}, {"id": "same", "text": STORY + " One."},
            {"id": "same", "text": STORY + " Two."}]  # fmt: skip
    dump.write_text("\n".join(json.dumps(r) for r in rows))
    first, skipped = _articles(dump)
    again, _ = _articles(dump)
    assert sorted(first) == sorted(again)
    assert "same" in first and first["same"].text.endswith("One.")
    assert [s.reason for s in skipped] == ["duplicate document id same"]
    generated = next(i for i in first if i != "same")
    assert generated.startswith("dump-")


def test_a_json_array_and_a_csv_are_read_record_by_record(tmp_path: Path) -> None:
    array = tmp_path / "list.json"
    array.write_text(json.dumps([{"id": f"j{i}", "content": STORY} for i in range(3)]))
    table = tmp_path / "table.csv"
    table.write_text(f'id,title,body,published\nc1,Budget,"{STORY}",2021-03-03\n', "utf-8")
    articles, skipped = _articles(array, table)
    assert sorted(articles) == ["c1", "j0", "j1", "j2"]
    assert articles["c1"].published == "2021-03-03" and skipped == []


def test_a_csv_without_a_text_column_is_one_clear_problem(tmp_path: Path) -> None:
    table = tmp_path / "table.csv"
    table.write_text("id,title,summary\n1,A,B\n")
    articles, skipped = _articles(table)
    assert articles == {}
    assert len(skipped) == 1 and skipped[0].reason.startswith("no text column")
    assert "columns are id, title, summary" in skipped[0].reason


def test_field_names_can_be_given(tmp_path: Path) -> None:
    dump = tmp_path / "odd.jsonl"
    dump.write_text(json.dumps({"key": "k1", "words": STORY, "when": "2020-01-02"}))
    fields = FieldNames().override(text="words", published="when", id="key")
    articles, _ = _articles(dump, fields=fields)
    assert articles["k1"].published == "2020-01-02"


def test_a_large_dump_is_streamed_not_loaded_whole(tmp_path: Path) -> None:
    dump = tmp_path / "big.jsonl"
    line = json.dumps({"text": STORY * 14}) + "\n"  # about 2 KB a record
    with dump.open("w") as handle:
        for _ in range(200 * 2**20 // len(line) + 1):
            handle.write(line)
    tracemalloc.start()
    count = sum(1 for r in read_records(dump) if isinstance(r, Record))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert dump.stat().st_size >= 200 * 2**20 and count > 90_000
    assert peak < 20 * 2**20  # a file of 200 MB read with well under 20 MB held at once


@pytest.mark.parametrize(
    ("opening", "year", "expected"),
    [
        ("CLEVELAND, Feb 26 - Ohio Mattress Co said", 1987, ("CLEVELAND", "1987-02-26")),
        ("LONDON (Reuters) - Shares fell", None, ("LONDON", None)),
        ("Glenmoor, 3 March 2021 — The council", None, ("Glenmoor", "2021-03-03")),
        ("NEW YORK, March 3, 1987 - Stocks", None, ("NEW YORK", "1987-03-03")),
        ("WASHINGTON, D.C., Feb 30 - The", 1987, ("WASHINGTON, D.C.", None)),
    ],
)
def test_datelines_give_a_place_and_a_date(
    opening: str, year: int | None, expected: tuple[str, str | None]
) -> None:
    line = datelines.find(opening, year, "test")
    assert line is not None and (line.place, line.published) == expected


def test_ordinary_openings_are_no_datelines() -> None:
    for opening in ("Meanwhile, officials said - the", "WARNING: this", "The firm said - no"):
        assert datelines.find(opening, 2020) is None


def test_an_impossible_dateline_date_is_named_and_not_used(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text(f"Council news\nGLENMOOR, Feb 30, 2021 - {STORY}")
    articles, _ = _articles(tmp_path / "x.txt")
    assert articles["x"].published is None
    assert articles["x"].origins["published"] == "dateline: impossible date Feb 30, 2021"


def test_a_dateline_without_a_year_takes_the_year_of_its_folder(tmp_path: Path) -> None:
    for i, year in enumerate(("1986", "1987", "1987")):
        (tmp_path / f"s{i}.txt").write_text(
            f"Headline {i}\nCLEVELAND, Feb 26 - Profits rose in {year}, and {STORY}"
        )
    articles, _ = _articles(tmp_path)
    assert {a.published for a in articles.values()} == {"1987-02-26"}
    assert articles["s0"].origins["published"] == "dateline, year from the articles of its folder"


def test_dates_are_read_as_dumps_and_feeds_write_them() -> None:
    assert iso_date("2021-03-03T10:00:00Z") == "2021-03-03"
    assert iso_date("Tue, 03 Mar 2021 10:00:00 GMT") == "2021-03-03"
    assert iso_date("1614765600") == "2021-03-03"
    assert iso_date("March 3, 2021") == "2021-03-03"
    assert iso_date("not a date") is None


def test_legacy_encodings_are_read(tmp_path: Path) -> None:
    (tmp_path / "pound.txt").write_bytes(
        "Prices\nThe fare rose to £5 on Tuesday, a record.".encode("cp1252")
    )
    russian = "Новости\nПрезидент заявил во вторник, что переговоры продолжатся в Москве."
    (tmp_path / "ru.txt").write_bytes(russian.encode("cp1251"))
    articles, skipped = _articles(tmp_path)
    assert skipped == []
    assert "£5" in articles["pound"].text and articles["pound"].origins["encoding"] == "cp1252"
    assert "Москве" in articles["ru"].text


def test_unsafe_urls_are_dropped_from_metadata(tmp_path: Path) -> None:
    dump = tmp_path / "d.jsonl"
    dump.write_text(json.dumps({"id": "j", "text": STORY, "url": "javascript:alert(1)"}))
    articles, _ = _articles(dump)
    assert articles["j"].url is None


SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" NEWID="7">
<DATE>26-FEB-1987 15:01:01.79</DATE>
<TEXT>&#2;
<TITLE>OHIO MATTRESS &lt;OMT> TALKS</TITLE>
<DATELINE>    CLEVELAND, Feb 26 - </DATELINE><BODY>Ohio Mattress Co said on Friday it was in
talks to sell its unit, the company said in a statement.
    It gave no price.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="NO" NEWID="8">
<DATE>26-FEB-1987 15:02:00.00</DATE>
<TEXT TYPE="BRIEF">&#2;
<TITLE>A HEADLINE ALONE</TITLE>
&#3;</TEXT>
</REUTERS>
"""


def test_reuters_sgml_stories_carry_their_date_and_dateline(tmp_path: Path) -> None:
    path = tmp_path / "reut2-999.sgm"
    path.write_bytes(SGML.encode("latin-1"))
    found = list(read_sgml(path))
    story = next(r for r in found if isinstance(r, Record))
    assert story.doc_id == "reuters-7" and story.published == "1987-02-26"
    assert story.title == "OHIO MATTRESS <OMT> TALKS"
    assert story.text.startswith("CLEVELAND, Feb 26 - Ohio Mattress Co said on Friday")
    assert [p.reason for p in found if isinstance(p, Problem)] == ["a headline without a story"]


def test_bad_inputs_leave_what_is_indexed_alone(
    tmp_path: Path, seeded_copy: Path, embedder: LocalEmbedder
) -> None:
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    before = {d.doc_id for d in engine.documents()}
    (tmp_path / "no_text.csv").write_text("id,title\n1,A\n")
    (tmp_path / "broken.jsonl").write_text('{"id": "ok1", "text": "' + STORY + '"}\n{oops\n')
    (tmp_path / "empty.json").write_text("[]")
    (tmp_path / "bad.sgm").write_text("<REUTERS NEWID='1'>no close")
    report = engine.ingest([tmp_path / n for n in ("no_text.csv", "broken.jsonl", "empty.json",
                                                   "bad.sgm")])  # fmt: skip
    after = {d.doc_id for d in engine.documents()}
    assert after == before | {"ok1"}
    assert report.added == 1 and {s.path for s in report.skipped} >= {
        "no_text.csv",
        "broken.jsonl line 2",
    }
    again = engine.ingest([tmp_path / "broken.jsonl"])
    assert (again.added, again.unchanged, again.embedded) == (0, 1, 0)
    assert SEEDS.is_dir()


def test_copies_of_a_story_are_found_at_ingest_and_shown_once(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    from tests.ingest.test_duplicates import FOUNDRY, MILL, MILL_REPRINT

    # the same wording a month later is another event, not a copy
    later = MILL_REPRINT.replace("March 3", "April 7, 1987")
    files = {
        "mill.txt": f"Corvane to shut Brayford mill\n{MILL}",
        "mill-reprint.txt": f"Corvane Steel closing mill\n{MILL_REPRINT}",
        "mill-again.txt": f"Corvane mill to close\n{MILL}",
        "mill-april.txt": f"Corvane again\n{later}",
        "foundry.txt": f"Kessel cuts foundry jobs\n{FOUNDRY}",
    }
    engine, report, corpus = _ingested(tmp_path, embedder, files)
    # files are read in name order: the first read is the original
    assert report.duplicates == [["mill-again", "mill-reprint", "mill"]]
    answer = engine.ask("How many jobs will Corvane cut at the Brayford mill?")
    story = {"mill", "mill-again", "mill-reprint"}
    parts = [(p.chunk_id.rsplit("-", 1)[1]) for p in answer.passages if p.doc_id in story]
    assert parts and len(parts) == len(set(parts)), answer.passages  # each part of it once
    first = next(p for p in answer.passages if p.doc_id.startswith("mill") and p.copies)
    assert sorted([first.doc_id, *first.copies]) == ["mill", "mill-again", "mill-reprint"]
    assert answer.citations
    assert all(c.copies for c in answer.citations if c.doc_id in story)
    again = engine.ingest([corpus])
    assert (again.unchanged, again.embedded) == (5, 0)
    assert again.duplicates == [["mill-again", "mill-reprint", "mill"]]


def test_a_headline_is_searched_though_it_is_not_text(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    engine, _, _ = _ingested(
        tmp_path, embedder, {"budget.txt": f"Zephyrine budget approved\n{STORY}"}
    )
    from rag.retrieve.hybrid import query_terms

    lexical = engine.indexer.lexical()
    [(chunk_id, _)] = lexical.top(query_terms("Zephyrine", lexical), 5)
    assert chunk_id.startswith("budget#")
    assert "Zephyrine" not in lexical.record(chunk_id).text


def test_an_article_over_the_size_limit_is_skipped_by_name(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    files = {
        "small.txt": f"Budget passes\n{STORY}",
        "huge.txt": "Endless report\n" + STORY * 40,
        "dump.jsonl": json.dumps({"id": "fine", "text": STORY})
        + "\n"
        + json.dumps({"id": "big", "text": STORY * 40}),
    }
    engine, report, _ = _ingested(tmp_path, embedder, files, RAG_MAX_UPLOAD_BYTES=2000)
    assert sorted(d.doc_id for d in engine.documents()) == ["fine", "small"]
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    limit = "the limit for one article is 2,000 (RAG_MAX_UPLOAD_BYTES)"
    assert reasons["huge.txt"].endswith(limit) and reasons["dump.jsonl line 2"].endswith(limit)


def test_progress_moves_inside_one_large_article(
    tmp_path: Path, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rag.ingest.index.EMBED_BATCH", 8)
    article = long_article(tmp_path / "news", 60)
    seen: list[tuple[float, int]] = []
    RagEngine(settings(tmp_path / "data"), embedder=embedder).ingest(
        [article], progress=lambda done, total: seen.append((done, total))
    )
    inside = sorted({done for done, total in seen if 0 < done < 1 and total == 1})
    assert len(inside) >= 2, seen  # the bar moves while the one article's chunks are written
    assert seen[-1] == (1, 1)
