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

from dataclasses import dataclass, field

import numpy as np

from ingest.sentences import split_sentences
from ingest.store import IndexData

from .evidence import coverage
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


@dataclass
class Rankings:
    """Every ranking of one question over the index's passages, before fusion: computed
    once, fused under any FusionConfig (the benchmark grid fuses the same rankings many
    times). Arrays run over the chunk rows; -inf: not ranked."""
    zh: bool
    cosines: np.ndarray              # the question's vector against each passage
    sentence: np.ndarray | None      # ... against each passage's best sentence
    translated: np.ndarray | None    # an English question's Chinese rendering, Chinese passages only
    translated_sentence: np.ndarray | None   # ... against their best sentence
    lexical: np.ndarray              # BM25 (0: no query term)
    allowed: np.ndarray              # passages a filter keeps
    conflicts: np.ndarray            # constraint dimensions each passage contradicts
    matches: np.ndarray              # ... and matches
    other_language: np.ndarray       # passages in the other language than the question's
    model_rendered: np.ndarray | None = None  # the configured model's Chinese rendering (best of passage, sentence)
    terms: list | None = None        # key terms, for the rerank
    coverage: dict = field(default_factory=dict)     # row -> best sentence's key-term share (memo)


class Retriever:
    """Searches one loaded index generation."""

    def __init__(self, data: IndexData, embedder, fusion: FusionConfig = FusionConfig(), renderer=None):
        """`renderer`: question -> its Chinese rendering by a model (llm_render.Renderer), or None."""
        self.data, self.embedder, self.fusion, self.renderer = data, embedder, fusion, renderer
        # Language per passage, not per document: a Chinese passage quoting English titles
        # is still Chinese, and a bilingual document has passages of both.
        self._zh = np.array([is_chinese(c.text) for c in data.chunks], dtype=bool)
        self._doc_freq: dict[str, int] | None = None

    def search(self, query: str, k: int = 10, *, query_vector: np.ndarray | None = None,
               allowed: np.ndarray | None = None, terms: list | None = None, fit: Fit | None = None,
               lexical_query: str | None = None, fusion: FusionConfig | None = None) -> list[Scored]:
        """Best-first chunks for a normalised query, no two overlapping in one document.

        `allowed`: a row mask of the passages that may be returned (filters);
        `terms`: the query's key terms when the caller has them already (for the rerank);
        `fit`: how each passage fits the question's constraints; `lexical_query`: the
        question without what the constraints read (years, document names) for BM25."""
        if not self.data.chunks:
            return []
        r = self.rankings(query, query_vector=query_vector, allowed=allowed, terms=terms, fit=fit,
                          lexical_query=lexical_query, fusion=fusion)
        return self.fuse(r, k, fusion or self.fusion)

    def rankings(self, query: str, *, query_vector: np.ndarray | None = None, allowed: np.ndarray | None = None,
                 terms: list | None = None, fit: Fit | None = None, lexical_query: str | None = None,
                 fusion: FusionConfig | None = None) -> Rankings:
        """The rankings a fusion needs (those `fusion` switches off are not computed)."""
        f = fusion or self.fusion
        n = len(self.data.chunks)
        zh = is_chinese(query)
        qv = self.embedder.embed_query(query) if query_vector is None else query_vector
        allowed = np.ones(n, dtype=bool) if allowed is None else allowed
        dims = fit is not None and bool(fit.dims)
        has_sentences = self.data.sentence_vectors is not None and len(self.data.sentence_vectors) > 0
        dense = f.method in ("rrf", "dense")
        lexical = self.bm25_scores(self.lexical_terms(lexical_query or query, zh, f)) \
            if f.method in ("rrf", "bm25") else np.zeros(n, dtype=np.float32)
        translated = self._translated(query, f, has_sentences) if dense and not zh and f.translate_dense else None
        rendered = self._model_rendered(query) if dense and not zh and self.renderer is not None else None
        return Rankings(
            zh=zh, cosines=self.cosines(qv), model_rendered=rendered,
            sentence=self.best_sentence(qv) if dense and has_sentences else None,
            translated=translated[0] if translated else None,
            translated_sentence=translated[1] if translated else None,
            lexical=lexical, allowed=allowed,
            conflicts=fit.conflicts if dims else np.zeros(n, dtype=np.int32),
            matches=fit.matches if dims else np.zeros(n, dtype=np.int32),
            other_language=~self._zh if zh else self._zh, terms=terms)

    def fuse(self, r: Rankings, k: int, f: FusionConfig) -> list[Scored]:
        """Weighted reciprocal-rank fusion of `r` within the passages that contradict no
        constraint (then the rest), the constraint bonus, the coverage rerank, and one hit
        per stretch of a document."""
        n = len(self.data.chunks)
        depth = max(f.depth, 4 * k)
        rankings: list[tuple[np.ndarray, float]] = []
        if f.method in ("rrf", "dense"):
            rankings.append((r.cosines, f.w_dense))
            if r.sentence is not None:
                w_sent = f.w_sentence_zh if r.zh else f.w_sentence_en
                if w_sent:
                    rankings.append((r.sentence, w_sent))
                # The same over the passages in the other language only: cosines across
                # languages run lower, so in one ranking the question's own language wins.
                if f.w_sentence_other and r.other_language.any() and (~r.other_language).any():
                    rankings.append((np.where(r.other_language, r.sentence, -np.inf), f.w_sentence_other))
            if r.translated is not None and f.translate_dense:
                rankings.append((r.translated, f.w_translated))
            if r.translated_sentence is not None and f.translate_dense and f.w_translated_sentence:
                rankings.append((r.translated_sentence, f.w_translated_sentence))
            if r.model_rendered is not None and f.w_model_rendered:
                rankings.append((r.model_rendered, f.w_model_rendered))
        if f.method in ("rrf", "bm25"):
            # BM25 scoring 0 is no hit at all; one BM25 ranking (split by language measured worse).
            rankings.append((np.where(r.lexical > 0, r.lexical, -np.inf), f.w_bm25_zh if r.zh else f.w_bm25_en))
        fused = np.full(n, -np.inf)
        pool = r.allowed & (r.conflicts == 0)
        rest = r.allowed & ~pool
        for group, penalty in ((pool, _NO_PENALTY), (rest, _CONFLICT_PENALTY)):
            if not group.any():
                continue
            score = np.zeros(n)
            hit = np.zeros(n, dtype=bool)
            for ranking, weight in rankings:
                top = _top(ranking, group, depth)
                score[top] += weight / (f.rrf_k + np.arange(1, len(top) + 1))
                hit[top] = True
            score += f.w_match * r.matches
            # A bilingual library (a report and its translation) answers in the question's
            # language first when both versions hold the answer.
            score += np.where(r.other_language, 0.0, f.w_same_language)
            fused = np.where(group & hit, score - penalty, fused)
        w_cov = f.w_coverage_zh if r.zh else f.w_coverage_en
        order = [int(i) for i in np.argsort(-fused, kind="stable") if np.isfinite(fused[i])]
        if w_cov and order and r.terms is not None:
            top = order[:max(f.rerank_depth, k)]
            for row in top:
                if row not in r.coverage:
                    r.coverage[row] = self.sentence_coverage(r.terms, row)
                fused[row] += w_cov * r.coverage[row]
            order = sorted(top, key=lambda i: (-fused[i], i)) + order[len(top):]
        out: list[Scored] = []
        taken: dict[str, list[tuple[int, int]]] = {}
        for row in order:
            c = self.data.chunks[row]
            spans = taken.setdefault(c.doc_id, [])
            if any(c.start < e and s < c.end for s, e in spans):
                continue                      # overlaps a better hit of the same document
            spans.append((c.start, c.end))
            out.append(Scored(row, float(fused[row]), float(r.cosines[row]), float(r.lexical[row])))
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

    def _translated(self, query: str, f: FusionConfig, sentences: bool) -> tuple | None:
        """Chinese passages ranked by a Chinese rendering of an English question (glossary
        forms, then the best dictionary sense of each word, run together). e5-small places an
        English question far from the Chinese passage that answers it (the answer often ranks
        past 100th), but near to the same words said in Chinese. (passage ranking, ranking by
        best sentence)"""
        if not self._zh.any() or self.data.bm25() is None:
            return None
        rendering = "".join(self.chinese_rendering(query, f))
        if not rendering:
            return None
        qv = self.embedder.embed_query(rendering)
        best = np.where(self._zh, self.best_sentence(qv), -np.inf) if sentences else None
        return np.where(self._zh, self.cosines(qv), -np.inf), best

    def _model_rendered(self, query: str) -> np.ndarray | None:
        """Chinese passages against the model's rendering of the question: the better of
        the passage's cosine and its best sentence's. None when the model gave none."""
        if not self._zh.any():
            return None
        text = self.renderer(query)
        if not text:
            return None
        qv = self.embedder.embed_query(text)
        score = self.cosines(qv)
        if self.data.sentence_vectors is not None and len(self.data.sentence_vectors):
            score = np.maximum(score, self.best_sentence(qv))
        return np.where(self._zh, score, -np.inf)

    def chinese_rendering(self, query: str, fusion: FusionConfig | None = None) -> list[str]:
        """An English question said in Chinese, in its word order: numbers the Chinese way
        (5 percent -> 5%), glossary terms, one dictionary sense per other word (each part as
        far as the expansion settings allow)."""
        from .crosslingual import chinese_numbers, render
        from .glossary_use import entries_in_english
        f = fusion or self.fusion
        if not f.expand_en:
            return ([e.zh for e in entries_in_english(query)] if f.expand_glossary else []) + \
                ([z for _, z in chinese_numbers(query)] if f.render_numbers else [])
        entries = entries_in_english(query) if f.expand_glossary else []
        pieces = render(query, self.doc_freq(), entries)
        if not f.render_numbers:
            numbers = {z for _, z in chinese_numbers(query)}
            pieces = [p for p in pieces if p not in numbers]
        return pieces

    def lexical_terms(self, query: str, zh: bool, fusion: FusionConfig | None = None) -> list[str]:
        """BM25 query terms; English questions also get dictionary translations and their
        numbers the Chinese way (8.5 percent -> 8.5%, the token Chinese text has)."""
        f = fusion or self.fusion
        terms = content_terms(query)
        bm = self.data.bm25()
        if bm is None:
            return terms
        if f.expand_glossary:
            terms += self._glossary_terms(query, zh)
        if not zh and f.expand_en:
            from .crosslingual import chinese_terms
            terms += chinese_terms(query, self.doc_freq())
        if not zh and f.render_numbers:
            from ingest.tokenize import tokenize_for_index

            from .crosslingual import chinese_numbers
            terms += [t for _, z in chinese_numbers(query) for t in tokenize_for_index(z)]
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
