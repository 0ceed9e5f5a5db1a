"""Key terms of a question and how well a passage covers them.

The found / not-found decision reads this: a passage that is close in meaning but
misses the question's names or numbers (上海 instead of 北京, 2019 instead of 2022), or
most of its key terms, does not answer it. For English questions a term counts as
present when the word or one of its dictionary translations is in the passage.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from ingest.tokenize import _get_jieba

from .normalize import _EN_STOP, content_terms

_MONTHS = set("january february march april may june july august september october november december".split())
_NAME_FLAGS = {"ns", "nr", "nt", "nz", "nrt"}
_posseg_lock = threading.Lock()


@dataclass(frozen=True)
class KeyTerm:
    text: str
    alternatives: tuple[str, ...]     # any of these in a passage counts as the term
    weight: float
    required: bool                    # a name or number the passage must contain


def key_terms(question: str, zh: bool, doc_freq: dict[str, int] | None = None) -> list[KeyTerm]:
    """The question's key terms (question normalised; `doc_freq` enables translations)."""
    return _zh_terms(question) if zh else _en_terms(question, doc_freq or {})


def coverage(terms: list[KeyTerm], passage: str) -> tuple[float, bool]:
    """(weighted share of terms present, whether every required term is present)."""
    if not terms:
        return 0.0, True
    low = passage.lower()
    present = [any(a in low for a in t.alternatives) for t in terms]
    total = sum(t.weight for t in terms)
    share = sum(t.weight for t, p in zip(terms, present) if p) / total
    return share, all(p for t, p in zip(terms, present) if t.required)


def _zh_terms(question: str) -> list[KeyTerm]:
    names = _zh_names(question)
    out: dict[str, KeyTerm] = {}
    for t in content_terms(question):
        if len(t) < 2 and not t.isdigit():
            continue
        number = bool(re.search(r"\d", t))
        out[t] = KeyTerm(t, (t.lower(),), 2.0 if number or t in names else 1.0, number or t in names)
    return list(out.values())


def _zh_names(question: str) -> set[str]:
    """Place, person and organisation names by jieba's part-of-speech tags."""
    _get_jieba()                 # the dictionary posseg also uses, loaded once
    with _posseg_lock:
        import jieba.posseg as pseg
        return {w for w, flag in pseg.cut(question) if flag in _NAME_FLAGS and len(w) >= 2}


def _en_terms(question: str, doc_freq: dict[str, int]) -> list[KeyTerm]:
    from .crosslingual import _lemmas, _senses, reverse_dictionary
    rev = reverse_dictionary()
    out: list[KeyTerm] = []
    for i, m in enumerate(re.finditer(r"\d+(?:st|nd|rd|th)\b|[A-Za-z]+|\d+(?:\.\d+)?", question)):
        word = m.group(0)
        low = word.lower()
        if low in _EN_STOP or (len(low) < 3 and not low.isdigit()):
            continue
        if re.match(r"\d", low):
            # A number must be in the passage; an ordinal (14th -> 十四五) need not be written in digits.
            ordinal = not low[-1].isdigit()
            out.append(KeyTerm(word, (re.sub(r"\D", "", low),), 1.0 if ordinal else 2.0, not ordinal))
            continue
        senses = _senses(rev, [low])
        zh = sorted((z for z in senses if z in doc_freq), key=lambda z: (-senses[z], -doc_freq[z]))[:4]
        # Capitalised words weigh more but are not required: in "Five-Year Plan" they are no names.
        name = word[0].isupper() and i > 0 and low not in _MONTHS
        out.append(KeyTerm(word, tuple(dict.fromkeys(_lemmas(low) + zh)), 1.5 if name else 1.0, False))
    return out
