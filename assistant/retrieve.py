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

from dataclasses import dataclass, field, replace

import numpy as np

from ingest.index import PassageIndex
from ingest.sentences import split_sentences
from ingest.zhtext import EN_STOP, ZH_STOP, is_chinese

from .evidence import coverage
from .normalize import content_terms
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
    vector: np.ndarray               # the question's unit vector
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


# The sense choice (crosslingual.render) compares the passages of a few terms per question.
POSTINGS_PER_TERM = 1000   # a term's best passages by BM25 it looks at
_POSTINGS_KEPT = 4096      # terms whose passages are remembered (at most 4 KB each)


class Retriever:
    """Searches one index through its `PassageIndex` interface (any backend).

    An exact backend ranks every passage; an engine ranks its best `n` within the
    documents asked for, so each ranking is asked once within the passages a filter keeps
    and once more within those that contradict no constraint."""

    def __init__(self, data: PassageIndex, embedder, fusion: FusionConfig = FusionConfig(), renderer=None,
                 chunk_zh: np.ndarray | None = None):
        """`renderer`: question -> its Chinese rendering by a model (llm_render.Renderer), or None;
        `chunk_zh`: which passages are Chinese, when the caller has it (Catalog.chunk_zh)."""
        self.data, self.embedder, self.fusion, self.renderer = data, embedder, fusion, renderer
        # Language per passage, not per document: a Chinese passage quoting English titles
        # is still Chinese, and a bilingual document has passages of both.
        self._zh = chunk_zh if chunk_zh is not None else \
            np.array([is_chinese(c.text) for c in data.chunks], dtype=bool)
        self._postings_memo: dict[str, np.ndarray] = {}

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
                          lexical_query=lexical_query, fusion=fusion, k=k)
        return self.fuse(r, k, fusion or self.fusion)

    def rankings(self, query: str, *, query_vector: np.ndarray | None = None, allowed: np.ndarray | None = None,
                 terms: list | None = None, fit: Fit | None = None, lexical_query: str | None = None,
                 fusion: FusionConfig | None = None, k: int = 10) -> Rankings:
        """The rankings a fusion needs (those `fusion` switches off are not computed)."""
        f = fusion or self.fusion
        n = len(self.data.chunks)
        zh = is_chinese(query)
        qv = self.embedder.embed_query(query) if query_vector is None else query_vector
        dims = fit is not None and bool(fit.dims)
        ask = _Ask(self._masks(allowed, fit.conflicts == 0 if dims else None), max(f.depth, 4 * k))
        allowed = np.ones(n, dtype=bool) if allowed is None else allowed
        has_sentences = self.data.has_sentences
        dense = f.method in ("rrf", "dense")
        lexical = self.bm25_scores(self.lexical_terms(lexical_query or query, zh, f), ask) \
            if f.method in ("rrf", "bm25") else np.zeros(n, dtype=np.float32)
        translated = self._translated(query, f, has_sentences, ask) if dense and not zh and f.translate_dense \
            else None
        rendered = self._model_rendered(query, ask) if dense and not zh and self.renderer is not None else None
        return Rankings(
            zh=zh, vector=qv, cosines=self.cosines(qv, ask), model_rendered=rendered,
            sentence=self.best_sentence(qv, ask) if dense and has_sentences else None,
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
        rankings: list[tuple[np.ndarray, float | np.ndarray]] = []     # weight: one, or per passage
        if f.method in ("rrf", "dense"):
            rankings.append((r.cosines, np.where(r.other_language, f.w_dense_other, f.w_dense)))
            if r.sentence is not None:
                w_sent = f.w_sentence_zh if r.zh else f.w_sentence_en
                if w_sent:
                    rankings.append((r.sentence, w_sent))
                # The same over the passages in the other language only: cosines across
                # languages run lower, so in one ranking the question's own language wins.
                w_other = f.w_sentence_other_zh if r.zh else f.w_sentence_other_en
                if w_other and r.other_language.any() and (~r.other_language).any():
                    rankings.append((np.where(r.other_language, r.sentence, -np.inf), w_other))
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
                w = weight[top] if isinstance(weight, np.ndarray) else weight
                score[top] += w / (f.rrf_k + np.arange(1, len(top) + 1))
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
        missing = [s.row for s in out if not np.isfinite(s.dense)]
        if missing:          # an engine's dense ranking stops at its best n: ask for the rest
            exact = dict(zip(missing, self.data.cosines(r.vector, missing)))
            out = [replace(s, dense=float(exact[s.row])) if s.row in exact else s for s in out]
        return out

    def sentence_coverage(self, terms, row: int) -> float:
        """The largest share of `terms` that one sentence of chunk `row` holds."""
        c = self.data.chunks[row]
        text = self.data.docs[c.doc_id].text
        return max((coverage(terms, text[s:e])[0] for s, e in split_sentences(text, c.start, c.end)), default=0.0)

    def _masks(self, allowed: np.ndarray | None, pool: np.ndarray | None) -> list:
        """The row masks each engine ranking is asked within: the filter's, then the
        passages of it that contradict no constraint (an exact backend needs only one)."""
        if self.data.exact:
            return [allowed]
        masks = [allowed]
        if pool is not None:
            inner = pool if allowed is None else pool & allowed
            if inner.any() and (allowed is None or not np.array_equal(inner, allowed)):
                masks.append(inner)
        return masks

    def _ranked(self, rank, query, ask: "_Ask | None") -> np.ndarray:
        """One ranking of the backend, over every mask of this search, merged (best score)."""
        ask = ask or _Ask([None], self.fusion.depth)
        out = None
        for mask in ask.masks:
            scores = rank(query, ask.depth, mask)
            out = scores if out is None else np.fmax(out, scores)
        return out

    def cosines(self, qv: np.ndarray, ask: "_Ask | None" = None) -> np.ndarray:
        """Cosine of the passages with a unit query vector (-inf: not ranked by the backend)."""
        return self._ranked(self.data.dense, qv, ask) if self.data.chunks else np.zeros(0)

    def best_sentence(self, qv: np.ndarray, ask: "_Ask | None" = None) -> np.ndarray:
        """Per chunk, the cosine of its best sentence with the query (each sentence embedded
        on its own: an English question finds the Chinese sentence that says it far more
        often than the 350-character passage around it)."""
        return self._ranked(self.data.sentence_dense, qv, ask)

    def _translated(self, query: str, f: FusionConfig, sentences: bool, ask: "_Ask | None" = None) -> tuple | None:
        """Chinese passages ranked by a Chinese rendering of an English question (glossary
        forms, then the best dictionary sense of each word, run together). e5-small places an
        English question far from the Chinese passage that answers it (the answer often ranks
        past 100th), but near to the same words said in Chinese. (passage ranking, ranking by
        best sentence)"""
        if not self._zh.any():
            return None
        rendering = "".join(self.chinese_rendering(query, f))
        if not rendering:
            return None
        qv = self.embedder.embed_query(rendering)
        best = np.where(self._zh, self.best_sentence(qv, ask), -np.inf) if sentences else None
        return np.where(self._zh, self.cosines(qv, ask), -np.inf), best

    def _model_rendered(self, query: str, ask: "_Ask | None" = None) -> np.ndarray | None:
        """Chinese passages against the model's rendering of the question: the better of
        the passage's cosine and its best sentence's. None when the model gave none."""
        if not self._zh.any():
            return None
        text = self.renderer(query)
        if not text:
            return None
        qv = self.embedder.embed_query(text)
        score = self.cosines(qv, ask)
        if self.data.has_sentences:
            score = np.fmax(score, self.best_sentence(qv, ask))
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
        pieces = render(query, self.doc_freq(), entries, places=f.render_places,
                        together=self.together if f.render_together else None)
        if not f.render_numbers:
            numbers = {z for _, z in chinese_numbers(query)}
            pieces = [p for p in pieces if p not in numbers]
        return pieces

    def lexical_terms(self, query: str, zh: bool, fusion: FusionConfig | None = None) -> list[str]:
        """BM25 query terms; English questions also get dictionary translations and their
        numbers the Chinese way (8.5 percent -> 8.5%, the token Chinese text has)."""
        f = fusion or self.fusion
        terms = content_terms(query)
        if not self.data.chunks:
            return terms
        if f.expand_glossary:
            terms += self._glossary_terms(query, zh)
        if not zh and f.expand_en:
            from .crosslingual import chinese_terms
            terms += chinese_terms(query, self.doc_freq(),
                                   together=self.together if f.render_together else None)
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
        """Index token -> number of chunks containing it."""
        return self.data.doc_freq()

    def together(self, a: str, b: str) -> float:
        """How much two index tokens occur in the same passages (Dice: 2|A∩B| / (|A|+|B|)),
        over each token's best POSTINGS_PER_TERM passages by BM25 (a backend that ranks
        fewer per term, Milvus: 100, over those)."""
        pa, pb = self._postings(a), self._postings(b)
        if not len(pa) or not len(pb):
            return 0.0
        return 2 * len(np.intersect1d(pa, pb, assume_unique=True)) / (len(pa) + len(pb))

    def _postings(self, term: str) -> np.ndarray:
        got = self._postings_memo.get(term)
        if got is None:
            if len(self._postings_memo) > _POSTINGS_KEPT:     # a long-running app asks many terms
                self._postings_memo.clear()
            scores = self.data.lexical([term], n=POSTINGS_PER_TERM)
            rows = np.flatnonzero(scores > 0)
            if len(rows) > POSTINGS_PER_TERM:                 # an exact backend scores them all
                rows = rows[np.argpartition(-scores[rows], POSTINGS_PER_TERM)[:POSTINGS_PER_TERM]]
            got = self._postings_memo[term] = np.sort(rows).astype(np.int32)
        return got

    def bm25_scores(self, terms: list[str], ask: "_Ask | None" = None) -> np.ndarray:
        """BM25 score of every chunk (0: no query term in it, or not ranked by the backend)."""
        known = [t for t in terms if t in self.data.doc_freq()]
        if not known:
            return np.zeros(len(self.data.chunks), dtype=np.float32)
        return self._ranked(self.data.lexical, known, ask)


@dataclass(frozen=True)
class _Ask:
    """How one search asks the backend: within which row masks (None: all), how deep."""
    masks: list
    depth: int


def _top(scores: np.ndarray, group: np.ndarray, depth: int) -> np.ndarray:
    """Rows of `group` with the `depth` best finite scores, best first (ties by row)."""
    masked = np.where(group, scores, -np.inf)
    rows = np.nonzero(np.isfinite(masked))[0]
    if len(rows) > depth:
        part = rows[np.argpartition(-masked[rows], depth - 1)[:depth]]
    else:
        part = rows
    return part[np.lexsort((part, -masked[part]))]
