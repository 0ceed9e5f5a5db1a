"""Headings of Chinese official and academic writing -> section paths.

Works on cleaned text (one paragraph or heading per line). Recognised, outermost first:
Markdown `#`…`######`, 第X编, 第X章, 第X节, 第X条 (an article), 一、, （一）, 1. / 1、,
（1）, and paragraphs opening with 一是/二是… . Inside an article, numbered items are
part of the article, not sections of their own, so an article can stay in one chunk.
"""
from __future__ import annotations

import re

from .types import Section
from .zhtext import HEADING_LEVELS

_MD = re.compile(r"^(#{1,6})\s+(.*)$")
_EN_TITLE = re.compile(r"^[A-Z][A-Za-z0-9,'’()\- ]{2,78}[A-Za-z0-9)]$")
_FIRST_SENTENCE = re.compile(r"^.*?[。！？；：:]")
MAX_TITLE = 50


def find_sections(text: str) -> list[Section]:
    """Partition `text` into sections, each with its heading path."""
    stack: list[tuple[int, str, str]] = []          # (rank, kind, title)
    sections: list[Section] = []
    start, path, kind = 0, "", ""
    pos = 0
    for line in text.split("\n"):
        head = _classify(line, stack)
        if head is not None:
            rank, hkind, title = head
            while stack and stack[-1][0] >= rank:
                stack.pop()
            stack.append((rank, hkind, title))
            if pos > start:
                sections.append(Section(start, pos, path, kind))
            start = pos
            path = " > ".join(t for _, _, t in stack)
            kind = hkind
        pos += len(line) + 1
    if len(text) > start or not sections:
        sections.append(Section(start, len(text), path, kind))
    return sections


def _classify(line: str, stack: list[tuple[int, str, str]]) -> tuple[int, str, str] | None:
    """(rank, kind, title) when `line` opens a section, else None."""
    s = line.strip()
    if not s:
        return None
    m = _MD.match(s)
    if m:
        return len(m.group(1)), "md", _title(m.group(2))
    in_article = any(k == "article" for _, k, _ in stack)
    for rank, kind, pat in HEADING_LEVELS:
        m = pat.match(s)
        if not m:
            continue
        if in_article and rank > 13:
            return None                      # items of an article stay inside it
        if kind == "article":
            return rank, kind, m.group(0)
        if kind in ("part", "chapter", "section"):
            return rank, kind, _title(s)
        if kind == "enum":
            return rank, kind, _title(re.split(r"[，。；：,]", s, maxsplit=1)[0], 24)
        return rank, kind, _heading_title(s)
    if _EN_TITLE.match(s) and len(s.split()) <= 12 and not s.endswith("."):
        return 5, "title", s                  # short English title line (no sentence end)
    return None


def _heading_title(s: str) -> str:
    """A heading line is its own title; an inline heading (`（一）着力…。正文…`) is its first sentence."""
    if len(s) <= MAX_TITLE and not re.search(r"[。！？；]", s[:-1]):
        return s
    m = _FIRST_SENTENCE.match(s)
    if m and len(m.group(0)) <= MAX_TITLE:
        return m.group(0).rstrip("：:")
    return _title(s)


def _title(s: str, limit: int = MAX_TITLE) -> str:
    s = s.strip()
    return s if len(s) <= limit else s[:limit - 1] + "…"
