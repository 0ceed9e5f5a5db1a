"""Query analysis: one question read once into what every later stage needs.

`analyse(question, catalog, doc_freq)` normalises the question, reads its constraints
(years, places, documents, articles), takes what they read out of the text that key
terms and BM25 see, picks the key terms, and says what kind of answer is asked for (a
number, a date, a list, a whole article). Pure apart from jieba and the dictionaries.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.zhtext import is_chinese

from .catalog import Catalog
from .constraints import Constraints, parse_constraints
from .evidence import KeyTerm, key_terms
from .normalize import content_terms, normalize_query

# What the answer must hold. A question asking 多少/几/how many wants a number; 什么时候/
# 何时/when wants a date; 哪些/what measures wants the whole list a sentence begins.
_WANTS_NUMBER_ZH = re.compile(r"多少|几[个项所次年倍]?|多大|多长|多高|多久|比例|比重|百分之|增速|增长率|涨幅|规模|目标是|水平")
_WANTS_DATE_ZH = re.compile(r"什么时候|何时|哪一天|哪天|哪一年|哪年|几月|日期|起施行|多长时间")
_WANTS_LIST_ZH = re.compile(r"哪些|哪几|什么措施|什么做法|什么政策|什么要求|什么规定|有什么|怎样|如何|怎么|采用.*模式")
_WANTS_NUMBER_EN = re.compile(r"\bhow (?:many|much|long|high|large|big)\b|\bwhat (?:percentage|share|proportion|rate|ratio|level|"
                              r"target|amount|number|size|growth)|\bby how\b|\btotal\b", re.I)
_WANTS_DATE_EN = re.compile(r"\bwhen\b|\bwhat (?:date|day|year)\b|\bwhich (?:date|day|year)\b|\bsince when\b", re.I)
_WANTS_LIST_EN = re.compile(r"\bwhich (?:measures|policies|steps|practices|areas|industries)\b|\bwhat (?:measures|policies|"
                            r"steps|practices|requirements|rules|industries)\b|\bhow (?:did|does|do|should|will)\b", re.I)
# 多少斤 / 多少人 / 多少项: the unit the answer is counted in.
_UNIT_ZH = re.compile(r"多少([斤元人项所个家万亿倍吨]|万[元人]|亿元|公顷)")
# Words that only ask what an article says: 专利法第四十二条规定了什么 wants the article itself.
_GENERIC = frozenset("规定 什么 内容 说 讲 条款 怎么 如何 具体 哪些 主要 provide provision say stipulate state "
                     "set out content contain article law regulation".split())


@dataclass(frozen=True)
class Query:
    """A question as the query path reads it."""
    question: str                  # as asked
    text: str                      # normalised
    zh: bool
    constraints: Constraints
    rest: str                      # `text` without what the constraints read
    terms: tuple[KeyTerm, ...]     # key terms of `rest`
    wants_number: bool = False
    wants_date: bool = False
    wants_list: bool = False
    unit: str = ""                 # 斤 in 多少斤
    whole_article: bool = False    # 专利法第四十二条规定了什么: the article itself is the answer


def analyse(question: str, catalog: Catalog | None, doc_freq: dict[str, int] | None = None) -> Query:
    text = normalize_query(question)
    zh = is_chinese(text)
    cons = parse_constraints(text, zh, catalog)
    rest = without(text, cons.spans)
    wants_date = bool((_WANTS_DATE_ZH if zh else _WANTS_DATE_EN).search(text))
    unit = m.group(1) if zh and (m := _UNIT_ZH.search(text)) else ""
    return Query(question, text, zh, cons, rest, tuple(key_terms(rest, zh, doc_freq)),
                 wants_number=wants_date or bool((_WANTS_NUMBER_ZH if zh else _WANTS_NUMBER_EN).search(text)),
                 wants_date=wants_date,
                 wants_list=bool((_WANTS_LIST_ZH if zh else _WANTS_LIST_EN).search(text)),
                 unit=unit,
                 whole_article=bool(cons.articles) and _only_generic(rest))


def _only_generic(rest: str) -> bool:
    from .lemmas import lemma
    return all(lemma(t) in _GENERIC or t in _GENERIC for t in content_terms(rest))


def without(text: str, spans) -> str:
    """`text` with the spans blanked out (what the constraints read is not a key term)."""
    chars = list(text)
    for s, e in spans:
        chars[s:e] = " " * (e - s)
    return re.sub(r"\s+", " ", "".join(chars)).strip() or text
