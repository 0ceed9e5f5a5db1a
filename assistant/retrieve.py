"""Hybrid retrieval: dense (FAISS through llama-index) + BM25 (bm25s over jieba), fused.

The fusion is weighted reciprocal-rank fusion; its weights were chosen on the eval sets
by benchmarks/retrieval.py (see README). English questions over Chinese text get a
smaller BM25 weight, since their words only ever match the few English documents.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.store import IndexData

from .normalize import content_terms, is_chinese


@dataclass(frozen=True)
class FusionConfig:
    """How dense and BM25 rankings are combined."""
    method: str = "rrf"          # "rrf" | "dense" | "bm25"
    rrf_k: int = 60
    w_dense: float = 1.0
    w_bm25_zh: float = 1.0       # Chinese questions
    w_bm25_en: float = 0.3       # questions without Chinese characters
    depth: int = 50              # candidates taken from each side
    expand_en: bool = True       # add CC-CEDICT Chinese terms to English questions' BM25 side


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

    def search(self, query: str, k: int = 10, *, query_vector: np.ndarray | None = None,
               doc_ids: set[str] | None = None) -> list[Scored]:
        """Best-first chunks for a normalised query, no two overlapping in one document."""
        if not self.data.chunks:
            return []
        f = self.fusion
        depth = max(f.depth, 4 * k)
        qv = self.embedder.embed_query(query) if query_vector is None else query_vector
        dense = self.dense(qv, depth) if f.method in ("rrf", "dense") else {}
        zh = is_chinese(query)
        lexical = self.bm25(self.lexical_terms(query, zh), depth) if f.method in ("rrf", "bm25") else {}
        w_bm25 = f.w_bm25_zh if zh else f.w_bm25_en
        fused: dict[int, float] = {}
        for ranking, weight in ((dense, f.w_dense), (lexical, w_bm25)):
            for rank, row in enumerate(sorted(ranking, key=ranking.get, reverse=True)):
                fused[row] = fused.get(row, 0.0) + weight / (f.rrf_k + rank + 1)
        if dense and lexical:
            # Exact dense similarity for BM25-only candidates, used for confidence and answers.
            missing = [r for r in fused if r not in dense]
            if missing:
                sims = self.data.vectors[missing] @ qv
                dense.update({r: float(s) for r, s in zip(missing, sims)})
        order = sorted(fused, key=lambda r: (-fused[r], r))
        out: list[Scored] = []
        taken: dict[str, list[tuple[int, int]]] = {}
        for row in order:
            c = self.data.chunks[row]
            if doc_ids is not None and c.doc_id not in doc_ids:
                continue
            spans = taken.setdefault(c.doc_id, [])
            if any(c.start < e and s < c.end for s, e in spans):
                continue                      # overlaps a better hit of the same document
            spans.append((c.start, c.end))
            out.append(Scored(row, fused[row], dense.get(row, float(self.data.vectors[row] @ qv)),
                              lexical.get(row, 0.0)))
            if len(out) == k:
                break
        return out

    def lexical_terms(self, query: str, zh: bool) -> list[str]:
        """BM25 query terms; English questions also get dictionary translations."""
        terms = content_terms(query)
        bm = self.data.bm25()
        if not zh and self.fusion.expand_en and bm is not None:
            from .crosslingual import chinese_terms
            terms += chinese_terms(query, bm.vocab_dict)
        return terms

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
