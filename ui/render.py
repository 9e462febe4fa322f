"""HTML for answers and source cards. The markup is ours; every string that comes from an
article or a model (answer text, headlines, passages, quotes) goes through `html.escape`,
and `st.html` sanitises the result again (DOMPurify) without reading it as Markdown."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field

from rag import Answer, Citation, DocumentInfo, Passage
from rag.compose.base import MARKER

SNIPPET_CHARS = 320

STYLE = """<style>
.nr-answer { line-height: 1.6; }
.nr-answer sup a, .nr-card sup { font-weight: 600; text-decoration: none; }
.nr-card { border: 1px solid rgba(128,128,128,.35); border-radius: .5rem;
           padding: .6rem .8rem; margin: .4rem 0; }
.nr-card .nr-title { font-weight: 600; }
.nr-card .nr-meta { opacity: .75; font-size: .85em; margin-bottom: .35rem; }
.nr-card .nr-text { font-size: .92em; line-height: 1.5; }
.nr-card mark { background: #ffe58f; color: #1a1a1a; padding: 0 .1em; border-radius: .15em;
                scroll-margin-top: 4rem; }
/* the quote a clicked citation leads to (the :target), marked apart from the others */
.nr-card mark:target, .nr-card mark:has(span:target) {
  background: #ff9d42; outline: 2px solid #b35400; box-shadow: 0 0 0 4px rgba(179,84,0,.25); }
.nr-abstained { opacity: .9; font-style: italic; }
.nr-docs { list-style: none; padding: 0; margin: 0; font-size: .9em; }
.nr-docs li { margin: 0 0 .45rem 0; overflow-wrap: anywhere; }
.nr-docs .nr-meta { opacity: .75; font-size: .85em; }
</style>"""


def anchor(turn: int, n: int) -> str:
    """The id of citation `n`'s highlighted quote in the answer of chat turn `turn`."""
    return f"nr-{turn}-{n}"


def pretty_date(published: str | None) -> str:
    """'2016-07-20' → '20 July 2016'; anything unparseable is shown as it is."""
    if not published:
        return "date unknown"
    try:
        day = dt.date.fromisoformat(published)
    except ValueError:
        return published
    return f"{day.day} {day:%B %Y}"


def pretty_period(iso: str) -> str:
    """An event date of the engine ('2016', '2016-07', '2016-07-20', 'start/end') for people."""
    if "/" in iso:
        first, last = iso.split("/", 1)
        if first.startswith("0001"):
            return f"until {pretty_period(last)}"  # both ends are inclusive
        if last.startswith("9999"):
            return f"since {pretty_period(first)}"
        return f"{pretty_period(first)} – {pretty_period(last)}"
    if len(iso) == 7:
        try:
            return f"{dt.date.fromisoformat(iso + '-01'):%B %Y}"
        except ValueError:
            return iso
    return iso if len(iso) == 4 else pretty_date(iso)


def dates_line(event_dates: list[str]) -> str:
    """'Dates mentioned: July 2016, 4 September 2016' (escaped), or '' when there are none."""
    if not event_dates:
        return ""
    periods = ", ".join(pretty_period(d) for d in dict.fromkeys(event_dates))
    return f'<div class="nr-meta">Dates mentioned: {html.escape(periods)}</div>'


def byline(outlet: str | None, published: str | None, extra: str = "") -> str:
    """'The Guardian · 20 July 2016' (escaped)."""
    parts = [outlet or "outlet unknown", pretty_date(published)] + ([extra] if extra else [])
    return html.escape(" · ".join(parts))


def answer_html(answer: Answer, turn: int) -> str:
    """The answer text with each known `[n]` as a superscript link to its highlighted quote."""
    quotes = {c.n: c.quote for c in answer.citations}
    pieces: list[str] = []
    last = 0
    for match in MARKER.finditer(answer.text):
        n = int(match.group(1))
        if n not in quotes:
            continue
        pieces.append(html.escape(answer.text[last : match.start()]))
        title = html.escape(quotes[n], quote=True)
        pieces.append(f'<sup><a href="#{anchor(turn, n)}" title="{title}">[{n}]</a></sup>')
        last = match.end()
    pieces.append(html.escape(answer.text[last:]))
    css = "nr-answer nr-abstained" if answer.abstained else "nr-answer"
    return f'<div class="{css}">{"".join(pieces)}</div>'


@dataclass
class Excerpt:
    """A stretch of one article's cleaned text, starting at offset `start`."""

    start: int
    text: str
    marks: list[tuple[int, int, list[int]]] = field(default_factory=list)  # (start, end, ns)

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def absorb(self, other: Passage) -> bool:
        """Extend this excerpt by an overlapping or adjacent passage; False if they don't meet."""
        if other.start > self.end or other.start < self.start:
            return False
        overlap = self.end - other.start
        if self.text[other.start - self.start :] != other.text[:overlap]:
            return False  # offsets that disagree with the text: keep the passages apart
        self.text += other.text[overlap:]
        return True

    def locate(self, citation: Citation) -> bool:
        """Mark the citation's quote in this excerpt: at its offsets, else by its text."""
        begin = citation.start - self.start
        if not (0 <= begin and self.text[begin : begin + len(citation.quote)] == citation.quote):
            begin = self.text.find(citation.quote)
        if begin < 0 or not citation.quote:
            return False
        end = begin + len(citation.quote)
        for span in self.marks:
            if span[0] == begin and span[1] == end:
                span[2].append(citation.n)
                return True
        self.marks.append((begin, end, [citation.n]))
        return True

    def html(self, turn: int) -> str:
        pieces: list[str] = []
        last = 0
        for begin, end, ns in sorted(self.marks):
            if begin < last:  # overlaps a quote already marked: number it there
                pieces.append("".join(f'<sup id="{anchor(turn, n)}">[{n}]</sup>' for n in ns))
                continue
            ids = "".join(f'<span id="{anchor(turn, n)}"></span>' for n in ns[1:])
            labels = "".join(f"<sup>[{n}]</sup>" for n in ns)
            pieces.append(html.escape(self.text[last:begin]))
            pieces.append(
                f'<mark id="{anchor(turn, ns[0])}">{ids}'
                f"{html.escape(self.text[begin:end])}</mark>{labels}"
            )
            last = end
        pieces.append(html.escape(self.text[last:]))
        return "".join(pieces)


@dataclass
class SourceCard:
    """One cited article: its headline, outlet and date, and the cited passages."""

    doc_id: str
    title: str
    outlet: str | None
    published: str | None
    citations: list[Citation]
    excerpts: list[Excerpt]

    def html(self, turn: int) -> str:
        numbers = ", ".join(f"[{c.n}]" for c in self.citations)
        body = "<br><br>".join(
            f'<div class="nr-text">{excerpt.html(turn)}</div>' for excerpt in self.excerpts
        )
        return (
            f'<div class="nr-card"><div class="nr-title">{html.escape(numbers)} '
            f"{html.escape(self.title or self.doc_id)}</div>"
            f'<div class="nr-meta">{byline(self.outlet, self.published, self.doc_id)}</div>'
            f"{dates_line([d for c in self.citations for d in c.event_dates])}"
            f"{copies_line(self.citations)}"
            f"{body}</div>"
        )


def copies_line(citations: list[Citation]) -> str:
    """The other articles that carry the same story, named once under the card's byline."""
    copies = list(dict.fromkeys(d for c in citations for d in c.copies))
    if not copies:
        return ""
    return f'<div class="nr-meta">Same story also in: {html.escape(", ".join(copies))}</div>'


def _excerpts(citations: list[Citation], passages: list[Passage]) -> list[Excerpt]:
    """The cited chunks of one article, overlapping ones merged, each quote marked."""
    cited = {c.chunk_id for c in citations}
    chunks = sorted((p for p in passages if p.chunk_id in cited), key=lambda p: p.start)
    excerpts: list[Excerpt] = []
    for passage in chunks:
        if not (excerpts and excerpts[-1].absorb(passage)):
            excerpts.append(Excerpt(passage.start, passage.text))
    for citation in citations:
        if not any(excerpt.locate(citation) for excerpt in excerpts):
            # the passage is not at hand (or no longer holds the quote): show the quote itself
            orphan = Excerpt(citation.start, citation.quote)
            orphan.locate(citation)
            excerpts.append(orphan)
    return [excerpt for excerpt in excerpts if excerpt.marks]


def source_cards(answer: Answer) -> list[SourceCard]:
    """One card per cited article, in the order the answer first cites them."""
    by_doc: dict[str, list[Citation]] = {}
    for citation in sorted(answer.citations, key=lambda c: c.n):
        by_doc.setdefault(citation.doc_id, []).append(citation)
    cards = []
    for doc_id, citations in by_doc.items():
        first = citations[0]
        passages = [p for p in answer.passages if p.doc_id == doc_id]
        cards.append(
            SourceCard(
                doc_id=doc_id,
                title=first.title,
                outlet=first.outlet,
                published=first.published,
                citations=citations,
                excerpts=_excerpts(citations, passages),
            )
        )
    return cards


def uncited(answer: Answer) -> list[Passage]:
    """Retrieved passages no citation points into."""
    cited = {c.chunk_id for c in answer.citations}
    return [p for p in answer.passages if p.chunk_id not in cited]


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The first `limit` characters of a passage, cut at a word boundary."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def passage_html(passage: Passage, *, full: bool = True) -> str:
    """A retrieved passage (for uncited passages and related coverage): its headline, outlet,
    date and text. No retrieval score: it means nothing to a reader."""
    text = passage.text if full else snippet(passage.text)
    meta = byline(passage.outlet, passage.published)
    return (
        f'<div class="nr-card"><div class="nr-title">{html.escape(passage.title)}</div>'
        f'<div class="nr-meta">{meta}</div>{dates_line(passage.event_dates)}'
        f'<div class="nr-text">{html.escape(text)}</div></div>'
    )


SHOWN_DOCUMENTS = 200


def document_list(documents: list[DocumentInfo], limit: int = SHOWN_DOCUMENTS) -> str:
    """The sidebar's list of articles, newest first: each headline whole (it wraps), under
    its date and outlet; past `limit`, how many more there are."""
    ordered = sorted(documents, key=lambda d: (d.published or "", d.doc_id), reverse=True)
    items = "".join(
        f'<li><span class="nr-meta">{byline(d.outlet, d.published)}</span><br>'
        f"{html.escape(d.title or d.doc_id)}</li>"
        for d in ordered[:limit]
    )
    more = len(ordered) - limit
    tail = f'<div class="nr-meta">and {more:,} more</div>' if more > 0 else ""
    return f'<ul class="nr-docs">{items}</ul>{tail}'
