"""What a question says about *where* its answer stands: years, places, the document
(by type, year, name, law, 文号, congress) and the article of a law.

`parse_constraints(question, zh, catalog)` is a pure function of the normalised question
and the loaded documents (names are matched against what the index holds, so `中关村示范区
条例` finds 中关村国家自主创新示范区条例 and `the Patent Law` finds 中华人民共和国专利法).
The spans it reads are returned too, so that key terms and BM25 do not count them again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.identity import DOC_NUMBER, DOC_TYPES
from ingest.places import NATIONAL, national_spans, places_in_chinese, places_in_english
from ingest.timeref import year_groups, years_in
from ingest.zhnum import int_to_zh, zh_to_int
from ingest.zhtext import HAN_URO

from .catalog import Catalog

_CONGRESS_ZH = re.compile(r"(?:党的)?(?<![一二三四五六七八九十])(十[一二三四五六七八九]?|[二三]十[一二三四五六七八九]?)大"
                          r"(?:报告|(?=精神|以来|上|的|和|与|、|，|提出|指出|强调|明确|要求|$))")
_LAW_GENERIC_ZH = re.compile(r"法律(?:规定|中|上)?|法律法规")
_CONGRESS_EN = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\s+(?:National\s+)?(?:Party\s+|CPC\s+)?Congress\b", re.I)
_HAN_URO_CHAR = re.compile(f"[{HAN_URO}]")
_WORK_REPORT_ZH = re.compile(
    rf"(?:((?:19|20)\d\d)\s*年(?:的|度)?)?(?:(国务院|全国|北京市?|上海市?|[{HAN_URO}]{{2,3}}[省市])的?)?政府工作报告")
_WORK_REPORT_EN = re.compile(
    r"(?:\b((?:19|20)\d\d)(?:'s)?\s+)?(?:(national|central|Beijing|Shanghai)\s+)?"
    r"(?:government\s+work\s+report|report\s+on\s+the\s+work\s+of\s+the\s+government|work\s+report)s?", re.I)
_YEAR_REPORT_EN = re.compile(r"\b((?:19|20)\d\d)\s+(?:report|document|plan)\b", re.I)
_ARTICLE_ZH = re.compile(r"第([一二三四五六七八九十百零〇\d]{1,6})条")
_ARTICLE_EN = re.compile(r"\bArticles?\s+(\d{1,3})\b", re.I)
_RESEARCH_ZH = re.compile(r"有研究|研究认为|研究文章|该研究|论文|文章(?:中|认为|指出)|学者")
_RESEARCH_EN = re.compile(r"\b(?:research\s+article|the\s+article|the\s+study|the\s+paper|researchers?)\b", re.I)
_ENGLISH_VERSION = re.compile(r"\b(?:English\s+(?:report|version|translation|text)|in\s+English)\b", re.I)
# Words a document's name ends with; the name is the longest run before it that fits a title.
_NAME_END = re.compile(r"法(?![律规院官治定人])|条例|实施方案|方案|规划|纲要|意见|通知|决定|办法|规定|细则")
_QUOTED = re.compile(r"《([^》]{2,60})》")
_MIN_NAME = 3
# The word that makes an English name a law's: it must be in the question, not only the topic.
_LAW_WORDS = {"law", "regulation", "code", "constitution", "measure", "rule", "provision"}


@dataclass(frozen=True)
class Constraints:
    """Where the answer must stand. Empty tuples constrain nothing."""
    years: tuple[int, ...] = ()          # years the passage must speak about
    year_groups: tuple[tuple[int, ...], ...] = ()   # as the question groups them: a range, or one year
    doc_years: tuple[int, ...] = ()      # the year of a named document (2024年政府工作报告)
    places: tuple[str, ...] = ()         # jurisdictions (全国, 北京市)
    doc_types: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()           # documents named by title, law name, 文号 or congress
    named: tuple[str, ...] = ()          # those names as the question wrote them
    unknown_names: tuple[str, ...] = ()  # names the question gives that no loaded document has
    articles: tuple[int, ...] = ()       # 第X条 / Article N
    languages: tuple[str, ...] = ()      # "the English report"
    spans: tuple[tuple[int, int], ...] = field(default=(), compare=False)   # read off the question here

    def __bool__(self) -> bool:
        return any((self.years, self.doc_years, self.places, self.doc_types, self.docs,
                    self.unknown_names, self.articles, self.languages))

    def to_dict(self) -> dict:
        return {k: list(getattr(self, k)) for k in ("years", "doc_years", "places", "doc_types", "docs",
                                                    "named", "unknown_names", "articles", "languages")}


class _Reader:
    """Collects constraints and masks what it has read, so later rules do not read it again."""

    def __init__(self, question: str):
        self.q = question
        self.masked = list(question)
        self.spans: list[tuple[int, int]] = []

    def take(self, start: int, end: int) -> None:
        self.spans.append((start, end))
        for i in range(start, end):
            self.masked[i] = " "

    @property
    def rest(self) -> str:
        return "".join(self.masked)


def parse_constraints(question: str, zh: bool, catalog: Catalog | None = None) -> Constraints:
    """Constraints of a normalised question (see the module docstring)."""
    r = _Reader(question)
    found: dict[str, list] = {k: [] for k in ("years", "year_groups", "doc_years", "places", "doc_types", "docs",
                                                "named", "unknown_names", "articles", "languages")}
    docs = catalog.docs if catalog is not None else []

    for m in DOC_NUMBER.finditer(r.rest):
        number = _norm_number(m.group(0))
        hits = [d.doc_id for d in docs if d.doc_number and _norm_number(d.doc_number) == number]
        found["docs" if hits else "unknown_names"] += hits or [m.group(0)]
        found["named"].append(m.group(0))
        r.take(*m.span())
    for m in (_CONGRESS_ZH if zh else _CONGRESS_EN).finditer(r.rest):
        n = m.group(1) if zh else int_to_zh(int(m.group(1)))
        hits = [d.doc_id for d in docs if d.congress == n]
        label = f"党的{n}大报告"
        found["docs" if hits else "unknown_names"] += hits or [label]
        found["named"].append(m.group(0))
        r.take(*m.span())
    for m in (_WORK_REPORT_ZH if zh else _WORK_REPORT_EN).finditer(r.rest):
        found["doc_types"].append("work_report")
        if m.group(1):
            found["doc_years"].append(int(m.group(1)))
        who = m.group(2)
        if who:
            p = _place_of(who, zh)
            if p:
                found["places"].append(p)
        r.take(*m.span())
    if not zh:
        for m in _YEAR_REPORT_EN.finditer(r.rest):
            found["doc_years"].append(int(m.group(1)))
            r.take(*m.span())
    for name, hits, span in (_chinese_names(r.rest, docs) if zh else _english_names(r.rest, docs)):
        found["docs"] += hits
        found["named"].append(name)
        r.take(*span)
    for m in (_ARTICLE_ZH if zh else _ARTICLE_EN).finditer(r.rest):
        n = zh_to_int(m.group(1))
        if n:
            found["articles"].append(n)
            r.take(*m.span())
    if (_RESEARCH_ZH if zh else _RESEARCH_EN).search(r.rest):
        found["doc_types"].append("article")
    if zh and not found["docs"]:
        for m in _LAW_GENERIC_ZH.finditer(r.rest):       # 我国法律规定的…: a law says it
            found["doc_types"] += ["law", "regulation"]
            r.take(*m.span())
    if not zh and _ENGLISH_VERSION.search(r.rest):
        found["languages"].append("en")
    rest = r.rest
    found["years"] += sorted(years_in(rest))
    found["year_groups"] += year_groups(rest)
    for s, e, p in (places_in_chinese(rest) if zh else places_in_english(rest)):
        found["places"].append(p)
        r.take(s, e)
    national = national_spans(rest, zh)
    if national and not found["places"]:
        found["places"].append(NATIONAL)
        for span in national:
            r.take(*span)
    # Years are spans of the question too (their digits are not key terms of a passage).
    for m in re.finditer(r"(?:19|20)\d\d\s*年?(?:\s*[—–\-~～至到]\s*(?:19|20)\d\d\s*年?)?", rest):
        r.take(*m.span())
    return Constraints(**{k: tuple(dict.fromkeys(v)) for k, v in found.items()}, spans=tuple(r.spans))


def _norm_number(s: str) -> str:
    return re.sub(r"\s+", "", s).translate(str.maketrans("[]［］()（）", "〔〕〔〕〔〕〔〕"))


def _place_of(word: str, zh: bool) -> str | None:
    if word.lower() in ("国务院", "全国", "national", "central"):
        return NATIONAL
    found = places_in_chinese(word) if zh else places_in_english(word)
    return found[0][2] if found else None


# -- names of documents ---------------------------------------------------------------------

def _subsequence_span(phrase: str, name: str) -> int | None:
    """Length of the shortest stretch of `name` that holds `phrase`'s characters in order."""
    best = None
    for start in (i for i, ch in enumerate(name) if ch == phrase[0]):
        j = start
        for ch in phrase[1:]:
            j = name.find(ch, j + 1)
            if j < 0:
                break
        else:
            length = j - start + 1
            best = length if best is None else min(best, length)
    return best


def _matches_name(phrase: str, name: str) -> bool:
    """An abbreviation of the name (中关村示范区条例, 职教改革方案) or the name itself."""
    if phrase in name:
        return True
    span = _subsequence_span(phrase, name)
    return span is not None and span <= 2.5 * len(phrase) and name.endswith(phrase[-2:])


def _chinese_names(text: str, docs) -> list[tuple[str, list[str], tuple[int, int]]]:
    """(name as written, doc_ids it names, span) for 《…》 and phrases ending in 法/条例/方案/…"""
    out = []
    taken: list[tuple[int, int]] = []
    candidates = [(m.start(1), m.end(1)) for m in _QUOTED.finditer(text)]
    for m in _NAME_END.finditer(text):
        end = m.end()
        start = end
        while start > 0 and _HAN_URO_CHAR.match(text[start - 1]) and end - start < 40:
            start -= 1
        candidates.append((start, end))
    for start, end in candidates:
        if any(s < end and start < e for s, e in taken if e >= end):
            continue
        start = max([start] + [e for s, e in taken if e < end])   # after a name already read
        for s in range(start, end - _MIN_NAME + 1):       # longest run first
            phrase = text[s:end]
            hits = [d.doc_id for d in docs if any(_matches_name(phrase, n) for n in d.names)]
            if hits and len(hits) <= 3:
                out.append((phrase, hits, (s, end)))
                taken.append((s, end))
                break
    return out


def _english_names(text: str, docs) -> list[tuple[str, list[str], tuple[int, int]]]:
    """Law and regulation names in English, through the glossary's official renderings
    matched by their content words (`the Zhongguancun National Innovation Demonstration
    Zone Regulation` = Regulations on Zhongguancun National Innovation Demonstration Zone)."""
    from .glossary import Glossary
    from .lemmas import content_lemmas
    words = content_lemmas(text)
    if not words:
        return []
    out = []
    for entry in Glossary.load().entries:
        if entry.category != "law":
            continue
        hits = [d.doc_id for d in docs if any(_matches_name(entry.zh, n) for n in d.names)]
        if not hits:
            continue
        for form in (entry.en, *entry.en_variants):
            need = content_lemmas(form) - {"people", "republic", "china"}
            kinds = need & _LAW_WORDS
            if kinds and kinds <= words and len(need) >= 2 and len(need & words) >= max(2, 0.8 * len(need)):
                span = _span_of(text, need)
                out.append((form, hits, span))
                break
    # One name per stretch of the question: the one covering most words wins.
    out.sort(key=lambda x: -(x[2][1] - x[2][0]))
    kept: list = []
    for item in out:
        if not any(item[2][0] < k[2][1] and k[2][0] < item[2][1] for k in kept):
            kept.append(item)
    return kept


def _span_of(text: str, words: set[str]) -> tuple[int, int]:
    """The shortest stretch of `text` holding every one of `words` that it holds at all:
    in "the Patent Law say about ... invention patents" the name is "Patent Law" alone."""
    from .lemmas import lemma
    toks = [(m.span(), lemma(m.group(0).lower())) for m in re.finditer(r"[A-Za-z]+", text)]
    toks = [(span, w) for span, w in toks if w in words]
    if not toks:
        return (0, 0)
    need = {w for _, w in toks}
    best = (toks[0][0][0], toks[-1][0][1])
    for i in range(len(toks)):
        seen: set[str] = set()
        for j in range(i, len(toks)):
            seen.add(toks[j][1])
            if seen == need:
                if toks[j][0][1] - toks[i][0][0] < best[1] - best[0]:
                    best = (toks[i][0][0], toks[j][0][1])
                break
    return best


def type_label(kind: str, zh: bool) -> str:
    zh_label, en_label = DOC_TYPES.get(kind, (kind, kind))
    return zh_label if zh else en_label


def bilingual_type_label(kind: str) -> str:
    """政府工作报告 government work report: both languages, as the app shows them."""
    zh_label, en_label = DOC_TYPES.get(kind, (kind, kind))
    return f"{zh_label} {en_label}"


def identity_line(d, type_text, from_file_name: str) -> str:
    """Date · issuer · jurisdiction · type · 文号 of a document's identity (`Hit.document`),
    as far as known; `type_text(doc_type)` words its type (None leaves it out), and
    `from_file_name` marks a date read only off the file name."""
    date = d.get("date")
    if date and d.get("date_source") == "file name":
        date += from_file_name
    kind = d.get("doc_type")
    parts = [date, d.get("issuer"), d.get("jurisdiction"), type_text(kind) if kind else None, d.get("doc_number")]
    return " · ".join(p for p in parts if p)


def parse_years(text: str) -> list[int]:
    """The years of a filter box: "2024", "2021-2023, 2025", "2021–2023年" (BadQuery otherwise)."""
    from ingest.errors import BadQuery
    out: list[int] = []
    for part in re.split(r"[,，、;；\s]+", (text or "").replace("年", " ").strip()):
        if not part:
            continue
        m = re.fullmatch(r"((?:19|20)\d\d)(?:\s*[-–—~至到]\s*((?:19|20)\d\d))?", part)
        if not m:
            raise BadQuery(f"not a year or a range of years: {part!r} (e.g. 2024 or 2021-2023)")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if b < a or b - a > 100:
            raise BadQuery(f"not a range of years: {part!r}")
        out += [y for y in range(a, b + 1) if y not in out]
    return out


def filters(years=None, places=None, doc_types=None, docs=None) -> Constraints | None:
    """Explicit filters (CLI flags, the app's selectors) as constraints; BadQuery on a value
    that names nothing (an unknown type or place)."""
    from ingest.errors import BadQuery
    from ingest.places import PLACES
    if not any((years, places, doc_types, docs)):
        return None
    canon = []
    for p in places or []:
        key = p.strip()
        hit = next((pl.name for pl in PLACES if key in (pl.name, pl.short) or key.lower() in pl.english), None)
        if key in (NATIONAL, "national", "China"):
            hit = NATIONAL
        if hit is None:
            raise BadQuery(f"unknown place {p!r}: use e.g. 全国 (national), 北京市 or Beijing")
        canon.append(hit)
    for t in doc_types or []:
        if t not in DOC_TYPES:
            raise BadQuery(f"unknown document type {t!r}: use one of {', '.join(DOC_TYPES)}")
    return Constraints(years=tuple(years or ()), year_groups=tuple((y,) for y in years or ()),
                       places=tuple(canon), doc_types=tuple(doc_types or ()), docs=tuple(docs or ()))
