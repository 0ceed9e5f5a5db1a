"""Scanned pages with PyMuPDF: render, recognise (ingest.ocr), and hand back page texts
with the box of every line; image files (.png .jpg .jpeg .tif .tiff) load here too.

`page_png` renders a page again for the app's document view, from the source file.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field

import pymupdf
from tqdm import tqdm

from .errors import FileSkipped, one_line
from .ocr import ENGINE, PageFailed, Recognizer, unavailable
from .ocr_text import PageText, QuoteState, page_text
from .types import RawDocument

IMAGE_TYPES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff"}
MAX_IMAGE_SIDE = 4000         # pixels; a larger image of unknown resolution is scaled down


@dataclass
class Scanned:
    """What OCR made of some pages of a document."""
    pages: dict[int, PageText] = field(default_factory=dict)    # page number -> text
    warnings: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)            # {"page", "reason"}
    dpi: int = 0


def read_pages(name: str, doc: pymupdf.Document, numbers: list[int], ocr: Recognizer | None,
               stated: float | None = None) -> Scanned:
    """Recognise pages `numbers` (1-based) of an open PDF or image document.

    A page that fails (e.g. over its time budget) is reported in `failed` and the others
    are kept; pages past the settings' page limit are not read, and a warning says so."""
    out = Scanned()
    if not numbers:
        return out
    reason = unavailable() or (None if ocr is not None else "OCR was not asked for")
    if reason:
        out.failed = [{"page": n, "reason": reason} for n in numbers]
        out.warnings.append(f"{_pages(numbers)} without a text layer (scanned) not read: {reason}")
        return out
    limit = ocr.settings.max_pages
    if len(numbers) > limit:
        rest = numbers[limit:]
        out.warnings.append(f"{_pages(rest)} not recognised: over the limit of {limit} scanned "
                            f"pages per file (POLICYQA_OCR_MAX_PAGES)")
        numbers = numbers[:limit]
    out.dpi = ocr.settings.dpi
    quotes = QuoteState()
    for n in tqdm(numbers, desc=f"OCR {_short(name)}", unit="page", file=sys.stderr, disable=not ocr.progress):
        gray, width, height = render_gray(doc[n - 1], ocr.settings.dpi, stated)
        try:
            fragments = ocr.lines(gray, width, height)
        except PageFailed as e:
            out.failed.append({"page": n, "reason": str(e)})
            continue
        page = page_text(fragments, quotes)
        if page.text:                 # a page with nothing legible is no scanned text
            out.pages[n] = page
    for f in out.failed:
        out.warnings.append(f"page {f['page']}: {f['reason']}; the other pages are kept")
    return out


def render_gray(page: pymupdf.Page, dpi: int, stated: float | None = None) -> tuple[bytes, int, int]:
    """8-bit grayscale pixels of a page at `dpi`. An image file's page (`stated`: the
    resolution the file states) keeps its pixels, scaled down only to `dpi` when the
    file states a higher one, or to at most MAX_IMAGE_SIDE pixels."""
    if stated is not None:
        dpi = max(1, round(image_dpi(page, dpi, stated)))
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    return pix.samples, pix.width, pix.height


def image_dpi(page: pymupdf.Page, dpi: float, stated: float) -> float:
    # PyMuPDF measures an image page at its stated resolution: rendering at `stated`
    # gives its own pixels. 72 and 96 mean "not stated" in practice: keep the pixels.
    target = min(stated, dpi) if stated > 96 else stated
    longest = max(page.rect.width, page.rect.height) * target / 72
    return target * min(1.0, MAX_IMAGE_SIDE / longest)


def load_image(name: str, data: bytes, ocr: Recognizer | None) -> RawDocument:
    """An image file (every page of a multi-page TIFF) -> RawDocument through OCR."""
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    try:
        stated = float(pymupdf.Pixmap(data).xres or 72)     # decodes the (first) image: is it one?
        doc = pymupdf.open(stream=data, filetype=IMAGE_TYPES.get(ext, "png"))
    except Exception as e:                             # noqa: BLE001
        raise FileSkipped(name, f"not a readable image: {one_line(e)}") from None
    with doc:
        numbers = list(range(1, doc.page_count + 1))
        scanned = read_pages(name, doc, numbers, ocr, stated)
    if not scanned.pages:
        reason = scanned.failed[0]["reason"] if scanned.failed else "no text recognised"
        raise FileSkipped(name, f"image: {reason}")
    texts = [scanned.pages[n].text if n in scanned.pages else "" for n in numbers]
    return assemble(name, "image", texts, scanned, data)


def assemble(name: str, kind: str, texts: list[str], scanned: Scanned, data: bytes,
             metadata: dict | None = None) -> RawDocument:
    """Join page texts (scanned ones included) into a RawDocument with OCR line records."""
    from .pages import join_pages
    text, pages = join_pages(texts)
    lines = []
    for span in pages:
        pt = scanned.pages.get(span.page)
        if pt is None:
            continue
        for s, e, line in pt.lines:
            lines.append((span.start + s, span.start + e, span.page, *line.box, line.confidence))
    meta = dict(metadata or {})
    if scanned.pages:
        chars = sum(e - s for s, e, *_ in lines) or 1
        meta["ocr"] = {"engine": ENGINE, "dpi": scanned.dpi, "pages": sorted(scanned.pages),
                       "failed": scanned.failed,
                       "confidence": round(sum((r[1] - r[0]) * r[7] for r in lines) / chars, 4),
                       "file_sha256": hashlib.sha256(data).hexdigest()}
    return RawDocument(path=name, kind=kind, text=text, pages=pages, metadata=meta,
                       lines=lines, warnings=[f"{name}: {w}" for w in scanned.warnings])


def page_png(path: str, page: int, max_side: int = 1400) -> bytes:
    """Page `page` of a PDF or image file as a grayscale PNG whose longer side is
    `max_side` pixels (for showing a cited line on its page)."""
    ext = "." + str(path).rsplit(".", 1)[-1].lower()
    with pymupdf.open(path, filetype=IMAGE_TYPES.get(ext)) as doc:
        p = doc[page - 1]
        zoom = max_side / max(p.rect.width, p.rect.height)
        pix = p.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY, alpha=False)
        return pix.tobytes("png")


def _pages(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> 'pages 1–3, 5'; [4] -> 'page 4'."""
    out, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}–{n}")
            start = None
    return ("page " if len(numbers) == 1 else "pages ") + ", ".join(out)


def _short(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base if len(base) <= 30 else base[:29] + "…"
