"""Results shared by the API, the CLI (`--json`), the UI and the tests."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Hit:
    """A retrieved passage; `text == document(doc_id).text[start:end]`."""
    rank: int
    score: float
    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    page: int | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """The exact sentence span behind `[n]` in an answer."""
    n: int
    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    page: int | None
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """An answer; every `[n]` in `text` is `citations[n-1]`.

    When `found` is false the text says the documents do not answer the question and
    `related` lists the closest passages anyway.
    """
    question: str
    text: str
    found: bool
    mode: str
    citations: tuple[Citation, ...] = ()
    related: tuple[Hit, ...] = ()
    notice: str = ""

    def to_dict(self) -> dict:
        return {"question": self.question, "text": self.text, "found": self.found, "mode": self.mode,
                "citations": [c.to_dict() for c in self.citations],
                "related": [h.to_dict() for h in self.related], "notice": self.notice}


@dataclass(frozen=True)
class Document:
    """A cleaned document as indexed, for showing a citation in context."""
    doc_id: str
    title: str
    text: str
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)
