"""Extractive answers: the sentences of the top passages that answer the question, cited.

Each candidate sentence is scored against the question by meaning (cosine of its
embedding with the question's) and by shared key terms and numbers; the best 1-4 are
quoted in document order, each followed by `[n]` pointing at its exact span.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


from ingest.sentences import split_sentences

from .evidence import KeyTerm, coverage
from .normalize import is_chinese
from .types import Citation

MAX_SENTENCES = 4
# The documents' own footnote marks ([9], ①) would read as our citation markers.
_FOOTNOTE = re.compile(r"\[\d{1,3}\]|［\d{1,3}］|[\u2460-\u2473]")
_TRAILING_FOOTNOTES = re.compile(r"(?:\s*(?:\[\d{1,3}\]|［\d{1,3}］|[\u2460-\u2473]))+$")


@dataclass(frozen=True)
class Candidate:
    doc_id: str
    start: int
    end: int
    text: str
    hit_rank: int          # 0 = from the best passage
    semantic: float
    lexical: float
    section: str = ""      # heading path of the passage it was taken from

    @property
    def score(self) -> float:
        # Meaning dominates; shared terms break ties and rescue exact-number questions.
        return self.semantic + 0.15 * self.lexical - 0.01 * self.hit_rank


def candidates(terms: list[KeyTerm], hits, docs, embed_texts, n_hits: int = 5,
               max_sentences: int = 8) -> list[Candidate]:
    """Sentences of the first `n_hits` passages, scored against the question.

    `terms` are the question's key terms (for an English question with their Chinese
    dictionary translations); `embed_texts` maps sentences to cosines with the question.
    """
    raw: list[tuple[str, int, int, str, int]] = []
    for rank, h in enumerate(hits[:n_hits]):
        text = docs[h.doc_id].text
        # A heading names its section; the answer is in the section's sentences.
        headings = set(h.section.split(" > ")) if h.section else set()
        raw += [(h.doc_id, s, e, text[s:e], rank) for s, e in quotable_sentences(text, h.start, h.end)
                if text[s:e].strip() not in headings]
    if not raw:
        return []
    lex = [coverage(terms, r[3])[0] for r in raw]
    # Embed only the most promising sentences (embedding is the slow part): key-term
    # matches first, then the order of the passages.
    order = sorted(range(len(raw)), key=lambda i: (-lex[i], raw[i][4], raw[i][1]))[:max_sentences]
    sims = _level_languages([raw[i][3] for i in order], list(embed_texts([raw[i][3] for i in order])))
    out = [Candidate(raw[i][0], raw[i][1], raw[i][2], raw[i][3], raw[i][4], float(sim), lex[i],
                     hits[raw[i][4]].section)
           for i, sim in zip(order, sims)]
    return sorted(out, key=lambda c: -c.score)


def quotable_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the sentences of text[start:end] that can be cited: without a trailing
    footnote mark, and not just marks or stray labels."""
    out = []
    for s, e in split_sentences(text, start, end):
        m = _TRAILING_FOOTNOTES.search(text, s, e)
        if m and m.start() > s:
            e = m.start()                     # cite the sentence, not its footnote mark
        if len(re.sub(r"\W", "", text[s:e])) >= 4:
            out.append((s, e))
    return out


def _level_languages(texts: list[str], sims: list[float]) -> list[float]:
    """Shift the cosines of Chinese and of other sentences so both groups peak at the same
    value: a question scores lower against text in the other language even when that
    text is the answer."""
    groups: dict[bool, list[int]] = {}
    for i, t in enumerate(texts):
        groups.setdefault(is_chinese(t), []).append(i)
    if len(groups) < 2:
        return sims
    top = max(sims)
    out = list(sims)
    for idx in groups.values():
        shift = top - max(sims[i] for i in idx)
        for i in idx:
            out[i] = sims[i] + shift
    return out


def select(cands: list[Candidate], max_sentences: int = MAX_SENTENCES, margin: float = 0.04) -> list[Candidate]:
    """The best sentence plus those nearly as good and sharing as many key terms, in
    document order."""
    if not cands:
        return []
    best = cands[0]
    chosen = [c for c in cands
              if c is best or (c.score >= best.score - margin and c.lexical >= 0.6 * best.lexical)]
    return sorted(chosen[:max_sentences], key=lambda c: (c.hit_rank, c.doc_id, c.start))


def compose(question: str, chosen: list[Candidate], meta_of, glosses: bool = True) -> tuple[str, list[Citation]]:
    """Answer text with `[n]` after each quoted sentence, and the citations.

    For an English question, glossary terms in quoted Chinese sentences get their English
    rendering in brackets, so the answer reads without Chinese; citations stay exact."""
    zh = is_chinese(question)
    lead = "根据已载入的文件：" if zh else "From the loaded documents (quoted in the original language):"
    citations, parts = [], []
    for n, c in enumerate(chosen, 1):
        title, section, page = meta_of(c)
        citations.append(Citation(n, c.doc_id, title, section, c.text, c.start, c.end, page, round(c.score, 4)))
        quote = _FOOTNOTE.sub("", c.text)
        if glosses and not zh and is_chinese(quote):
            from .glossary_use import gloss
            quote = gloss(quote)
        parts.append(f"{quote}[{n}]")
    body = "".join(parts) if zh else " ".join(parts)
    return f"{lead}\n{body}", citations


def not_found_text(question: str) -> str:
    if is_chinese(question):
        return "已载入的文件中没有找到能回答这个问题的内容。下面列出最接近的段落，仅供参考。"
    return ("The loaded documents do not answer this question. "
            "The closest passages are listed below for reference.")
