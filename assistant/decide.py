"""The answerability decision: do the retrieved passages answer the question?

`decide(q, cands, hits, fits, thresholds)` is a pure function. The best candidate
sentence decides: its passage must hold the question's names and numbers, fit every year,
place and document the question names (the passage's resolved years, its document's
jurisdiction and identity), cover enough of the question's key terms, and the sentence
must be close enough in meaning. The thresholds live in `tuned.Thresholds`, chosen by
`benchmarks/calibrate.py`.
"""
from __future__ import annotations

from dataclasses import dataclass

from .evidence import coverage
from .normalize import is_chinese
from .tuned import Thresholds

# Candidate sentences (best first) that may decide "found". Letting the second and third
# decide too answered one more seed_dev question, but turned two refusals (evidence not
# retrieved) into confident wrong answers: a refusal is the better failure.
FOUND_TRIES = 1


@dataclass(frozen=True)
class Features:
    """What the decision read off the deciding sentence and its passage."""
    semantic: float          # levelled cosine of the sentence with the question
    coverage: float          # weighted share of the key terms in the passage
    names_ok: bool           # every name and number of the question in the passage (or its title/headings)
    fits: bool               # the passage fits every constraint of the question
    across: bool             # English question over a Chinese passage
    hit_rank: int

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Decision:
    found: bool
    passing: frozenset[int] = frozenset()       # ranks of the passages that meet the bar
    features: Features | None = None            # of the deciding candidate


def meets_bar(f: Features, t: Thresholds, whole_article: bool = False) -> bool:
    if not f.fits:
        return False
    if whole_article:
        return True               # the question asks for the article it names, and this is it
    if not f.names_ok:
        return False
    min_cov, min_sem = (t.min_coverage_en, t.min_semantic_en) if f.across else (t.min_coverage_zh, t.min_semantic_zh)
    return f.coverage >= min_cov and f.semantic >= min_sem


def decide(q, cands, hits, fits: dict[int, bool], t: Thresholds) -> Decision:
    """`fits`: hit rank -> whether that passage fits the question's constraints."""
    if not cands:
        return Decision(False)
    passages: dict[int, tuple[float, bool]] = {}      # hit rank -> (coverage, names_ok), once each
    for r in {c.hit_rank for c in cands}:
        h = hits[r]
        share, _ = coverage(list(q.terms), h.text)
        # Names and numbers may stand in the passage's heading path or title ("基于北京的调研").
        _, names_ok = coverage(list(q.terms), "\n".join((h.text, h.section, h.title)))
        passages[r] = (share, names_ok)
    feats = [Features(c.semantic, *passages[c.hit_rank], fits[c.hit_rank],
                      not q.zh and is_chinese(hits[c.hit_rank].text), c.hit_rank) for c in cands]
    ok = [meets_bar(f, t, q.whole_article) for f in feats]
    passing = frozenset(c.hit_rank for c, o in zip(cands, ok) if o)
    return Decision(any(ok[:FOUND_TRIES]), passing, feats[0])
