"""Key terms of a question and how well a passage covers them.

The found / not-found decision reads this: a passage that is close in meaning but
misses the question's names or numbers (上海 instead of 北京, 2019 instead of 2022), or
most of its key terms, does not answer it. For English questions a term counts as
present when the word or one of its dictionary translations is in the passage.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.tokenize import jieba_tokenizer, word_tags
from ingest.zhtext import EN_STOP, WORD, ZH_STOP

_MONTHS = set("january february march april may june july august september october november december".split())
_NAME_FLAGS = {"ns", "nr", "nt", "nz", "nrt"}


@dataclass(frozen=True)
class KeyTerm:
    text: str
    alternatives: tuple[str, ...]     # any of these in a passage counts as the term
    weight: float
    required: bool                    # a name or number the passage must contain
    parts: tuple[str, ...] = ()       # its words (财政赤字 -> 财政, 赤字): some of them count in part
    noun: bool = False                # a noun by jieba's tagging (票价, 大熊猫): what a question is about


def key_terms(question: str, zh: bool, doc_freq: dict[str, int] | None = None) -> list[KeyTerm]:
    """The question's key terms (question normalised; `doc_freq` enables translations)."""
    return _zh_terms(question) if zh else _en_terms(question, doc_freq or {})


# A compound term missing whole but present in its words (赤字率 for 财政赤字率) counts this much.
PART_CREDIT = 0.7


def coverage(terms: list[KeyTerm], passage: str) -> tuple[float, bool]:
    """(weighted share of terms present, whether every required term is present)."""
    if not terms:
        return 0.0, True
    low = passage.lower()
    present = [1.0 if any(a in low for a in t.alternatives) else
               PART_CREDIT * sum(p in low for p in t.parts) / len(t.parts) if t.parts else 0.0
               for t in terms]
    total = sum(t.weight for t in terms)
    share = sum(t.weight * p for t, p in zip(terms, present)) / total
    return share, all(p == 1.0 for t, p in zip(terms, present) if t.required)


def _zh_terms(question: str) -> list[KeyTerm]:
    """Words of the question in jieba's precise cut (财政赤字, 总产量), each with the smaller
    words the index knows it by (财政, 赤字), so a passage saying 赤字率 still counts in part."""
    jieba = jieba_tokenizer()
    tags = _zh_tags(question)
    names = {w for w, flag in tags.items() if flag in _NAME_FLAGS and len(w) >= 2}
    out: dict[str, KeyTerm] = {}
    for m in WORD.finditer(question):
        piece = m.group(0)
        words = [piece.lower()] if piece[0].isascii() else jieba.lcut(piece)
        # the word before, over a measure word (哪 次 会议, 什么 样 的 ...)
        before = [""] + [w if not (i and len(w) == 1 and tags.get(w) == "q") else words[i - 1]
                         for i, w in enumerate(words)]
        for prev, t in zip(before, words):
            if t in ZH_STOP or t in EN_STOP or (len(t) < 2 and not t.isdigit()):
                continue
            number = bool(re.search(r"\d", t))
            parts = () if number or len(t) < 3 else tuple(
                p for p in dict.fromkeys(jieba.cut_for_search(t)) if len(p) >= 2 and p != t)
            out[t] = KeyTerm(t, (t.lower(),), 2.0 if number or t in names else 1.0, number or t in names, parts,
                             noun=tags.get(t, "").startswith("n") and not number and not prev.startswith(_ASKS))
    return list(out.values())


# 哪次会议, 什么机构: the noun after a question word names what is asked for, not the topic.
_ASKS = ("哪", "什么", "何", "几", "谁", "多少")


def _zh_tags(question: str) -> dict[str, str]:
    """Word -> jieba's part-of-speech tag (ns place, nr person, nt organisation, n noun ...)."""
    return dict(word_tags(question))


def _en_terms(question: str, doc_freq: dict[str, int]) -> list[KeyTerm]:
    from ingest.enwords import lemma_candidates

    from .crosslingual import dictionary_senses, reverse_dictionary
    rev = reverse_dictionary()
    tokens = list(re.finditer(r"\d+(?:st|nd|rd|th)\b|[A-Za-z]+|\d+(?:\.\d+)?", question))
    out: list[KeyTerm] = []
    i = 0
    while i < len(tokens):
        word = tokens[i].group(0)
        low = word.lower()
        # Capitalised words weigh more but are not required: in "Five-Year Plan" they are no names.
        weight = 1.5 if word[0].isupper() and i > 0 and low not in _MONTHS else 1.0
        phrase = _dictionary_phrase(question, tokens, i, rev, doc_freq)
        if phrase:
            # One term for a phrase the dictionary holds whole ("come into force" -> 施行):
            # its words apart ("come", "force") find nothing of what it means.
            n, zh = phrase
            words = [t.group(0).lower() for t in tokens[i:i + n]]
            forms = [" ".join(words[:-1] + [lemma]) for lemma in lemma_candidates(words[-1])]
            parts = tuple(w for w in words if w not in EN_STOP)
            out.append(KeyTerm(" ".join(t.group(0) for t in tokens[i:i + n]), tuple(dict.fromkeys(forms + zh)),
                               weight, False, parts))
            i += n
            continue
        i += 1
        if low in EN_STOP or (len(low) < 3 and not low.isdigit()):
            continue
        if re.match(r"\d", low):
            # A number must be in the passage; an ordinal (14th -> 十四五) need not be written in digits.
            ordinal = not low[-1].isdigit()
            out.append(KeyTerm(word, (re.sub(r"\D", "", low),), 1.0 if ordinal else 2.0, not ordinal))
            continue
        senses = dictionary_senses(rev, [low])
        zh = sorted((z for z in senses if z in doc_freq), key=lambda z: (-senses[z], -doc_freq[z]))[:4]
        out.append(KeyTerm(word, tuple(dict.fromkeys(lemma_candidates(low) + zh)), weight, False))
    return out


def _dictionary_phrase(question: str, tokens: list, i: int, rev: dict,
                       doc_freq: dict[str, int]) -> tuple[int, list[str]] | None:
    """(words, its Chinese terms of the index) for the longest phrase of 2-3 words from
    token `i` that the dictionary holds whole, or None."""
    from .crosslingual import dictionary_senses
    for n in (3, 2):
        gram = tokens[i:i + n]
        if len(gram) < n or not all(t.group(0).isalpha() for t in gram) or gram[0].group(0).lower() in EN_STOP:
            continue
        if any(question[a.end():b.start()] not in (" ", "-") for a, b in zip(gram, gram[1:])):
            continue
        senses = dictionary_senses(rev, [t.group(0).lower() for t in gram])
        zh = sorted((z for z in senses if z in doc_freq), key=lambda z: (-senses[z], -doc_freq[z]))[:4]
        if zh:
            return n, zh
    return None
