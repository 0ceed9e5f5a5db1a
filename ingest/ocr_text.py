"""Recognised lines of one page -> page text: reading order, punctuation, indentation.

Pure functions. The result is shaped like a PDF extraction (one printed line per text
line, an indented first line of a paragraph starts with spaces), so the clean stage
repairs it exactly as it repairs extracted text. Reading order is rows top to bottom,
fragments left to right: multi-column pages and vertical text are not reordered.
"""
from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass, field

from .zhtext import CJK_PUNCT, FULLWIDTH, HAN_BMP


@dataclass(frozen=True)
class OcrLine:
    """One recognised line: its text, its box (x0, y0, x1, y1 as fractions of the page
    width and height) and the recogniser's confidence (0..1)."""
    text: str
    box: tuple[float, float, float, float]
    confidence: float


@dataclass(frozen=True)
class PageText:
    """A page's text; `lines[i] = (start, end, line)` with text[start:end] holding the
    line (and the newline after it), so the spans partition the text."""
    text: str
    lines: tuple[tuple[int, int, OcrLine], ...] = ()


def page_text(fragments: list[OcrLine], quotes: "QuoteState | None" = None) -> PageText:
    """Order the fragments into lines, normalise their punctuation, mark indented lines."""
    quotes = quotes if quotes is not None else QuoteState()
    rows = [_merge(r) for r in reading_order(fragments)]
    if not rows:
        return PageText("")
    left = statistics.median_low(sorted(r.box[0] for r in rows)[: max(1, len(rows) // 3)])
    height = statistics.median(r.box[3] - r.box[1] for r in rows)
    pieces, spans, pos = [], [], 0
    for i, row in enumerate(rows):
        text = normalize_punctuation(row.text, quotes)
        if not text:
            continue
        # A first line set in by about two characters: what a PDF extraction shows as
        # leading spaces, which the cleaner reads as the start of a paragraph.
        if row.box[0] - left > 1.2 * height:
            text = "\u3000\u3000" + text
        piece = text + "\n"
        pieces.append(piece)
        spans.append((pos, pos + len(piece), OcrLine(text.lstrip("\u3000"), row.box, row.confidence)))
        pos += len(piece)
    if not pieces:
        return PageText("")
    pieces[-1] = pieces[-1][:-1]          # no newline after the last line: join_pages adds one
    s, _, line = spans[-1]
    spans[-1] = (s, pos - 1, line)
    return PageText("".join(pieces), tuple(spans))


def span_confidence(lines, start: int, end: int) -> float | None:
    """Mean recognition confidence of the characters of [start, end) that lie on
    recognised lines (records (start, end, page, x0, y0, x1, y1, confidence)); None: none do."""
    chars = total = 0
    for a, b, *_, conf in lines:
        n = min(b, end) - max(a, start)
        if n > 0:
            chars += n
            total += n * conf
    return round(total / chars, 4) if chars else None


def reading_order(fragments: list[OcrLine]) -> list[list[OcrLine]]:
    """Rows of fragments, top to bottom; each row left to right.

    A fragment joins a row when most of its height overlaps the row's: a line the
    detector split at a wide gap (第一条   …) is one row again, and a page scanned a
    degree or two askew keeps its lines apart."""
    rows: list[list[OcrLine]] = []
    bands: list[list[float]] = []
    for f in sorted(fragments, key=lambda f: (f.box[1] + f.box[3]) / 2):
        top, bottom = f.box[1], f.box[3]
        for band, row in zip(bands, rows):
            overlap = min(bottom, band[1]) - max(top, band[0])
            if overlap > 0.5 * min(bottom - top, band[1] - band[0]):
                row.append(f)
                band[0], band[1] = min(band[0], top), max(band[1], bottom)
                break
        else:
            rows.append([f])
            bands.append([top, bottom])
    order = sorted(range(len(rows)), key=lambda i: bands[i][0])
    return [sorted(rows[i], key=lambda f: f.box[0]) for i in order]


def _merge(row: list[OcrLine]) -> OcrLine:
    """One line from a row's fragments: a space at a gap wider than a character."""
    text = row[0].text
    for prev, f in zip(row, row[1:]):
        gap = f.box[0] - prev.box[2]
        text += (" " if gap > (f.box[3] - f.box[1]) else "") + f.text
    box = (min(f.box[0] for f in row), min(f.box[1] for f in row),
           max(f.box[2] for f in row), max(f.box[3] for f in row))
    weights = [max(1, len(f.text)) for f in row]
    conf = sum(f.confidence * w for f, w in zip(row, weights)) / sum(weights)
    return OcrLine(text, box, conf)


# -- punctuation -----------------------------------------------------------------------
# What the recogniser confuses, measured on renderings of the seed article and corpus-extra
# documents: the opening double quote read as the closing one (or ASCII), footnote marks
# [1] in full-width or lenticular brackets, dashes read as 一 or -, 〈〉 as （）, and ASCII
# punctuation beside Chinese characters where the page has the full-width form.

_HAN = HAN_BMP
_CJK_TEXT = re.compile(f"[{HAN_BMP}{CJK_PUNCT}{FULLWIDTH}]")
_DOUBLE = "\"“”＂〝〞"
_SINGLE = "'‘’"
_OPEN_CONTEXT = set("，。；：、！？（《【「『")
_CLOSE_CONTEXT = set("，。；：、！？）》】」』.,;:!?)")
_FOOTNOTE = re.compile(r"[\[［【]\s*(\d{1,3})\s*[\]］】」]")
_YEAR_DASH = re.compile(r"(?<=\d)[一－](?=\d)")
_PAGE_NUMBER = re.compile(r"^[一—–\-－]\s*(\d{1,4})\s*[一—–\-－]$")
# A dash (——) opening a line, before an enumerated point or a date: read as -, — or 一一
# (a single 一 stays: 一是, 一批 open lines too).
_LEADING_DASH = re.compile(rf"^(?:[-－—–]{{1,2}}|一一|一(?=\d))(?=[{_HAN}\d])")
_ASCII_PUNCT = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_LATIN_L = re.compile(r"(?<=[A-Za-z])丨|丨(?=[A-Za-z])")       # "l" in a Latin word read as 丨
# A title inside a title, 《关于修改〈中华人民共和国专利法〉的决定》, whose 〈〉 come back as （） or <>.
_INNER_TITLE = re.compile(rf"[（(<〈]([{_HAN}]{{2,30}}?(?:法|条例|规定|决定|办法|纲要|规划|通知|意见|方案|细则|章程))[）)>〉]")


@dataclass
class QuoteState:
    """Which quotes are open, carried from line to line and page to page."""
    double: bool = False
    single: bool = False
    parens: list[bool] = field(default_factory=list)    # one per open "(": made full-width?
    last: str = ""        # the last character so far: a wrapped line goes on from it
    titles: int = 0       # open 《


def normalize_punctuation(text: str, state: QuoteState | None = None) -> str:
    """The punctuation forms the cleaner and the documents' own text use."""
    state = state if state is not None else QuoteState()
    text = unicodedata.normalize("NFKC", text) if re.search("[０-９Ａ-Ｚａ-ｚ]", text) else text
    text = text.strip()
    m = _PAGE_NUMBER.match(text)
    if m:
        return f"— {m.group(1)} —"
    text = _LEADING_DASH.sub("——", text)
    text = _FOOTNOTE.sub(lambda m: f"[{m.group(1)}]", text)
    text = _YEAR_DASH.sub("—", text)
    text = _LATIN_L.sub("l", text)
    text = _inner_titles(text, state)
    out: list[str] = []
    for i, ch in enumerate(text):
        prev = out[-1] if out else state.last
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if ch in _DOUBLE:
            ch, state.double = _quote(prev, nxt, state.double, "“", "”")
        elif ch in _SINGLE and (_is_cjk(prev) or _is_cjk(nxt) or ch != "'"):
            ch, state.single = _quote(prev, nxt, state.single, "‘", "’")
        elif ch in _ASCII_PUNCT and (_is_cjk(prev) or (_is_cjk(nxt) and not prev.isdigit())):
            ch = _ASCII_PUNCT[ch]
        elif ch in "(（":
            wide = ch == "（" or _is_cjk(prev) or _is_cjk(nxt)
            state.parens.append(wide)
            ch = "（" if wide else "("
        elif ch in ")）":
            wide = state.parens.pop() if state.parens else (ch == "）" or _is_cjk(prev))
            ch = "）" if wide or ch == "）" else ")"
        out.append(ch)
    if len(state.parens) > 8:         # an unclosed "(" must not decide the rest of the document
        state.parens.clear()
    state.last = out[-1] if out else state.last
    return "".join(out)


def _inner_titles(text: str, state: QuoteState) -> str:
    """〈〉 for a bracketed law or document name inside an open 《…》."""
    def fix(m: re.Match) -> str:
        before = text[:m.start()]
        return f"〈{m.group(1)}〉" if state.titles + before.count("《") - before.count("》") > 0 else m.group(0)
    out = _INNER_TITLE.sub(fix, text)
    state.titles = max(0, state.titles + out.count("《") - out.count("》"))
    if state.titles > 2:              # an unclosed 《 must not decide the rest of the document
        state.titles = 0
    return out


def _quote(prev: str, nxt: str, is_open: bool, opening: str, closing: str) -> tuple[str, bool]:
    """Opening or closing form of a quote; returns (form, open afterwards)."""
    if nxt in _CLOSE_CONTEXT and nxt:
        return closing, False
    if prev in _OPEN_CONTEXT and nxt:
        return opening, True
    return (closing, False) if is_open else (opening, True)


def _is_cjk(ch: str) -> bool:
    return bool(ch) and bool(_CJK_TEXT.match(ch))
