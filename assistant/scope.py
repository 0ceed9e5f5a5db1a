"""How each passage fits a question's constraints: per dimension it matches, says
nothing, or contradicts (another year's report, another city, another article).

`fit(constraints, catalog)` is a pure function returning arrays over the index's rows;
retrieval ranks the passages that contradict nothing first and those that match more
higher, and the found decision asks that the answering passage match every dimension.
`uncovered(constraints, catalog, zh)` says what the documents cover when nothing fits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.places import NATIONAL, place, place_order
from ingest.timeref import format_years
from ingest.zhnum import int_to_zh

from .catalog import DATED_TYPES, Catalog
from .constraints import Constraints, type_label

MATCH, NEUTRAL, CONFLICT = 1, 0, -1


@dataclass(frozen=True)
class Fit:
    """Per row: one of MATCH / NEUTRAL / CONFLICT for each constrained dimension."""
    dims: dict[str, np.ndarray]

    @property
    def conflicts(self) -> np.ndarray:
        return sum((d == CONFLICT).astype(np.int32) for d in self.dims.values()) if self.dims else None

    @property
    def matches(self) -> np.ndarray:
        return sum((d == MATCH).astype(np.int32) for d in self.dims.values()) if self.dims else None

    def satisfied(self, row: int) -> bool:
        """The passage matches every constrained dimension (a neutral one is not enough)."""
        return all(d[row] == MATCH for d in self.dims.values())

    def unmet(self, row: int) -> list[str]:
        return [k for k, d in self.dims.items() if d[row] != MATCH]


def fit(c: Constraints, cat: Catalog) -> Fit:
    n_docs = len(cat.docs)
    doc_of = cat.chunk_doc
    dims: dict[str, np.ndarray] = {}

    def per_doc(values: list[int]) -> np.ndarray:
        return np.asarray(values, dtype=np.int8)[doc_of] if n_docs else np.zeros(0, dtype=np.int8)

    if c.docs or c.unknown_names:
        named = set(c.docs)
        dims["document"] = per_doc([MATCH if d.doc_id in named else CONFLICT for d in cat.docs])
    if c.doc_types:
        dims["doc_type"] = per_doc([MATCH if d.doc_type in c.doc_types else CONFLICT for d in cat.docs])
    if c.doc_years:
        dims["doc_year"] = per_doc([MATCH if d.year in c.doc_years else CONFLICT for d in cat.docs])
    if c.places:
        dims["place"] = _places(c, cat)
    if c.years:
        dims["year"] = _years(c, cat)
    if c.articles:
        art = cat.chunk_article
        has_articles = np.asarray([d.max_article is not None for d in cat.docs], dtype=bool)[doc_of] \
            if n_docs else np.zeros(0, dtype=bool)
        dims["article"] = np.where(np.isin(art, list(c.articles)), MATCH,
                                   np.where(has_articles, CONFLICT, NEUTRAL)).astype(np.int8)
    if c.languages:
        zh = cat.chunk_zh
        want_zh = "zh" in c.languages
        dims["language"] = np.where(zh == want_zh, MATCH, NEUTRAL).astype(np.int8)
    return Fit(dims)


def _places(c: Constraints, cat: Catalog) -> np.ndarray:
    """A document of the place matches; one of another place contradicts; a national or
    undated-place document matches only where the passage names the place itself."""
    wanted = set(c.places)
    local = wanted - {NATIONAL}
    doc_level = []
    for d in cat.docs:
        j = d.jurisdiction
        if j in wanted:
            doc_level.append(MATCH)
        elif j is not None and j != NATIONAL:
            doc_level.append(CONFLICT)                    # another city or province
        elif j == NATIONAL and NATIONAL in wanted:
            doc_level.append(MATCH)
        else:
            doc_level.append(NEUTRAL)
    out = np.asarray(doc_level, dtype=np.int8)[cat.chunk_doc] if cat.docs else np.zeros(0, dtype=np.int8)
    if local:
        forms = [f for p in local if (pl := place(p)) for f in (pl.name, pl.short)]
        for row in np.nonzero(out == NEUTRAL)[0]:
            where = "\n".join((cat.chunk_text[row], cat.chunk_section[row], cat.docs[cat.chunk_doc[row]].title))
            if any(f in where for f in forms):
                out[row] = MATCH
    return out


def _years(c: Constraints, cat: Catalog) -> np.ndarray:
    """A passage speaking of an asked year matches, one speaking only of others
    contradicts; a passage naming no year speaks of its document's year when the
    document is a dated report or notice, else says nothing. For a question about one
    year, a passage that has it only inside a period (“十三五”时期 for 2019) says nothing:
    it is about the period — unless the year opens the period (2026 for “十五五”), from
    which the period's measures apply."""
    wanted = set(c.years)
    single = len(wanted) == 1
    out = np.zeros(len(cat.chunk_years), dtype=np.int8)
    for row, ys in enumerate(cat.chunk_years):
        if ys:
            if not ys & wanted:
                out[row] = CONFLICT
            elif single and not cat.chunk_point_years[row] & wanted and min(ys) not in wanted:
                out[row] = NEUTRAL
            else:
                out[row] = MATCH
        else:
            d = cat.docs[cat.chunk_doc[row]]
            if d.year is not None and d.doc_type in DATED_TYPES:
                out[row] = MATCH if d.year in wanted else CONFLICT
    return out


def uncovered(c: Constraints, cat: Catalog, f: Fit, zh: bool) -> str | None:
    """Why no loaded document can answer, when the constraints leave no passage; else None."""
    if not f.dims or not len(cat.chunk_doc):
        return None
    art = _no_such_article(c, cat, zh)
    if art or (f.conflicts == 0).any():
        # Some passage fits everything: the answer may be there (the found decision says).
        return art
    lines = []
    if c.unknown_names:
        names = "、".join(c.unknown_names) if zh else ", ".join(c.unknown_names)
        lines.append(f"已载入的文件中没有{names}" if zh else f"no loaded document is {names}")
    if c.doc_types or c.doc_years:
        for kind in c.doc_types or [None]:
            lines.append(_covered_years(cat, kind, zh))
    if c.places:
        ok = [p for p in c.places if any(d.jurisdiction == p for d in cat.docs)]
        if len(ok) < len(c.places):
            have = cat.places_covered()
            lines.append(("已载入的文件所涉地区：" + "、".join(have)) if zh else
                         "the loaded documents cover: " + ", ".join(_en_place(p) for p in have))
    if c.years and not lines:
        years = sorted({y for ys in cat.chunk_years for y in ys})
        lines.append(("已载入的文件所述年份：" + format_years(years, "、")) if zh else
                     "the loaded documents speak of " + format_years(years))
    if not lines:
        lines.append("已载入的文件中没有同时符合这些条件的内容" if zh else
                     "no loaded document fits all of these conditions")
    return ("；".join(lines) + "。") if zh else ("; ".join(lines) + ".")


def _covered_years(cat: Catalog, kind: str | None, zh: bool) -> str:
    groups: dict[str, list[int]] = {}
    for d in cat.docs:
        if d.year and (kind is None or d.doc_type == kind):
            groups.setdefault(d.jurisdiction or "", []).append(d.year)
    label = type_label(kind, zh) if kind else ("文件" if zh else "documents")
    if not groups:
        return f"已载入的文件中没有{label}" if zh else f"no {label} is loaded"
    # Places with the same years share one entry: 2026年（北京市、上海市）.
    same: dict[tuple[int, ...], list[str]] = {}
    for where, years in sorted(groups.items(), key=lambda g: place_order(g[0])):
        same.setdefault(tuple(sorted(set(years))), []).append(where)
    parts = []
    for years, wheres in same.items():
        span = format_years(years, "、" if zh else ", ")
        named = [w for w in wheres if w]
        if zh:
            parts.append(f"{span}年" + (f"（{'、'.join(named)}）" if named else ""))
        else:
            parts.append(span + (f" ({', '.join(_en_place(w) for w in named)})" if named else ""))
    return (f"已载入的{label}：" + "，".join(parts)) if zh else (f"the loaded {label}s cover " + ", ".join(parts))


def _no_such_article(c: Constraints, cat: Catalog, zh: bool) -> str | None:
    """专利法第九十条 when the Patent Law has 82 articles."""
    if not c.articles or not c.docs:
        return None
    for doc_id in c.docs:
        d = cat.doc(doc_id)
        if d.max_article and all(a > d.max_article for a in c.articles):
            a = c.articles[0]
            if zh:
                return f"《{d.title}》共{int_to_zh(d.max_article)}条，没有第{int_to_zh(a)}条。"
            return f"{d.title} has {d.max_article} articles; there is no Article {a}."
    return None


def _en_place(p: str) -> str:
    if p == NATIONAL:
        return "national"
    pl = place(p)
    return pl.english[0].title() if pl else p
