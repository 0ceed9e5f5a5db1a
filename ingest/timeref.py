"""The years a passage speaks about, resolved against its document's date.

`years_in(text, ref_year)` is a pure function. It reads explicit years (`2024年`,
`二〇三五年`, `in 2016`) and ranges (`2019—2022年`, `2016-2020`), and, when the
document's year is known, the relative forms a government report uses for them:
今年 / 本年 (the report's year), 去年 / 上年 / 过去一年 (the year before), 明年, 前年,
过去五年 / 五年来 / 近五年, "十四五"时期 (2021–2025), and the English `this year`,
`last year`, `the past five years`, `the 13th Five-Year Plan`. A work report delivered
in March 2024 says 今年 of 2024 and 过去一年 of 2023; without a document date the
relative forms resolve to nothing rather than to a guess.
"""
from __future__ import annotations

import re

from .places import places_in_english
from .zhnum import DIGITS, zh_to_int

_Y = r"(?:19|20)\d\d"
_ZH_DIGIT = "〇零一二三四五六七八九"
_N = "一二三四五六七八九十两"

# Explicit years. A range needs 年 after its end (or English context) so that 2019-2022
# in a table of figures is not taken for one; a bare year in Chinese needs 年.
_RANGE_ZH = re.compile(rf"({_Y})\s*年?\s*(?:[—–\-~～至到]|年到)\s*({_Y})\s*年")
_YEAR_ZH = re.compile(rf"(?<!\d)({_Y})\s*年(?!代)")
_YEAR_ZH_NUMERAL = re.compile(rf"([一二][{_ZH_DIGIT}]{{3}})年")
_RANGE_EN = re.compile(rf"\b({_Y})\s*(?:-|–|—|to|through|until)\s*({_Y})\b")
_YEAR_EN = re.compile(rf"(?<![\d,.$])\b({_Y})\b(?![\d,.]\d)(?!\s*(?:yuan|percent|km|tons|million|billion|hectares|mu)\b)")
# A year inside a name is no time: Made in China 2025, the 2022 Winter Olympic Games, the
# 1992 Consensus. Told by a capitalised word right before it (not a preposition) or right
# after it (not a place: "in 2022 Beijing ..." keeps its year).
_NAME_BEFORE = re.compile(r"\b([A-Z][a-z]+)\s+$")
_NAME_AFTER = re.compile(r"^\s+([A-Z][a-z]+)")
_NOT_NAMES = {"in", "by", "since", "for", "from", "until", "till", "before", "after", "during", "of", "on", "at",
              "to", "through", "between", "and", "or", "than", "year", "fy"}


def _named(text: str, m: re.Match) -> bool:
    before = _NAME_BEFORE.search(text, max(0, m.start() - 30), m.start())
    if before and before.group(1).lower() not in _NOT_NAMES:
        return True
    after = _NAME_AFTER.match(text[m.end():m.end() + 30])
    if after and after.group(1).lower() not in _NOT_NAMES:
        word = after.group(1)
        return not places_in_english(word) and word not in ("China", "Chinese")
    return False


def _english_years(text: str):
    """The matches of _YEAR_EN that are years, not parts of names."""
    return [m for m in _YEAR_EN.finditer(text) if not _named(text, m)]

# Relative forms: (pattern, offsets from the reference year). N-year spans are handled below.
# 比上年增加 / 较去年 / 同比 compare with the year before; the passage speaks of its own year.
_REL_ZH = [
    (re.compile(r"今年|本年|年内"), (0,)),
    (re.compile(r"(?<![比较])(?:去年|上年|上一年度|上一年)(?!同期)|过去一年|过去的一年|一年来"), (-1,)),
    (re.compile(r"前年"), (-2,)),
    (re.compile(r"明年|下一年|来年"), (1,)),
]
_SPAN_ZH = re.compile(rf"(?:过去|近|前)(?:的)?([{_N}\d]{{1,3}})年(?:和([{_N}\d]{{1,3}})年)?|([{_N}\d]{{1,3}})年(?:来|间)")
_REL_EN = [
    (re.compile(r"\bthis year\b|\bthe current year\b", re.I), (0,)),
    (re.compile(r"(?<!than )(?<!over )\blast year\b|\bthe past year\b|(?<!than )\bthe previous year\b", re.I), (-1,)),
    (re.compile(r"\bnext year\b", re.I), (1,)),
]
_EN_NUM = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_SPAN_EN = re.compile(r"\b(?:the\s+)?(?:past|last|previous)\s+(two|three|four|five|six|seven|eight|nine|ten|\d{1,2})\s+years\b", re.I)
# Five-Year Plans: “十四五” / 第十四个五年规划 / the 14th Five-Year Plan.
_PLAN_ZH = re.compile(r"十([一二三四五六七八九])五|第([十一二三四五六七八九]{1,3})个五年规划")
_PLAN_EN = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\s+Five-Year\s+Plan", re.I)
_MAX_SPAN = 30      # "一百年来" speaks of a century, not of years a question would name


def plan_years(n: int) -> tuple[int, int]:
    """First and last year of the n-th Five-Year Plan (the 3rd began in 1966 after a gap)."""
    start = 1953 + 5 * (n - 1) if n <= 2 else 1966 + 5 * (n - 3)
    return start, start + 4


def years_in(text: str, ref_year: int | None = None) -> set[int]:
    """Years that `text` speaks about; relative forms need `ref_year`, the document's year."""
    return _years(text, ref_year, periods=True)


def point_years(text: str, ref_year: int | None = None) -> set[int]:
    """The years `text` names one by one (2024年, 今年, last year), without the years of
    periods (2019—2022年, 过去五年, "十四五"时期): a passage about a five-year period
    does not answer a question about one of its years."""
    return _years(text, ref_year, periods=False)


def year_groups(text: str) -> list[tuple[int, ...]]:
    """The explicit years of a question as it groups them, in order: a range is one group
    (2018年到2022年), listed years are one each (2021年和2022年)."""
    found: list[tuple[int, tuple[int, ...]]] = []
    for m in list(_RANGE_ZH.finditer(text)) + list(_RANGE_EN.finditer(text)):
        found.append((m.start(), tuple(sorted(_span(int(m.group(1)), int(m.group(2)))))))
    masked = _RANGE_EN.sub(lambda m: " " * len(m.group(0)), _RANGE_ZH.sub(lambda m: " " * len(m.group(0)), text))
    found += [(m.start(), (int(m.group(1)),)) for m in _YEAR_ZH.finditer(masked)]
    found += [(m.start(), (int(m.group(1)),)) for m in _english_years(masked)]
    for m in _YEAR_ZH_NUMERAL.finditer(masked):
        found.append((m.start(), (int("".join(str(DIGITS[c]) for c in m.group(1))),)))
    out: list[tuple[int, ...]] = []
    for _, g in sorted(found):
        if g not in out:
            out.append(g)
    return out


def _years(text: str, ref_year: int | None, periods: bool) -> set[int]:
    out: set[int] = set()
    if periods:
        for m in _RANGE_ZH.finditer(text):
            out |= _span(int(m.group(1)), int(m.group(2)))
    else:
        text = _RANGE_ZH.sub(" ", text)
    for m in _YEAR_ZH.finditer(text):
        out.add(int(m.group(1)))
    for m in _YEAR_ZH_NUMERAL.finditer(text):
        out.add(int("".join(str(DIGITS[c]) for c in m.group(1))))
    if periods:
        for m in _RANGE_EN.finditer(text):
            out |= _span(int(m.group(1)), int(m.group(2)))
    else:
        text = _RANGE_EN.sub(" ", text)
    for m in _english_years(text):
        out.add(int(m.group(1)))
    if periods:
        for m in _PLAN_ZH.finditer(text):
            n = 10 + _N.index(m.group(1)) + 1 if m.group(1) else zh_to_int(m.group(2))
            if n and 1 <= n <= 20:
                out |= _span(*plan_years(n))
        for m in _PLAN_EN.finditer(text):
            out |= _span(*plan_years(int(m.group(1))))
    if ref_year is None:
        return out
    for pattern, offsets in _REL_ZH + _REL_EN:
        if pattern.search(text):
            out |= {ref_year + o for o in offsets}
    if not periods:
        return out
    for m in _SPAN_ZH.finditer(text):
        for g in (m.group(1), m.group(2), m.group(3)):
            n = _count(g)
            if n and n <= _MAX_SPAN:
                out |= _span(ref_year - n, ref_year - 1)
    for m in _SPAN_EN.finditer(text):
        n = _count(m.group(1))
        if n:
            out |= _span(ref_year - n, ref_year - 1)
    return out


def passage_years(text: str, section: str, ref_year: int | None) -> tuple[int, ...]:
    """The years of a passage: those its text names and those of its heading path
    (a passage under 一、2023年工作回顾 speaks of 2023 even when it says 过去一年 or nothing)."""
    return tuple(sorted(years_in(text, ref_year) | years_in(section, ref_year)))


def _count(token: str | None) -> int | None:
    if not token:
        return None
    if token.isdigit():
        return int(token)
    if token.lower() in _EN_NUM:
        return _EN_NUM[token.lower()]
    return zh_to_int(token)


def _span(a: int, b: int) -> set[int]:
    if a > b:
        a, b = b, a
    return set(range(a, b + 1)) if b - a <= _MAX_SPAN else {a, b}


def format_years(years, sep: str = ", ") -> str:
    """2017, 2021–2026: runs of consecutive years joined with an en dash."""
    ys = sorted(set(years))
    runs: list[str] = []
    i = 0
    while i < len(ys):
        j = i
        while j + 1 < len(ys) and ys[j + 1] == ys[j] + 1:
            j += 1
        runs.append(str(ys[i]) if i == j else f"{ys[i]}–{ys[j]}")
        i = j + 1
    return sep.join(runs)
