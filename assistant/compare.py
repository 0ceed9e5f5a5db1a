"""Comparisons across years, places and documents: one sub-question per side, one table.

`sides(q, catalog)` is a pure function: a question naming two or more years
(`2023年和2025年`), places (`北京和上海`) or documents (`十九大报告和二十大报告`), or asking
`历年` / `each year` over a kind of document, is split into sides, each the question's
constraints with one value of the compared dimension. Each side is then answered with
its own evidence and the same found decision; `table_text` lays the answers out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ingest.places import NATIONAL, place

from .catalog import Catalog
from .constraints import Constraints
from .query import Query

_EVERY_ZH = re.compile(r"历年|历次|各年|逐年|每一年|这些年")
_EVERY_EN = re.compile(r"\b(?:each|every) year\b|\bover the years\b|\byear by year\b|\bacross the years\b", re.I)
MAX_SIDES = 12


@dataclass(frozen=True)
class Side:
    label: str                  # 2021年, 北京市, 党的十九大报告（2017年）
    constraints: Constraints


def sides(q: Query, catalog: Catalog) -> tuple[str, list[Side]] | None:
    """(dimension, sides) when the question compares two or more of something, else None."""
    c = q.constraints
    if len(c.docs) >= 2:
        return "document", [Side(catalog.doc(d).display_title, replace(c, docs=(d,))) for d in c.docs[:MAX_SIDES]]
    if len(c.places) >= 2:
        return "place", [Side(_place_label(p, q.zh), replace(c, places=(p,))) for p in c.places[:MAX_SIDES]]
    if len(c.doc_years) >= 2:
        return "year", [Side(_year_label((y,), q.zh), replace(c, doc_years=(y,))) for y in c.doc_years[:MAX_SIDES]]
    if len(c.year_groups) >= 2:
        return "year", [Side(_year_label(g, q.zh), replace(c, years=g, year_groups=(g,)))
                        for g in c.year_groups[:MAX_SIDES]]
    if (_EVERY_ZH if q.zh else _EVERY_EN).search(q.text):
        docs = [d for d in catalog.docs if d.year and (not c.doc_types or d.doc_type in c.doc_types)
                and (not c.places or d.jurisdiction in c.places) and (not c.docs or d.doc_id in c.docs)]
        if len(docs) >= 2:
            docs = sorted(docs, key=lambda d: (d.year, d.display_title))[:MAX_SIDES]
            return "document", [Side(_year_label((d.year,), q.zh) if _one_per_year(docs) else d.display_title,
                                     replace(c, docs=(d.doc_id,))) for d in docs]
    return None


def _one_per_year(docs) -> bool:
    return len({d.year for d in docs}) == len(docs)


def _year_label(years: tuple[int, ...], zh: bool) -> str:
    text = str(years[0]) if len(years) == 1 else f"{years[0]}–{years[-1]}"
    return f"{text}年" if zh else text


def _place_label(p: str, zh: bool) -> str:
    if zh:
        return p
    if p == NATIONAL:
        return "national"
    pl = place(p)
    return pl.english[0].title() if pl else p


def lead(dimension: str, labels: list[str], zh: bool) -> str:
    """The lead-in: what is compared, in the question's language."""
    joined = "、".join(labels) if zh else ", ".join(labels[:-1]) + (" and " if len(labels) > 1 else "") + labels[-1]
    if zh:
        return f"分别比较{joined}（根据已载入的文件，每项均注明出处）："
    return f"Compared for {joined}, each from its own source in the loaded documents (quoted in the original language):"


def not_found_cell(zh: bool) -> str:
    return "已载入的文件中未找到" if zh else "not answered by the loaded documents"
