"""PDF loading with PyMuPDF: text page by page, each page's span of the joined text."""
from __future__ import annotations

import re

import pymupdf

from .errors import FileSkipped
from .guard import LoadLimits, too_many_chars
from .load import one_line
from .types import PageSpan, RawDocument


def load_pdf(name: str, data: bytes, limits: LoadLimits | None = None) -> RawDocument:
    """PDF bytes -> RawDocument with one PageSpan per page; FileSkipped when unusable."""
    # MuPDF "repairs" almost anything; without a header it is surely another format
    # (an HTML error page saved as .pdf is the usual case).
    if b"%PDF" not in data[:1024]:
        raise FileSkipped(name, "not a readable PDF: no PDF header (is it really a PDF?)")
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as e:
        raise FileSkipped(name, f"not a readable PDF: {one_line(e)}") from None
    with doc:
        if doc.needs_pass:
            raise FileSkipped(name, "PDF is encrypted (it needs a password to open)")
        if doc.page_count == 0:
            raise FileSkipped(name, "not a readable PDF: it has no pages")
        texts = _page_texts(name, doc, limits or LoadLimits())
        metadata = _pdf_meta(doc.metadata or {})
        repaired = doc.is_repaired
    blank = [n for n, t in enumerate(texts, start=1) if not t.strip()]
    if len(blank) == len(texts):
        raise FileSkipped(name, "PDF has no text layer (scanned images); OCR is not supported")
    # MuPDF rebuilds a truncated file from what is left; pages whose content went missing
    # come back blank. Indexing the rest would silently lose text.
    if repaired and blank:
        raise FileSkipped(name, f"not a readable PDF: damaged or truncated (page {blank[0]} "
                                f"of {len(texts)} unreadable)")
    text, pages = join_pages(texts)
    return RawDocument(path=name, kind="pdf", text=text, pages=pages, metadata=metadata)


def _page_texts(name: str, doc: pymupdf.Document, limits: LoadLimits) -> list[str]:
    texts, size = [], 0
    for number, page in enumerate(doc, start=1):
        try:
            text = page.get_text("text")
        except Exception as e:
            raise FileSkipped(name, f"not a readable PDF: page {number}: {one_line(e)}") from None
        texts.append(text.replace("\r\n", "\n").replace("\r", "\n"))
        size += len(texts[-1]) + 1
        if size > limits.max_chars:            # stop reading, not only refuse at the end
            raise too_many_chars(name, limits)
    return texts


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


def _pdf_meta(info: dict) -> dict:
    meta: dict = {}
    title = (info.get("title") or "").strip()
    if title:
        meta["title"] = title
    authors = [a.strip() for a in re.split(r"[;；]", info.get("author") or "") if a.strip()]
    if authors:
        meta["authors"] = authors
    return meta
