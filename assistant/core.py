"""`Assistant`: open an index, search it, answer from it, show documents."""
from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ingest import index as backends
from ingest.cache import EmbeddingCache, embed_cached
from ingest.embed import compatible, load_embedder
from ingest.errors import EmbedderUnavailable, IndexMismatch
from ingest.ocr_text import span_confidence
from ingest.sentences import quotable_sentences
from ingest.settings import active

from . import answer as extractive
from . import compare
from .catalog import Catalog
from .compare import Side, sides
from .constraints import Constraints
from .decide import Decision, decide
from .query import Query, analyse
from .retrieve import Retriever
from .scope import fit, uncovered
from .tuned import FusionConfig, Thresholds
from .types import Answer, AnswerTable, Document, Hit, PageImage, TableRow


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
    # A comparison: the dimension compared and, per side, its own evidence.
    comparison: tuple[str, list[tuple[Side, "Evidence"]]] | None = None
    considered: tuple = ()        # every candidate the decision weighed (`decision.considered` is theirs)


@functools.cache
def _one_numpy_blas_thread() -> None:
    """numpy's OpenBLAS on one thread. The products of a question (a few thousand vectors
    by one) gain nothing from a second thread, and OpenBLAS's threads spin after each call,
    slowing the query encoder's own threads that follow: search took 100 ms instead of 44
    here. Torch's MKL (ingest) is a different library and keeps its threads. Once per
    process: the limit is process-wide."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:          # pragma: no cover - a dependency; only slower without it
        return
    ThreadpoolController().select(internal_api="openblas").limit(limits=1)

class Assistant:
    """Answers questions from one index folder. Thread-safe for concurrent readers."""

    def __init__(self, data: backends.PassageIndex, embedder, *, index_dir: Path | str | None = None,
                 fusion: FusionConfig = FusionConfig(), thresholds: Thresholds = Thresholds(),
                 cache_path: str | Path | None = None, renderer=None):
        """`renderer`: an English question -> its Chinese rendering by the configured model
        (`llm_render.Renderer`), one more ranking for English questions; None offline."""
        self.data, self.embedder, self.index_dir = data, embedder, index_dir
        _one_numpy_blas_thread()
        self.catalog = Catalog.from_index(data)
        self.retriever = Retriever(data, embedder, fusion, renderer, chunk_zh=self.catalog.chunk_zh)
        # (doc_id, start, end) -> row of the sentence table, to reuse its vectors at answer time
        self._sentence_rows = {} if data.sentences is None else {
            (data.chunks[r].doc_id, int(s), int(e)): i for i, (r, s, e) in enumerate(data.sentences)}
        self.thresholds = thresholds
        self._cache_path = cache_path
        self._cache: EmbeddingCache | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: str | Path, *, embedder=None, token: str | None = None, **kw) -> "Assistant":
        """Load an index and the embedder its manifest names (IndexNotFound / IndexMismatch).
        `index_dir`: a folder or another backend's address (`ingest.index.target`), `token`
        a Milvus server's; `embedder`: one already loaded, used when it suits the manifest."""
        where = backends.target(index_dir)
        data = backends.load(where, eager=True, token=token)
        index_dir = where.tables if where.backend == "folder" else str(where)
        info = data.manifest["embedder"]
        if embedder is not None and compatible(info, embedder):
            return cls(data, embedder, index_dir=index_dir, **kw)
        try:
            embedder = load_embedder(info)
        except EmbedderUnavailable as e:
            raise IndexMismatch(f"the index at {index_dir} was built with {info.get('model')}, "
                                f"which cannot be loaded here ({e}); rebuild it with `policyqa ingest --rebuild`") from e
        if not compatible(info, embedder):
            raise IndexMismatch(
                f"the index at {index_dir} was built with a different version of {info.get('model')} "
                f"than is installed; rebuild it with `policyqa ingest --rebuild --index {index_dir}`")
        return cls(data, embedder, index_dir=index_dir, **kw)

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
    def search(self, query: str, k: int = 10, *, doc_ids: set[str] | None = None,
               filters: Constraints | None = None) -> list[Hit]:
        """Best-first passages for a query (BadQuery on empty or content-free input).

        The years, places and documents the query names rank the passages that fit them
        first; `filters` (a `Constraints`: years, places, doc_types, docs, ...) and
        `doc_ids` keep only the passages that fit."""
        q = analyse(query, self.catalog, self.retriever.doc_freq())
        k = max(1, min(int(k), 100))
        return self._hits(self.retriever.search(q.text, k, allowed=self._allowed(doc_ids, filters),
                                                terms=list(q.terms), fit=fit(q.constraints, self.catalog),
                                                lexical_query=q.rest))

    def _allowed(self, doc_ids: set[str] | None, filters: Constraints | None) -> np.ndarray | None:
        """The passages a search may return (a row mask): those of `doc_ids` that fit every
        filter; None when nothing is filtered."""
        if not filters and doc_ids is None:
            return None
        ok = np.ones(len(self.data.chunks), dtype=bool)
        if doc_ids is not None:
            ok &= np.array([c.doc_id in doc_ids for c in self.data.chunks], dtype=bool)
        if filters:
            ok &= fit(filters, self.catalog).conflicts == 0
        return ok

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
    def lookup(self, term: str, *, by_year: bool = False, doc_types: tuple[str, ...] | None = None):
        """Glossary renderings, dictionary senses and the passages where `term` (or its
        translations and variants) occurs, with counts per document (`LookupResult`);
        `by_year`: also its count in every dated document (of `doc_types`), by year."""
        from .glossary import lookup_all
        result = lookup_all(term, self.data)
        if by_year:
            from .trend import by_year as trend
            result = replace(result, by_year=trend(result.concordance, self.catalog, doc_types))
        return result

    # -- answers -------------------------------------------------------------------
    def ask(self, question: str, k: int = 5, *, mode: str = "extractive", llm=None,
            history: Sequence[tuple[str, str]] = (), filters: Constraints | None = None) -> Answer:
        """An answer citing exact sentence spans, or found=False with related passages.

        mode "extractive" quotes the best sentences; "llm" has the model at `llm` (an
        `LLMConfig` or `LLMClient`) write it from the retrieved passages, checks every
        citation, and falls back to the extractive answer, with a notice, when the model
        fails. `history` ((question, answer text), oldest first) lets "llm" mode resolve
        follow-up questions. `filters` keep only the documents and passages that fit them."""
        answer = None
        for item in self.ask_stream(question, k, mode=mode, llm=llm, history=history, filters=filters):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(self, question: str, k: int = 5, *, mode: str = "extractive", llm=None,
                   history: Sequence[tuple[str, str]] = (), filters: Constraints | None = None
                   ) -> Iterator[str | Answer]:
        """Like `ask`, but yields the model's text as it arrives (str deltas; a draft whose
        citations are not yet checked) and ends with the final `Answer`, which replaces it."""
        if mode not in ("extractive", "llm"):
            raise ValueError(f"unknown answer mode {mode!r}; use 'extractive' or 'llm'")
        if mode == "extractive":
            yield self._mark_ocr(self.extractive_answer(self.evidence(question, k, filters=filters)))
            return
        from .llm_answer import answer_with_llm
        for item in answer_with_llm(self, question, llm, history, k, filters=filters):
            yield self._mark_ocr(item) if isinstance(item, Answer) else item

    def _mark_ocr(self, answer: Answer) -> Answer:
        """Citations of recognised (scanned) text carry its mean confidence."""
        marked = tuple(replace(c, ocr_confidence=span_confidence(self.data.docs[c.doc_id].lines, c.start, c.end))
                       if self.data.docs[c.doc_id].lines else c for c in answer.citations)
        return replace(answer, citations=marked) if marked != answer.citations else answer

    def evidence(self, question: str, k: int = 5, *, filters: Constraints | None = None) -> Evidence:
        """Retrieval plus the scored sentences and the found decision, shared by both modes.
        A comparison gets one such evidence per side (same query vector and key terms)."""
        q = analyse(question, self.catalog, self.retriever.doc_freq())
        qv = self.embedder.embed_query(q.text)
        split = sides(q, self.catalog)
        if split is None:
            return self._evidence(q, qv, k, filters)
        dimension, parts = split
        per_side = [(side, self._evidence(replace(q, constraints=side.constraints), qv, k, filters))
                    for side in parts]
        # The sources of the answer as a whole: each side's best passages, side by side.
        hits, seen = [], set()
        for depth in range(k):
            for _, ev in per_side:
                if depth < len(ev.hits) and (ev.hits[depth].doc_id, ev.hits[depth].start) not in seen:
                    seen.add((ev.hits[depth].doc_id, ev.hits[depth].start))
                    hits.append(replace(ev.hits[depth], rank=len(hits) + 1))
        return Evidence(question, q.text, hits, [], any(ev.found for _, ev in per_side), q,
                        comparison=(dimension, per_side))

    def _evidence(self, q: Query, qv: np.ndarray, k: int, filters: Constraints | None) -> Evidence:
        scope = fit(q.constraints, self.catalog)
        scored = self.retriever.search(q.text, max(k, 5), query_vector=qv, terms=list(q.terms), fit=scope,
                                       allowed=self._allowed(None, filters), lexical_query=q.rest)
        hits = self._hits(scored)
        message = uncovered(q.constraints, self.catalog, scope, q.zh) or ""
        if not hits or message:
            return Evidence(q.question, q.text, hits, [], False, q, None, message)
        fits = {h.rank - 1: not scope.dims or scope.satisfied(s.row) for h, s in zip(hits, scored)}
        if q.whole_article:
            cands = extractive.article_candidates(q, hits, fits)
        else:
            # Only passages that fit the question's years, places and documents can answer it.
            usable = [h for h in hits if fits[h.rank - 1]] or hits
            cands = extractive.candidates(q, hits, self.data.docs, lambda texts: self._sentence_sims(texts, qv),
                                          only={h.rank - 1 for h in usable},
                                          stored=lambda items: self._stored_sims(items, qv))
        decision = decide(q, cands, hits, fits, self.thresholds, self.retriever.doc_freq(), len(self.data.chunks))
        considered = tuple(cands)
        if decision.found:
            cands = extractive.to_quote(cands, decision.passing, q.zh)
        return Evidence(q.question, q.text, hits, cands, decision.found, q, decision, considered=considered)

    def extractive_answer(self, ev: Evidence, *, question: str | None = None, notice: str = "",
                          standalone: str = "") -> Answer:
        """The quoted sentences of `ev` (or the not-found answer), cited."""
        question = ev.question if question is None else question
        if not ev.found:
            return Answer(question, extractive.not_found_text(ev.query, ev.message), False, "extractive",
                          related=tuple(ev.hits[:3]), notice=notice, standalone=standalone)
        if ev.comparison:
            return self._comparison_answer(ev, question, notice, standalone)
        text, citations = extractive.compose(ev.query, self._chosen(ev), self._meta_of)
        return Answer(question, text, True, "extractive", tuple(citations), notice=notice,
                      standalone=standalone)

    def _chosen(self, ev: Evidence, max_sentences: int = extractive.W.max_sentences) -> list:
        chosen = ev.candidates if ev.analysis.whole_article else \
            extractive.select(ev.candidates, max_sentences=max_sentences)
        return extractive.widen(chosen, ev.analysis, ev.hits, self.data.docs, self._subsections)

    def _subsections(self, doc_id: str, path: str) -> list[tuple[int, int]]:
        """The headings one level below `path` in a document, as spans of its text: the first
        sentence of each such section (an inline heading such as （一）推动…落实到位。)."""
        prefix, depth = path + " > ", path.count(" > ") + 1
        text = self.data.docs[doc_id].text
        out, seen = [], set()
        for c in self.data.chunks:
            if c.doc_id != doc_id or not c.section.startswith(prefix) or c.section.count(" > ") != depth:
                continue
            title = c.section.rsplit(" > ", 1)[-1]
            if title in seen:
                continue
            seen.add(title)
            spans = quotable_sentences(text, c.start, c.end)
            if spans and text[spans[0][0]:spans[0][1]].strip() == title:
                out.append(spans[0])
        return out

    def _comparison_answer(self, ev: Evidence, question: str, notice: str, standalone: str) -> Answer:
        """One row per side, each quoting its own evidence; a side not answered says so."""
        dimension, per_side = ev.comparison
        zh = ev.analysis.zh
        rows, citations, lines = [], [], []
        for side, sub in per_side:
            if sub.found:
                body, cited = extractive.quote(self._chosen(sub, max_sentences=2), self._meta_of, zh,
                                               first=len(citations) + 1)
                citations += cited
                rows.append(TableRow(side.label, body, tuple(c.n for c in cited), True))
            else:
                body = compare.not_found_cell(zh)
                rows.append(TableRow(side.label, body, (), False))
            lines.append(f"{side.label}：{body}" if zh else f"{side.label}: {body}")
        text = compare.lead(dimension, [s.label for s, _ in per_side], zh) + "\n" + "\n".join(lines)
        return Answer(question, text, True, "extractive", tuple(citations), notice=notice, standalone=standalone,
                      table=AnswerTable(dimension, tuple(rows)))

    def _sentence_sims(self, texts: list[str], qv: np.ndarray) -> list[float]:
        return list(self.embed_passages(texts) @ qv)

    def _stored_sims(self, items, qv: np.ndarray) -> list[float | None]:
        """Cosines of (doc_id, spans) items from the index's sentence vectors (a run of
        sentences: their mean vector); None for a sentence the index has no vector of."""
        where = self._sentence_rows
        rows = [[where.get((doc_id, s, e)) for s, e in spans] for doc_id, spans in items]
        wanted = sorted({i for idx in rows if None not in idx for i in idx})
        if not self.data.has_sentences or not wanted:
            return [None] * len(items)
        # One request for all of them (an engine answers each request over the network).
        got = dict(zip(wanted, self.data.sentence_vectors_of(wanted)))
        out: list[float | None] = []
        for idx in rows:
            if None in idx:
                out.append(None)
                continue
            v = np.sum([got[i] for i in idx], axis=0)
            out.append(float(v @ qv / (np.linalg.norm(v) or 1.0)))
        return out

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of passages or sentences, through the embedding cache."""
        with self._lock:
            if self._cache is None:
                self._cache = EmbeddingCache(self._cache_path or active().cache_path)
        vecs, _ = embed_cached(self.embedder, texts, self._cache)
        return vecs

    def _meta_of(self, c) -> tuple[str, str, int | None, dict]:
        ident = self.catalog.doc(c.doc_id)
        return ident.display_title, c.section, self.data.docs[c.doc_id].page_at(c.start), ident.to_dict()

