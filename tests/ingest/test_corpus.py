from pathlib import Path

import pytest

from rag.errors import InputError
from rag.ingest.corpus import clean, read_article, scan
from tests.conftest import SEEDS


def seed(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


def test_boilerplate_is_removed_by_general_rules() -> None:
    texts = {a.doc_id[:3]: a.text for a in scan([SEEDS]).articles}
    assert "bookmark-bicon" not in texts["000"]  # icon/menu strip
    # the headline is metadata, not the first sentence
    assert texts["000"].startswith("Russian President Vladimir Putin and British PM")
    assert "READ MORE" not in texts["000"]
    assert "RELATED STORIES" not in texts["001"]
    assert "advertisement" not in texts["003"].lower()
    assert "become a member" not in texts["003"]
    assert "Home / World" not in texts["004"]
    for footer in ("Check Also", "Leave a Reply", "email address", "2020 Olympics"):
        assert footer not in texts["004"]
    # Article text on both sides of the removed lines survives.
    assert "Arkhangelsk, later this month" in texts["001"]
    assert "(Sahar News Monitoring Desk)" in texts["004"]


def test_cleaned_offsets_map_back_to_the_source_text() -> None:
    source = "Home / World / Title here\n\nadvertisement\nFirst real line.\n\n  Second line."
    cleaned = clean(source)
    assert cleaned.text == "First real line.\n\nSecond line."
    for needle in ("First real", "Second line"):
        i = cleaned.text.index(needle)
        j = cleaned.source_offset(i)
        assert source[j : j + len(needle)] == needle


def test_metadata_comes_from_the_manifest() -> None:
    articles = {a.doc_id[:3]: a for a in scan([SEEDS]).articles}
    assert articles["002"].published == "2016-09-05"
    assert articles["000"].outlet == "RT"
    assert articles["003"].published == "2019-05-14"
    assert all(a.title for a in articles.values())


def test_a_first_line_headline_is_the_title_and_not_part_of_the_text(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("advertisement\nA headline worth reading\nBody text of the article goes here.")
    article = read_article(path)
    assert article.title == "A headline worth reading"
    assert article.text == "Body text of the article goes here."
    assert article.origins["title"] == "first line"
    assert article.published is None


def test_a_first_line_that_is_a_sentence_stays_in_the_text(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("The council met on Monday to vote on the budget.\nIt passed by two votes.")
    article = read_article(path)
    assert article.text.startswith("The council met on Monday")
    assert article.title == "The council met on Monday to vote on the budget."


def test_html_goes_through_an_article_extractor(tmp_path: Path) -> None:
    html = """<html><head><title>Summit news</title><script>var x = "evil()";</script></head>
    <body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
    <article><h1>Leaders meet in Hangzhou</h1>
    <p>The leaders met on the sidelines of the summit and talked about trade for an hour.</p>
    <p>They agreed to meet again next year in a second round of talks about security.</p>
    </article><footer>Copyright 2016</footer></body></html>"""
    path = tmp_path / "page.html"
    path.write_text(html)
    article = read_article(path)
    assert "sidelines of the summit" in article.text
    assert "evil()" not in article.text


def test_markdown_front_matter_gives_metadata(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(
        "---\ntitle: Talks in Sochi\npublished: 2019-05-14\n---\n"
        "# Heading\n\nPompeo met Putin in Sochi."
    )
    article = read_article(path)
    assert (article.title, article.published) == ("Talks in Sochi", "2019-05-14")
    assert "#" not in article.text and "Pompeo met Putin in Sochi." in article.text


def test_bad_files_are_skipped_by_name_and_the_rest_ingested(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("A real article about the summit in Hangzhou, China.")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 society news here today".encode("latin-1"))
    (tmp_path / "noise.txt").write_bytes(bytes(range(1, 32)) * 20)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    result = scan([tmp_path])
    articles = {a.doc_id: a for a in result.articles}
    assert sorted(articles) == ["good", "latin1"]
    assert articles["latin1"].text == "Café society news here today"
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons == {
        "binary.txt": "binary file",
        "empty.txt": "empty file",
        "noise.txt": "binary file",
        "report.pdf": "unsupported file type .pdf",
    }


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        scan([tmp_path / "nope"])


def test_a_hard_wrapped_paragraph_is_read_as_whole_sentences(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.txt"
    path.write_text(
        "Dock strike talks to resume\n\n"
        "The port authority said on Tuesday that talks with the dock workers' union\n"
        "would resume next week, after a strike closed three terminals. Exporters\n"
        "said the stoppage had cost them about four million dollars.\n\n"
        "A union spokeswoman said its members wanted a pay rise of five percent over\n"
        "two years.\n"
    )
    article = read_article(path)
    assert article.title == "Dock strike talks to resume"
    assert article.text == (
        "The port authority said on Tuesday that talks with the dock workers' union would "
        "resume next week, after a strike closed three terminals. Exporters said the stoppage "
        "had cost them about four million dollars.\n\nA union spokeswoman said its members "
        "wanted a pay rise of five percent over two years."
    )
