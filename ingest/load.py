"""Loading stage: one file on disk -> RawDocument (text as in the source, pages, metadata).

Every problem with the input becomes FileSkipped with a one-line reason, so a batch
ingest can report the file and go on. No cleaning happens here beyond newline
normalisation and dropping a BOM; the clean stage repairs the text.
"""
from __future__ import annotations

import codecs
import io
import re
from collections import Counter
from pathlib import Path

import charset_normalizer
import docx
from bs4 import (
    BeautifulSoup,
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    ProcessingInstruction,
    Tag,
)
from docx.table import Table
from lxml import etree

from .errors import FileSkipped, one_line
from .guard import (
    LoadLimits,
    check_package,
    human,
    read_regular,
    too_deep,
    too_many_chars,
)
from .types import RawDocument
from .zhtext import CJK_PUNCT, FULLWIDTH, HAN_BMP, NUMBERED_HEADING

DEFAULT_MAX_BYTES = LoadLimits.max_bytes
KINDS = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
         ".pdf": "pdf", ".docx": "docx",
         ".png": "image", ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image"}
_SUPPORTED = "(supported: .txt .md .html .pdf .docx .png .jpg .jpeg .tif .tiff)"


def load_file(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES, *, limits: LoadLimits | None = None,
              data: bytes | None = None, ocr=None) -> RawDocument:
    """Read one file; raise FileSkipped (never anything else) when it cannot be used.

    `data`: the file's bytes when the caller has read them already (with `read_regular`).
    `ocr` (an ingest.ocr.Recognizer) reads scanned PDF pages and images; None: they are
    skipped with a reason; DEFER: scanned PDF pages are listed, not read (`scanned_pages`).
    """
    name, p = str(path), Path(path)
    limits = limits or LoadLimits(max_bytes=max_bytes)
    kind = kind_of(p)
    if data is None:
        data = read_regular(p, limits.max_bytes)
    return load_bytes(name, kind, data, limits, ocr)


def kind_of(path: str | Path) -> str:
    """The loader for `path` by its extension; FileSkipped for an unsupported one."""
    p = Path(path)
    kind = KINDS.get(p.suffix.lower())
    if kind is None:
        what = p.suffix or "(no extension)"
        raise FileSkipped(str(path), f"unsupported file type {what} {_SUPPORTED}")
    return kind


DEFER = "defer"     # load_file's `ocr`: list scanned PDF pages for the caller to read


def load_bytes(name: str, kind: str, data: bytes, limits: LoadLimits, ocr=None) -> RawDocument:
    """Parse the bytes of one file of `kind`; FileSkipped (never anything else) on trouble."""
    if not data:
        raise FileSkipped(name, "empty file")
    try:
        raw = _LOADERS[kind](name, data, limits, ocr) if kind in ("pdf", "image") else _LOADERS[kind](name, data, limits)
    except FileSkipped:
        raise
    except RecursionError:
        raise too_deep(name, "the content is", limits) from None
    except MemoryError:
        raise
    except Exception as e:  # a file shape no parser foresaw: skip it, never stop the batch
        raise FileSkipped(name, f"could not read this .{kind} file: {one_line(e)}") from e
    if not raw.text.strip() and not raw.scanned_pages:
        raise FileSkipped(name, "no text")
    if len(raw.text) > limits.max_chars:
        raise too_many_chars(name, limits)
    return raw


# ---- text encodings ---------------------------------------------------------------

# UTF-32 before UTF-16: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
_TEXT_BYTES = bytes(range(32, 256)) + b"\t\n\r\f\v\x1b"
_BINARY = "not a text file (binary content)"


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Bytes -> (text with "\\n" newlines and no BOM, codec name). ValueError if not text.

    `declared` is a charset the file names itself (HTML <meta charset>); it is trusted
    only when it decodes the bytes strictly and UTF-8 does not.
    """
    text, codec, _ = decode_counted(data, declared)
    return text, codec


def decode_counted(data: bytes, declared: str | None = None) -> tuple[str, str, int]:
    """`decode_text` plus the number of invalid bytes replaced by U+FFFD: a text that
    decodes but for a few bytes (at most 1 in 1,000) is read, not refused."""
    text, codec, bad = _decode(data, declared)
    return text.replace("\r\n", "\n").replace("\r", "\n"), codec, bad


def _decode(data: bytes, declared: str | None) -> tuple[str, str, int]:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = data[len(bom):].decode(codec, errors="replace")
            if _garbled_share(text) > 0.05:   # bytes that merely start like a BOM
                raise ValueError(_BINARY)
            return text, codec, _replaced(text, data, codec)
    codec = _bomless_utf16(data)
    if codec:
        return data.decode(codec), codec, 0
    if b"\x00" in data or _control_share(data[:65536]) > 0.05:
        raise ValueError(_BINARY)
    for codec in ("utf-8", _charset_codec(declared)):
        if codec:
            try:
                return data.decode(codec), codec, 0
            except UnicodeDecodeError:
                pass
    guess = _guess_chinese(data)
    if guess:
        return guess
    best = charset_normalizer.from_bytes(data).best()
    if best is not None:
        return str(best), best.encoding, 0
    # A few bad bytes (a cut multi-byte character, a stray byte) in otherwise good text.
    for codec in ("utf-8", _charset_codec(declared)):
        if codec:
            text = data.decode(codec, errors="replace")
            bad = _replaced(text, data, codec)
            if bad <= _tolerated(text):
                return text, codec, bad
    guess = _guess_chinese(data, errors="replace")
    if guess and guess[2] <= _tolerated(guess[0]):
        return guess
    raise ValueError("unknown text encoding (save the file as UTF-8)")


def _tolerated(text: str) -> int:
    return max(16, len(text) // 1000)


def _replaced(text: str, data: bytes, codec: str) -> int:
    """U+FFFD characters that decoding made, not those the text itself holds."""
    try:
        own = data.count("\ufffd".encode(codec.replace("-sig", "")))
    except (LookupError, UnicodeEncodeError):
        own = 0
    return max(0, text.count("\ufffd") - own)


def _control_share(sample: bytes) -> float:
    return len(sample.translate(None, _TEXT_BYTES)) / max(1, len(sample))


def _garbled_share(text: str) -> float:
    """Share of control characters and U+FFFD in decoded text (sampled)."""
    sample = text[:65536]
    bad = sum(1 for ch in sample if (ch < " " and ch not in "\t\n\r\f\v") or ch == "\ufffd")
    return bad / max(1, len(sample))


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without BOM: has NUL bytes (from ASCII and from U+xx00 characters such as
    一) and, read in the right byte order, consists of ordinary characters."""
    if len(data) < 4 or len(data) % 2 or b"\x00" not in data:
        return None
    best = None
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            share = _ordinary_share(data.decode(codec))
        except UnicodeDecodeError:
            continue
        if share >= 0.9 and (best is None or share > best[0]):
            best = (share, codec)
    return best[1] if best else None


def _ordinary_share(text: str) -> float:
    """Share of characters usual in Chinese or English text (sampled).

    The wrong byte order, or binary data, scatters characters over the whole BMP.
    """
    sample = text[:65536]
    ordinary = sum(n for ch, n in Counter(sample).items() if _ordinary(ord(ch)))
    return ordinary / max(1, len(sample))


def _ordinary(o: int) -> bool:
    return (o in (9, 10, 13) or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0x24F or 0x2000 <= o <= 0x27BF
            or 0x3000 <= o <= 0x303F or 0x3400 <= o <= 0x9FFF or 0xFF00 <= o <= 0xFFEF)


def _charset_codec(declared: str | None) -> str | None:
    if not declared:
        return None
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        return None
    # Pages labelled gb2312/gbk routinely contain characters only their superset has.
    return "gb18030" if codec in ("gb2312", "gbk") else codec


def _guess_chinese(data: bytes, errors: str = "strict") -> tuple[str, str, int] | None:
    """GB18030 vs Big5 decodes, chosen by how plausible the characters are; with
    errors="replace", also the count of bytes replaced.

    Statistical detectors misjudge short Chinese texts; but Big5 bytes read as GBK give
    kana, private-use and rare characters, and GBK read as Big5 gives bopomofo and rare
    characters, so counting common characters separates them.
    """
    scored = []
    for codec, common in _CHINESE:
        try:
            text = data.decode(codec, errors=errors)
        except UnicodeDecodeError:
            continue
        scored.append((_plausibility(text, common), codec, text))
    if not scored:
        return None
    score, codec, text = max(scored, key=lambda s: s[0])   # max keeps the first on ties: GB
    return (text, codec, _replaced(text, data, codec)) if score >= 0.3 else None


def _plausibility(text: str, common) -> float:
    """(common CJK - 2 * suspicious) / (CJK + suspicious) over the first 20,000 characters."""
    good = total = bad = 0
    for ch, n in Counter(text[:20000]).items():
        o = ord(ch)
        if 0x4E00 <= o <= 0x9FFF:
            total += n
            good += n if common(ch) else 0
        elif _suspicious(o):
            bad += n
    return (good - 2 * bad) / max(1, total + bad)


def _suspicious(o: int) -> bool:
    # Private use, kana, bopomofo, box drawing, Greek/Cyrillic, CJK Ext. A, compatibility
    # ideographs, supplementary planes: what a wrong Chinese codec produces, rare in real text.
    return (0xE000 <= o <= 0xF8FF or 0x3040 <= o <= 0x312F or 0x2500 <= o <= 0x257F
            or 0x0370 <= o <= 0x04FF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF
            or o >= 0x10000 or o == 0xFFFD)


def _common_simplified(ch: str) -> bool:
    """GB2312 level 1 (rows 0xB0-0xD7): the 3,755 most used simplified characters."""
    try:
        return 0xB0 <= ch.encode("gb2312")[0] <= 0xD7
    except UnicodeEncodeError:
        return False


def _common_traditional(ch: str) -> bool:
    """Big5 0xA440-0xC67E: the 5,401 frequently used traditional characters."""
    try:
        b = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    return 0xA440 <= int.from_bytes(b[:2], "big") <= 0xC67E


# cp950 is Windows Big5: a few characters more than big5.
_CHINESE = (("gb18030", _common_simplified), ("big5", _common_traditional), ("cp950", _common_traditional))


# ---- txt / md ---------------------------------------------------------------------------

def _load_txt(name: str, data: bytes, limits: LoadLimits) -> RawDocument:
    text, codec, warnings = _decode_or_skip(name, data)
    return RawDocument(path=name, kind="txt", text=text, encoding=codec, warnings=warnings)


def _load_md(name: str, data: bytes, limits: LoadLimits) -> RawDocument:
    text, codec, warnings = _decode_or_skip(name, data)
    meta, text = split_front_matter(text)
    return RawDocument(path=name, kind="md", text=text, metadata=meta, encoding=codec, warnings=warnings)


def _decode_or_skip(name: str, data: bytes, declared: str | None = None) -> tuple[str, str, list[str]]:
    try:
        text, codec, bad = decode_counted(data, declared)
    except ValueError as e:
        raise FileSkipped(name, str(e)) from None
    warnings = [f"{name}: {bad} invalid byte sequence{'s' if bad > 1 else ''} in {codec} text, "
                "replaced by U+FFFD"] if bad else []
    return text, codec, warnings


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n((?:.*\n)*?)(?:---|\.\.\.)[ \t]*(?:\n|\Z)")
_FM_KEY = re.compile(r"(\w[\w\- ]*?)\s*:(?:\s+(.*))?")
_FM_ITEM = re.compile(r"\s*-\s+(.*)")


def split_front_matter(text: str) -> tuple[dict, str]:
    """Leading `---` YAML block of simple `key: value` / `- item` lines -> (metadata, rest).

    A block that is not that simple is left in the text: it may be a horizontal rule.
    """
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    meta: dict = {}
    key = None
    for line in m.group(1).split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item, kv = _FM_ITEM.fullmatch(line), _FM_KEY.fullmatch(line)
        if item and isinstance(meta.get(key), list):
            meta[key].append(_scalar(item.group(1)))
        elif kv:
            key, value = kv.group(1), (kv.group(2) or "").strip()
            if not value:
                meta[key] = []          # a "- item" list may follow
            elif value.startswith("[") and value.endswith("]"):
                meta[key] = [_scalar(v) for v in value[1:-1].split(",") if v.strip()]
            else:
                meta[key] = _scalar(value)
        else:
            return {}, text
    return {k: (v if v != [] else None) for k, v in meta.items()}, text[m.end():]


def _scalar(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


# ---- headings (docx and html) ----------------------------------------------------------

def heading_line(level: int, text: str) -> str:
    """A heading of `level` as a Markdown heading line, or plain when it is numbered in Chinese."""
    text = text.strip()
    if not text or NUMBERED_HEADING.match(text):
        return text
    return "#" * level + " " + text


# ---- html -------------------------------------------------------------------------------

_DROP = {"script", "style", "noscript", "nav", "header", "footer", "template", "head",
         "svg", "iframe", "object", "embed", "canvas", "select"}
_BLOCK = {"p", "div", "li", "table", "section", "article", "blockquote", "pre", "ul", "ol",
          "dl", "dt", "dd", "main", "aside", "figure", "figcaption", "hr", "address", "caption",
          "fieldset", "details", "summary", "form", "body", "html", "center", "thead", "tbody",
          "tfoot", "header", "footer"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_SKIP_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_BREAK = "\x01"     # whitespace run holding a source newline, resolved after joining
# Only ASCII whitespace collapses in HTML; U+3000 and &nbsp; are text (indentation).
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_CJK = f"[{CJK_PUNCT}{HAN_BMP}{FULLWIDTH}]"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def _load_html(name: str, data: bytes, limits: LoadLimits) -> RawDocument:
    if len(data) > limits.max_unpacked:         # the parse tree takes ~40x the page's size
        raise FileSkipped(name, f"{human(len(data))} of HTML, over the {human(limits.max_unpacked, trim=True)} "
                                "limit for markup (POLICYQA_MAX_UNPACKED_MB)")
    m = _META_CHARSET.search(data[:4096])
    text, codec, warnings = _decode_or_skip(name, data, m.group(1).decode("ascii") if m else None)
    out: list[str] = []
    try:
        _check_depth(text, limits.max_depth)      # before BeautifulSoup builds 100,000 nested tags
        soup = BeautifulSoup(text, "lxml")
        meta = {"title": _html_title(soup), "language": _html_lang(soup)}
        _html_walk(soup, out, depth=limits.max_depth)
    except _TooDeep:
        raise too_deep(name, "HTML elements", limits) from None
    return RawDocument(path=name, kind="html", text=_html_lines(out),
                       metadata={k: v for k, v in meta.items() if v}, encoding=codec, warnings=warnings)


class _TooDeep(Exception):
    """Markup nested past LoadLimits.max_depth."""


class _Depth:
    """An lxml parser target that only counts nesting: the same events BeautifulSoup's
    lxml builder gets, so the same depth, at a fraction of the cost."""

    def __init__(self, limit: int):
        self.depth, self.limit = 0, limit

    def start(self, tag, attrib):
        self.depth += 1
        if self.depth > self.limit:
            raise _TooDeep

    def end(self, tag):
        self.depth -= 1

    def data(self, data):
        pass

    def close(self):
        pass


def _check_depth(text: str, limit: int) -> None:
    parser = etree.HTMLParser(target=_Depth(limit))
    try:
        parser.feed(text)
        parser.close()
    except _TooDeep:
        raise
    except Exception:       # noqa: BLE001 - whatever lxml dislikes, BeautifulSoup copes with or reports
        pass


def _html_title(soup: BeautifulSoup) -> str | None:
    for tag in (soup.title, soup.find("h1")):
        if tag is not None:
            title = " ".join(tag.get_text(" ").split())
            if title:
                return title
    return None


def _html_lang(soup: BeautifulSoup) -> str | None:
    html = soup.find("html")
    lang = (html.get("lang") or html.get("xml:lang")) if html else None
    return (lang.strip() or None) if isinstance(lang, str) else None


def _html_walk(node: Tag, out: list[str], pre: bool = False, depth: int = 256) -> None:
    if depth <= 0:
        raise _TooDeep
    for child in node.children:
        if isinstance(child, NavigableString):
            if not isinstance(child, _SKIP_STRINGS):
                out.append(str(child) if pre else _HTML_SPACE.sub(_ws, str(child)))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        # An <article>'s own header/footer hold its title and date: keep those.
        if name in _DROP and not (name in ("header", "footer") and child.find_parent(["article", "main"])):
            continue
        if name == "br":
            out.append("\n")
        elif name in _HEADINGS:
            out.append("\n" + heading_line(_HEADINGS[name], _html_inline(child, depth - 1)) + "\n")
        elif name == "tr":
            cells = [_html_inline(c, depth - 1) for c in child.find_all(["td", "th"], recursive=False)]
            out.append("\n" + " | ".join(c for c in cells if c) + "\n")
        elif name in _BLOCK:
            out.append("\n")
            _html_walk(child, out, pre or name == "pre", depth - 1)
            out.append("\n")
        else:
            _html_walk(child, out, pre, depth - 1)


def _ws(m: re.Match) -> str:
    return _BREAK if "\n" in m.group(0) else " "


def _html_inline(tag: Tag, depth: int = 256) -> str:
    """The text of a heading or table cell on one line."""
    out: list[str] = []
    _html_walk(tag, out, depth=depth)
    return _HTML_SPACE.sub(" ", _resolve_breaks("".join(out))).strip(" \t\n\r\f")


def _resolve_breaks(text: str) -> str:
    # A source line break between two Chinese characters is no space (CSS segment-break rule).
    text = re.sub(f"(?<={_CJK}){_BREAK}+(?={_CJK})", "", text)
    return text.replace(_BREAK, " ")


def _html_lines(out: list[str]) -> str:
    lines = (line.strip(" \t\r\f") for line in _resolve_breaks("".join(out)).split("\n"))
    return "\n".join(line for line in lines if line.strip())   # drops &nbsp;-only spacers too


# ---- docx -------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"(?:heading|标题)\s*([1-9])", re.I)


def _load_docx(name: str, data: bytes, limits: LoadLimits) -> RawDocument:
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # OLE container: Word 97-2003, or an encrypted .docx
        raise FileSkipped(name, "not a .docx package (an old Word .doc or a password-protected "
                                "document); save it as .docx")
    check_package(name, data, limits)
    try:
        doc = docx.Document(io.BytesIO(data))
    except Exception as e:
        if "Excessive depth" in str(e):        # libxml2's own nesting limit
            raise too_deep(name, "XML elements", limits) from None
        raise FileSkipped(name, f"not a readable .docx file: {one_line(e)}") from None
    lines: list[str] = []
    size = 0
    try:
        for block in doc.iter_inner_content():   # body order, so tables stay in place
            if isinstance(block, Table):
                new = _table_lines(block, limits.max_depth)
            else:
                level = _heading_level(block.style.name if block.style is not None else "")
                new = [heading_line(level, block.text) if level else block.text]
            lines.extend(new)
            size += sum(len(line) + 1 for line in new)
            if size > limits.max_chars:         # stop reading, not only refuse at the end
                raise too_many_chars(name, limits)
    except _TooDeep:
        raise too_deep(name, "tables", limits) from None
    text = "\n".join(lines).replace("\r\n", "\n").replace("\r", "\n")
    return RawDocument(path=name, kind="docx", text=text, metadata=_docx_meta(doc))


def _heading_level(style: str) -> int:
    if style.strip().lower() == "title":
        return 1
    m = _HEADING_STYLE.fullmatch(style.strip())
    return int(m.group(1)) if m else 0


def _table_lines(table: Table, depth: int = 256) -> list[str]:
    """One line per row, cells joined by " | "; merged cells counted once."""
    if depth <= 0:
        raise _TooDeep
    lines = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if cell._tc in seen:   # a horizontally merged cell repeats in row.cells
                continue
            seen.add(cell._tc)
            cells.append(" ".join(_cell_text(cell, depth - 1).split()))
        line = " | ".join(c for c in cells if c)
        if line:
            lines.append(line)
    return lines


def _cell_text(cell, depth: int) -> str:
    parts = []
    for block in cell.iter_inner_content():   # nested tables included
        parts.append(" ".join(_table_lines(block, depth)) if isinstance(block, Table) else block.text)
    return " ".join(parts)


def _docx_meta(doc) -> dict:
    cp = doc.core_properties
    author = (cp.author or "").strip()
    meta = {"title": (cp.title or "").strip(), "authors": [author] if author else [],
            "language": (cp.language or "").strip()}
    if cp.created:
        # Kept apart from "date": it is when the file was made, often a template's date.
        meta["created"] = cp.created.date().isoformat()
    return {k: v for k, v in meta.items() if v}


def _load_pdf(name: str, data: bytes, limits: LoadLimits, ocr=None) -> RawDocument:
    from .pdf import load_pdf  # pymupdf adds up to a second to start-up: only for PDFs
    return load_pdf(name, data, limits, ocr)


def _load_image(name: str, data: bytes, limits: LoadLimits, ocr=None) -> RawDocument:
    from .scan import load_image
    return load_image(name, data, ocr)


_LOADERS = {"txt": _load_txt, "md": _load_md, "html": _load_html, "pdf": _load_pdf, "docx": _load_docx,
            "image": _load_image}
