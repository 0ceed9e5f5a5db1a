"""`Assistant`: open an index, search it, answer from it, show documents."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ingest import store
from ingest.cache import EmbeddingCache, default_cache_path, embed_cached
from ingest.embed import compatible, load_embedder
from ingest.errors import EmbedderUnavailable, IndexMismatch

from . import answer as extractive
from .catalog import Catalog
from .constraints import Constraints
from .decide import Decision, decide
from .query import Query, analyse
from .retrieve import Retriever
from .scope import fit, uncovered
from .tuned import FusionConfig, Thresholds
from .types import Answer, Document, Hit


@dataclass(frozen=True)
class Evidence:
    """What retrieval found for a question, and whether it answers it."""
    question: str                 # as asked
    query: str                    # normalised
    hits: list[Hit]
    candidates: list              # answer.Candidate, best first
    found: bool
    analysis: Query | None = None
    decision: Decision | None = None
    message: str = ""             # why nothing answers, when the constraints leave no document


class Assistant:
    """Answers questions from one index folder. Thread-safe for concurrent readers."""

    def __init__(self, data: store.IndexData, embedder, *, index_dir: Path | None = None,
                 fusion: FusionConfig = FusionConfig(), thresholds: Thresholds = Thresholds(),
                 cache_path: str | Path | None = None):
        self.data, self.embedder, self.index_dir = data, embedder, index_dir
        self.retriever = Retriever(data, embedder, fusion)
        self.catalog = Catalog.from_index(data)
        # (doc_id, start, end) -> row of the sentence table, to reuse its vectors at answer time
        self._sentence_rows = {} if data.sentences is None else {
            (data.chunks[r].doc_id, int(s), int(e)): i for i, (r, s, e) in enumerate(data.sentences)}
        self.thresholds = thresholds
        self._cache_path = cache_path
        self._cache: EmbeddingCache | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: str | Path, *, embedder=None, **kw) -> "Assistant":
        """Load an index and the embedder its manifest names (IndexNotFound / IndexMismatch).
        `embedder`: one already loaded, used when it suits the manifest."""
        data = store.load(index_dir, eager=True)
        info = data.manifest["embedder"]
        if embedder is not None and compatible(info, embedder):
            return cls(data, embedder, index_dir=Path(index_dir), **kw)
        try:
            embedder = load_embedder(info)
        except EmbedderUnavailable as e:
            raise IndexMismatch(f"the index at {index_dir} was built with {info.get('model')}, "
                                f"which cannot be loaded here ({e}); rebuild it with `policyqa ingest --rebuild`") from e
        if not compatible(info, embedder):
            raise IndexMismatch(
                f"the index at {index_dir} was built with a different version of {info.get('model')} "
                f"than is installed; rebuild it with `policyqa ingest --rebuild --index {index_dir}`")
        return cls(data, embedder, index_dir=Path(index_dir), **kw)

    # -- documents -----------------------------------------------------------------
    def documents(self) -> list[dict]:
        """Metadata of every indexed document, in index order."""
        return [dict(d.metadata, doc_id=d.doc_id) for d in self.data.docs.values()]

    def document(self, doc_id: str) -> Document:
        d = self.data.docs.get(doc_id)
        if d is None:
            raise KeyError(f"no document {doc_id!r} in the index")
        return Document(doc_id, d.metadata.get("title") or doc_id, d.text, dict(d.metadata))

    # -- search --------------------------------------------------------------------
    def search(self, query: str, k: int = 10, *, doc_ids: set[str] | None = None,
               filters: Constraints | None = None) -> list[Hit]:
        """Best-first passages for a query (BadQuery on empty or content-free input).

        The years, places and documents the query names rank the passages that fit them
        first; `filters` (a `Constraints`: years, places, doc_types, docs, ...) and
        `doc_ids` keep only the passages that fit."""
        q = analyse(query, self.catalog)
        k = max(1, min(int(k), 100))
        return self._hits(self.retriever.search(q.text, k, doc_ids=self._allowed(doc_ids, filters),
                                                fit=fit(q.constraints, self.catalog), lexical_query=q.rest))

    def _allowed(self, doc_ids: set[str] | None, filters: Constraints | None) -> set[str] | None:
        """The documents a search may return: `doc_ids`, narrowed by the document-level filters."""
        if not filters:
            return doc_ids
        f = fit(filters, self.catalog)
        ok = f.conflicts == 0
        allowed = {self.data.chunks[r].doc_id for r in range(len(ok)) if ok[r]}
        return allowed if doc_ids is None else allowed & set(doc_ids)

    def query_terms(self, query: str) -> list[str]:
        """The words the lexical side searches for (English: also their Chinese terms),
        for highlighting matches."""
        q = analyse(query, self.catalog)
        return self.retriever.lexical_terms(q.text, q.zh)

    def _hits(self, scored) -> list[Hit]:
        hits = []
        for rank, s in enumerate(scored, 1):
            c = self.data.chunks[s.row]
            ident = self.catalog.doc(c.doc_id)
            hits.append(Hit(rank, round(s.score, 6), c.doc_id, ident.display_title, c.section, c.text,
                            c.start, c.end, c.pages[0] if c.pages else None, ident.to_dict(), c.years))
        return hits

    # -- bilingual lookup -------------------------------------------------------------
    def lookup(self, term: str):
        """Glossary renderings, dictionary senses and the passages where `term` (or its
        translations and variants) occurs, with counts per document (`LookupResult`)."""
        from .glossary import lookup_all
        return lookup_all(term, self.data)

    # -- answers -------------------------------------------------------------------
    def ask(self, question: str, k: int = 5, *, mode: str = "extractive", llm=None,
            history: Sequence[tuple[str, str]] = ()) -> Answer:
        """An answer citing exact sentence spans, or found=False with related passages.

        mode "extractive" quotes the best sentences; "llm" has the model at `llm` (an
        `LLMConfig` or `LLMClient`) write it from the retrieved passages, checks every
        citation, and falls back to the extractive answer, with a notice, when the model
        fails. `history` ((question, answer text), oldest first) lets "llm" mode resolve
        follow-up questions."""
        answer = None
        for item in self.ask_stream(question, k, mode=mode, llm=llm, history=history):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(self, question: str, k: int = 5, *, mode: str = "extractive", llm=None,
                   history: Sequence[tuple[str, str]] = ()) -> Iterator[str | Answer]:
        """Like `ask`, but yields the model's text as it arrives (str deltas; a draft whose
        citations are not yet checked) and ends with the final `Answer`, which replaces it."""
        if mode not in ("extractive", "llm"):
            raise ValueError(f"unknown answer mode {mode!r}; use 'extractive' or 'llm'")
        if mode == "extractive":
            yield self.extractive_answer(self.evidence(question, k))
            return
        from .llm_answer import answer_with_llm
        yield from answer_with_llm(self, question, llm, history, k)

    def evidence(self, question: str, k: int = 5, *, filters: Constraints | None = None) -> Evidence:
        """Retrieval plus the scored sentences and the found decision, shared by both modes."""
        q = analyse(question, self.catalog, self.retriever.doc_freq())
        qv = self.embedder.embed_query(q.text)
        scope = fit(q.constraints, self.catalog)
        scored = self.retriever.search(q.text, max(k, 5), query_vector=qv, terms=list(q.terms), fit=scope,
                                       doc_ids=self._allowed(None, filters), lexical_query=q.rest)
        hits = self._hits(scored)
        message = uncovered(q.constraints, self.catalog, scope, q.zh) or ""
        if not hits or message:
            return Evidence(question, q.text, hits, [], False, q, None, message)
        fits = {h.rank - 1: not scope.dims or scope.satisfied(s.row) for h, s in zip(hits, scored)}
        if q.whole_article:
            cands = extractive.article_candidates(q, hits, fits)
        else:
            # Only passages that fit the question's years, places and documents can answer it.
            usable = [h for h in hits if fits[h.rank - 1]] or hits
            cands = extractive.candidates(q, hits, self.data.docs, lambda texts: self._sentence_sims(texts, qv),
                                          only={h.rank - 1 for h in usable},
                                          stored=lambda items: self._stored_sims(items, qv))
        decision = decide(q, cands, hits, fits, self.thresholds)
        if decision.found:          # the answer quotes only passages that meet the bar
            cands = [c for c in cands if c.hit_rank in decision.passing]
        return Evidence(question, q.text, hits, cands, decision.found, q, decision)

    def extractive_answer(self, ev: Evidence, *, question: str | None = None, notice: str = "",
                          standalone: str = "") -> Answer:
        """The quoted sentences of `ev` (or the not-found answer), cited."""
        question = ev.question if question is None else question
        if not ev.found:
            return Answer(question, extractive.not_found_text(ev.query, ev.message), False, "extractive",
                          related=tuple(ev.hits[:3]), notice=notice, standalone=standalone)
        chosen = ev.candidates if ev.analysis.whole_article else extractive.select(ev.candidates)
        chosen = extractive.widen(chosen, ev.analysis, ev.hits, self.data.docs)
        text, citations = extractive.compose(ev.query, chosen, self._meta_of)
        return Answer(question, text, True, "extractive", tuple(citations), notice=notice,
                      standalone=standalone)

    def _sentence_sims(self, texts: list[str], qv: np.ndarray) -> list[float]:
        return list(self.embed_passages(texts) @ qv)

    def _stored_sims(self, items, qv: np.ndarray) -> list[float | None]:
        """Cosines of (doc_id, spans) items from the index's sentence vectors (a run of
        sentences: their mean vector); None for a sentence the index has no vector of."""
        sv, where = self.data.sentence_vectors, self._sentence_rows
        out: list[float | None] = []
        for doc_id, spans in items:
            idx = [where.get((doc_id, s, e)) for s, e in spans]
            if sv is None or any(i is None for i in idx):
                out.append(None)
                continue
            v = sv[idx].sum(axis=0)
            out.append(float(v @ qv / (np.linalg.norm(v) or 1.0)))
        return out

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of passages or sentences, through the embedding cache."""
        with self._lock:
            if self._cache is None:
                self._cache = EmbeddingCache(self._cache_path or default_cache_path())
        vecs, _ = embed_cached(self.embedder, texts, self._cache)
        return vecs

    def _meta_of(self, c) -> tuple[str, str, int | None, dict]:
        ident = self.catalog.doc(c.doc_id)
        return ident.display_title, c.section, self.data.docs[c.doc_id].page_at(c.start), ident.to_dict()

