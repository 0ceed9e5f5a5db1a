"""A term's trend over the years: how often it (and its translations) occurs in each dated
document, e.g. 新质生产力 across the work reports 2017–2026.

`by_year(concordance, catalog, doc_types)` is a pure function over a lookup's concordance;
documents that do not use the term count 0, so a chart shows when a term appeared.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .catalog import Catalog


@dataclass(frozen=True)
class TrendPoint:
    """One dated document: its year, its display title and the term's occurrences in it."""
    year: int
    doc_id: str
    title: str
    doc_type: str
    jurisdiction: str | None
    count: int
    per_form: dict

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Trend:
    forms: tuple[str, ...]
    points: tuple[TrendPoint, ...]       # by year, then title

    def to_dict(self) -> dict:
        return {"forms": list(self.forms), "points": [p.to_dict() for p in self.points]}


def by_year(concordance, catalog: Catalog, doc_types: tuple[str, ...] | None = None) -> Trend:
    """The trend of a concordance over the dated documents (of `doc_types`, when given)."""
    counts = {d.doc_id: d for d in concordance.documents}
    points = []
    for d in catalog.docs:
        if d.year is None or (doc_types and d.doc_type not in doc_types):
            continue
        c = counts.get(d.doc_id)
        points.append(TrendPoint(d.year, d.doc_id, d.display_title, d.doc_type, d.jurisdiction,
                                 c.count if c else 0, dict(c.per_form) if c else {}))
    points.sort(key=lambda p: (p.year, p.title))
    return Trend(tuple(concordance.forms), tuple(points))
