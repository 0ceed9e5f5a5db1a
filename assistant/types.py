"""Results shared by the API, the CLI (`--json`), the UI and the tests."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Hit:
    """A retrieved passage; `text == document(doc_id).text[start:end]`.

    `title` is the document's display title (2024年政府工作报告（国务院）); `document` its
    identity: display_title, doc_type, date, date_source, issuer, jurisdiction,
    doc_number, language (None where unknown). `years`: the years the passage speaks of."""
    rank: int
    score: float
    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    page: int | None
    document: dict = field(default_factory=dict)
    years: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        # Lists, as JSON gives them back: `--json` output equals `to_dict()` after a round trip.
        return {**asdict(self), "years": list(self.years)}


@dataclass(frozen=True)
class Citation:
    """The exact sentence span behind `[n]` in an answer; `title` and `document` as in `Hit`."""
    n: int
    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    page: int | None
    score: float
    document: dict = field(default_factory=dict)
    ocr_confidence: float | None = None     # the span is recognised (scanned) text: its mean confidence

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Flag:
    """A problem the citation check found in an answer sentence (`text[start:end]`).

    kind: "unsupported" (its cited sources do not back it), "uncited" (no source does),
    "number" (a number in no cited source), "removed_citation" (a [n] naming no source,
    or one that did not back the sentence, was taken out)."""
    kind: str
    sentence: str
    start: int
    end: int
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TableRow:
    """One side of a comparison: its label (2021年, 北京市, 党的十九大报告（2017年）), the quoted
    figure or provision, and the numbers of the citations behind it. A side the documents
    do not answer says so in `text`, with `found` false and no citations."""
    side: str
    text: str
    citations: tuple[int, ...]
    found: bool

    def to_dict(self) -> dict:
        return {"side": self.side, "text": self.text, "citations": list(self.citations), "found": self.found}


@dataclass(frozen=True)
class AnswerTable:
    """A comparison answer's table: one row per side, compared along `dimension`
    (year, place or document)."""
    dimension: str
    rows: tuple[TableRow, ...]

    def to_dict(self) -> dict:
        return {"dimension": self.dimension, "rows": [r.to_dict() for r in self.rows]}


@dataclass(frozen=True)
class Answer:
    """An answer; every `[n]` in `text` is `citations[n-1]`.

    When `found` is false the text says the documents do not answer the question and
    `related` lists the closest passages anyway. `mode` names what wrote the text
    ("extractive" or "llm"); `notice` says why it differs from what was asked for (the
    model failed, so the extractive answer is shown). `flags` are the LLM answer's
    sentences that the citation check could not verify; `standalone` is the question as
    rewritten from the conversation, when it was. `table`: for a comparison (two years,
    places or documents), one row per side, each citing its own evidence.
    """
    question: str
    text: str
    found: bool
    mode: str
    citations: tuple[Citation, ...] = ()
    related: tuple[Hit, ...] = ()
    notice: str = ""
    flags: tuple[Flag, ...] = ()
    standalone: str = ""
    table: AnswerTable | None = None

    def to_dict(self) -> dict:
        return {"question": self.question, "text": self.text, "found": self.found, "mode": self.mode,
                "citations": [c.to_dict() for c in self.citations],
                "related": [h.to_dict() for h in self.related], "notice": self.notice,
                "flags": [f.to_dict() for f in self.flags], "standalone": self.standalone,
                "table": self.table.to_dict() if self.table else None}


@dataclass(frozen=True)
class Document:
    """A cleaned document as indexed, for showing a citation in context."""
    doc_id: str
    title: str
    text: str
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PageImage:
    """A scanned page as an image, with the boxes (x0, y0, x1, y1, fractions of the page)
    of the recognised lines a span covers; `png` is empty and `note` says why when the
    source file cannot be shown (moved, changed)."""
    doc_id: str
    page: int
    png: bytes
    boxes: tuple[tuple[float, float, float, float], ...]
    note: str = ""
