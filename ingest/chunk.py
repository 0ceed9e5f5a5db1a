"""Sentence-aware passages: pack whole sentences of one section up to a size limit."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

from .sentences import split_sentences
from .types import Chunk, PageSpan, Section

Span = tuple[int, int]

# Where an over-long sentence may be cut: after a clause mark (not a thousands comma or
# a time like 8:30), else at whitespace, else anywhere safe.
_CLAUSE = re.compile(r"[，、：,:](?!\d)")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ChunkSettings:
    """How passages are cut; stored in the index manifest so a rebuild can be compared."""
    max_chars: int = 350          # no chunk longer (over-long sentences are cut)
    overlap_sentences: int = 1    # whole sentences repeated from the end of the previous chunk

    def __post_init__(self) -> None:
        if self.max_chars < 1 or self.overlap_sentences < 0:
            raise ValueError(f"bad chunk settings: {self}")

    def to_dict(self) -> dict:
        return asdict(self)


def pages_for(start: int, end: int, pages: list[PageSpan]) -> tuple[int, ...]:
    """Sorted distinct page numbers of the PageSpans overlapping [start, end)."""
    return tuple(sorted({p.page for p in pages if p.start < end and p.end > start}))


def _strip(text: str, a: int, b: int) -> Span:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _numeric(ch: str) -> bool:
    return ch.isdigit() or ch in ".%"


def _inside_token(text: str, c: int) -> bool:
    """True when cutting before index c would split a character or a number like 8536.9."""
    prev, cur = text[c - 1], text[c]
    if "\udc00" <= cur <= "\udfff" or unicodedata.combining(cur) or cur in "\u200d\ufe0f\ufe0e":
        return True
    return _numeric(prev) and _numeric(cur) and (prev.isdigit() or cur.isdigit())


def _cut_point(text: str, pos: int, limit: int) -> int:
    """Best index in (pos, pos+limit] at which to end a piece of an over-long sentence."""
    hi = pos + limit
    lo = pos + max(1, limit // 4)  # don't leave tiny slivers when a better cut exists
    clause = None
    for m in _CLAUSE.finditer(text, lo - 1, hi + 1):  # +1 so (?!\d) sees the next char
        if m.end() <= hi:
            clause = m.end()
    if clause is not None:
        return clause
    space = None
    for m in _SPACE.finditer(text, lo, hi + 1):
        space = m.start()
    if space is not None and space > pos:
        return space
    c = hi
    while c > pos + 1 and _inside_token(text, c):
        c -= 1
    return c if c > pos + 1 or not _inside_token(text, c) else hi


def _cut_sentence(text: str, span: Span, limit: int) -> list[Span]:
    """Cut one sentence into stripped pieces of at most `limit` characters."""
    pos, end = span
    pieces: list[Span] = []
    while end - pos > limit:
        c = _cut_point(text, pos, limit)
        a, b = _strip(text, pos, c)
        if a < b:
            pieces.append((a, b))
        pos, _ = _strip(text, c, end)
    if pos < end:
        pieces.append((pos, end))
    return pieces


def _units(text: str, start: int, end: int, limit: int) -> list[Span]:
    """Sentences of [start, end), over-long ones cut into pieces that fit."""
    units: list[Span] = []
    for s, e in split_sentences(text, start, end):
        units.extend(_cut_sentence(text, (s, e), limit) if e - s > limit else [(s, e)])
    return units


def _pack(units: list[Span], settings: ChunkSettings) -> list[Span]:
    """Greedy runs of consecutive units within max_chars, overlapping by whole units."""
    limit, out = settings.max_chars, []
    i, n = 0, len(units)
    while i < n:
        j = i
        while j + 1 < n and units[j + 1][1] - units[i][0] <= limit:
            j += 1
        out.append((units[i][0], units[j][1]))
        if j + 1 >= n:
            break
        nxt = j + 1
        # Repeat the tail of this chunk only if it is short and the next chunk can still
        # take the new unit j+1 - that keeps every chunk adding text, so the loop ends.
        for k in range(min(settings.overlap_sentences, j - i), 0, -1):
            o = j + 1 - k
            if (units[j][1] - units[o][0]) * 2 < limit and units[j + 1][1] - units[o][0] <= limit:
                nxt = o
                break
        i = nxt
    return out


def _section_spans(text: str, section: Section, settings: ChunkSettings) -> list[Span]:
    a, b = _strip(text, section.start, section.end)
    if a == b:
        return []
    if section.kind == "article" and b - a <= settings.max_chars:
        return [(a, b)]  # a law article is cited as a whole; keep it in one passage
    return _pack(_units(text, a, b, settings.max_chars), settings)


def chunk_document(
    doc_id: str,
    text: str,
    sections: list[Section],
    pages: list[PageSpan] = (),
    settings: ChunkSettings = ChunkSettings(),
) -> list[Chunk]:
    """Passages of `text` in document order; none crosses a section boundary."""
    sections = list(sections) or [Section(0, len(text), "", "")]
    chunks: list[Chunk] = []
    for section in sections:
        for s, e in _section_spans(text, section, settings):
            chunks.append(Chunk(doc_id, len(chunks), s, e, text[s:e], section.path, pages_for(s, e, pages)))
    return chunks
