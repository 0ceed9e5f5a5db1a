"""Document metadata: the sidecar file users put beside a document, and the merge rules.

Sidecar: for `X.ext`, the first of `X.ext.meta.json` and `X.meta.json` that exists, a
UTF-8 JSON object such as

    {"title": "国家职业教育改革实施方案", "issuer": "国务院", "date": "2019-01-24",
     "doc_number": "国发〔2019〕4号", "language": "zh", "authors": ["…"],
     "source_url": "https://…", "topic": "kept as is"}

All keys are optional; unknown keys are kept. `X.meta.json` serves every `X.*` beside it.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from .errors import FileSkipped
from .guard import read_regular
from .types import RawDocument
from .zhtext import FOOTNOTE_TAIL, is_chinese

_SUFFIX = ".meta.json"
SIDECAR_MAX_BYTES = 2**20        # metadata, not a document: a larger "sidecar" is not read
SIDECAR_SUFFIXES = (_SUFFIX,)   # both X.ext.meta.json and X.meta.json end so
FIELDS = ("title", "authors", "issuer", "date", "doc_number", "language", "source_url",
          "display_title", "jurisdiction", "doc_type")
# Inferred from the text when no sidecar or file property says them (identity.py).
IDENTITY = ("title", "date", "date_source", "issuer", "jurisdiction", "doc_type", "doc_number", "congress")
# Placeholders that editors write into the author/title fields by themselves.
_JUNK_AUTHORS = {"python-docx", "administrator", "admin", "user", "unknown", "微软用户", "微软中国"}
_JUNK_TITLE = re.compile(
    r"(?i)^(?:microsoft (?:word|powerpoint) - |untitled$|无标题)|\.(?:docx?|pdf|wps|txt)$")
_YEAR_IN_NAME = re.compile(r"(19|20)\d\d(?!\d)")


def is_sidecar(path: str | Path) -> bool:
    """True for a metadata sidecar, which folder walks must not ingest as a document."""
    return Path(path).name.lower().endswith(SIDECAR_SUFFIXES)


def sidecar_candidates(path: str | Path) -> list[Path]:
    """Where the sidecar of `path` may be, in order of preference."""
    p = Path(path)
    return [p.with_name(p.name + _SUFFIX), p.with_name(p.stem + _SUFFIX)]


def left_out(path: str | Path) -> bool:
    """True when the file's sidecar says `"index": false` (a folder's README, notes): folder
    walks pass over it without a skip report. A bad sidecar leaves it in (the ingest reports it)."""
    try:
        return read_sidecar(path).get("index") is False
    except FileSkipped:
        return False


def read_sidecar(path: str | Path) -> dict:
    """The checked sidecar metadata of document `path`; {} when it has none.

    Raises FileSkipped naming the *sidecar* when it is unreadable or malformed.
    """
    found = next((c for c in sidecar_candidates(path) if c.is_file()), None)
    if found is None:
        return {}
    name = str(found)
    try:
        data = json.loads(read_regular(found, SIDECAR_MAX_BYTES).decode("utf-8-sig"))
    except FileSkipped as e:
        raise FileSkipped(name, f"cannot read metadata sidecar ({e.reason})") from None
    except UnicodeDecodeError:
        raise FileSkipped(name, "metadata sidecar is not UTF-8") from None
    except json.JSONDecodeError as e:
        raise FileSkipped(name, f"metadata sidecar is not valid JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(data, dict):
        raise FileSkipped(name, "metadata sidecar must be a JSON object {…}")
    try:
        return normalize(data, strict=True)
    except ValueError as e:
        raise FileSkipped(name, f"metadata sidecar: {e}") from None


def normalize(meta: dict, strict: bool = False) -> dict:
    """Known fields in their canonical form; other keys unchanged.

    strict (sidecars, written by people): a bad value raises ValueError saying what is
    wrong. Lenient (what a file says about itself): bad or placeholder values are dropped.
    """
    out: dict = {}
    for key, value in meta.items():
        key = {"author": "authors", "lang": "language"}.get(key, key)
        if value is None or key not in FIELDS:
            out[key] = value
            continue
        try:
            value = _FIELD_CHECKS[key](value)
        except ValueError:
            if strict:
                raise
            continue
        if not strict:
            value = _drop_placeholders(key, value)
        if value not in (None, "", []):
            out[key] = value
    return out


def _text(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected text, got {json.dumps(value, ensure_ascii=False)[:60]}")
    return str(value).strip()


def _authors(value) -> list[str]:
    if isinstance(value, str):
        # 、 and ; separate names in Chinese and English lists; a comma may be inside a name.
        return [a.strip() for a in re.split(r"[;；、]", value) if a.strip()]
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return [a.strip() for a in value if a.strip()]
    raise ValueError("authors must be a string or a list of strings")


def _date(value) -> str:
    s = _text(value)
    try:
        if re.fullmatch(r"\d{4}", s) or (re.fullmatch(r"\d{4}-\d\d-\d\d", s) and dt.date.fromisoformat(s)):
            return s
    except ValueError:
        pass
    raise ValueError(f"date must be YYYY or YYYY-MM-DD, got {s!r}")


def _doc_type(value) -> str:
    from .identity import DOC_TYPES
    s = _text(value)
    if s not in DOC_TYPES:
        raise ValueError(f"doc_type must be one of {', '.join(DOC_TYPES)}, got {s!r}")
    return s


def _language(value) -> str:
    # "zh-CN", "zh_Hans" -> "zh": one code per language for language-specific processing.
    return re.split(r"[-_]", _text(value).lower())[0]


_FIELD_CHECKS = {"title": _text, "issuer": _text, "doc_number": _text, "source_url": _text,
                 "authors": _authors, "date": _date, "language": _language, "display_title": _text,
                 "jurisdiction": _text, "doc_type": _doc_type}


def _drop_placeholders(key: str, value):
    if key == "authors":
        return [a for a in value if a.lower() not in _JUNK_AUTHORS]
    if key == "title" and _JUNK_TITLE.search(value):
        return None
    return value


def resolve_metadata(path: str | Path, raw: RawDocument, sidecar: dict, text: str | None = None) -> dict:
    """Merge metadata: sidecar > identity read off the (cleaned) `text` > the file's own
    properties > fallbacks from the file name and first line.

    Always has title, display_title, authors (list), issuer, date, date_source, doc_number,
    language, jurisdiction, doc_type, source_url, kind and filename; None where unknown.
    Extra keys of the file and sidecar are kept. `date_source` says where the date was
    read: sidecar, delivered, adopted, amended, revised, signed, file (its properties) or
    file name (the last resort)."""
    from .identity import display_title, infer_identity
    p = Path(path)
    body = raw.text if text is None else text
    merged: dict = dict.fromkeys(FIELDS)
    merged.update(authors=[], title=_title_fallback(body) or p.stem, language=guess_language(body),
                  date=_year_in_name(p.name), date_source="file name" if _year_in_name(p.name) else None)
    own = {k: v for k, v in normalize(raw.metadata).items() if v not in (None, "", [])}
    merged.update(own)
    if own.get("date"):
        merged["date_source"] = "file"
    inferred = infer_identity(body, p.name, merged["language"])
    merged.update({k: v for k, v in inferred.items() if k in IDENTITY and v is not None
                   and not (k in ("date", "date_source") and inferred.get("date_source") == "file name")})
    side = {k: v for k, v in normalize(sidecar, strict=True).items() if v not in (None, "", [])}
    merged.update(side)
    if "date" in side:
        merged["date_source"] = "sidecar"
    if not side.get("display_title"):
        merged["display_title"] = display_title(merged) or merged["title"]
    merged.update(kind=raw.kind, filename=p.name)   # facts about the file, not overridable
    return merged


def _title_fallback(text: str) -> str | None:
    """The first non-empty line, when short enough to be a title (≤ 60 characters)."""
    line = next((ln for ln in text.split("\n") if ln.strip()), "")
    line = FOOTNOTE_TAIL.sub("", line.strip().lstrip("#").strip()).strip()
    return line if 0 < len(line) <= 60 else None


def guess_language(text: str) -> str:
    """"zh" when the opening 50,000 characters are Chinese by `zhtext.is_chinese`, else "en".

    A deliberately simple rule: the corpus is Chinese and English; other languages
    are reported as "en" unless a sidecar says otherwise.
    """
    return "zh" if is_chinese(text[:50000]) else "en"


def _year_in_name(name: str) -> str | None:
    m = _YEAR_IN_NAME.match(name)
    return m.group(0) if m else None
