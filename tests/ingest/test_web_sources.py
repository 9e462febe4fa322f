"""Feeds and web pages, read from a local HTTP server the tests start (loopback only)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag import RagEngine
from rag.ingest.records import Problem, Record
from rag.ingest.web import (
    Fetched,
    SourceError,
    feed_records,
    fetch,
    is_feed,
    is_url,
    page_record,
    read_feed_file,
    read_url,
)
from rag.nlp.embeddings import LocalEmbedder
from tests.conftest import settings

ARTICLE_PARAGRAPHS = [
    "The city council voted on Tuesday to close the old harbour bridge to heavy traffic after "
    "engineers found deep cracks in two of its supporting piers during a routine inspection.",
    "Mayor Ellen Park said the decision had not been taken lightly, because thousands of "
    "lorries cross the bridge every week to reach the container terminal on the east bank.",
    "Engineers told the council that repairs would take at least eighteen months and cost "
    "about forty million euros, most of it to be paid from the regional transport fund.",
    "Local businesses warned that the detour through the northern ring road would add an hour "
    "to every delivery, and asked the council for a temporary ferry service in the meantime.",
    "The council promised to publish a full traffic plan before the end of the month.",
]
FULL_SENTENCE = "temporary ferry service in the meantime"
LONG_BODY = " ".join(["Officials described the grain harvest as the best in a decade."] * 12)


def _article_page() -> str:
    paragraphs = "\n".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS)
    return f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Harbour bridge closed to lorries | Harbour Gazette</title>
<meta property="og:title" content="Harbour bridge closed to lorries">
<meta property="og:site_name" content="Harbour Gazette">
<meta property="article:published_time" content="2024-03-05T09:30:00+00:00">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article><h1>Harbour bridge closed to lorries</h1>
{paragraphs}
</article>
<footer><a href="/about">About us</a></footer>
</body></html>"""


NAV_PAGE = """<!DOCTYPE html><html><head><title>Index</title></head><body>
<nav><ul><li><a href="/a">News</a></li><li><a href="/b">Sport</a></li>
<li><a href="/c">Weather</a></li></ul></nav></body></html>"""


def _rss(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
<title>Harbour Gazette</title>
<link>{base}/</link>
<description>News from the harbour</description>
<item>
  <title>Grain harvest best in a decade</title>
  <link>{base}/news/grain-harvest.html</link>
  <guid>{base}/news/grain-harvest.html</guid>
  <pubDate>Mon, 04 Mar 2024 08:00:00 GMT</pubDate>
  <description>Short teaser.</description>
  <content:encoded><![CDATA[<p>{LONG_BODY}</p><p>Farmers expect prices to fall.</p>]]>
  </content:encoded>
</item>
<item>
  <title>Harbour bridge closed to lorries</title>
  <link>/article</link>
  <guid isPermaLink="false">gazette-4711</guid>
  <description>The council closed the bridge.</description>
</item>
<item>
  <title>Ferry timetable &amp; fares change</title>
  <link>{base}/news/ferry</link>
  <pubDate>Sun, 03 Mar 2024 12:00:00 GMT</pubDate>
  <description>{LONG_BODY}</description>
</item>
<item>
  <title>Click here</title>
  <link>javascript:alert(1)</link>
  <description>{LONG_BODY}</description>
</item>
</channel>
</rss>"""


ATOM = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Valley Times</title>
  <id>urn:uuid:60a76c80-d399-11d9-b91C-0003939e0af6</id>
  <updated>2024-02-10T18:30:02Z</updated>
  <entry>
    <title type="html">Snow &lt;em&gt;closes&lt;/em&gt; mountain pass</title>
    <link rel="alternate" href="https://valley.example/2024/02/snow-closes-pass"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <updated>2024-02-10T18:30:02Z</updated>
    <content type="html">&lt;p&gt;{LONG_BODY}&lt;/p&gt;</content>
  </entry>
</feed>"""


@dataclass
class Site:
    """The test server: its base URL and the paths it was asked for."""

    base: str
    requested: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


def _handler(site: Site, release: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def _send(self, body: bytes | str, content_type: str, status: int = 200) -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            site.requested.append(self.path)
            routes: dict[str, tuple[bytes | str, str]] = {
                "/feed.rss": (_rss(site.base), "application/rss+xml; charset=utf-8"),
                "/atom": (ATOM, "application/atom+xml"),
                "/article": (_article_page(), "text/html; charset=utf-8"),
                "/nav": (NAV_PAGE, "text/html"),
                "/not-a-feed.rss": (NAV_PAGE, "application/rss+xml"),
                "/data.bin": (b"\x00\x01\x02", "application/octet-stream"),
            }
            if self.path in routes:
                self._send(*routes[self.path])
            elif self.path == "/old-article":
                self.send_response(301)
                self.send_header("Location", "/article")
                self.end_headers()
            elif self.path == "/to-file":
                self.send_response(302)
                self.send_header("Location", "file:///etc/passwd")
                self.end_headers()
            elif self.path == "/stall":
                self._stall(trickle=False)
            elif self.path == "/trickle":
                self._stall(trickle=True)
            elif self.path == "/huge":
                self._huge()
            else:
                self.send_error(404)

        def _stall(self, trickle: bool) -> None:
            """Headers and a little body, then nothing (or a byte now and then)."""
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                self.wfile.write(b"<html><body><p>Start")
                self.wfile.flush()
                while not release.wait(0.2 if trickle else 5):
                    self.wfile.write(b".")
                    self.wfile.flush()
            except OSError:
                pass

        def _huge(self) -> None:
            """A large body with no Content-Length: only counting while reading can stop it."""
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"x" * 16384)
            except OSError:
                pass

    return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    release = threading.Event()
    holder = Site(base="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder, release))
    holder.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder
    release.set()
    server.shutdown()
    server.server_close()


def _records(items: Iterator[Record | Problem]) -> list[Record]:
    found = list(items)
    problems = [p for p in found if isinstance(p, Problem)]
    assert not problems, problems
    return [r for r in found if isinstance(r, Record)]


def _only_problem(items: Iterator[Record | Problem]) -> Problem:
    found = list(items)
    assert len(found) == 1 and isinstance(found[0], Problem), found
    return found[0]


# --- feeds ----------------------------------------------------------------------------------


def test_rss_feed_entries_with_metadata_and_stable_ids(site: Site) -> None:
    first = _records(read_url(site.url("/feed.rss"), timeout=5))
    again = _records(read_url(site.url("/feed.rss"), timeout=5))

    assert [r.doc_id for r in first] == [r.doc_id for r in again]
    assert len({r.doc_id for r in first}) == 4
    grain, bridge, ferry, click = first

    assert grain.title == "Grain harvest best in a decade"
    assert grain.published == "2024-03-04"
    assert grain.outlet == "Harbour Gazette"
    assert grain.url == site.url("/news/grain-harvest.html")
    assert grain.doc_id.startswith("127.0.0.1-grain-harvest-")
    assert "Farmers expect prices to fall." in grain.text
    assert "\n\n" in grain.text  # paragraphs kept apart
    assert "<p>" not in grain.text and not grain.is_html
    assert grain.origins["text"] == "feed entry content"
    assert grain.origins["published"] == "feed entry 'published'"
    assert grain.origins["outlet"] == "feed title"
    assert grain.origins["id"] == "feed entry id"
    assert grain.where == f"{site.url('/feed.rss')} entry 1"

    assert ferry.title == "Ferry timetable & fares change"
    assert ferry.origins["id"] == "feed entry link"  # no guid
    assert ferry.url == site.url("/news/ferry")

    assert click.url is None  # javascript: links are not kept
    assert "url" not in click.origins
    assert click.origins["id"] == "content hash"


def test_short_entry_gets_its_linked_page(site: Site) -> None:
    bridge = _records(read_url(site.url("/feed.rss"), timeout=5))[1]

    assert bridge.url == site.url("/article")  # relative link resolved against the feed
    assert FULL_SENTENCE in bridge.text
    assert bridge.origins["text"] == "linked page"
    assert bridge.title == "Harbour bridge closed to lorries"  # the entry's own title
    assert bridge.published == "2024-03-05"  # the entry had none: the page's date
    assert bridge.origins["published"] == "linked page"
    assert bridge.origins["id"] == "feed entry id"
    # entries long enough on their own send no request for their pages
    assert "/news/grain-harvest.html" not in site.requested


def test_short_entry_keeps_its_summary_when_the_page_fails() -> None:
    feed = _rss("http://127.0.0.1:9").encode()

    def failing(url: str) -> Fetched:
        raise SourceError("HTTP 503 Service Unavailable")

    records = _records(feed_records(feed, "gazette.rss", fetch_pages=failing))
    assert records[1].text == "The council closed the bridge."
    assert records[1].origins["text"] == "feed entry summary"


def test_atom_feed(site: Site) -> None:
    (entry,) = _records(read_url(site.url("/atom"), timeout=5))

    assert entry.title == "Snow closes mountain pass"  # markup in an HTML title is dropped
    assert entry.published == "2024-02-10"
    assert entry.origins["published"] == "feed entry 'updated'"
    assert entry.outlet == "Valley Times"
    assert entry.url == "https://valley.example/2024/02/snow-closes-pass"
    assert entry.doc_id.startswith("urn-uuid-1225c695")
    assert "grain harvest" in entry.text


def test_local_feed_file_is_read_offline(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "gazette.rss"
    path.write_text(_rss(site.base), encoding="utf-8")
    before = list(site.requested)

    records = _records(read_feed_file(path))
    again = _records(read_feed_file(path))

    assert site.requested == before  # nothing fetched
    assert [r.title for r in records][0] == "Grain harvest best in a decade"
    assert [r.doc_id for r in records] == [r.doc_id for r in again]
    assert records[1].text == "The council closed the bridge."
    assert records[1].url is None  # "/article" is relative and a file has no base URL
    assert records[0].where == "gazette.rss entry 1"


def test_feed_problems(tmp_path: Path) -> None:
    assert _only_problem(feed_records(NAV_PAGE.encode(), "x.rss")).reason == (
        "not an RSS/Atom feed"
    )
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
    assert _only_problem(feed_records(empty, "x.rss")).reason == "the feed has no entries"

    bare = b"""<rss version="2.0"><channel><title>T</title>
        <item><title>Nothing here</title></item></channel></rss>"""
    problem = _only_problem(feed_records(bare, "bare.rss"))
    assert problem == Problem("bare.rss entry 1", "no text")

    missing = _only_problem(read_feed_file(tmp_path / "missing.rss"))
    assert missing.where == "missing.rss" and "cannot read" in missing.reason


def test_html_served_as_a_feed(site: Site) -> None:
    problem = _only_problem(read_url(site.url("/not-a-feed.rss"), timeout=5))
    assert problem.reason == "not an RSS/Atom feed"


# --- pages ----------------------------------------------------------------------------------


def test_article_page(site: Site) -> None:
    (page,) = _records(read_url(site.url("/article"), timeout=5))
    (again,) = _records(read_url(site.url("/article"), timeout=5))

    assert page.doc_id == again.doc_id
    assert page.doc_id.startswith("127.0.0.1-article-")
    assert page.title == "Harbour bridge closed to lorries"
    assert page.outlet == "Harbour Gazette"
    assert page.published == "2024-03-05"
    assert page.url == site.url("/article")
    assert page.text.count("\n\n") >= len(ARTICLE_PARAGRAPHS) - 1
    assert FULL_SENTENCE in page.text
    assert "About us" not in page.text


def test_redirect_is_followed(site: Site) -> None:
    fetched = fetch(site.url("/old-article"), timeout=5)
    assert fetched.url == site.url("/article")
    assert fetched.content_type.startswith("text/html")


def test_page_without_article(site: Site) -> None:
    problem = _only_problem(read_url(site.url("/nav"), timeout=5))
    assert problem.reason == "no article text found in the page"
    assert page_record(NAV_PAGE, "https://x.example/", "x") == Problem(
        "x", "no article text found in the page"
    )


def test_not_a_page_or_feed(site: Site) -> None:
    problem = _only_problem(read_url(site.url("/data.bin"), timeout=5))
    assert problem.reason == "not a web page or feed (content type application/octet-stream)"


# --- fetch failures: one Problem each, never an exception ----------------------------------


def test_http_error(site: Site) -> None:
    problem = _only_problem(read_url(site.url("/missing"), timeout=5))
    assert problem == Problem(site.url("/missing"), "HTTP 404 Not Found")


@pytest.mark.parametrize("path", ["/stall", "/trickle"])
def test_timeout(site: Site, path: str) -> None:
    start = time.monotonic()
    problem = _only_problem(read_url(site.url(path), timeout=1))
    assert problem.reason == "timed out after 1 s"
    assert time.monotonic() - start < 3


def test_body_too_large(site: Site) -> None:
    with pytest.raises(SourceError, match="larger than 64 KB"):
        fetch(site.url("/huge"), timeout=5, max_bytes=64 * 1024)
    assert len(fetch(site.url("/huge"), timeout=5).body) == 64 * 16384


def test_connection_refused() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    problem = _only_problem(read_url(f"http://127.0.0.1:{port}/", timeout=2))
    assert problem.reason.startswith("cannot connect: ")


def test_only_web_urls(site: Site) -> None:
    assert is_url("https://example.com/a") and is_url("HTTP://example.com")
    for value in ("file:///etc/passwd", "javascript:alert(1)", "ftp://x/y", "example.com", ""):
        assert not is_url(value)
    assert _only_problem(read_url("file:///etc/passwd")).reason.startswith("not an http(s) URL")
    with pytest.raises(SourceError, match="non-web address"):
        fetch(site.url("/to-file"), timeout=5)


def test_is_feed() -> None:
    assert is_feed(b"", "application/rss+xml; charset=utf-8")
    assert is_feed(b'\xef\xbb\xbf <?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>')
    assert is_feed(b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>')
    assert is_feed(b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="x"/>')
    assert not is_feed(NAV_PAGE.encode(), "text/html")
    assert not is_feed(b"<html><body>see our <feed> page</body></html>")


def test_engine_ingests_a_feed_url_and_skips_bad_addresses_keeping_the_index(
    site: Site, seeded_copy: Path, embedder: LocalEmbedder
) -> None:
    engine = RagEngine(settings(seeded_copy), embedder=embedder)
    before = {d.doc_id for d in engine.documents()}
    report = engine.ingest(
        [site.url("/feed.rss"), site.url("/missing"), site.url("/nav"), site.url("/data.bin")]
    )
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons[site.url("/missing")] == "HTTP 404 Not Found"
    assert reasons[site.url("/nav")] == "no article text found in the page"
    assert "not a web page or feed" in reasons[site.url("/data.bin")]
    after = {d.doc_id for d in engine.documents()}
    assert before < after and report.added == len(after - before) >= 3
    assert report.date_origins.get("none", 0) < report.read
    again = engine.ingest([site.url("/feed.rss")])
    assert again.embedded == 0 and again.unchanged == report.added
