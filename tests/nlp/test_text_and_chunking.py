from rag.ingest.chunking import chunk_text
from rag.nlp.text import STOPWORDS, normalise, sentence_spans, term_set, terms, token_counter, words


def test_sentences_split_on_punctuation_and_lines_but_not_abbreviations() -> None:
    text = (
        "Mr. Putin met Mrs. May. They talked!\nA new line without a stop\n"
        "“Quoted,” he said. U.S. aid"
    )
    found = [text[s:e] for s, e in sentence_spans(text)]
    assert found == [
        "Mr. Putin met Mrs. May.",
        "They talked!",
        "A new line without a stop",
        "“Quoted,” he said.",
        "U.S. aid",
    ]


def test_terms_keep_may_as_an_entity_and_drop_function_words() -> None:
    assert "may" in terms("What did May say about Russia?")
    assert "what" not in terms("What did May say about Russia?")
    assert terms("Russia's threats") == terms("Russia threat")


def test_a_word_reads_as_the_same_term_in_every_text_and_case() -> None:
    texts = [
        "The talks in Helsinki were the first.",
        "THE TALKS IN HELSINKI WERE THE FIRST.",
        "Talks, talks and more talks: May's talks.",
        "May may meet May in May.",
        "A " + "very long sentence about the talks " * 30,  # beyond the remembered length
    ]
    for text in texts * 2:  # the second reading comes from what the first remembered
        expected = [normalise(w) for w in words(text) if w.lower() not in STOPWORDS]
        assert terms(text) == expected
        assert term_set(text) == frozenset(expected)
    assert terms("THE TALKS") == terms("the talks") == ["talk"]


def test_token_counter_uses_cl100k_without_network() -> None:
    count = token_counter()
    assert count("Theresa May") == 3  # "Ther" "esa" " May" in cl100k_base


def test_chunks_respect_token_budget_keep_exact_offsets_and_overlap() -> None:
    text = " ".join(f"Sentence number {i} talks about Putin and May." for i in range(40))
    count = token_counter()
    chunks = chunk_text(text, max_tokens=50, overlap_tokens=15, count=count)
    assert len(chunks) > 3
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert count(chunk.text) <= 50
    # Neighbours share whole sentences, and the chunks cover the text from start to end.
    assert chunks[1].start < chunks[0].end
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_an_oversized_sentence_is_cut_into_word_aligned_pieces() -> None:
    text = "word " * 300
    chunks = chunk_text(text.strip(), max_tokens=40, overlap_tokens=0, count=token_counter())
    assert len(chunks) > 5
    assert all(c.text.startswith("word") and c.text.endswith("word") for c in chunks)
