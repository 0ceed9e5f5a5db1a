"""Plain data passed between the ingest stages (load -> clean -> structure -> chunk)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PageSpan:
    """Characters [start, end) of a text come from page `page` (1-based)."""
    start: int
    end: int
    page: int


@dataclass
class RawDocument:
    """What a loader read from one file, before cleaning."""
    path: str
    kind: str                                   # txt | md | html | pdf | docx
    text: str                                   # extracted text, lines as in the source
    pages: list[PageSpan] = field(default_factory=list)   # empty when the format has no pages
    metadata: dict = field(default_factory=dict)          # what the file itself says (title, ...)
    encoding: str | None = None                 # detected text encoding, for text formats
    warnings: list[str] = field(default_factory=list)     # "path: what was repaired" lines


@dataclass(frozen=True)
class Cleaned:
    """Cleaned text plus, for every cleaned character, its offset in the raw text."""
    text: str
    source: tuple[int, ...]


@dataclass(frozen=True)
class Section:
    """A span of the cleaned text governed by one heading path.

    Sections partition the document in order: sections[i].end == sections[i+1].start.
    `kind` is the kind of the innermost heading ("article" for 第X条, "" before any heading).
    """
    start: int
    end: int
    path: str          # "一、… > （二）…"; "" for text before the first heading
    kind: str = ""


@dataclass(frozen=True)
class Chunk:
    """A passage: text == document_text[start:end]."""
    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    section: str
    pages: tuple[int, ...] = ()
