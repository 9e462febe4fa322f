"""From articles to the index: readers for every source (files, record dumps, Reuters SGML,
feeds and web pages) with encodings, datelines and duplicates (`corpus` and the readers),
chunking, the Chroma store, the lexical copy beside it (BM25, sentence vectors), the sync that
keeps both in step, its check and repair, and the write lock.

Each reader yields `Record`s (one article each, with its stable id) or `Problem`s (a part of
the input that could not be used, and why); `rag.ingest.corpus` turns records into articles.
"""
