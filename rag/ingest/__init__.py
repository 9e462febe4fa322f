"""Where articles come from: record dumps (JSON Lines, JSON arrays, CSV), Reuters SGML, feeds
and web pages, with the encoding, dateline and duplicate detection every source shares.

Each reader yields `Record`s (one article each, with its stable id) or `Problem`s (a part of
the input that could not be used, and why); `rag.corpus` turns records into articles.
"""
