"""Hybrid retrieval: dense cosines + BM25 (bm25s over jieba), fused, within the passages
that fit the question's constraints.

English questions also rank the Chinese passages by a Chinese rendering of the question.
The rankings are merged by weighted reciprocal-rank fusion over the passages that
contradict none of the question's constraints (the 2024 report for a question about
2024, Beijing's documents for Beijing); those that match more of them rank higher, those
that contradict one follow after. For Chinese questions the top is then reranked by
the key-term coverage of each passage's best sentence. Constants and weights live in
`tuned.py`, with the benchmark that chose them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.sentences import split_sentences
from ingest.store import IndexData

from .evidence import coverage, key_terms
from .normalize import EN_STOP, ZH_STOP, content_terms, is_chinese
from .scope import Fit
from .tuned import FusionConfig

_STOP = EN_STOP | ZH_STOP
_NO_PENALTY = 0.0
# Passages that contradict the question's constraints rank after every passage that does not.
_CONFLICT_PENALTY = 10.0


@dataclass(frozen=True)
class Scored:
    """One fused candidate (a chunk row of the index)."""
    row: int
    score: float
    dense: float                 # cosine similarity with the query
    bm25: float


class Retriever:
    """Searches one loaded index generation."""

    def __init__(self, data: IndexData, embedder, fusion: FusionConfig = FusionConfig()):
        self.data, self.embedder, self.fusion = data, embedder, fusion
        # Language per passage, not per document: a Chinese passage quoting English titles
        # is still Chinese, and a bilingual document has passages of both.
        self._zh = np.array([is_chinese(c.text) for c in data.chunks], dtype=bool)
        self._doc_freq: dict[str, int] | None = None

    def search(self, query: str, k: int = 10, *, query_vector: np.ndarray | None = None,
               doc_ids: set[str] | None = None, terms: list | None = None, fit: Fit | None = None,
               lexical_query: str | None = None) -> list[Scored]:
        """Best-first chunks for a normalised query, no two overlapping in one document.

        `terms`: the query's key terms when the caller has them already (for the rerank);
        `fit`: how each passage fits the question's constraints; `lexical_query`: the
        question without what the constraints read (years, document names) for BM25."""
        n = len(self.data.chunks)
        if not n:
            return []
        f = self.fusion
        depth = max(f.depth, 4 * k)
        zh = is_chinese(query)
        qv = self.embedder.embed_query(query) if query_vector is None else query_vector
        allowed = np.ones(n, dtype=bool)
        if doc_ids is not None:
            allowed = np.array([c.doc_id in doc_ids for c in self.data.chunks], dtype=bool)
        conflicts = fit.conflicts if fit is not None and fit.dims else np.zeros(n, dtype=np.int32)
        matches = fit.matches if fit is not None and fit.dims else np.zeros(n, dtype=np.int32)

        cosines = self.cosines(qv)
        rankings: list[tuple[np.ndarray, float]] = []
        if f.method in ("rrf", "dense"):
            rankings.append((cosines, f.w_dense))
            w_sent = f.w_sentence_zh if zh else f.w_sentence_en
            if w_sent and self.data.sentence_vectors is not None and len(self.data.sentence_vectors):
                rankings.append((self.best_sentence(qv), w_sent))
            if not zh and f.translate_dense:
                rankings += self._translated(query)
        lexical = np.zeros(n, dtype=np.float32)
        if f.method in ("rrf", "bm25"):
            lexical = self.bm25_scores(self.lexical_terms(lexical_query or query, zh))
            # BM25 scoring 0 is no hit at all; one BM25 ranking (split by language measured worse).
            rankings.append((np.where(lexical > 0, lexical, -np.inf), f.w_bm25_zh if zh else f.w_bm25_en))

        fused = np.full(n, -np.inf)
        pool = allowed & (conflicts == 0)
        rest = allowed & ~pool
        for group, penalty in ((pool, _NO_PENALTY), (rest, _CONFLICT_PENALTY)):
            if not group.any():
                continue
            score = np.zeros(n)
            hit = np.zeros(n, dtype=bool)
            for ranking, weight in rankings:
                top = _top(ranking, group, depth)
                score[top] += weight / (f.rrf_k + np.arange(1, len(top) + 1))
                hit[top] = True
            score += f.w_match * matches
            fused = np.where(group & hit, score - penalty, fused)
        w_cov = f.w_coverage_zh if zh else f.w_coverage_en
        order = [int(r) for r in np.argsort(-fused, kind="stable") if np.isfinite(fused[r])]
        if w_cov and order:
            if terms is None:
                terms = key_terms(query, zh, self.doc_freq())
            top = order[:max(f.rerank_depth, k)]
            for row in top:
                fused[row] += w_cov * self.sentence_coverage(terms, row)
            order = sorted(top, key=lambda r: (-fused[r], r)) + order[len(top):]
        out: list[Scored] = []
        taken: dict[str, list[tuple[int, int]]] = {}
        for row in order:
            c = self.data.chunks[row]
            spans = taken.setdefault(c.doc_id, [])
            if any(c.start < e and s < c.end for s, e in spans):
                continue                      # overlaps a better hit of the same document
            spans.append((c.start, c.end))
            out.append(Scored(row, float(fused[row]), float(cosines[row]), float(lexical[row])))
            if len(out) == k:
                break
        return out

    def sentence_coverage(self, terms, row: int) -> float:
        """The largest share of `terms` that one sentence of chunk `row` holds."""
        c = self.data.chunks[row]
        text = self.data.docs[c.doc_id].text
        return max((coverage(terms, text[s:e])[0] for s, e in split_sentences(text, c.start, c.end)), default=0.0)

    def cosines(self, qv: np.ndarray) -> np.ndarray:
        """Cosine of every passage with a unit query vector (exact; the vectors are in memory)."""
        v = self.data.vectors
        return v @ qv.astype(v.dtype) if len(v) else np.zeros(0)

    def best_sentence(self, qv: np.ndarray) -> np.ndarray:
        """Per chunk, the cosine of its best sentence with the query (each sentence embedded
        on its own: an English question finds the Chinese sentence that says it far more
        often than the 350-character passage around it)."""
        sv = self.data.sentence_vectors
        best = np.full(len(self.data.chunks), -np.inf)
        np.maximum.at(best, self.data.sentences[:, 0], sv @ qv.astype(sv.dtype))
        return best

    def _translated(self, query: str) -> list[tuple[np.ndarray, float]]:
        """Chinese passages ranked by a Chinese rendering of an English question (glossary
        forms, then the best dictionary sense of each word, run together). e5-small places an
        English question far from the Chinese passage that answers it (the answer often ranks
        past 100th), but near to the same words said in Chinese."""
        if not self._zh.any() or self.data.bm25() is None:
            return []
        rendering = "".join(dict.fromkeys(self.chinese_rendering(query)))
        if not rendering:
            return []
        cos = self.cosines(self.embedder.embed_query(rendering))
        return [(np.where(self._zh, cos, -np.inf), self.fusion.w_translated)]

    def chinese_rendering(self, query: str) -> list[str]:
        """Chinese terms for an English question: glossary terms, then one dictionary sense per
        word (each as far as the expansion settings allow)."""
        from .crosslingual import chinese_terms
        from .glossary_use import entries_in_english
        f = self.fusion
        return ([e.zh for e in entries_in_english(query)] if f.expand_glossary else []) + \
            (chinese_terms(query, self.doc_freq(), per_word=1) if f.expand_en else [])

    def lexical_terms(self, query: str, zh: bool) -> list[str]:
        """BM25 query terms; English questions also get dictionary translations."""
        terms = content_terms(query)
        bm = self.data.bm25()
        if bm is None:
            return terms
        if self.fusion.expand_glossary:
            terms += self._glossary_terms(query, zh)
        if not zh and self.fusion.expand_en:
            from .crosslingual import chinese_terms
            terms += chinese_terms(query, self.doc_freq())
        return list(dict.fromkeys(terms))

    def _glossary_terms(self, query: str, zh: bool) -> list[str]:
        """BM25 tokens of the other-language forms of the glossary terms in the query."""
        from ingest.tokenize import tokenize_for_index

        from .glossary_use import entries_in_chinese, entries_in_english
        if zh:
            entries = [e for _, _, e in entries_in_chinese(query)]
            forms = [f for e in entries for f in (e.en, *e.en_variants)]
        else:
            entries = entries_in_english(query)
            forms = [f for e in entries for f in (e.zh, *e.zh_variants)]
        known = self.doc_freq()
        return [t for f in forms for t in tokenize_for_index(f) if t in known and t not in _STOP]

    def doc_freq(self) -> dict[str, int]:
        """Term -> number of chunks containing it, read off the BM25 matrix (CSC by term)."""
        if self._doc_freq is None:
            bm = self.data.bm25()
            indptr = bm.scores["indptr"]
            self._doc_freq = {t: int(indptr[i + 1] - indptr[i]) for t, i in bm.vocab_dict.items()
                              if i + 1 < len(indptr)}
        return self._doc_freq

    def bm25_scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every chunk (0: no query term in it)."""
        bm = self.data.bm25()
        n = len(self.data.chunks)
        known = [t for t in terms if bm is not None and t in bm.vocab_dict]
        if not known:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(bm.get_scores(known), dtype=np.float32)


def _top(scores: np.ndarray, group: np.ndarray, depth: int) -> np.ndarray:
    """Rows of `group` with the `depth` best finite scores, best first (ties by row)."""
    masked = np.where(group, scores, -np.inf)
    rows = np.nonzero(np.isfinite(masked))[0]
    if len(rows) > depth:
        part = rows[np.argpartition(-masked[rows], depth - 1)[:depth]]
    else:
        part = rows
    return part[np.lexsort((part, -masked[part]))]
