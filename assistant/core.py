"""`Assistant`: open an index, search it, answer from it, show documents."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ingest import store
from ingest.cache import EmbeddingCache, default_cache_path, embed_cached
from ingest.embed import compatible, load_embedder
from ingest.errors import EmbedderUnavailable, IndexMismatch
from ingest.ocr_text import span_confidence

from . import answer as extractive
from .evidence import coverage, key_terms
from .normalize import is_chinese, normalize_query
from .retrieve import FusionConfig, Retriever
from .types import Answer, Document, Hit, PageImage


@dataclass(frozen=True)
class Evidence:
    """What retrieval found for a question, and whether it answers it."""
    question: str                 # as asked
    query: str                    # normalised
    hits: list[Hit]
    candidates: list              # answer.Candidate, best first
    found: bool


@dataclass(frozen=True)
class Thresholds:
    """The found / not-found decision, calibrated on ../shared/eval/seed_dev.jsonl (README).

    A question answered from a passage in its own language uses the first pair. An English
    question over a Chinese passage is measured through dictionary translations, which find
    fewer of its terms and score lower in meaning, hence its own, lower values."""
    min_semantic_zh: float = 0.80     # cosine of the best sentence with the question
    min_coverage_zh: float = 0.65     # weighted share of the question's key terms in its passage
    min_semantic_en: float = 0.79     # English question, Chinese passage
    min_coverage_en: float = 0.45


class Assistant:
    """Answers questions from one index folder. Thread-safe for concurrent readers."""

    def __init__(self, data: store.IndexData, embedder, *, index_dir: Path | None = None,
                 fusion: FusionConfig = FusionConfig(), thresholds: Thresholds = Thresholds(),
                 cache_path: str | Path | None = None):
        self.data, self.embedder, self.index_dir = data, embedder, index_dir
        self.retriever = Retriever(data, embedder, fusion)
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

    def page_image(self, doc_id: str, start: int, end: int) -> PageImage | None:
        """The scanned page that [start, end) of a document was recognised from, with its
        lines boxed; None when the span is not recognised text."""
        d = self.data.docs.get(doc_id)
        if d is None:
            raise KeyError(f"no document {doc_id!r} in the index")
        lines = d.lines_in(start, end)
        if not lines:
            return None
        page = lines[0][2]
        boxes = tuple(tuple(r[3:7]) for r in lines if r[2] == page)
        src = Path(d.metadata.get("source_path") or "")
        try:
            same = hashlib.sha256(src.read_bytes()).hexdigest() == (d.metadata.get("ocr") or {}).get("file_sha256")
        except OSError:
            return PageImage(doc_id, page, b"", boxes, f"源文件已不在原处 the source file {src.name} is gone")
        if not same:
            return PageImage(doc_id, page, b"", boxes, f"源文件已更改 the source file {src.name} has changed since it was indexed")
        from ingest.scan import page_png
        return PageImage(doc_id, page, page_png(str(src), page), boxes)

    # -- search --------------------------------------------------------------------
    def search(self, query: str, k: int = 10, *, doc_ids: set[str] | None = None) -> list[Hit]:
        """Best-first passages for a query (BadQuery on empty or content-free input)."""
        q = normalize_query(query)
        k = max(1, min(int(k), 100))
        return self._hits(self.retriever.search(q, k, doc_ids=doc_ids))

    def query_terms(self, query: str) -> list[str]:
        """The words the lexical side searches for (English: also their Chinese terms),
        for highlighting matches."""
        q = normalize_query(query)
        return self.retriever.lexical_terms(q, is_chinese(q))

    def _hits(self, scored) -> list[Hit]:
        hits = []
        for rank, s in enumerate(scored, 1):
            c = self.data.chunks[s.row]
            doc = self.data.docs[c.doc_id]
            hits.append(Hit(rank, round(s.score, 6), c.doc_id, doc.metadata.get("title") or c.doc_id,
                            c.section, c.text, c.start, c.end, c.pages[0] if c.pages else None))
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
            yield self._mark_ocr(self.extractive_answer(self.evidence(question, k)))
            return
        from .llm_answer import answer_with_llm
        for item in answer_with_llm(self, question, llm, history, k):
            yield self._mark_ocr(item) if isinstance(item, Answer) else item

    def _mark_ocr(self, answer: Answer) -> Answer:
        """Citations of recognised (scanned) text carry its mean confidence."""
        marked = tuple(replace(c, ocr_confidence=span_confidence(self.data.docs[c.doc_id].lines, c.start, c.end))
                       if self.data.docs[c.doc_id].lines else c for c in answer.citations)
        return replace(answer, citations=marked) if marked != answer.citations else answer

    def evidence(self, question: str, k: int = 5) -> Evidence:
        """Retrieval plus the scored sentences and the found decision, shared by both modes."""
        q = normalize_query(question)
        qv = self.embedder.embed_query(q)
        zh = is_chinese(q)
        terms = key_terms(q, zh, self.retriever.doc_freq())     # once: retrieval reranks with them too
        hits = self._hits(self.retriever.search(q, max(k, 5), query_vector=qv, terms=terms))
        if not hits:
            return Evidence(question, q, hits, [], False)
        cands = extractive.candidates(terms, hits, self.data.docs, lambda texts: self._sentence_sims(texts, qv))
        # The best sentence decides, and the answer quotes only passages that meet the bar.
        need = {r: self._passage_bar(terms, hits[r], zh) for r in {c.hit_rank for c in cands}}
        passing = {c.hit_rank for c in cands if need[c.hit_rank] is not None and c.semantic >= need[c.hit_rank]}
        found = any(c.hit_rank in passing for c in cands[:self.FOUND_TRIES])
        if found:
            cands = [c for c in cands if c.hit_rank in passing]
        return Evidence(question, q, hits, cands, found)

    def extractive_answer(self, ev: Evidence, *, question: str | None = None, notice: str = "",
                          standalone: str = "") -> Answer:
        """The quoted sentences of `ev` (or the not-found answer), cited."""
        question = ev.question if question is None else question
        if not ev.found:
            return Answer(question, extractive.not_found_text(ev.query), False, "extractive",
                          related=tuple(ev.hits[:3]), notice=notice, standalone=standalone)
        text, citations = extractive.compose(ev.query, extractive.select(ev.candidates), self._meta_of)
        return Answer(question, text, True, "extractive", tuple(citations), notice=notice,
                      standalone=standalone)

    # Candidate sentences (best first) that may decide "found". Letting the second and third
    # decide too answered one more seed_dev question, but turned two refusals (evidence not
    # retrieved) into confident wrong answers: a refusal is the better failure.
    FOUND_TRIES = 1

    def _passage_bar(self, terms, hit, zh: bool) -> float | None:
        """The cosine a sentence of `hit` needs to answer the question, or None when the
        passage misses the question's names or numbers or most of its key terms."""
        t = self.thresholds
        share, _ = coverage(terms, hit.text)
        # Names and numbers may stand in the passage's heading path or title ("基于北京的调研").
        _, names_ok = coverage(terms, "\n".join((hit.text, hit.section, hit.title)))
        across = not zh and is_chinese(hit.text)
        min_cov, min_sem = (t.min_coverage_en, t.min_semantic_en) if across else (t.min_coverage_zh, t.min_semantic_zh)
        return min_sem if names_ok and share >= min_cov else None

    def _sentence_sims(self, texts: list[str], qv: np.ndarray) -> list[float]:
        return list(self.embed_passages(texts) @ qv)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of passages or sentences, through the embedding cache."""
        with self._lock:
            if self._cache is None:
                self._cache = EmbeddingCache(self._cache_path or default_cache_path())
        vecs, _ = embed_cached(self.embedder, texts, self._cache)
        return vecs

    def _meta_of(self, c) -> tuple[str, str, int | None]:
        doc = self.data.docs[c.doc_id]
        return doc.metadata.get("title") or c.doc_id, c.section, doc.page_at(c.start)
