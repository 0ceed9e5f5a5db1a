"""Hybrid retrieval: dense (FAISS through llama-index) + BM25 (bm25s over jieba), fused.

English questions also rank the Chinese passages by a Chinese rendering of the question.
The rankings are merged by weighted reciprocal-rank fusion; for Chinese questions the top
is then reranked by the key-term coverage of each passage's best sentence. Constants and
weights were chosen on seed_dev and cmrc2018 by benchmarks/retrieval.py (see README).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.sentences import split_sentences
from ingest.store import IndexData

from .evidence import coverage, key_terms
from .normalize import _EN_STOP, _ZH_STOP, content_terms, is_chinese

_STOP = _EN_STOP | _ZH_STOP


@dataclass(frozen=True)
class FusionConfig:
    """How dense and BM25 rankings are combined."""
    method: str = "rrf"          # "rrf" | "dense" | "bm25"
    rrf_k: int = 10
    w_dense: float = 1.0
    w_bm25_zh: float = 1.5       # Chinese questions
    w_bm25_en: float = 1.0       # questions without Chinese characters
    depth: int = 50              # candidates taken from each side
    expand_en: bool = True       # add CC-CEDICT Chinese terms to English questions' BM25 side
    expand_glossary: bool = True # add the glossary's forms in the other language to BM25
    # Rank dense hits per document language, then fuse. It lifted Chinese passages for English
    # questions until the translated ranking below did that better (benchmarks/retrieval.py grid).
    balance_languages: bool = False
    w_other_lang: float = 1.0    # weight of rankings over documents in another language than the query's
    translate_dense: bool = True # English questions: also rank Chinese passages by a Chinese rendering
    w_translated: float = 1.0    # weight of that ranking
    # Rerank the best `rerank_depth` by the share of the question's key terms that one
    # sentence of the passage holds (names and numbers weigh double). English questions'
    # terms only count through dictionary translations, which made it worse for them.
    w_coverage_zh: float = 0.1
    w_coverage_en: float = 0.0
    rerank_depth: int = 20


@dataclass(frozen=True)
class Scored:
    """One fused candidate (a chunk row of the index)."""
    row: int
    score: float
    dense: float                 # cosine similarity with the query (0 when not retrieved densely)
    bm25: float


class Retriever:
    """Searches one loaded index generation."""

    def __init__(self, data: IndexData, embedder, fusion: FusionConfig = FusionConfig()):
        self.data, self.embedder, self.fusion = data, embedder, fusion
        # Language per passage, not per document: a Chinese passage quoting English titles
        # is still Chinese, and a bilingual document has passages of both.
        self._lang = ["zh" if is_chinese(c.text) else "en" for c in data.chunks]
        self._doc_freq: dict[str, int] | None = None

    def search(self, query: str, k: int = 10, *, query_vector: np.ndarray | None = None,
               doc_ids: set[str] | None = None, terms: list | None = None) -> list[Scored]:
        """Best-first chunks for a normalised query, no two overlapping in one document.
        `terms`: the query's key terms when the caller has them already (for the rerank)."""
        if not self.data.chunks:
            return []
        f = self.fusion
        depth = max(f.depth, 4 * k)
        qv = self.embedder.embed_query(query) if query_vector is None else query_vector
        zh = is_chinese(query)
        keep = (lambda row: True) if doc_ids is None else (lambda row: self.data.chunks[row].doc_id in doc_ids)
        rankings: list[tuple[dict[int, float], float]] = []
        dense: dict[int, float] = {}
        if f.method in ("rrf", "dense"):
            dense = {r: s for r, s in self.dense(qv, 4 * depth if doc_ids is None else len(self.data.chunks)).items()
                     if keep(r)}
            rankings += self._by_language(dense, "zh" if zh else "en", f.w_dense)
            if not zh and f.translate_dense:
                rankings += self._translated(query, depth, keep)
        lexical: dict[int, float] = {}
        if f.method in ("rrf", "bm25"):
            lexical = {r: s for r, s in self.bm25(self.lexical_terms(query, zh), 4 * depth).items() if keep(r)}
            # One BM25 ranking: split by language it measured worse (benchmarks/retrieval.py).
            rankings.append((lexical, f.w_bm25_zh if zh else f.w_bm25_en))
        fused: dict[int, float] = {}
        for ranking, weight in rankings:
            for rank, row in enumerate(sorted(ranking, key=ranking.get, reverse=True)[:depth]):
                fused[row] = fused.get(row, 0.0) + weight / (f.rrf_k + rank + 1)
        w_cov = f.w_coverage_zh if zh else f.w_coverage_en
        if w_cov:
            top = sorted(fused, key=lambda r: (-fused[r], r))[:max(f.rerank_depth, k)]
            if terms is None:
                terms = key_terms(query, zh, self.doc_freq())
            for row in top:
                fused[row] += w_cov * self.sentence_coverage(terms, row)
        order = sorted(fused, key=lambda r: (-fused[r], r))
        out: list[Scored] = []
        taken: dict[str, list[tuple[int, int]]] = {}
        for row in order:
            c = self.data.chunks[row]
            spans = taken.setdefault(c.doc_id, [])
            if any(c.start < e and s < c.end for s, e in spans):
                continue                      # overlaps a better hit of the same document
            spans.append((c.start, c.end))
            # The exact cosine, also for BM25-only candidates: the found decision reads it.
            cos = dense[row] if row in dense else float(self.data.vectors[row] @ qv)
            out.append(Scored(row, fused[row], cos, lexical.get(row, 0.0)))
            if len(out) == k:
                break
        return out

    def sentence_coverage(self, terms, row: int) -> float:
        """The largest share of `terms` that one sentence of chunk `row` holds."""
        c = self.data.chunks[row]
        text = self.data.docs[c.doc_id].text
        return max((coverage(terms, text[s:e])[0] for s, e in split_sentences(text, c.start, c.end)), default=0.0)

    def _by_language(self, ranking: dict[int, float], query_lang: str, weight: float):
        """One ranking per document language. Cosines across languages run lower than
        within one, so a single dense ranking buries Chinese passages under English ones
        for an English question (and the reverse)."""
        f = self.fusion
        if not f.balance_languages:
            return [(ranking, weight)]
        groups: dict[str, dict[int, float]] = {}
        for row, s in ranking.items():
            groups.setdefault(self._lang[row], {})[row] = s
        return [(g, weight * (1.0 if lang == query_lang else f.w_other_lang)) for lang, g in groups.items()]

    def _translated(self, query: str, depth: int, keep) -> list[tuple[dict[int, float], float]]:
        """Chinese passages ranked by a Chinese rendering of an English question (glossary
        forms, then the best dictionary sense of each word, run together). e5-small places an
        English question far from the Chinese passage that answers it (the answer often ranks
        past 100th), but near to the same words said in Chinese."""
        if "zh" not in self._lang or self.data.bm25() is None:
            return []
        rendering = "".join(dict.fromkeys(self.chinese_rendering(query)))
        if not rendering:
            return []
        qv = self.embedder.embed_query(rendering)
        ranked = {r: s for r, s in self.dense(qv, 4 * depth).items() if self._lang[r] == "zh" and keep(r)}
        return [(ranked, self.fusion.w_translated)]

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

    def dense(self, qv: np.ndarray, n: int) -> dict[int, float]:
        from llama_index.core.vector_stores.types import VectorStoreQuery
        res = self.data.vector_store().query(
            VectorStoreQuery(query_embedding=qv.astype(np.float32).tolist(), similarity_top_k=n))
        return {int(i): float(s) for i, s in zip(res.ids or [], res.similarities or [])}

    def bm25(self, terms: list[str], n: int) -> dict[int, float]:
        """BM25 scores of the top n chunks; chunks scoring 0 are not hits at all."""
        bm = self.data.bm25()
        if bm is None or not terms:
            return {}
        known = [t for t in terms if t in bm.vocab_dict]
        if not known:
            return {}
        scores = bm.get_scores(known)
        top = np.argsort(-scores)[:n]
        return {int(i): float(scores[i]) for i in top if scores[i] > 0}
