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
    # Scanned pages: (start, end, page, x0, y0, x1, y1, confidence) of each recognised
    # line, its box in fractions of the page.
    lines: list[tuple] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)     # "path: what was repaired or not read" lines
    scanned_pages: list[int] = field(default_factory=list)   # pages left for OCR (the sandbox's child reads none)


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
    years: tuple[int, ...] = ()     # the years it speaks about (timeref.py), sorted
    ocr_confidence: float | None = None   # mean recognition confidence of its scanned text; None: none scanned
