"""Page texts joined into one document text, with the span of each page."""
from __future__ import annotations

from .types import PageSpan


def join_pages(texts: list[str]) -> tuple[str, list[PageSpan]]:
    """Join page texts with "\\n"; the spans partition the result.

    The separator belongs to the page before it, so every character, including the
    newlines between pages, maps to exactly one page.
    """
    pieces = [t + "\n" for t in texts[:-1]] + texts[-1:]
    pages, pos = [], 0
    for number, piece in enumerate(pieces, start=1):
        pages.append(PageSpan(pos, pos + len(piece), number))
        pos += len(piece)
    return "".join(pieces), pages
