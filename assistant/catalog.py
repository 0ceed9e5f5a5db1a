"""What the loaded documents are, in arrays a question can be matched against: each
document's identity (type, year, jurisdiction, issuer, names) and each passage's years,
article number and language. Built once per index generation; pure data afterwards."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ingest.identity import DOC_TYPES, year_of
from ingest.places import place_order
from ingest.timeref import point_years
from ingest.zhnum import zh_to_int
from ingest.zhtext import is_chinese

_ARTICLE = re.compile(r"第([一二三四五六七八九十百零〇\d]+)条")
_TRANSMITS = re.compile(r"关于(?:印发|发布|转发)《?(.+?)》?的通知")
_NAME_STRIP = re.compile(r"^中华人民共和国|[《》〈〉“”\"\s]")
# Report-like documents speak of their own year where a passage names none.
DATED_TYPES = ("work_report", "congress_report", "notice", "opinion", "plan", "decision")


@dataclass(frozen=True)
class DocIdentity:
    doc_id: str
    title: str
    display_title: str
    doc_type: str
    year: int | None
    date: str | None
    date_source: str | None
    issuer: str | None
    jurisdiction: str | None
    doc_number: str | None
    congress: str | None
    language: str
    names: tuple[str, ...]        # forms a question may name it by (title, 专利法, 国办发〔2018〕126号)
    max_article: int | None       # its highest 第X条, for "no such article" answers

    def to_dict(self) -> dict:
        """The identity a citation carries (what the CLI, --json and the app show)."""
        return {"display_title": self.display_title, "doc_type": self.doc_type, "date": self.date,
                "date_source": self.date_source, "issuer": self.issuer, "jurisdiction": self.jurisdiction,
                "doc_number": self.doc_number, "language": self.language}


def identity_of(doc_id: str, meta: dict, articles: list[int]) -> DocIdentity:
    title = meta.get("title") or doc_id
    names = {title, _NAME_STRIP.sub("", title)}
    m = _TRANSMITS.search(title)
    if m:                        # 国务院关于印发国家职业教育改革实施方案的通知 is known by the plan's name
        names.add(m.group(1))
    if meta.get("display_title"):
        names.add(meta["display_title"])
    if meta.get("doc_number"):
        names.add(meta["doc_number"])
    kind = meta.get("doc_type") or "other"
    if kind not in DOC_TYPES:
        kind = "other"
    return DocIdentity(doc_id, title, meta.get("display_title") or title, kind, year_of(meta.get("date")),
                       meta.get("date"), meta.get("date_source"), meta.get("issuer"), meta.get("jurisdiction"),
                       meta.get("doc_number"), meta.get("congress"), meta.get("language") or "zh",
                       tuple(sorted(n for n in names if len(n) >= 2)), max(articles) if articles else None)


class Catalog:
    """Documents and passages of one index, for constraint matching."""

    def __init__(self, docs: list[DocIdentity], chunk_doc: np.ndarray, chunk_years: list[frozenset[int]],
                 chunk_article: np.ndarray, chunk_zh: np.ndarray, chunk_text: list[str],
                 chunk_section: list[str], chunk_point_years: list[frozenset[int]] | None = None):
        self.docs = docs
        self.by_id = {d.doc_id: i for i, d in enumerate(docs)}
        self.chunk_doc = chunk_doc            # row -> document index
        self.chunk_years = chunk_years        # row -> years it speaks about
        self.chunk_article = chunk_article    # row -> article number (0: none)
        self.chunk_zh = chunk_zh              # row -> Chinese passage
        self.chunk_text = chunk_text
        self.chunk_section = chunk_section
        # The years a passage names one by one (no periods such as 十四五): timeref.point_years.
        self.chunk_point_years = chunk_point_years or chunk_years

    @classmethod
    def from_index(cls, data) -> "Catalog":
        order = list(data.docs)
        index = {d: i for i, d in enumerate(order)}
        articles: dict[str, list[int]] = {d: [] for d in order}
        chunk_article = np.zeros(len(data.chunks), dtype=np.int32)
        for row, c in enumerate(data.chunks):
            n = article_number(c.section)
            if n:
                chunk_article[row] = n
                articles[c.doc_id].append(n)
        docs = [identity_of(d, data.docs[d].metadata, articles[d]) for d in order]
        ref = {d.doc_id: d.year for d in docs}
        return cls(docs,
                   np.array([index[c.doc_id] for c in data.chunks], dtype=np.int32),
                   [frozenset(c.years) for c in data.chunks], chunk_article,
                   np.array([is_chinese(c.text) for c in data.chunks], dtype=bool),
                   [c.text for c in data.chunks], [c.section for c in data.chunks],
                   [frozenset(point_years(c.text, ref[c.doc_id]) | point_years(c.section, ref[c.doc_id]))
                    if c.years else frozenset() for c in data.chunks])

    def doc(self, doc_id: str) -> DocIdentity:
        return self.docs[self.by_id[doc_id]]

    def years_covered(self, doc_type: str | None = None, place: str | None = None) -> list[int]:
        """The dates (years) of the documents of a type / jurisdiction."""
        return sorted({d.year for d in self.docs if d.year and (doc_type is None or d.doc_type == doc_type)
                       and (place is None or d.jurisdiction == place)})

    def places_covered(self) -> list[str]:
        return sorted({d.jurisdiction for d in self.docs if d.jurisdiction}, key=place_order)


def article_number(section: str) -> int | None:
    """The article (第X条) a passage belongs to: the innermost one of its heading path."""
    found = _ARTICLE.findall(section.rsplit(" > ", 1)[-1]) if section else []
    return zh_to_int(found[-1]) if found else None
