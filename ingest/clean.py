"""Repair extracted text: join hard-wrapped lines, drop stray spaces, page furniture.

`clean(raw, pages)` is a pure function. Every cleaned character remembers the offset
of the raw character it came from (`Cleaned.source`), so page numbers of PDFs survive.
The result has one paragraph or heading per line, separated by single newlines.
"""
from __future__ import annotations

import re
import statistics
import unicodedata

from .types import Cleaned, PageSpan
from .zhtext import CJK_CONTEXT, ENUM_START, FOOTNOTE_MARKS, HAN_URO, HEADING_START, NUMERALS

# Characters set in a CJK context: ideographs, CJK and full-width punctuation.
_CJK = CJK_CONTEXT
_FOOTNOTE = FOOTNOTE_MARKS
_SPACE = " \t\u00a0\u2002\u2003\u2009\u202f\u3000"
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_TERMINAL = re.compile(
    rf"[。！？；…!?;][”’」』）)]*(?:[{_FOOTNOTE}]|\[\d{{1,3}}\]|［\d{{1,3}}］)*$")
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–]?\s*\d{1,4}\s*[-—–]?|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+"
    r"|(?:page|Page|PAGE)\s+\d+(?:\s+of\s+\d+)?)$")


class _Text:
    """A string whose characters each carry a source offset."""

    __slots__ = ("chars", "src", "indented", "last")

    def __init__(self, chars: str, src: list[int], indented: bool = False):
        self.chars, self.src = chars, src
        self.indented = indented      # the raw line began with a space (a new block in PDFs)
        self.last = chars             # the last wrapped line joined into this paragraph

    def __add__(self, other: "_Text") -> "_Text":
        return _Text(self.chars + other.chars, self.src + other.src)

    def strip(self) -> "_Text":
        s = self.chars
        a = len(s) - len(s.lstrip(_SPACE))
        b = len(s.rstrip(_SPACE))
        return _Text(s[a:b], self.src[a:b], indented=a > 0) if a < b else _Text("", [])

    def sub(self, pattern: re.Pattern, repl) -> "_Text":
        """re.sub that keeps offsets: kept characters keep theirs, new ones take the match start's."""
        out, src, pos = [], [], 0
        for m in pattern.finditer(self.chars):
            out.append(self.chars[pos:m.start()])
            src.extend(self.src[pos:m.start()])
            new = repl(m) if callable(repl) else m.expand(repl)
            out.append(new)
            src.extend(_align(m.group(0), new, self.src[m.start():m.end()]))
            pos = m.end()
        out.append(self.chars[pos:])
        src.extend(self.src[pos:])
        return _Text("".join(out), src)


def _align(old: str, new: str, old_src: list[int]) -> list[int]:
    """Offsets for `new`, which is usually `old` with characters deleted."""
    res, j = [], 0
    for ch in new:
        while j < len(old) and old[j] != ch:
            j += 1
        res.append(old_src[j] if j < len(old) else (old_src[0] if old_src else 0))
        j = min(j + 1, len(old))
    return res


def clean(raw: str, pages: list[PageSpan] | tuple = ()) -> Cleaned:
    """Clean `raw` extracted text; `pages` (PDFs) enables header/footer removal."""
    lines = _split_lines(raw)
    if pages:
        lines = _drop_page_furniture(lines, pages)
    paragraphs = _join_wrapped(lines) if _is_wrapped(lines) else _plain_paragraphs(lines)
    out: list[_Text] = []
    for p in paragraphs:
        p = _fix_spaces(p).strip()
        if p.chars:
            out.append(p)
    text, src = [], []
    for i, p in enumerate(out):
        if i:
            text.append("\n")
            src.append(p.src[0])
        text.append(p.chars)
        src.extend(p.src)
    return Cleaned("".join(text), tuple(src))


def _split_lines(raw: str) -> list[_Text]:
    """Lines with offsets; zero-width characters removed, control characters dropped."""
    lines, start = [], 0
    for part in raw.split("\n"):
        t = _Text(part, list(range(start, start + len(part))))
        t = t.sub(_ZERO_WIDTH, "")
        t = t.sub(re.compile(r"[\x00-\x08\x0b-\x1f\x7f\r]"), "")
        lines.append(t.strip())
        start += len(part) + 1
    return lines


def _width(s: str) -> float:
    """Display width: full-width characters 1, others 1/2, spaces not counted."""
    return sum(1 if unicodedata.east_asian_width(c) in "WF" else 0.5 for c in s if c not in _SPACE)


def _is_wrapped(lines: list[_Text]) -> bool:
    """Hard-wrapped text (PDF extraction): most lines have nearly the same width."""
    widths = [round(_width(t.chars)) for t in lines if t.chars]
    if len(widths) < 12:
        return False
    w = _mode_width(widths)
    near = sum(1 for x in widths if w - 2.5 <= x <= w + 1.5)
    return w <= 60 and near >= 0.6 * len(widths)


def _mode_width(widths: list[float]) -> float:
    return statistics.mode(round(x) for x in widths)


def _ends_sentence(s: str) -> bool:
    return bool(_TERMINAL.search(s))


def _join_wrapped(lines: list[_Text]) -> list[_Text]:
    """Rebuild paragraphs of hard-wrapped text.

    Line breaks inside a sentence are always joined. After a sentence end the paragraph
    breaks when the line is short, or the next line starts a heading or an enumeration
    (一是…), or the next line was indented with a leading space in the extraction.
    """
    items = [t for t in lines if t.chars]
    W = _mode_width([_width(t.chars) for t in items])
    paras: list[_Text] = []
    i = 0
    while i < len(items):
        cur = items[i]
        if HEADING_START.match(cur.chars) and not _ends_sentence(cur.chars):
            cur, i = _collect_heading(items, i, W)
            paras.append(cur)
            continue
        i += 1
        # The paragraph's lines are joined once at its end, and only its tail is searched
        # for a sentence end: a paragraph of 300,000 short lines is linear work, not hours.
        run, tail = [cur], cur.chars[-_TAIL:]
        while i < len(items):
            nxt = items[i]
            w = _width(run[-1].chars)
            if HEADING_START.match(nxt.chars) or ENUM_START.match(nxt.chars):
                break
            if _ends_sentence(tail):
                if w < W - 1 or nxt.indented:
                    break
            elif w < W - 3.5:          # a short line that ends no sentence: a title or label
                break
            run.append(nxt)
            tail = (tail + _joint(tail, nxt.chars) + nxt.chars)[-_TAIL:]
            i += 1
        paras.append(cur if len(run) == 1 else _join_run(run))
    return paras


_TAIL = 64      # characters enough to see whether a paragraph ends a sentence (_TERMINAL)


def _joint(a: str, b: str) -> str:
    """What goes between two wrapped lines: nothing, except a space between two Latin words."""
    return " " if a and b and a[-1].isascii() and a[-1].isalnum() and b[0].isascii() and b[0].isalnum() else ""


def _join_run(run: list[_Text]) -> _Text:
    """Wrapped lines joined into one paragraph, in one pass."""
    chars, src = [run[0].chars], list(run[0].src)
    for a, b in zip(run, run[1:]):
        if _joint(a.chars, b.chars):
            chars.append(" ")
            src.append(b.src[0])
        chars.append(b.chars)
        src.extend(b.src)
    joined = _Text("".join(chars), src, indented=run[0].indented)
    joined.last = run[-1].chars
    return joined


def _concat(a: _Text, b: _Text) -> _Text:
    """Join two wrapped lines (see _joint)."""
    return _join_run([a, b])


def _collect_heading(items: list[_Text], i: int, W: float) -> tuple[_Text, int]:
    """A heading wrapped over lines: continue while the line was full and the next
    line has no sentence end, is not itself a heading, and does not look like the
    indented first line of a paragraph."""
    cur = items[i]
    last_w = _width(cur.chars)
    i += 1
    while i < len(items) and last_w >= W - 4:
        nxt = items[i]
        w = _width(nxt.chars)
        if (HEADING_START.match(nxt.chars) or ENUM_START.match(nxt.chars) or re.search(r"[。！？；]", nxt.chars)
                or W - 2.5 <= w < W - 1 or len(cur.chars) + len(nxt.chars) > 64):
            break
        cur = _concat(cur, nxt)
        last_w = w
        i += 1
        if w < W - 1:
            break
    return cur, i


def _plain_paragraphs(lines: list[_Text]) -> list[_Text]:
    """Text that is not hard-wrapped: each non-empty line is a paragraph."""
    return [t for t in lines if t.chars]


def _drop_page_furniture(lines: list[_Text], pages) -> list[_Text]:
    """Drop page numbers and running headers/footers (lines repeated at page edges)."""
    def page_of(t: _Text) -> int | None:
        if not t.src:
            return None
        off = t.src[0]
        for p in pages:
            if p.start <= off < p.end:
                return p.page
        return None

    by_page: dict[int, list[int]] = {}
    for idx, t in enumerate(lines):
        pg = page_of(t)
        if pg is not None and t.chars:
            by_page.setdefault(pg, []).append(idx)
    edges: dict[str, set[int]] = {}
    drop: set[int] = set()
    for pg, idxs in by_page.items():
        for idx in idxs[:2] + idxs[-2:]:
            s = lines[idx].chars
            if _PAGE_NUMBER.match(s):
                drop.add(idx)
            key = re.sub(r"\d+", "#", s)
            edges.setdefault(key, set()).add(pg)
    n_pages = len(by_page)
    repeated = {k for k, pgs in edges.items() if len(pgs) >= 3 and len(pgs) >= 0.4 * n_pages}
    for pg, idxs in by_page.items():
        for idx in idxs[:2] + idxs[-2:]:
            s = lines[idx].chars
            # Running headers are labels; a line that ends a sentence is body text.
            if re.sub(r"\d+", "#", s) in repeated and not _ends_sentence(s):
                drop.add(idx)
    return [t for k, t in enumerate(lines) if k not in drop]


_NAME_LINE = re.compile(rf"^[{HAN_URO}]{{1,4}}(?:[{_SPACE}]+[{HAN_URO}]{{1,4}})+$")
_CJK_SPACE_CJK = re.compile(rf"(?<=[{_CJK}])[{_SPACE}]+(?=[{_CJK}])")
_CJK_SPACE_LATIN = re.compile(rf"(?<=[{_CJK}])[{_SPACE}]+(?=[0-9A-Za-z%(\[])")
_LATIN_SPACE_CJK = re.compile(rf"(?<=[0-9A-Za-z%.)\]])[{_SPACE}]+(?=[{_CJK}])")
_CJK_DASH_CJK = re.compile(rf"(?<=[{_CJK}])[{_SPACE}]*([-–])[{_SPACE}]*(?=[{_CJK}])")
_DIGIT_GROUPS = re.compile(rf"(?<![\d.,])\d{{1,3}}(?:[{_SPACE}]\d{{3}})+(?!\d)")
_DECIMAL = re.compile(rf"(?<=\d)[{_SPACE}]*\.[{_SPACE}]*(?=\d)")
_PERCENT = re.compile(rf"(?<=\d)[{_SPACE}]+(?=%)")
_MULTI_SPACE = re.compile(rf"[{_SPACE}]{{2,}}")
_ARTICLE_HEAD = re.compile(rf"^(第[{NUMERALS}\d]+[编章节条])[{_SPACE}]+")
_HOLD = "\ue000"
_HELD = re.compile(_HOLD)
_FOOTNOTE_DIGIT = re.compile(rf"(?:[{_FOOTNOTE}]|\[\d{{1,3}}\])[{_SPACE}]+(?=\d)")


def _fix_spaces(t: _Text) -> _Text:
    """Remove the stray spaces of PDF extraction while keeping those English needs."""
    if _NAME_LINE.match(t.chars):
        names = _fix_name_line(t)
        # Only a line of 2-4 character names is an author line; `能级 定 位 进 一 步 升 级`
        # joins into pieces no name has and is ordinary text spaced out by the extraction.
        if all(2 <= len(p) <= 4 for p in names.chars.split(" ")):
            return names
    head = _ARTICLE_HEAD.match(t.chars)
    if head:   # keep one space after 第X条 / 第X章: it separates the label from the text
        n = head.end(1)
        rest = _fix_spaces(_Text(t.chars[n:], t.src[n:]).strip())
        return _Text(t.chars[:n] + " ", t.src[:n] + [t.src[n]]) + rest
    # A footnote mark followed by a number keeps its space, so the two never read as one
    # number: hold that space as a placeholder the rules below do not touch.
    t = t.sub(_FOOTNOTE_DIGIT, lambda m: m.group(0).rstrip(_SPACE) + _HOLD)
    t = t.sub(_DIGIT_GROUPS, lambda m: re.sub(rf"[{_SPACE}]", "", m.group(0)))
    t = t.sub(_DECIMAL, ".")
    t = t.sub(_PERCENT, "")
    t = t.sub(_CJK_DASH_CJK, r"\1")
    t = t.sub(_CJK_SPACE_CJK, "")
    t = t.sub(_CJK_SPACE_LATIN, "")
    t = t.sub(_LATIN_SPACE_CJK, "")
    t = t.sub(_HELD, " ")
    return t.sub(_MULTI_SPACE, " ")


def _fix_name_line(t: _Text) -> _Text:
    """An author line `庄芹芹  吴沁沁  谭  畅`: names stay apart, runs of one-character
    pieces (a name spaced out to fill the column) are joined."""
    tokens = list(re.finditer(f"[{HAN_URO}]+", t.chars))
    parts: list[_Text] = []
    for k, m in enumerate(tokens):
        piece = _Text(m.group(0), t.src[m.start():m.end()])
        glue = k > 0 and len(m.group(0)) == 1 and len(tokens[k - 1].group(0)) == 1
        if glue:
            parts[-1] = parts[-1] + piece
        else:
            parts.append(piece)
    out = parts[0]
    for p in parts[1:]:
        out = out + _Text(" ", [p.src[0]]) + p
    return out
