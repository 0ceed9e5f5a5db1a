"""Check a model's answer against the sources it cites.

Each answer sentence is a claim. A `[n]` naming no source is removed. A claim is
supported by source n when a sentence of that source is close to it in meaning, or
fairly close while the source holds most of the claim's key terms (for English claims:
their dictionary translations). Every number in a claim must appear in a cited source
(8536.9亿元 = 853.69 billion yuan). Supported citations are renumbered to point at the
supporting sentence's exact span; unsupported claims are flagged, not passed off as cited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ingest.sentences import quotable_sentences
from ingest.zhtext import is_chinese

from .evidence import coverage, key_terms
from .tuned import AnswerWeights, CitationCheck
from .types import Citation, Flag

# Calibrated on 30 hand-written claims over the seed article (tests/data/claims.jsonl:
# true paraphrases and false claims on the same topics, in Chinese and English). e5's
# cosines crowd together, so meaning alone cannot tell them apart: a Chinese claim must
# also share most key terms with its sentence; an English one is held to its cosine plus
# a little for the dictionary translations of its terms found in the passage.
CHECK = CitationCheck()
LEXICAL = AnswerWeights().lexical
CLAIM_PROBLEMS = {"unsupported", "uncited", "number"}     # the sentence is not verified

# A citation mark as models write them: [1], [1, 3], 【1】, ［1］ (with optional spaces).
_MARK = r"\s*(?:\[\s*\d{1,3}(?:\s*[,，、;；]\s*\d{1,3})*\s*\]|【\s*\d{1,3}\s*】|［\s*\d{1,3}\s*］)"
_MARKS = re.compile(_MARK)
_MARKS_RUN = re.compile(f"(?:{_MARK})+")
NO_ANSWER = re.compile(
    r"没有(?:提供|提到|涉及|说明|相关|回答)|未(?:提及|涉及|说明|提供)|无法(?:回答|确定)|不能回答|并未|"
    r"\b(?:do(?:es)? not|don't|doesn't) (?:answer|mention|say|state|contain|provide|cover|specify)|"
    r"\bnot (?:mentioned|covered|stated|specified|provided)\b|\bno information\b", re.I)
_LIST_MARK = re.compile(r"^\s*(?:[-*•·]|\(?\d{1,2}[.)、）](?!\d)|[（(]?[一二三四五六七八九十]+[、）)])\s*")


@dataclass(frozen=True)
class SourcePassage:
    """Source n as shown to the model: a passage of a document."""
    n: int
    doc_id: str
    title: str
    section: str
    start: int
    end: int
    doc_text: str
    page_at: Callable[[int], int | None]
    document: dict = field(default_factory=dict)     # the document's identity (Hit.document)


@dataclass(frozen=True)
class Checked:
    text: str
    citations: tuple[Citation, ...]
    flags: tuple[Flag, ...]
    claims: int           # sentences that state something
    verified: int         # of those, with at least one verified citation and no flag


def split_claims(text: str) -> list[tuple[int, int]]:
    """Sentence spans of an answer; citation marks after a sentence end belong to it."""
    spans, start, i, n = [], 0, 0, len(text)
    while i < n:
        ch = text[i]
        end = ch in "。！？!?；;\n" or (ch == "." and (i + 1 == n or text[i + 1].isspace() or text[i + 1] in "[【［"))
        if end:
            j = i + 1
            m = _MARKS_RUN.match(text, j)
            if m:
                j = m.end()
            if text[start:j].strip():
                spans.append((start, j))
            elif spans:              # a bare line break stays with the sentence before it
                spans[-1] = (spans[-1][0], j)
            start = i = j
            continue
        i += 1
    if text[start:].strip():
        spans.append((start, n))
    return spans


def marks_in(sentence: str) -> list[int]:
    return [int(x) for m in _MARKS.finditer(sentence) for x in re.findall(r"\d{1,3}", m.group(0))]


class Verifier:
    """Checks answers against sources with one embedder (vectors of unit length)."""

    def __init__(self, embed_query: Callable[[str], np.ndarray],
                 embed_passages: Callable[[list[str]], np.ndarray], doc_freq: dict | None = None):
        self.embed_query, self.embed_passages, self.doc_freq = embed_query, embed_passages, doc_freq or {}

    def check(self, draft: str, sources: Sequence[SourcePassage]) -> Checked:
        by_n = {s.n: s for s in sources}
        sents = {s.n: _sentences(s) for s in sources}
        vecs: dict[int, np.ndarray] = {}
        citations: dict[tuple[str, int, int], Citation] = {}
        flags: list[Flag] = []
        out: list[str] = []
        claims = verified = 0
        for a, b in split_claims(draft):
            raw = draft[a:b]
            lead = raw[:len(raw) - len(raw.lstrip())]
            tail = raw[len(raw.rstrip()):]
            claim = _MARKS.sub("", raw).strip()
            cited = list(dict.fromkeys(marks_in(raw)))
            pos = len("".join(out)) + len(lead)
            problems: list[tuple[str, str]] = []
            for n in cited:
                if n not in by_n:
                    problems.append(("removed_citation", f"[{n}] names no source (there are {len(sources)})"))
            cited = [n for n in cited if n in by_n]
            word_chars = len(re.sub(r"\W", "", claim))
            if word_chars < 6 or (not cited and NO_ANSWER.search(claim)):
                out.append(lead + claim + tail)
                flags += [Flag(k, claim, pos, pos + len(claim), d) for k, d in problems]
                continue
            claims += 1
            # What is checked: the claim without list numbering and Markdown emphasis,
            # which would otherwise count as numbers and words of its own.
            core = re.sub(r"[*_`#]+", "", _LIST_MARK.sub("", claim)).strip() or claim
            qv = self.embed_query(core)
            terms = key_terms(core, is_chinese(core), self.doc_freq)
            support = {}
            for n in cited or [s.n for s in sources]:
                best = self._best(n, core, qv, terms, sents, vecs, by_n)
                if best is not None:
                    support[n] = best
            good = [n for n in cited if n in support]
            if not cited and support:
                # Uncited but plainly backed by a source: cite it, as verified.
                good = [max(support, key=lambda n: support[n][2])]
            elif cited and not good:
                problems.append(("unsupported", "the cited source" + ("s do" if len(cited) > 1 else " does")
                                 + f" not support this ({', '.join(f'[{n}]' for n in cited)} removed)"))
            elif not cited:
                problems.append(("uncited", "no source cited, and none of the sources supports it"))
            bad = [n for n in cited if n not in good]
            if good and bad:
                problems.append(("removed_citation", ", ".join(f"[{n}]" for n in bad)
                                 + " did not support this; removed"))
            missing = _missing_numbers(core, [by_n[n] for n in (good or cited)])
            if missing:
                problems.append(("number", "not in the cited sources: " + ", ".join(missing)))
            marks = ""
            for n in good:
                s, e, _ = support[n]
                src = by_n[n]
                key = (src.doc_id, s, e)
                if key not in citations:
                    citations[key] = Citation(len(citations) + 1, src.doc_id, src.title, src.section,
                                              src.doc_text[s:e], s, e, src.page_at(s), round(support[n][2], 4),
                                              src.document)
                marks += f"[{citations[key].n}]"
            body = _attach(claim, dict.fromkeys(marks.replace("]", "] ").split()).keys())
            out.append(lead + body + tail)
            flags += [Flag(k, claim, pos, pos + len(body), d) for k, d in problems]
            if good and not any(k in CLAIM_PROBLEMS for k, _ in problems):
                verified += 1
        return Checked("".join(out).strip(), tuple(citations.values()), tuple(flags), claims, verified)

    def _best(self, n, claim, qv, terms, sents, vecs, by_n):
        """(start, end, score) of source n's sentence that supports `claim`, or None."""
        spans = sents.get(n) or []
        if not spans:
            return None
        if n not in vecs:
            vecs[n] = self.embed_passages([t for _, _, t in spans])
        sims = vecs[n] @ qv
        lex = [coverage(terms, t)[0] for _, _, t in spans]
        i = int(np.argmax([s + LEXICAL * x for s, x in zip(sims, lex)]))
        src = by_n[n]
        sem, lex_i = float(sims[i]), lex[i]
        if is_chinese(claim):
            ok = (sem >= CHECK.zh_semantic_alone or (sem >= CHECK.zh_semantic and lex_i >= CHECK.zh_lexical)
                  or (sem >= CHECK.zh_semantic_short and lex_i >= CHECK.zh_lexical_short))
        else:
            passage_lex = coverage(terms, src.doc_text[src.start:src.end])[0]
            ok = sem + CHECK.en_lexical * max(lex_i, passage_lex) >= CHECK.en_score
        return (spans[i][0], spans[i][1], sem) if ok else None


def _attach(claim: str, marks) -> str:
    marks = "".join(marks)
    if not marks:
        return claim
    if claim.endswith(".") and not is_chinese(claim):
        return f"{claim[:-1]} {marks}."
    return claim + marks


def _sentences(src: SourcePassage) -> list[tuple[int, int, str]]:
    return [(s, e, src.doc_text[s:e]) for s, e in quotable_sentences(src.doc_text, src.start, src.end)]


# -- numbers ------------------------------------------------------------------------------
_SCALE = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3, "trillion": 1e12, "billion": 1e9,
          "million": 1e6, "thousand": 1e3}
_NUM = re.compile(r"(?<![A-Za-z\d.])(\d[\d,，]*(?:\.\d+)?)(?!\d)\s*(万亿|亿|万|千|trillion|billion|million|thousand)?"
                  r"(?!(?:st|nd|rd|th)\b)", re.I)
_CN_DIGIT = dict(zip("零〇一二两三四五六七八九", [0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9]))
_CN_NUM = re.compile(r"[零〇一二两三四五六七八九十百千]+")


def numbers(text: str) -> list[tuple[str, float]]:
    """(as written, value) of each number in `text`, scale words applied."""
    out = []
    for m in _NUM.finditer(text):
        digits = m.group(1).replace(",", "").replace("，", "")
        try:
            value = float(digits)
        except ValueError:
            continue
        scale = _SCALE.get((m.group(2) or "").lower(), 1.0)
        out.append((m.group(0).strip(), value * scale))
    return out


def _values(text: str) -> set[float]:
    vals = {v for _, v in numbers(text)} | {float(d.replace(",", "")) for d in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}
    for m in _CN_NUM.finditer(text):
        v = _cn_value(m.group(0))
        if v is not None:
            vals.add(float(v))
    return vals


def _cn_value(s: str) -> int | None:
    """十四 -> 14, 三 -> 3, 一百二十 -> 120 (up to thousands; enough for counts and plans)."""
    total, cur = 0, 0
    for ch in s:
        if ch in _CN_DIGIT:
            cur = _CN_DIGIT[ch]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[ch]
            total += (cur or 1) * unit
            cur = 0
    return total + cur


def _missing_numbers(claim: str, cited: Sequence[SourcePassage]) -> list[str]:
    if not cited:
        return []
    have: set[float] = set()
    for s in cited:
        have |= _values(s.doc_text[s.start:s.end])
    missing = []
    for written, value in numbers(claim):
        raw = float(re.sub(r"[^\d.]", "", written.split()[0]) or 0) if re.match(r"\d", written) else value
        if not any(_close(value, h) or _close(raw, h) for h in have):
            missing.append(written)
    return missing


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))
