"""The answerability decision: do the retrieved passages answer the question?

`decide(q, cands, hits, fits, thresholds, doc_freq, n)` is a pure function. The best
candidate sentence decides: its passage must hold the question's names and numbers, fit
every year, place and document the question names (the passage's resolved years, its
document's jurisdiction and identity), cover enough of the question's key terms -- each
weighted by how rare it is in the library, so that a passage holding 北京 and 多少 but not
票价 does not answer 北京地铁的单程票价是多少 -- and the sentence must be close enough in
meaning. The thresholds live in `tuned.Thresholds`, chosen by
`benchmarks/calibrate.py`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ingest.zhtext import is_chinese

from .evidence import KeyTerm, coverage
from .tuned import Thresholds

# Candidate sentences (best first) that may decide "found". Letting the second and third
# decide too answered one more seed_dev question, but turned two refusals (evidence not
# retrieved) into confident wrong answers: a refusal is the better failure.
FOUND_TRIES = 1


@dataclass(frozen=True)
class Features:
    """What the decision read off the deciding sentence and its passage."""
    semantic: float          # levelled cosine of the sentence with the question
    coverage: float          # share of the key terms in the passage, weighted by rarity
    names_ok: bool           # every name and number of the question in the passage (or its title/headings)
    fits: bool               # the passage fits every constraint of the question
    across: bool             # English question over a Chinese passage
    hit_rank: int
    topic_ok: bool = True    # no noun of the question that the library never uses is missing here

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Decision:
    found: bool
    passing: frozenset[int] = frozenset()       # ranks of the passages that meet the bar
    features: Features | None = None            # of the deciding candidate
    considered: tuple[Features, ...] = ()       # of every candidate, in their order (calibration)


def meets_bar(f: Features, t: Thresholds, whole_article: bool = False) -> bool:
    if not f.fits:
        return False
    if whole_article:
        return True               # the question asks for the article it names, and this is it
    if not f.names_ok or not f.topic_ok:
        return False
    min_cov, min_sem = (t.min_coverage_en, t.min_semantic_en) if f.across else (t.min_coverage_zh, t.min_semantic_zh)
    return f.coverage >= min_cov and f.semantic >= min_sem


# The least a term counts for, however common (a fraction of the rarest term's weight).
RARITY_FLOOR = 0.1


def by_rarity(terms, doc_freq: dict[str, int] | None, n: int) -> list[KeyTerm]:
    """The terms reweighted by inverse passage frequency, scaled to (0, 1] of the rarest
    possible: a term in most passages (规定, 发展) counts little, a term in none the most.
    A term's frequency is that of its most common form (an English word: its most common
    translation)."""
    terms = list(terms)
    if not doc_freq or n < 2:
        return terms
    top = math.log(n + 1)
    out = []
    for t in terms:
        df = max((doc_freq.get(a.lower(), 0) for a in t.alternatives), default=0)
        out.append(replace(t, weight=t.weight * max(RARITY_FLOOR, math.log((n + 1) / (df + 1)) / top)))
    return out


def unknown_nouns(q, doc_freq: dict[str, int] | None) -> list[KeyTerm]:
    """The nouns of a Chinese question that no passage of the library uses (票价, 大熊猫,
    起步价 for a library of policy documents): what such a question is about is not there,
    however close a passage about 北京 or 人口 comes in meaning. Only Chinese questions: an
    English word counts through its translations, which miss too often to decide this."""
    if not q.zh or not doc_freq:
        return []
    # A compound whose words the library all uses is a new combination, not a new topic
    # (禁止性 for 禁止).
    return [t for t in q.terms if t.noun and len(t.text) >= 2 and not t.required
            and all(doc_freq.get(a.lower(), 0) == 0 for a in t.alternatives)
            and not (t.parts and all(doc_freq.get(p, 0) > 0 for p in t.parts))]


def decide(q, cands, hits, fits: dict[int, bool], t: Thresholds, doc_freq: dict[str, int] | None = None,
           n: int = 0) -> Decision:
    """`fits`: hit rank -> whether that passage fits the question's constraints;
    `doc_freq` (term -> passages holding it) and `n` (passages): the terms' rarity."""
    if not cands:
        return Decision(False)
    weighted = by_rarity(q.terms, doc_freq, n)
    unknown = unknown_nouns(q, doc_freq)
    passages: dict[int, tuple[float, bool, bool]] = {}   # hit rank -> (coverage, names_ok, topic_ok), once each
    for r in {c.hit_rank for c in cands}:
        h = hits[r]
        share, _ = coverage(weighted, h.text)
        # Names and numbers may stand in the passage's heading path or title ("基于北京的调研").
        around = "\n".join((h.text, h.section, h.title))
        _, names_ok = coverage(list(q.terms), around)
        # (a noun the index never cut out may still stand in the text, inside a longer word)
        passages[r] = (share, names_ok, all(t.text in around for t in unknown))
    feats = [Features(c.semantic, *passages[c.hit_rank][:2], fits[c.hit_rank],
                      not q.zh and is_chinese(hits[c.hit_rank].text), c.hit_rank, passages[c.hit_rank][2])
             for c in cands]
    ok = [meets_bar(f, t, q.whole_article) for f in feats]
    passing = frozenset(c.hit_rank for c, o in zip(cands, ok) if o)
    return Decision(any(ok[:FOUND_TRIES]), passing, feats[0], tuple(feats))
