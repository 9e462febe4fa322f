"""Web sources: RSS/Atom feeds (from a URL or a local file) and single article pages.

Everything comes back as `Record`s or `Problem`s, never as an exception: a feed that will not
parse, a page with no article in it or a server that does not answer is one `Problem` with a
one-line reason. Feeds are parsed from bytes we fetched ourselves; feedparser never fetches.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.ingest.records import Problem, Record, content_id
from rag.nlp.text import words

USER_AGENT = "news-rag/0.1 (+https://github.com/; article ingest)"
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/x-rss+xml",
        "application/xml",
        "text/xml",
        "text/rss+xml",
        "text/atom+xml",
    }
)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SCHEMES = ("http", "https")
_READ_SIZE = 64 * 1024
_SNIFF_SIZE = 2048
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf")
_XML_DECLARATION = re.compile(rb"\A<\?xml[^>]*\?>")
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr")


class SourceError(Exception):
    """A URL that could not be fetched; `str()` is the one-line reason shown to the user."""


@dataclass(frozen=True)
class Fetched:
    """What a URL answered: its address after redirects, its content type and its body."""

    url: str
    content_type: str
    body: bytes


# --- URLs and ids ---------------------------------------------------------------------------


def is_url(value: str) -> bool:
    """True for http:// and https:// URLs with a host; false for everything else."""
    try:
        parts = urllib.parse.urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in _SCHEMES and bool(parts.netloc)


def url_id(url: str) -> str:
    """A readable, stable id for a URL: `example.com-article-slug-1a2b3c4d`."""
    parts = urllib.parse.urlsplit(url.strip())
    host = (parts.hostname or "").removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    last = re.sub(r"\.(?:s?html?|php|aspx?)$", "", segments[-1]) if segments else ""
    slug = "-".join(p for p in (_slug(host), _slug(last)[:60]) if p)
    without_fragment = urllib.parse.urlunsplit(parts._replace(fragment=""))
    return f"{slug or 'web'}-{_short_hash(without_fragment)}"


def _slug(value: str) -> str:
    """Lower-case letters, digits, dots and dashes only."""
    return re.sub(r"[^a-z0-9.]+", "-", value.lower()).strip("-.")


def _short_hash(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:8]


def _entry_id(guid: str, feed_key: str) -> str:
    """The id of an entry whose guid is not a URL; the feed is hashed in so that a bare guid
    ("123") from one feed cannot collide with the same guid from another."""
    return f"{_slug(guid)[:60] or 'entry'}-{_short_hash(feed_key, guid)}"


# --- fetching -------------------------------------------------------------------------------


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to http(s) URLs (never to file:, ftp:, …)."""

    def http_error_302(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any
    ) -> Any:
        target = headers.get("location") or headers.get("uri")
        if target and not is_url(urllib.parse.urljoin(req.full_url, target)):
            fp.close()
            raise SourceError(f"redirected to a non-web address ({target[:100]})")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def fetch(url: str, timeout: float = 15.0, max_bytes: int = 20 * 2**20) -> Fetched:
    """GET an http(s) URL, following redirects; raises `SourceError` with a one-line reason.

    `timeout` bounds every network wait and, checked between reads, the whole download.
    """
    if not is_url(url):
        raise SourceError(f"not an http(s) URL: {url[:200]}")
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url.strip(), headers={"User-Agent": USER_AGENT})
    opener = urllib.request.build_opener(_HttpOnlyRedirects())
    try:
        with opener.open(request, timeout=timeout) as response:
            _check_declared_size(response.headers.get("Content-Length"), max_bytes)
            body = _read_body(response, max_bytes, deadline, timeout)
            return Fetched(response.geturl(), response.headers.get("Content-Type", ""), body)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise SourceError(_http_status(exc.code, exc.reason)) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise SourceError(_timed_out(timeout)) from None
        raise SourceError(_cannot_connect(exc.reason, url)) from None
    except TimeoutError:
        raise SourceError(_timed_out(timeout)) from None
    except http.client.IncompleteRead:
        raise SourceError("the connection closed before the whole body arrived") from None
    except http.client.HTTPException as exc:
        raise SourceError(f"not a valid HTTP response ({type(exc).__name__})") from None
    except OSError as exc:
        raise SourceError(f"connection lost: {_os_reason(exc)}") from None


def _read_body(response: Any, max_bytes: int, deadline: float, timeout: float) -> bytes:
    """The body read piece by piece, so size and overall time are enforced as it arrives."""
    chunks: list[bytes] = []
    size = 0
    # read1 returns after one socket read, so a server trickling bytes cannot hold one call
    # open past the socket timeout and the deadline is checked often.
    while chunk := response.read1(_READ_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise SourceError(f"larger than {_size(max_bytes)}")
        if time.monotonic() > deadline:
            raise SourceError(_timed_out(timeout))
        chunks.append(chunk)
    return b"".join(chunks)


def _check_declared_size(length: str | None, max_bytes: int) -> None:
    if length and length.strip().isdigit() and int(length) > max_bytes:
        raise SourceError(f"larger than {_size(max_bytes)}")


def _http_status(code: int, reason: object) -> str:
    if code < 400:  # a redirect urllib gave up on: a loop, or one without a target
        return f"HTTP {code}: too many or broken redirects"
    lines = str(reason or "").strip().splitlines()
    phrase = lines[0] if lines else ""
    if not phrase:
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            pass
    return f"HTTP {code} {phrase}".strip()


def _timed_out(timeout: float) -> str:
    return f"timed out after {timeout:g} s"


def _cannot_connect(reason: object, url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname or url
    if isinstance(reason, socket.gaierror):
        return f"cannot connect: host not found ({host})"
    if isinstance(reason, OSError):
        return f"cannot connect: {_os_reason(reason)} ({host})"
    return f"cannot connect: {reason} ({host})"


def _os_reason(exc: OSError) -> str:
    """'connection refused' rather than '[Errno 111] Connection refused'."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:g} MB"
    if n >= 2**10:
        return f"{n / 2**10:g} KB"
    return f"{n} bytes"


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _charset(content_type: str) -> str | None:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


# --- what a body is -------------------------------------------------------------------------


def is_feed(data: bytes, content_type: str = "") -> bool:
    """True when the content type names a feed or the document starts like RSS, Atom or RDF."""
    if _media_type(content_type) in FEED_TYPES:
        return True
    head = data[: _SNIFF_SIZE * 2].removeprefix(b"\xef\xbb\xbf").lstrip()
    head = _XML_DECLARATION.sub(b"", head, count=1).lstrip()[:_SNIFF_SIZE].lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return False
    return any(marker in head for marker in _FEED_MARKERS)


def _is_html(data: bytes, content_type: str) -> bool:
    media = _media_type(content_type)
    if media:
        return media in HTML_TYPES
    head = data[:_SNIFF_SIZE].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


# --- HTML to text ---------------------------------------------------------------------------


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed entry's content), paragraphs split by blank
    lines; trafilatura first, the bare text of the markup if it finds nothing."""
    import trafilatura

    document = f"<html><body><article>{fragment}</article></body></html>"
    text = trafilatura.extract(document, include_comments=False, include_tables=False)
    return _paragraphs(text or _markup_text(fragment))


def _markup_text(fragment: str) -> str:
    """Every piece of text in the markup, a line break after each block element."""
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return fragment
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return str(root.text_content())


def _paragraphs(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)


# --- pages ----------------------------------------------------------------------------------


def page_text(html: str, url: str | None = None) -> tuple[str, dict[str, str | None]]:
    """The article text of a page and its metadata (title, outlet, published as written,
    url when a web address); "" when the page holds no article."""
    import trafilatura

    # favor_precision: on a page with no article (an index, a consent wall) the default
    # extraction returns the menu; precision returns nothing, which is the honest answer.
    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=False, favor_precision=True
    )
    meta = trafilatura.extract_metadata(html, default_url=url)
    found = {
        "title": meta.title if meta else None,
        "outlet": meta.sitename if meta else None,
        "published": meta.date if meta else None,  # read as a date with the record
        "url": meta.url if meta and meta.url and is_url(meta.url) else None,
    }
    return text or "", found


def page_record(html: bytes | str, url: str, where: str) -> Record | Problem:
    """The article in one web page (text, title, outlet, date), or why there is none."""
    from trafilatura.utils import decode_file

    source = decode_file(html) if isinstance(html, bytes) else html
    text, found = page_text(source, url)
    if not text.strip():
        return Problem(where, "no article text found in the page")
    title, outlet, published, canonical = (
        found[k] for k in ("title", "outlet", "published", "url")
    )
    origins = {name: "web page metadata" for name, value in found.items() if value}
    origins.update(text="web page", id="page URL")
    origins.setdefault("url", "fetched URL")
    return Record(
        doc_id=url_id(url),
        text=_paragraphs(text),
        where=where,
        title=title,
        published=published,
        outlet=outlet,
        url=canonical or url,
        origins=origins,
    )


# --- feeds ----------------------------------------------------------------------------------


def feed_records(
    data: bytes,
    where: str,
    fetch_pages: Callable[[str], Fetched] | None = None,
    min_words: int = 80,
    *,
    base_url: str | None = None,
) -> Iterator[Record | Problem]:
    """One record per feed entry. An entry shorter than `min_words` words is replaced by the
    article its link points at when `fetch_pages` is given and that page has more to say.

    Relative links resolve against `base_url` (default: `where`, when it is a URL).
    """
    import feedparser

    base = base_url or (where if is_url(where) else None)
    headers = {"content-location": base} if base else None
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        yield Problem(where, "not an RSS/Atom feed")
        return
    if not parsed.entries:
        yield Problem(where, "the feed has no entries")
        return
    outlet = _clean_title(parsed.feed.get("title"), parsed.feed.get("title_detail"))
    feed_key = str(parsed.feed.get("link") or outlet or where)
    for number, entry in enumerate(parsed.entries, start=1):
        entry_where = f"{where} entry {number}"
        yield _entry_record(entry, entry_where, outlet, feed_key, fetch_pages, min_words)


def _entry_record(
    entry: Any,
    where: str,
    outlet: str | None,
    feed_key: str,
    fetch_pages: Callable[[str], Fetched] | None,
    min_words: int,
) -> Record | Problem:
    """One feed entry as a record: its own text, or its linked page's when that is longer."""
    origins: dict[str, str] = {}
    link = str(entry.get("link") or "").strip()
    url = link if is_url(link) else None
    title = _clean_title(entry.get("title"), entry.get("title_detail"))
    text, origins["text"] = _entry_text(entry)
    published, origins["published"] = _entry_date(entry)
    if len(words(text)) < min_words and fetch_pages is not None and url:
        page = _linked_page(url, where, fetch_pages)
        if isinstance(page, Record) and len(words(page.text)) > len(words(text)):
            text, origins["text"] = page.text, "linked page"
            if published is None and page.published:
                published, origins["published"] = page.published, "linked page"
    if not text:
        return Problem(where, "no text")
    if title:
        origins["title"] = "feed entry"
    if outlet:
        origins["outlet"] = "feed title"
    if url:
        origins["url"] = "feed entry link"
    doc_id, origins["id"] = _entry_doc_id(entry, url, feed_key, title, text)
    return Record(
        doc_id=doc_id,
        text=text,
        where=where,
        title=title,
        published=published,
        outlet=outlet,
        url=url,
        origins={k: v for k, v in origins.items() if v},
    )


def _entry_text(entry: Any) -> tuple[str, str]:
    """The entry's longest content, else its summary, as plain text; and where it came from."""
    contents = [c for c in entry.get("content") or [] if str(c.get("value") or "").strip()]
    if contents:
        best = max(contents, key=lambda c: len(str(c.get("value"))))
        return _detail_text(str(best.get("value")), best.get("type")), "feed entry content"
    summary = str(entry.get("summary") or "").strip()
    if summary:
        return _detail_text(summary, (entry.get("summary_detail") or {}).get("type")), (
            "feed entry summary"
        )
    return "", ""


def _detail_text(value: str, kind: object) -> str:
    """Text of a feed field: HTML converted, plain text only tidied."""
    if kind == "text/plain":
        return _paragraphs(value)
    return html_to_text(value)


def _clean_title(value: object, detail: object) -> str | None:
    """A title without markup or runs of whitespace (titles may be typed as HTML)."""
    text = str(value or "").strip()
    if "<" in text and isinstance(detail, dict) and detail.get("type") != "text/plain":
        text = _markup_text(text)
    return " ".join(text.split()) or None


def _entry_date(entry: Any) -> tuple[str | None, str]:
    for name in ("published", "updated"):
        parsed = entry.get(f"{name}_parsed")
        if parsed:
            return f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}", (
                f"feed entry '{name}'"
            )
    return None, ""


def _entry_doc_id(
    entry: Any, url: str | None, feed_key: str, title: str | None, text: str
) -> tuple[str, str]:
    """The entry's id (from its guid, else its link, else its content) and where it came from."""
    guid = str(entry.get("id") or "").strip()
    if guid:
        return (url_id(guid) if is_url(guid) else _entry_id(guid, feed_key)), "feed entry id"
    if url:
        return url_id(url), "feed entry link"
    prefix = _slug(feed_key.split("//")[-1])[:40] or "feed"
    return content_id(prefix, title, text), "content hash"


def _linked_page(url: str, where: str, fetch_pages: Callable[[str], Fetched]) -> Record | None:
    """The article an entry links to, or None when it cannot be fetched or holds none."""
    try:
        fetched = fetch_pages(url)
    except SourceError:
        return None
    if not _is_html(fetched.body, fetched.content_type):
        return None
    page = page_record(_decode(fetched), fetched.url, where)
    return page if isinstance(page, Record) else None


def _decode(fetched: Fetched) -> bytes | str:
    """The body as text when the server named a charset we know; else bytes to be sniffed."""
    charset = _charset(fetched.content_type)
    if charset:
        try:
            return fetched.body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return fetched.body


# --- entry points ---------------------------------------------------------------------------


def read_url(url: str, timeout: float = 15.0) -> Iterator[Record | Problem]:
    """The articles at a URL: every entry of a feed (short ones completed from their linked
    pages) or the one article of a page. Failures are `Problem`s, never exceptions."""
    try:
        fetched = fetch(url, timeout=timeout)
    except SourceError as exc:
        yield Problem(url, str(exc))
        return
    if is_feed(fetched.body, fetched.content_type):

        def fetch_page(link: str) -> Fetched:
            return fetch(link, timeout=timeout)

        yield from feed_records(fetched.body, url, fetch_page, base_url=fetched.url)
    elif _is_html(fetched.body, fetched.content_type):
        yield page_record(_decode(fetched), fetched.url, url)
    else:
        kind = _media_type(fetched.content_type) or "unknown"
        yield Problem(url, f"not a web page or feed (content type {kind})")


def read_feed_file(path: Path) -> Iterator[Record | Problem]:
    """The entries of a local RSS/Atom file, offline: linked pages are never fetched."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield Problem(path.name, f"cannot read the file ({_os_reason(exc)})")
        return
    yield from feed_records(data, path.name)
