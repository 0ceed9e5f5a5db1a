"""PDF loading with PyMuPDF: text page by page, each page's span of the joined text.
Pages without a text layer (scans) are read by OCR (ingest.scan) when it is installed."""
from __future__ import annotations

import re

import pymupdf

from .errors import FileSkipped, one_line
from .guard import LoadLimits, too_many_chars
from .pages import join_pages
from .types import RawDocument


def load_pdf(name: str, data: bytes, limits: LoadLimits | None = None, ocr=None) -> RawDocument:
    """PDF bytes -> RawDocument with one PageSpan per page; FileSkipped when unusable.
    `ocr`: an ingest.ocr.Recognizer for the scanned pages (None: they are reported;
    load.DEFER: they are listed in `scanned_pages` for `read_scanned`, as the sandbox does)."""
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
        scans = [n for n in blank if _has_marks(doc[n - 1])]
        # MuPDF rebuilds a truncated file from what is left; pages whose content went missing
        # come back blank. Indexing the rest would silently lose text.
        if repaired and len(scans) < len(blank):
            bad = next(n for n in blank if n not in scans)
            raise FileSkipped(name, f"not a readable PDF: damaged or truncated (page {bad} "
                                    f"of {len(texts)} unreadable)")
        if ocr == "defer":          # load.DEFER: the caller reads them (outside the sandbox's child)
            text, pages = join_pages(texts)
            if not scans and not text.strip():
                raise FileSkipped(name, "PDF has no text layer and nothing to read on its pages")
            return RawDocument(path=name, kind="pdf", text=text, pages=pages, metadata=metadata,
                               scanned_pages=scans)
        return _with_scans(name, doc, texts, scans, ocr, data, metadata)


def read_scanned(name: str, data: bytes, raw: RawDocument, ocr) -> RawDocument:
    """A PDF loaded with its scanned pages listed (load.DEFER), now with them read by `ocr`."""
    texts = [raw.text[p.start:p.end] for p in raw.pages]
    texts = [t[:-1] if t.endswith("\n") and i < len(texts) - 1 else t for i, t in enumerate(texts)]
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        out = _with_scans(name, doc, texts, raw.scanned_pages, ocr, data, raw.metadata)
    out.warnings[:0] = raw.warnings
    return out


def _with_scans(name: str, doc, texts: list[str], scans: list[int], ocr, data: bytes, metadata: dict) -> RawDocument:
    from .scan import assemble, read_pages
    scanned = read_pages(name, doc, scans, ocr)
    if all(not t.strip() for t in texts) and not scanned.pages:
        why = scanned.failed[0]["reason"] if scanned.failed else "no text recognised"
        raise FileSkipped(name, f"PDF has no text layer (scanned images): {why}")
    for n, page in scanned.pages.items():
        texts[n - 1] = page.text
    return assemble(name, "pdf", texts, scanned, data, metadata)


def _has_marks(page: pymupdf.Page) -> bool:
    """Something to read on a page without text: an image, or vector drawing (outlined text)."""
    return bool(page.get_images(full=False)) or bool(page.get_cdrawings())


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


def _pdf_meta(info: dict) -> dict:
    meta: dict = {}
    title = (info.get("title") or "").strip()
    if title:
        meta["title"] = title
    authors = [a.strip() for a in re.split(r"[;；]", info.get("author") or "") if a.strip()]
    if authors:
        meta["authors"] = authors
    return meta
