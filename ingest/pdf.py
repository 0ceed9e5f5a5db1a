"""PDF loading with PyMuPDF: text page by page, each page's span of the joined text.
Pages without a text layer (scans) are read by OCR (ingest.scan) when it is installed."""
from __future__ import annotations

import re

import pymupdf

from .errors import FileSkipped
from .load import one_line
from .types import PageSpan, RawDocument


def load_pdf(name: str, data: bytes, ocr=None) -> RawDocument:
    """PDF bytes -> RawDocument with one PageSpan per page; FileSkipped when unusable.
    `ocr`: an ingest.ocr.Recognizer for the scanned pages (None: they are reported)."""
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
        texts = _page_texts(name, doc)
        metadata = _pdf_meta(doc.metadata or {})
        repaired = doc.is_repaired
        blank = [n for n, t in enumerate(texts, start=1) if not t.strip()]
        scans = [n for n in blank if _has_marks(doc[n - 1])]
        # MuPDF rebuilds a truncated file from what is left; pages whose content went missing
        # come back blank. Indexing the rest would silently lose text.
        if repaired and len(scans) < len(blank):
            bad = next(n for n in blank if n not in scans)
            raise FileSkipped(name, f"not a readable PDF: damaged or truncated (page {bad} "
                                    f"of {len(texts)} unreadable)")
        from .scan import assemble, read_pages
        scanned = read_pages(name, doc, scans, ocr)
    if len(blank) == len(texts) and not scanned.pages:
        why = scanned.failed[0]["reason"] if scanned.failed else "no text recognised"
        raise FileSkipped(name, f"PDF has no text layer (scanned images): {why}")
    for n, page in scanned.pages.items():
        texts[n - 1] = page.text
    return assemble(name, "pdf", texts, scanned, data, metadata)


def _has_marks(page: pymupdf.Page) -> bool:
    """Something to read on a page without text: an image, or vector drawing (outlined text)."""
    return bool(page.get_images(full=False)) or bool(page.get_cdrawings())


def _page_texts(name: str, doc: pymupdf.Document) -> list[str]:
    texts = []
    for number, page in enumerate(doc, start=1):
        try:
            text = page.get_text("text")
        except Exception as e:
            raise FileSkipped(name, f"not a readable PDF: page {number}: {one_line(e)}") from None
        texts.append(text.replace("\r\n", "\n").replace("\r", "\n"))
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
