"""The index folder: one generation of plain files, swapped in atomically.

    INDEX/CURRENT -> gen-<id>         (symlink; replaced with one rename)
    INDEX/gen-<id>/manifest.json      model, dimension, chunk settings, version, documents
                   chunks.jsonl       one chunk a line, row i = FAISS id i
                   docs.jsonl         cleaned text, metadata and page map per document
                   vectors.npy        float32 (n, dim), L2-normalised: searched exactly
                   vectors.hnsw       ... or, past ANN_THRESHOLD passages, a FAISS HNSW index
                                      holding them instead (the vectors are stored once)
                   sentences.npy      int32 (m, 3): chunk row, start, end of each quotable sentence
                   sentence_vectors.npy  float16 (m, dim): each sentence embedded on its own
                   sentence_vectors.hnsw ... or, past ANN_THRESHOLD sentences, in a FAISS HNSW index
                   bm25/              bm25s over jieba tokens
    INDEX/.lock                       held by the one writer

A writer builds a new generation beside the current one and only then points
CURRENT at it, so a crash or Ctrl-C mid-ingest leaves the previous index as it was.

`IndexData` is also the `folder` backend of `ingest.index.PassageIndex`: FAISS and bm25s
are used here and nowhere else (bm25_read.py reads bm25s's files back without importing
it). Another backend (ingest/milvus_index.py) keeps the same tables (manifest, chunks,
docs, sentences) in a generation of this folder format, written with `tables_only`, and
its vectors and BM25 in the engine.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import IndexBusy, IndexMismatch, IndexNotFound
from .tokenize import tokenize_for_index
from .types import Chunk

FORMAT_VERSION = 3       # 2: chunks carry the years they speak about; 3: vectors stored once
READABLE = (2, 3)        # a version-2 folder differs only by an unused vectors.faiss
CURRENT = "CURRENT"
# Past this many passages dense search goes through FAISS HNSW instead of an exact product:
# `benchmarks/scale.py` (README, "Scale"): the exact product's p95 grows ~21.5 ms per 100,000
# passages (215 ms at a million), HNSW's stays at 1-4 ms; 140,000 keeps it under ~30 ms.
ANN_THRESHOLD = 140_000
# efSearch 512: recall@10 .95 at a million passages (.98 at 100,000), p95 4 ms (benchmarks/scale.py).
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 512


@dataclass
class StoredDocument:
    """A cleaned document as kept in the index."""
    doc_id: str
    text: str
    metadata: dict
    pages: list[tuple[int, int, int]] = field(default_factory=list)   # (start, end, page)
    # Scanned text: (start, end, page, x0, y0, x1, y1, confidence) per recognised line,
    # the box in fractions of the page. Empty for text that was not recognised.
    lines: list[tuple] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        for start, end, page in self.pages:
            if start <= offset < end:
                return page
        return None

    def lines_in(self, start: int, end: int) -> list[tuple]:
        """The recognised lines that [start, end) touches."""
        return [r for r in self.lines if r[0] < end and start < r[1]]


@dataclass
class IndexData:
    """Everything in one generation, in memory."""
    manifest: dict
    chunks: list[Chunk]
    docs: dict[str, StoredDocument]
    vectors: np.ndarray | None
    path: Path | None = None
    sentences: np.ndarray | None = None          # (m, 3) int32: chunk row, start, end
    sentence_vectors: np.ndarray | None = None   # (m, dim) float32 in memory
    _ann: object = None                          # the FAISS HNSW index of a large generation
    _sentence_ann: object = None                 # ... and of its sentences
    _bm25: object = None
    _doc_freq: dict | None = None

    backend = "folder"

    @property
    def exact(self) -> bool:
        """Rankings cover every passage: true unless the vectors are in an HNSW index."""
        return self._ann is None and self._sentence_ann is None

    @property
    def dim(self) -> int:
        return int(self.manifest["embedder"]["dim"])

    def bm25(self):
        """The BM25 index (None for an empty index), read without importing bm25s."""
        if self._bm25 is None and self.chunks and self.path is not None:
            from .bm25_read import Bm25Index
            self._bm25 = Bm25Index(self.path / "bm25")
        return self._bm25

    # -- the read interface (ingest.index.PassageIndex) ---------------------------
    def dense(self, vector: np.ndarray, n: int | None = None, within: np.ndarray | None = None) -> np.ndarray:
        """Cosine of each passage with a unit vector; -inf outside `within` (a row mask) and,
        when the generation is searched approximately, outside the best `n`."""
        if self._ann is not None:
            scores = self._ann_scores(vector, n, within)
        else:
            scores = self.vectors @ vector.astype(self.vectors.dtype) if len(self.chunks) else np.zeros(0)
        return scores if within is None else np.where(within, scores, -np.inf)

    def sentence_dense(self, vector: np.ndarray, n: int | None = None, within: np.ndarray | None = None) -> np.ndarray:
        """Per passage, the cosine of its best sentence with a unit vector (-inf: none)."""
        best = np.full(len(self.chunks), -np.inf)
        if self._sentence_ann is not None:
            # Several sentences per passage: the best 3n sentences cover the best n passages.
            keep = None if within is None else np.nonzero(within[self.sentences[:, 0]])[0]
            scores, ids = _hnsw_search(self._sentence_ann, vector, 3 * (n or 100), keep)
            np.maximum.at(best, self.sentences[ids, 0], scores)
            return best
        sv = self.sentence_vectors
        if sv is not None and len(sv):
            np.maximum.at(best, self.sentences[:, 0], sv @ vector.astype(sv.dtype))
        return best if within is None else np.where(within, best, -np.inf)

    def lexical(self, terms: list[str], n: int | None = None, within: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of each passage for `terms` (index tokens); 0: none of them in it."""
        bm = self.bm25()
        known = [t for t in terms if bm is not None and t in bm.vocab_dict]
        if not known:
            return np.zeros(len(self.chunks), dtype=np.float32)
        scores = np.asarray(bm.get_scores(known), dtype=np.float32)
        return scores if within is None else np.where(within, scores, 0.0).astype(np.float32)

    def cosines(self, vector: np.ndarray, rows) -> np.ndarray:
        """Exact cosines of the given passages with a unit vector."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._ann is not None:
            return self._ann.reconstruct_batch(rows) @ vector.astype(np.float32)
        return self.vectors[rows] @ vector.astype(self.vectors.dtype)

    def sentence_vectors_of(self, ids) -> np.ndarray:
        """The stored vectors of rows of the sentence table."""
        if self._sentence_ann is not None:
            return self._sentence_ann.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        return self.sentence_vectors[np.asarray(ids, dtype=np.int64)]

    def all_sentence_vectors(self) -> np.ndarray | None:
        """Every sentence vector (the writer copies those of unchanged text)."""
        if self.sentence_vectors is None and self._sentence_ann is not None:
            self.sentence_vectors = self._sentence_ann.reconstruct_n(0, self._sentence_ann.ntotal)
        return self.sentence_vectors

    def doc_freq(self) -> dict[str, int]:
        """Index token -> number of passages holding it (read off bm25s' term-major matrix)."""
        if self._doc_freq is None:
            bm = self.bm25()
            if bm is None:
                self._doc_freq = {}
            else:
                indptr = bm.scores["indptr"]
                self._doc_freq = {t: int(indptr[i + 1] - indptr[i]) for t, i in bm.vocab_dict.items()
                                  if i + 1 < len(indptr)}
        return self._doc_freq

    @property
    def has_sentences(self) -> bool:
        return self.sentences is not None and len(self.sentences) > 0

    def all_vectors(self) -> np.ndarray:
        """Every passage vector (the writer copies those of unchanged documents)."""
        if self.vectors is None and self._ann is not None:
            self.vectors = self._ann.reconstruct_n(0, self._ann.ntotal)
        return self.vectors

    def close(self) -> None:
        """Nothing to release: a folder generation is read into memory."""

    def _ann_scores(self, vector, n, within) -> np.ndarray:
        out = np.full(len(self.chunks), -np.inf)
        if not len(self.chunks):
            return out
        keep = None if within is None or within.all() else np.nonzero(within)[0]
        scores, ids = _hnsw_search(self._ann, vector, n or 100, keep)
        out[ids] = scores
        return out


def _hnsw_search(index, vector: np.ndarray, k: int, keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The best k of an HNSW index (scores, ids), only among `keep` ids when given: the
    filter is applied inside the graph search, so one document still gets its best k.
    Parameters per call, for concurrent readers."""
    import faiss
    k = max(1, min(k, index.ntotal))
    params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
    if keep is not None:
        if not len(keep):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        params.sel = faiss.IDSelectorBatch(np.asarray(keep, dtype=np.int64))
    scores, ids = index.search(vector.reshape(1, -1).astype(np.float32), k, params=params)
    ok = ids[0] >= 0
    return scores[0][ok], ids[0][ok]


def empty(embedder_info: dict, chunk_settings: dict) -> IndexData:
    manifest = {"format_version": FORMAT_VERSION, "embedder": embedder_info,
                "chunking": chunk_settings, "documents": {}}
    dim = int(embedder_info["dim"])
    return IndexData(manifest, [], {}, np.zeros((0, dim), dtype=np.float32),
                     sentences=np.zeros((0, 3), dtype=np.int32), sentence_vectors=np.zeros((0, dim), dtype=np.float32))


def exists(index_dir: str | Path) -> bool:
    return (Path(index_dir) / CURRENT / "manifest.json").is_file()


def load(index_dir: str | Path, *, eager: bool = False) -> IndexData:
    """Load the current generation; IndexNotFound / IndexMismatch with advice on trouble.

    `eager` also reads FAISS and BM25 now, so a long-lived reader never touches the
    folder again (a later ingest may prune it)."""
    root = Path(index_dir)
    gen = root / CURRENT
    if not (gen / "manifest.json").is_file():
        raise IndexNotFound(
            f"no index at {root}: build one with `policyqa ingest corpus/ --index {root}`")
    gen = gen.resolve()          # pin this generation even if a writer swaps CURRENT meanwhile
    try:
        manifest = json.loads((gen / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise IndexMismatch(f"index manifest at {gen} is unreadable ({e}); rebuild with --rebuild") from e
    version = manifest.get("format_version")
    if version not in READABLE:
        raise IndexMismatch(
            f"index at {root} has format version {version}, this policyqa reads {FORMAT_VERSION}: "
            f"rebuild it with `policyqa ingest --rebuild --index {root}`")
    embedder = manifest.get("embedder")
    if not isinstance(embedder, dict) or not isinstance(embedder.get("dim"), int) or not embedder.get("backend"):
        raise IndexMismatch(f"index manifest at {gen} does not name its embedding model and dimension; "
                            f"rebuild it with `policyqa ingest --rebuild --index {root}`")
    try:
        chunks = [Chunk(**{**d, "pages": tuple(d["pages"]), "years": tuple(d.get("years", ()))})
                  for d in _read_jsonl(gen / "chunks.jsonl")]
        docs = {}
        for d in _read_jsonl(gen / "docs.jsonl"):
            d["pages"] = [tuple(p) for p in d["pages"]]
            d["lines"] = [tuple(r) for r in d.get("lines", ())]
            docs[d["doc_id"]] = StoredDocument(**d)
        ann = None
        if (gen / "vectors.hnsw").is_file():
            import faiss
            ann = faiss.read_index(str(gen / "vectors.hnsw"))
            vectors = None
        elif (gen / "vectors.npy").is_file():
            vectors = np.load(gen / "vectors.npy")
        elif manifest.get("tables_only"):
            vectors = None
        else:
            raise OSError(f"no vectors.npy in {gen}")
        sentences = np.load(gen / "sentences.npy")
        sentence_vectors = np.load(gen / "sentence_vectors.npy").astype(np.float32) \
            if (gen / "sentence_vectors.npy").is_file() else None
        sentence_ann = None
        if (gen / "sentence_vectors.hnsw").is_file():
            import faiss
            sentence_ann = faiss.read_index(str(gen / "sentence_vectors.hnsw"))
            if sentence_ann.ntotal != len(sentences):
                raise ValueError("sentence_vectors.hnsw does not match sentences.npy")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise IndexMismatch(f"index at {gen} is damaged ({e}); rebuild with --rebuild") from e
    dim = embedder["dim"]
    shape = vectors.shape if vectors is not None else (ann.ntotal, ann.d) if ann is not None else None
    if shape is not None and shape != (len(chunks), dim):
        raise IndexMismatch(
            f"index at {gen} is inconsistent: {shape[0]} vectors of dimension "
            f"{shape[1] if len(shape) == 2 else '?'} for {len(chunks)} chunks of dimension {dim}; "
            "rebuild with --rebuild")
    if sentences.ndim != 2 or sentences.shape[1:] != (3,) \
            or (sentence_vectors is not None and sentence_vectors.shape != (len(sentences), dim)) \
            or (len(sentences) and not 0 <= int(sentences[:, 0].max()) < len(chunks)):
        raise IndexMismatch(f"index at {gen} has a damaged sentence table; rebuild with --rebuild")
    data = IndexData(manifest, chunks, docs, vectors, path=gen, sentences=sentences,
                     sentence_vectors=sentence_vectors, _ann=ann, _sentence_ann=sentence_ann)
    if (gen / "doc_freq.json").is_file():
        try:
            data._doc_freq = json.loads((gen / "doc_freq.json").read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise IndexMismatch(f"index at {gen} is damaged ({e}); rebuild with --rebuild") from e
    if eager and not manifest.get("tables_only"):
        data.bm25()
    return data


def save(index_dir: str | Path, data: IndexData, *, tables_only: bool = False, extra: dict | None = None) -> Path:
    """Write `data` as a new generation and make it current (atomically). `tables_only`:
    manifest, chunks, docs and the sentence table, for a backend that keeps vectors and BM25
    elsewhere; `extra`: more files of the generation, name -> JSON value."""
    root = Path(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    previous = (root / CURRENT).resolve().name if (root / CURRENT).is_symlink() else None
    gen = root / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = root / (".tmp-" + gen.name)
    _remove_abandoned(root)
    try:
        tmp.mkdir()
        with _writing(tmp):
            _write_generation(tmp, data, tables_only)
            for name, value in (extra or {}).items():
                with open(tmp / name, "w", encoding="utf-8") as f:
                    json.dump(value, f, ensure_ascii=False)
                    _fsync(f)
        os.rename(tmp, gen)
        link_tmp = root / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
        os.symlink(gen.name, link_tmp)
        os.replace(link_tmp, root / CURRENT)      # the one atomic step
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(root, keep={gen.name, previous})
    data.path = gen
    return gen


_WRITING = ".writing"


@contextlib.contextmanager
def _writing(tmp: Path):
    """Hold a lock inside a half-written generation while writing it, so the next writer
    can tell an abandoned one (its writer crashed: the lock is free) from a live one."""
    with open(tmp / _WRITING, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            os.unlink(tmp / _WRITING)


def _remove_abandoned(root: Path) -> None:
    """Half-written generations whose writer is gone (killed mid-write)."""
    for p in root.glob(".tmp-gen-*"):
        lock = p / _WRITING
        try:
            with open(lock, "r") as f:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)      # free: nobody writes it
        except BlockingIOError:
            continue                                               # a live writer
        except FileNotFoundError:
            # No lock (yet, or a writer of an older version): only when clearly abandoned.
            try:
                if time.time() - p.stat().st_mtime < 60:
                    continue
            except OSError:
                continue
        except OSError:
            continue
        shutil.rmtree(p, ignore_errors=True)


def _write_generation(folder: Path, data: IndexData, tables_only: bool = False) -> None:
    manifest = dict(data.manifest)
    manifest["format_version"] = FORMAT_VERSION
    manifest["n_chunks"] = len(data.chunks)
    manifest["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    manifest.setdefault("backend", "folder")
    if tables_only:
        manifest["tables_only"] = True
    _write_jsonl(folder / "chunks.jsonl", (asdict(c) for c in data.chunks))
    _write_jsonl(folder / "docs.jsonl", (asdict(d) for d in data.docs.values()))
    sentences = data.sentences if data.sentences is not None else np.zeros((0, 3), dtype=np.int32)
    arrays = [("sentences.npy", np.ascontiguousarray(sentences, dtype=np.int32))]
    if not tables_only:
        vectors = np.ascontiguousarray(data.all_vectors(), dtype=np.float32)
        if len(vectors) > ANN_THRESHOLD:
            _write_hnsw(folder / "vectors.hnsw", vectors)
        else:
            arrays.append(("vectors.npy", vectors))
        sentence_vectors = data.all_sentence_vectors()
        if sentence_vectors is None:
            sentence_vectors = np.zeros((0, data.dim), dtype=np.float32)
        if len(sentence_vectors) > ANN_THRESHOLD:
            _write_hnsw(folder / "sentence_vectors.hnsw", np.ascontiguousarray(sentence_vectors, dtype=np.float32))
        else:
            # float16 halves the file; cosines move by < 1e-3, far below any threshold
            arrays.append(("sentence_vectors.npy", np.ascontiguousarray(sentence_vectors, dtype=np.float16)))
    for name, array in arrays:
        with open(folder / name, "wb") as f:
            np.save(f, array)
            _fsync(f)
    if not tables_only:
        _write_bm25(folder / "bm25", data.chunks)
    with open(folder / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        _fsync(f)
    _fsync_dir(folder)


def load_writer_modules() -> None:
    """Import what writing an index needs (faiss, bm25s) before the long work: an interrupt
    that lands inside faiss's import comes out as a TypeError from its loader instead of a
    KeyboardInterrupt, so Ctrl-C while writing failed with exit 1."""
    import bm25s  # noqa: F401
    import faiss  # noqa: F401


def _write_hnsw(path: Path, vectors: np.ndarray) -> None:
    """A FAISS HNSW index over unit vectors (inner product = cosine), holding the vectors."""
    import faiss
    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(vectors)
    faiss.write_index(index, str(path))


def _write_bm25(folder: Path, chunks: list[Chunk]) -> None:
    import bm25s
    folder.mkdir()
    if not chunks:
        return
    corpus_tokens = [tokenize_for_index(c.text) for c in chunks]
    # bm25s cannot index an empty token list; a placeholder keeps rows aligned with chunks.
    corpus_tokens = [t if t else ["\u2205"] for t in corpus_tokens]
    retriever = bm25s.BM25()
    retriever.index(corpus_tokens, show_progress=False)
    retriever.save(str(folder))


@contextlib.contextmanager
def writer_lock(index_dir: str | Path):
    """Only one ingest at a time per index; a second one fails fast with IndexBusy."""
    root = Path(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise IndexBusy(f"another ingest is writing {root}; try again when it has finished") from e
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _prune(root: Path, keep: set[str | None]) -> None:
    """Remove generations other than the new and the previous one (kept for readers that
    resolved CURRENT just before the swap)."""
    for p in root.glob("gen-*"):
        if p.is_dir() and p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def _read_jsonl(path: Path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False))
            f.write("\n")
        _fsync(f)


def _fsync(f) -> None:
    f.flush()
    os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
