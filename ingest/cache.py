"""A persistent passage-vector cache, so re-ingesting unchanged text embeds nothing.

One SQLite file keyed by (embedder key, sha256 of the exact text). Only hashes and
vectors are stored, never the text. WAL mode lets an ingest and a second process
share the file. The cache is an optimisation: when the file is corrupt, locked or
unwritable, ingest logs a warning and goes on without it.
"""
from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from ingest.embed.base import Embedder

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SQL_CHUNK = 500          # stay far below SQLite's bound-parameter limit


def text_hash(text: str) -> bytes:
    # surrogatepass: PDF extraction can leave lone surrogates; they still need a stable hash.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """Vectors by (embedder key, text hash). Never raises on cache trouble: it degrades to a miss."""

    def __init__(self, path: str | Path, timeout: float = 10.0) -> None:
        self.path = Path(path).expanduser()
        self.timeout = timeout
        self._lock = threading.Lock()     # one connection, shared by UI threads
        self._warned = False
        self._conn: sqlite3.Connection | None = self._open()

    @property
    def enabled(self) -> bool:
        """False when the cache could not be opened; get_many then misses, put_many does nothing."""
        return self._conn is not None

    # -- opening ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")   # a lost last write only costs a re-embed
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"unknown cache schema version {version}")
            with conn:
                conn.execute("CREATE TABLE IF NOT EXISTS vectors ("
                             " key TEXT NOT NULL, sha BLOB NOT NULL, dim INTEGER NOT NULL,"
                             " vec BLOB NOT NULL, PRIMARY KEY (key, sha)) WITHOUT ROWID")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self) -> sqlite3.Connection | None:
        try:
            return self._connect()
        except sqlite3.OperationalError as exc:
            # Locked, read-only, disk full: the file may be fine, so leave it alone.
            log.warning("Embedding cache %s unavailable (%s); continuing without it.", self.path, exc)
        except sqlite3.DatabaseError as exc:
            log.warning("Embedding cache %s is unreadable (%s); moving it aside and starting a new one.",
                        self.path, exc)
            if self._quarantine():
                try:
                    return self._connect()
                except sqlite3.Error as exc2:
                    log.warning("New embedding cache %s failed too (%s); continuing without it.",
                                self.path, exc2)
        except OSError as exc:
            log.warning("Embedding cache %s cannot be created (%s); continuing without it.", self.path, exc)
        return None

    def _quarantine(self) -> bool:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            for suffix in ("", "-wal", "-shm"):   # WAL/SHM files belong to the bad database
                src = Path(f"{self.path}{suffix}")
                if src.exists():
                    src.replace(f"{self.path}.corrupt-{stamp}{suffix}")
            return True
        except OSError as exc:
            log.warning("Could not move the bad cache %s aside (%s); continuing without it.", self.path, exc)
            return False

    def _fail(self, action: str, exc: sqlite3.Error) -> None:
        corrupt = not isinstance(exc, sqlite3.OperationalError)   # a bad page, not a lock or full disk
        # Warn once per cache: a full disk would otherwise warn on every batch.
        level = logging.DEBUG if self._warned and not corrupt else logging.WARNING
        self._warned = True
        log.log(level, "Embedding cache %s: %s failed (%s); %s", self.path, action, exc,
                "moving it aside and starting a new one." if corrupt else "going on without it.")
        if corrupt:
            # Found mid-run, so open() could not catch it: quarantine now rather than
            # fail on the same file in every later run.
            self.close()
            if self._quarantine():
                self._conn = self._open()

    # -- use -------------------------------------------------------------------
    def get_many(self, key: str, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """{index in texts: vector} for the texts already cached under this embedder key."""
        if self._conn is None or not texts:
            return {}
        where: dict[bytes, list[int]] = {}
        for i, text in enumerate(texts):
            where.setdefault(text_hash(text), []).append(i)
        hashes = list(where)
        found: dict[int, np.ndarray] = {}
        try:
            with self._lock:
                for start in range(0, len(hashes), _SQL_CHUNK):
                    part = hashes[start:start + _SQL_CHUNK]
                    rows = self._conn.execute(
                        f"SELECT sha, dim, vec FROM vectors WHERE key = ? AND sha IN "
                        f"({','.join('?' * len(part))})", [key, *part]).fetchall()
                    for sha, dim, blob in rows:
                        if len(blob) != 4 * dim:      # torn or foreign row: treat as a miss
                            continue
                        vec = np.frombuffer(blob, dtype=np.float32).copy()
                        for i in where[sha]:
                            found[i] = vec
        except sqlite3.Error as exc:
            self._fail("read", exc)
            return {}
        return found

    def put_many(self, key: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text under this embedder key (replacing any old one)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        if self._conn is None or not len(texts):
            return
        rows = [(key, text_hash(t), int(v.shape[0]), np.ascontiguousarray(v).tobytes())
                for t, v in zip(texts, vectors)]
        try:
            with self._lock, self._conn:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO vectors (key, sha, dim, vec) VALUES (?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            self._fail("write", exc)

    def count(self, key: str | None = None) -> int:
        """Number of cached vectors (for one embedder key, or all)."""
        if self._conn is None:
            return 0
        try:
            with self._lock:
                if key is None:
                    return self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
                return self._conn.execute("SELECT COUNT(*) FROM vectors WHERE key = ?", (key,)).fetchone()[0]
        except sqlite3.Error as exc:
            self._fail("count", exc)
            return 0

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def embed_cached(embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache | None,
                 batch_size: int | None = None,
                 progress: Callable[[int], None] | None = None,
                 embedded: list[str] | None = None) -> tuple[np.ndarray, int]:
    """Passage vectors for texts, in order, embedding only what the cache lacks.

    Returns (vectors, number of texts actually embedded); `embedded`, when given, is
    extended with those texts (for token counts). Duplicate texts are
    embedded once. Each batch is stored as soon as it is embedded, so an ingest
    interrupted half way keeps half its work (batch_size: the embedder's preferred one
    unless given). progress(k) counts input texts
    (cache hits at once, then per batch), so it sums to len(texts).
    """
    texts = list(texts)
    batch_size = batch_size or embedder.preferred_batch
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if not texts:
        return embedder.embed_passages([]), 0
    key = embedder.key
    hits = cache.get_many(key, texts) if cache is not None else {}
    if len(hits) < len(texts):
        # The model is needed anyway: trust only hits of its dimension. (With every
        # text cached the model is never loaded, which keeps re-ingest fast.)
        dim = embedder.dim
        hits = {i: v for i, v in hits.items() if v.shape[0] == dim}
    elif len({v.shape[0] for v in hits.values()}) != 1:
        hits, dim = {}, embedder.dim      # mixed dimensions under one key: re-embed all
    else:
        dim = next(iter(hits.values())).shape[0]
    if hits and progress is not None:
        progress(len(hits))

    todo: dict[str, list[int]] = {}     # text -> its positions, in first-occurrence order
    for i, text in enumerate(texts):
        if i not in hits:
            todo.setdefault(text, []).append(i)
    misses = list(todo)
    if embedded is not None:
        embedded.extend(misses)

    result = np.empty((len(texts), dim), dtype=np.float32)
    for i, vec in hits.items():
        result[i] = vec
    for start in range(0, len(misses), batch_size):
        batch = misses[start:start + batch_size]
        vecs = embedder.embed_passages(batch, batch_size=batch_size)
        for text, vec in zip(batch, vecs):
            result[todo[text]] = vec
        if cache is not None:
            cache.put_many(key, batch, vecs)
        if progress is not None:
            progress(sum(len(todo[t]) for t in batch))
    return result, len(misses)
