"""Sentence spans of Chinese / English policy text (regex-based, offsets into the text).

Used at ingest (chunking ~1M characters) and at query time (extractive answers), so it
is one compiled regex plus a short check for English abbreviations.
"""
from __future__ import annotations

import re

from .zhtext import CJK_PUNCT, FULLWIDTH_MARKS, HAN

# Han ideographs plus full-width punctuation/forms: a half-width !?; next to these is
# Chinese punctuation typed on an English keyboard, not an English sentence end.
_CJK = HAN + CJK_PUNCT + FULLWIDTH_MARKS
_ZH_TERM = "。！？；…"
_HALF_TERM = "!?;"
# Closing quotes/brackets that belong to the sentence they follow (。” 。」 ！）).
_CLOSE = "”’\"'」』）)】》〉〕"
# Footnote marks printed right after a sentence end: ①..⑳, [9], ［9］.
_NOTE = r"(?:[\u2460-\u2473]|\[\d{1,3}\]|［\d{1,3}］)"

_BOUNDARY = re.compile(
    # every line break ends a sentence: a line is a paragraph or a heading
    r"(?P<nl>[\r\n\u2028\u2029])"
    # Chinese ends (full-width, or half-width in a Chinese context), with closers/notes
    rf"|(?P<zh>(?:[{_ZH_TERM}]|(?<=[{_CJK}])[{_HALF_TERM}]|[{_HALF_TERM}](?=[{_CLOSE}]*[{_CJK}]))"
    rf"[{_ZH_TERM}{_HALF_TERM}]*[{_CLOSE}]*{_NOTE}*)"
    # English ends: . ! ? then whitespace and something that can start a sentence
    rf"|(?P<en>[.!?]+[{_CLOSE}]*{_NOTE}*(?=[^\S\r\n]+[A-Z0-9\"“‘'(\[{_CJK}]))"
    # PDF/HTML extraction often drops the space: "abroad.However" (but not "U.S.Army")
    r"|(?P<glued>(?<=[a-z][a-z])[.!?](?=[A-Z][a-z]))"
)

# Lower-cased words that end in "." without ending a sentence.
_ABBREV = frozenset(
    "mr mrs ms dr prof sr jr st no nos vs etc fig figs art arts sec vol pp p cf al "
    "approx inc ltd co corp dept gov govt jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# Dotted abbreviations (U.S, e.g, i.e, a.m) and single initials (J. Smith).
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]|[A-Z]")
# A line that so far is only a list marker ("1." "2.3." "(4)." "iv.") is a heading number.
_MARKER = re.compile(r"[(（]?(?:\d+(?:\.\d+)*|[ivxlcIVXLC]+)[)）]?")


def _is_abbreviation(text: str, sent_start: int, dot: int) -> bool:
    """True when the "." at `dot` closes an abbreviation or a list number, not a sentence."""
    word_start = dot
    while word_start > sent_start and not text[word_start - 1].isspace() and dot - word_start < 20:
        word_start -= 1
    word = text[word_start:dot].lstrip("(\"'“‘")
    if word.lower() in _ABBREV or _DOTTED.fullmatch(word):
        return True
    return bool(_MARKER.fullmatch(text[sent_start:dot].strip()))


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) within [start, end), stripped of whitespace, in order."""
    end = len(text) if end is None else min(end, len(text))
    spans: list[tuple[int, int]] = []
    prev = start

    def emit(a: int, b: int) -> None:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            spans.append((a, b))

    for m in _BOUNDARY.finditer(text, start, end):
        if m.lastgroup in ("en", "glued") and text[m.start()] == "." and m.group().count(".") == 1:
            # only a lone "." can be an abbreviation; "..." / "!" / "?" always end
            if _is_abbreviation(text, prev, m.start()):
                continue
        emit(prev, m.end())
        prev = m.end()
    emit(prev, end)
    return spans


_TRAILING_NOTES = re.compile(rf"(?:\s*{_NOTE})+$")


def quotable_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences of text[start:end] that can be cited (and are embedded one
    by one at ingest): without a trailing footnote mark, and not just marks or labels."""
    out = []
    for s, e in split_sentences(text, start, end):
        m = _TRAILING_NOTES.search(text, s, e)
        if m and m.start() > s:
            e = m.start()                     # cite the sentence, not its footnote mark
        if len(re.sub(r"\W", "", text[s:e])) >= 4:
            out.append((s, e))
    return out


def sentence_table(chunks, doc_texts: dict[str, str]):
    """(m, 3) int32 rows (chunk row, start, end): every quotable sentence of every chunk,
    in chunk order (a sentence two overlapping chunks share is listed under each)."""
    import numpy as np
    rows = [(i, s, e) for i, c in enumerate(chunks)
            for s, e in quotable_sentences(doc_texts[c.doc_id], c.start, c.end)]
    return np.array(rows, dtype=np.int32).reshape(-1, 3)
