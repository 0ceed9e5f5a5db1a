"""Extractive answers: the sentences of the top passages that answer the question, cited.

Each candidate sentence is scored against the question by meaning (cosine of its
embedding with the question's), by shared key terms and numbers, and by whether it
holds what the question asks for (a number for 多少, a date for 什么时候); the best 1-4
are quoted in document order, each followed by `[n]` pointing at its exact span. A
sentence of a law's article is quoted with its whole (short) article, and a list item
with its list, since a provision or a list of measures read in part misleads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ingest.sentences import quotable_sentences
from ingest.zhtext import is_chinese

from .catalog import article_number
from .evidence import coverage
from .tuned import AnswerWeights
from .types import Citation

W = AnswerWeights()
# The documents' own footnote marks ([9], ①) would read as our citation markers.
_FOOTNOTE = re.compile(r"\[\d{1,3}\]|［\d{1,3}］|[\u2460-\u2473]")
_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万两]+(?:[个项所家倍年月日天万亿元]|分之|成)|百分之")
_DATE = re.compile(r"\d{1,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|[一二三四五六七八九十]+个?月|[一二三四五六七八九十]+年|"
                   r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b|"
                   r"\b(?:19|20)\d\d\b|\bmonths?\b|\byears?\b")


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
    fit: float = 0.0       # how well it holds what is asked for (a number, a date, the unit)

    @property
    def score(self) -> float:
        # Meaning dominates; shared terms break ties and rescue exact-number questions.
        return self.semantic + W.lexical * self.lexical - W.rank_step * self.hit_rank + self.fit


def candidates(q, hits, docs, embed_texts, n_hits: int = 5, max_sentences: int = 10,
               only: set[int] | None = None, stored=None) -> list[Candidate]:
    """Sentences (and two-sentence runs) of the first `n_hits` passages (of the ranks in
    `only`, when given), scored against the query `q` (query.Query).

    `stored(items)` gives the cosine with the question of each (doc_id, sentence spans)
    from the index's sentence vectors, None where it has none; `embed_texts` maps the
    other texts to cosines (the most promising `max_sentences` of them: embedding is slow)."""
    terms = list(q.terms)
    raw: list[tuple] = []      # (doc_id, start, end, text, rank, penalty, parts)
    for rank, h in enumerate(hits[:n_hits]):
        if only is not None and rank not in only:
            continue
        text = docs[h.doc_id].text
        # A heading names its section; the answer is usually in the section's sentences.
        headings = set(h.section.split(" > ")) if h.section else set()
        spans = quotable_sentences(text, h.start, h.end)
        raw += [(h.doc_id, s, e, text[s:e], rank, W.heading if text[s:e].strip() in headings else 0.0, ((s, e),))
                for s, e in spans]
        # Two sentences of one paragraph: "…修订相关实施办法和制度。以上工作要在2019年2月底前完成。"
        # answers what neither says alone.
        raw += [(h.doc_id, a[0], b[1], text[a[0]:b[1]], rank, W.pair, (a, b))
                for a, b in zip(spans, spans[1:])
                if "\n" not in text[a[1]:b[0]] and b[1] - a[0] <= W.pair_chars]
    if not raw:
        return []
    lex = [coverage(terms, r[3])[0] for r in raw]
    wants = [_wanted(q, r[3]) - r[5] for r in raw]
    sims = list(stored([(r[0], r[6]) for r in raw])) if stored is not None else [None] * len(raw)
    missing = [i for i, v in enumerate(sims) if v is None]
    if missing:
        # Key-term matches and what the question asks for first, then the order of the passages.
        missing.sort(key=lambda i: (-(lex[i] + wants[i]), raw[i][4], raw[i][1]))
        for i, v in zip(missing[:max_sentences], embed_texts([raw[i][3] for i in missing[:max_sentences]])):
            sims[i] = float(v)
    keep = [i for i, v in enumerate(sims) if v is not None]
    levelled = _level_languages([raw[i][3] for i in keep], [sims[i] for i in keep])
    out = [Candidate(raw[i][0], raw[i][1], raw[i][2], raw[i][3], raw[i][4], float(sim), lex[i],
                     hits[raw[i][4]].section, wants[i])
           for i, sim in zip(keep, levelled)]
    return sorted(out, key=lambda c: -c.score)


def _wanted(q, sentence: str) -> float:
    """Bonus for holding what the question asks for, penalty for lacking it."""
    bonus = 0.0
    if q.wants_date:
        bonus += W.number if _DATE.search(sentence) else -W.number
    elif q.wants_number:
        bonus += W.number if _NUMBER.search(sentence) else -W.number
    if q.unit:                        # 23项 for 多少项, 1.37万亿斤 for 多少斤: a count in the unit asked
        counted = re.search(rf"(?:\d|[一二三四五六七八九十百千万两])\s*(?:万|亿)?{re.escape(q.unit)}", sentence)
        bonus += W.unit if counted else -W.unit
    if q.wants_list and (sentence.count("；") >= 2 or sentence.rstrip().endswith("：")):
        bonus += W.listing            # the head or the body of a list
    return bonus


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


def to_quote(cands: list[Candidate], passing: frozenset[int], zh: bool) -> list[Candidate]:
    """What a found answer may quote: the candidates from the passages that meet the bar
    (`passing`: their hit ranks), and of those the ones in the question's language when
    there are any: of a report and its translation that both answer, the answer quotes
    the version the user asked in."""
    cands = [c for c in cands if c.hit_rank in passing]
    own = [c for c in cands if is_chinese(c.text) == zh]
    return own or cands


def select(cands: list[Candidate], max_sentences: int = W.max_sentences, margin: float = W.select_margin) -> list[Candidate]:
    """The best sentence plus those nearly as good and sharing as many key terms, in
    document order."""
    if not cands:
        return []
    best = cands[0]
    chosen: list[Candidate] = []
    for c in cands:
        if len(chosen) == max_sentences:
            break
        if c is not best and (c.score < best.score - margin or c.lexical < W.select_lexical * best.lexical):
            continue
        # A run of two sentences overlapping one already taken would only drag in its
        # neighbour, which did not make the cut on its own.
        if any(o.doc_id == c.doc_id and c.start < o.end and o.start < c.end for o in chosen):
            continue
        chosen.append(c)
    return sorted(chosen, key=lambda c: (c.hit_rank, c.doc_id, c.start))


def widen(chosen: list[Candidate], q, hits, docs, subsections=None) -> list[Candidate]:
    """Quote a law article's sentence with its whole article (when short), a list item with
    its paragraph (for 哪些 / what measures questions), and for a list question a heading
    with what it heads: the headings of its subsections (三、… -> （一）（二）（三）), or else
    the text under it; overlapping quotes merge.

    `subsections(doc_id, path)`: spans of the headings one level below `path`."""
    out: list[Candidate] = []
    for c in chosen:
        h = hits[c.hit_rank]
        text = docs[c.doc_id].text
        s, e = c.start, c.end
        path = _heading_path(c.text, h.section)
        if article_number(h.section) and h.end - h.start <= W.whole_article_chars:
            s, e = h.start, h.end
        elif q.wants_list and path is not None:
            subs = subsections(c.doc_id, path) if subsections is not None else []
            if len(subs) >= 2:
                out += [replace(c, start=a, end=b, text=text[a:b]) for a, b in subs[:W.max_subsections]]
                continue
            if h.end - s <= W.whole_article_chars:
                e = h.end                     # the heading and the text under it
        elif q.wants_list:
            ps = text.rfind("\n", 0, s) + 1
            pe = text.find("\n", e)
            pe = len(text) if pe < 0 else pe
            para = text[ps:pe]
            if pe - ps <= W.whole_paragraph_chars and (para.count("；") >= 2 or text[s:e].endswith(("；", "：", ";"))):
                s, e = ps, pe
        out.append(replace(c, start=s, end=e, text=text[s:e]))
    merged: list[Candidate] = []
    for c in sorted(out, key=lambda c: (c.doc_id, c.start)):
        if merged and merged[-1].doc_id == c.doc_id and c.start < merged[-1].end:
            last = merged[-1]
            if c.end > last.end:
                text = docs[c.doc_id].text
                merged[-1] = replace(last, end=c.end, text=text[last.start:c.end])
            continue
        merged.append(c)
    return sorted(merged, key=lambda c: (c.hit_rank, c.doc_id, c.start))


def _heading_path(sentence: str, section: str) -> str | None:
    """The heading path up to `sentence` when it is one of the headings of `section`."""
    parts = section.split(" > ") if section else []
    for i, part in enumerate(parts):
        if sentence.strip() == part:
            return " > ".join(parts[:i + 1])
    return None


def article_candidates(q, hits, fits: dict[int, bool]) -> list[Candidate]:
    """For 专利法第四十二条规定了什么: the passages of that article, whole, in order."""
    out = []
    for rank, h in enumerate(hits):
        if fits[rank]:
            out.append(Candidate(h.doc_id, h.start, h.end, h.text, rank, 1.0, 1.0, h.section))
    return sorted(out, key=lambda c: (c.doc_id, c.start))


def compose(question: str, chosen: list[Candidate], meta_of, glosses: bool = True) -> tuple[str, list[Citation]]:
    """Answer text with `[n]` after each quoted sentence, and the citations.

    For an English question, glossary terms in quoted Chinese sentences get their English
    rendering in brackets, so the answer reads without Chinese; citations stay exact."""
    zh = is_chinese(question)
    lead = "根据已载入的文件：" if zh else "From the loaded documents (quoted in the original language):"
    body, citations = quote(chosen, meta_of, zh, glosses=glosses)
    return f"{lead}\n{body}", citations


def quote(chosen: list[Candidate], meta_of, zh: bool, first: int = 1,
          glosses: bool = True) -> tuple[str, list[Citation]]:
    """The quoted sentences, each followed by `[n]` (n from `first`), and their citations."""
    citations, parts = [], []
    for n, c in enumerate(chosen, first):
        title, section, page, document = meta_of(c)
        citations.append(Citation(n, c.doc_id, title, section, c.text, c.start, c.end, page, round(c.score, 4),
                                  document))
        text = _FOOTNOTE.sub("", c.text)
        if glosses and not zh and is_chinese(text):
            from .glossary_use import gloss
            text = gloss(text)
        parts.append(f"{text}[{n}]")
    return ("".join(parts) if zh else " ".join(parts)), citations


def not_found_text(question: str, why: str = "") -> str:
    """The refusal; `why` says what the documents cover when the question asks beyond it."""
    if is_chinese(question):
        return ("已载入的文件中没有找到能回答这个问题的内容。" + (why + "\n" if why else "")
                + "下面列出最接近的段落，仅供参考。")
    return ("The loaded documents do not answer this question. " + (why[0].upper() + why[1:] + " " if why else "")
            + "The closest passages are listed below for reference.")
