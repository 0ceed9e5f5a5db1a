"""The glossary at work: terms it knows inside a question or a sentence.

Used for query expansion (an English question's policy terms add their Chinese forms to
the BM25 side, and a Chinese question's add English forms for English documents) and for
glosses in answers (专精特新 [specialized, refined, distinctive and innovative]).
"""
from __future__ import annotations

import re

from .glossary import Glossary, GlossaryEntry, en_key

_WORDS = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*")


def entries_in_english(text: str, glossary: Glossary | None = None) -> list[GlossaryEntry]:
    """Glossary entries whose English form (or variant) occurs in `text`, longest first,
    without overlaps ("science and technology innovation centre" beats "innovation")."""
    g = glossary or Glossary.load()
    found = _exact_in_english(text, g)
    # ... and those the question says in its own words (most of a form's content words)
    for i, _, _ in g.by_words(text, inside=True):
        if g.entries[i] not in found:
            found.append(g.entries[i])
    return found


def _exact_in_english(text: str, g: Glossary) -> list[GlossaryEntry]:
    tokens = en_key(text)
    longest = max((len(k) for k in g._en), default=0)
    found: list[GlossaryEntry] = []
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            rows = g._en.get(tuple(tokens[i:i + n]))
            if rows and (n > 1 or len(tokens[i]) >= 4):
                for idx, _, _ in rows:
                    if g.entries[idx] not in found:
                        found.append(g.entries[idx])
                i += n - 1
                break
        i += 1
    return found


def entries_in_chinese(text: str, glossary: Glossary | None = None) -> list[tuple[int, int, GlossaryEntry]]:
    """(start, end, entry) of glossary terms in Chinese `text`, longest match first, no overlaps."""
    g = glossary or Glossary.load()
    forms = _zh_forms(g)
    spans: list[tuple[int, int, GlossaryEntry]] = []
    taken = [False] * len(text)
    for form, entry in forms:
        start = text.find(form)          # plain find: ~900 forms per call, most absent
        while start >= 0:
            end = start + len(form)
            if not any(taken[start:end]):
                spans.append((start, end, entry))
                taken[start:end] = [True] * (end - start)
            start = text.find(form, end)
    return sorted(spans, key=lambda s: s[0])


_ZH_FORMS: dict[int, list[tuple[str, GlossaryEntry]]] = {}


def _zh_forms(g: Glossary) -> list[tuple[str, GlossaryEntry]]:
    """Chinese forms of all entries, longest first (computed once per glossary)."""
    if id(g) not in _ZH_FORMS:
        pairs = [(f, e) for e in g.entries for f in (e.zh, *e.zh_variants) if len(f) >= 2]
        _ZH_FORMS[id(g)] = sorted(pairs, key=lambda p: -len(p[0]))
    return _ZH_FORMS[id(g)]


def gloss(sentence: str, glossary: Glossary | None = None, max_glosses: int = 4) -> str:
    """The sentence with the English rendering after each (first) glossary term in it."""
    out, pos, seen = [], 0, set()
    for start, end, entry in entries_in_chinese(sentence, glossary):
        if entry.zh in seen or len(seen) >= max_glosses:
            continue
        seen.add(entry.zh)
        out.append(sentence[pos:end])
        out.append(f" [{entry.en}]")
        pos = end
    out.append(sentence[pos:])
    return "".join(out)
