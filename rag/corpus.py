"""Load article files, clean boilerplate by general rules, and attach metadata.

The cleaned text is the canonical article text: chunks and citations hold offsets into it,
and `CleanText.source_offset` maps any of those offsets back to the file's own text.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InputError
from rag.text import words
from rag.types import SkippedFile

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})
METADATA_FILE = "metadata.json"

# A whole line that is page furniture rather than article text.
_JUNK_LINE = re.compile(
    r"""^(?:
        advertisement(?:\s*[-–:].*)?            # ad slots
      | (?:read\ more|related\ stories|related|see\ also|also\ read|more\ on\ this|recommended)
        \s*:.*                                  # inline promos and their headline
      | (?:share|tweet|email|print|pin\ it|whatsapp|comments?)
        (?:\ (?:this|on\ \w+))?(?:\ (?:article|story|page))?  # share buttons
      | .*\b(?:become\ a\ member|subscribe\ (?:now|today|to\ our)|sign\ up\ (?:for|to)\ our
             |support\ our\ journalism|shaping\ our\ journalism)\b.*   # membership promos
      | .*\b(?:your\ email\ address\ will\ not\ be\ published|required\ fields\ are\ marked)\b.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# A line that starts the footer: everything from it to the end is dropped, when it stands in
# the last half of the text and what follows it is short.
_FOOTER_START = re.compile(
    r"^(?:check\ also|leave\ a\ reply|leave\ a\ comment|you\ may\ also\ like|more\ stories"
    r"|popular\ stories|comments)\s*:?\s*$",
    re.IGNORECASE | re.VERBOSE,
)
# "Home / World / Headline": a breadcrumb trail.
_BREADCRUMB = re.compile(r"^[^/.!?]{1,40}(?:\s/\s[^/]{1,120}){2,}$")
_SENTENCE_PUNCTUATION = re.compile(r"[.,;!?\"“”]")


@dataclass(frozen=True)
class CleanText:
    """Cleaned article text plus the map back to the source text it was cut from."""

    text: str
    # (offset in cleaned text, offset in source text) at the start of each kept line.
    anchors: tuple[tuple[int, int], ...] = ()

    def source_offset(self, offset: int) -> int:
        """Offset in the source text of the character at `offset` in the cleaned text."""
        starts = [clean for clean, _ in self.anchors]
        i = max(bisect.bisect_right(starts, offset) - 1, 0)
        clean, source = self.anchors[i] if self.anchors else (0, 0)
        return source + (offset - clean)


@dataclass(frozen=True)
class Article:
    """One article ready to chunk: cleaned text, metadata and the hash of its file."""

    doc_id: str
    path: Path
    text: str
    sha256: str
    title: str
    outlet: str | None = None
    published: str | None = None
    url: str | None = None


@dataclass
class CorpusScan:
    """What a set of paths holds: articles, files skipped with reasons, folders to sync."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


class SkipFile(Exception):
    """A file that cannot be ingested; the message is the reason shown to the user."""


def is_junk_line(line: str) -> bool:
    """True for navigation, share, promo and comment-form lines (general rules, not per-site)."""
    stripped = line.strip()
    if _JUNK_LINE.match(stripped) or _BREADCRUMB.match(stripped):
        return True
    # Icon/menu strips: long runs of words with no sentence punctuation at all.
    return len(words(stripped)) >= 20 and not _SENTENCE_PUNCTUATION.search(stripped)


def clean(source: str) -> CleanText:
    """Drop boilerplate lines and footers; paragraphs are joined by one blank line."""
    lines = [(m.start(), m.group()) for m in re.finditer(r"[^\n]*", source) if m.group().strip()]
    for i, (start, line) in enumerate(lines):
        tail = len(source) - start
        if (
            start > len(source) // 2
            and tail < len(source) // 3
            and _FOOTER_START.match(line.strip())
        ):
            lines = lines[:i]
            break
    parts: list[str] = []
    anchors: list[tuple[int, int]] = []
    offset = 0
    for start, line in lines:
        if is_junk_line(line):
            continue
        body = line.strip()
        if offset:
            offset += 2  # the "\n\n" that joins paragraphs
        anchors.append((offset, start + line.index(body)))
        parts.append(body)
        offset += len(body)
    return CleanText("\n\n".join(parts), tuple(anchors))


def _decode(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise SkipFile("empty file")
    if b"\x00" in data:
        raise SkipFile("binary file")
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"not UTF-8 text (byte {exc.start})") from None


def _html_to_text(html: str) -> tuple[str, dict[str, str | None]]:
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False) or ""
    meta = trafilatura.extract_metadata(html)
    found = {
        "title": meta.title if meta else None,
        "outlet": meta.sitename if meta else None,
        "published": meta.date if meta else None,
        "url": meta.url if meta else None,
    }
    return text, found


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


def _markdown_to_text(source: str) -> tuple[str, dict[str, str | None]]:
    found: dict[str, str | None] = {}
    match = _FRONT_MATTER.match(source)
    if match:
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            if key.strip() in {"title", "outlet", "published", "url"} and value.strip():
                found[key.strip()] = value.strip().strip("\"'")
        # Blank out the front matter so offsets still point into the file's text.
        source = re.sub(r"[^\n]", " ", match.group(0)) + source[match.end() :]
    # Heading and quote markers are layout, not text.
    source = re.sub(r"(?m)^(\s*)(?:#{1,6}|>)\s", lambda m: " " * len(m.group(0)), source)
    return source, found


def _iso_date(value: object) -> str | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        return None


def _first_meaningful_line(text: str) -> str:
    for line in text.split("\n"):
        if len(words(line)) >= 3:
            return line.strip()[:200]
    return text.strip()[:200]


def read_article(path: Path, metadata: dict[str, object] | None = None) -> Article:
    """Read, clean and describe one file; raises `SkipFile` with the reason it can't be used."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SkipFile(f"unsupported file type {suffix or '(none)'}")
    source = _decode(path)
    found: dict[str, str | None] = {}
    if suffix in {".html", ".htm"}:
        source, found = _html_to_text(source)
    elif suffix in {".md", ".markdown"}:
        source, found = _markdown_to_text(source)
    cleaned = clean(source)
    if len(words(cleaned.text)) < 5:
        raise SkipFile("no article text after cleaning")
    meta = {**found, **{k: v for k, v in (metadata or {}).items() if v}}
    sha = hashlib.sha256(path.read_bytes() + json.dumps(meta, sort_keys=True).encode()).hexdigest()
    return Article(
        doc_id=path.stem,
        path=path,
        text=cleaned.text,
        sha256=sha,
        title=str(meta.get("title") or _first_meaningful_line(cleaned.text)),
        outlet=str(meta["outlet"]) if meta.get("outlet") else None,
        published=_iso_date(meta.get("published")),
        url=str(meta["url"]) if meta.get("url") else None,
    )


def _folder_metadata(folder: Path, cache: dict[Path, dict[str, dict[str, object]]]) -> dict:
    if folder not in cache:
        manifest = folder / METADATA_FILE
        try:
            cache[folder] = json.loads(manifest.read_text("utf-8")) if manifest.is_file() else {}
        except (ValueError, OSError) as exc:
            raise InputError(f"{manifest}: not a valid metadata file ({exc})") from None
    return cache[folder]


def scan(paths: list[Path]) -> CorpusScan:
    """Read every supported file under the given files and folders (folders recursively)."""
    result = CorpusScan()
    metadata_cache: dict[Path, dict[str, dict[str, object]]] = {}
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
        if path.is_dir():
            result.folders.append(path.resolve())
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.name != METADATA_FILE
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        else:
            files.append(path)
    seen: set[str] = set()
    for file in files:
        try:
            if file.stem in seen:
                raise SkipFile(f"duplicate document id {file.stem}")
            meta = _folder_metadata(file.parent, metadata_cache).get(file.stem)
            article = read_article(file, meta if isinstance(meta, dict) else None)
        except SkipFile as reason:
            result.skipped.append(SkippedFile(path=str(file), reason=str(reason)))
            continue
        except OSError as exc:
            result.skipped.append(
                SkippedFile(path=str(file), reason=f"unreadable ({exc.strerror})")
            )
            continue
        seen.add(article.doc_id)
        result.articles.append(article)
    return result
