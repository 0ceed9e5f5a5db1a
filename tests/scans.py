"""Scanned documents made here: real text typeset with PyMuPDF (its built-in CJK font),
rendered to page images like a scanner would, optionally degraded (blur, a slight
rotation, JPEG compression), and saved as image-only PDFs or image files.

Used by tests/test_ocr.py and benchmarks/ocr.py.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pymupdf

A4 = (595, 842)
MARGIN = 72
FONT_SIZE = 12
LINES_PER_PAGE = 38
SCAN_DPI = 300               # the "scanner"; ingest renders the scans again at its own resolution
FONT = "china-s"             # PyMuPDF's built-in CJK font (Droid Sans Fallback), embedded so that
                             # its real glyph widths apply (not one em for every character)


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


def layout(paras: list[str], width: float = A4[0] - 2 * MARGIN,
           lines_per_page: int = LINES_PER_PAGE) -> list[list[str]]:
    """Paragraphs -> pages of printed lines, each at most `width` points wide in the font.
    Long paragraphs start indented by two characters; short ones (headings) do not."""
    font = pymupdf.Font(FONT)
    lines: list[str] = []
    for p in paragraphs("\n".join(paras)):
        lines += _wrap(p, font, width, indent=font.text_length(p, FONT_SIZE) > width)
    return [lines[i:i + lines_per_page] for i in range(0, len(lines), lines_per_page)]


_NO_LINE_START = set("，。、；：？！）》」』”’…")


def _wrap(p: str, font: pymupdf.Font, width: float, indent: bool) -> list[str]:
    # As typesetters do, closing punctuation never starts a line: it hangs at the end of the last.
    out, cur = [], "\u3000\u3000" if indent else ""
    for ch in p:
        if cur and font.text_length(cur + ch, FONT_SIZE) > width and ch not in _NO_LINE_START:
            out.append(cur)
            cur = ""
        cur += ch
    return out + ([cur] if cur else [])


def text_pdf(pages: list[list[str]], numbers: bool = True) -> pymupdf.Document:
    """A PDF with a text layer: each page's lines, a page number at the foot."""
    doc = pymupdf.open()
    buffer = pymupdf.Font(FONT).buffer
    for k, lines in enumerate(pages, 1):
        page = doc.new_page(width=A4[0], height=A4[1])
        page.insert_font(fontname="cjk", fontbuffer=buffer)
        y = MARGIN
        for line in lines:
            page.insert_text((MARGIN, y), line, fontname="cjk", fontsize=FONT_SIZE)
            y += FONT_SIZE * 1.6
        if numbers:
            page.insert_text((A4[0] / 2 - 12, A4[1] - 40), f"— {k} —", fontname="cjk", fontsize=10)
    doc.subset_fonts()
    return doc


def page_image(page: pymupdf.Page, degrade: bool = False, dpi: int = SCAN_DPI) -> tuple[bytes, str]:
    """A page as a scanner gives it: (image bytes, "png" or "jpeg"). `degrade`: Gaussian
    blur, rotated 1.2 degrees, JPEG quality 45."""
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    if not degrade:
        return pix.tobytes("png"), "png"
    from PIL import Image, ImageFilter
    img = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    img = img.filter(ImageFilter.GaussianBlur(1.1)).rotate(1.2, resample=Image.BICUBIC, fillcolor=255)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=45, dpi=(dpi, dpi))
    return buf.getvalue(), "jpeg"


def scan_pdf(source: pymupdf.Document, path: Path, degrade: bool = False, keep_text: tuple[int, ...] = ()) -> Path:
    """An image-only copy of `source` (pages in `keep_text`, 1-based, keep their text layer:
    a mixed PDF)."""
    out = pymupdf.open()
    for k, page in enumerate(source, 1):
        if k in keep_text:
            out.insert_pdf(source, from_page=k - 1, to_page=k - 1)
            continue
        data, _ = page_image(page, degrade)
        new = out.new_page(width=page.rect.width, height=page.rect.height)
        new.insert_image(new.rect, stream=data)
    out.save(path, garbage=3, deflate=True)
    return path


def scan_image(page: pymupdf.Page, path: Path, degrade: bool = False) -> Path:
    data, _ = page_image(page, degrade)
    path.write_bytes(data)
    return path


# A short regulation on a third of a page: quick to recognise.
SHORT_DOC = ["深圳市数据要素市场发展办法", "　　第一条 为培育数据要素市场，规范数据交易，制定本办法。",
             "　　第二条 到2026年，本市数据要素市场规模突破五百亿元，培育数据商三百家。"]
SHORT_QUESTION = "到2026年深圳数据要素市场规模要突破多少？"


def short_scan(path: Path) -> Path:
    """SHORT_DOC scanned as a PNG of the top of a page."""
    doc = text_pdf([SHORT_DOC], numbers=False)
    doc[0].set_cropbox(pymupdf.Rect(0, 0, A4[0], 180))
    return scan_image(doc[0], path)


def char_accuracy(got: str, want: str) -> float:
    """1 - edit distance / length of `want`, whitespace ignored."""
    from rapidfuzz.distance import Levenshtein
    a, b = re.sub(r"\s+", "", got), re.sub(r"\s+", "", want)
    return 1 - Levenshtein.distance(a, b) / max(1, len(b))


# The renderings the OCR target is measured on (tests/test_ocr.py, benchmarks/ocr.py):
# the seed article and three corpus-extra documents, the last one scanned badly.
EXTRA = ("2020_npcsc_patent-law_zh.txt",
         "2024_state-council_government-work-report_zh.txt",
         "2018_state-council-office_guobanfa-2018-126_second-batch-innovation-reform-measures_zh.txt")
DEGRADED = EXTRA[2]


def printed_pages(path: Path, pages: int | None = None) -> list[list[str]]:
    """The cleaned text of a corpus file, laid out as printed pages (the first `pages`)."""
    from ingest.clean import clean
    text = clean(path.read_text("utf-8")).text
    laid = layout(paragraphs(text))
    return laid[:pages] if pages else laid


def printed_text(pages: list[list[str]]) -> str:
    """What the pages say, as the reference for character accuracy."""
    return "\n".join(line for page in pages for line in page)
