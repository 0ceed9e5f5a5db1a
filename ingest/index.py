"""The index interface, and the backend behind an `--index` value (parsed in address.py).

    DIR                                   the `folder` backend (ingest/store.py): FAISS + bm25s
    milvus-lite:PATH                      Milvus Lite, embedded, in the file PATH
    milvus://HOST:PORT/COLLECTION         a Milvus server or cluster (token: POLICYQA_MILVUS_TOKEN)

Retrieval, lookup and the answer stages read an index only through `PassageIndex`; the
ingest pipeline writes one only through `save`. Rows are positions in `chunks`: every
backend keeps its chunk table in that order, and an engine maps its own keys to them.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from . import store
from .address import Target, target
from .errors import IndexNotFound
from .types import Chunk

__all__ = ["PassageIndex", "Target", "target", "exists", "load", "save", "writer_lock"]


@runtime_checkable
class PassageIndex(Protocol):
    """What the query side needs of an index, whatever holds it.

    Rankings return one score per row (`len(chunks)`): -inf (dense) or 0 (lexical) where
    a passage is not among the best `n` or lies outside `within` (a row mask). An `exact`
    backend ranks every passage and ignores `n`."""
    manifest: dict
    chunks: Sequence[Chunk]
    docs: Mapping[str, "store.StoredDocument"]
    sentences: np.ndarray          # (m, 3) int32: chunk row, start, end of each quotable sentence
    backend: str
    exact: bool
    has_sentences: bool

    def dense(self, vector: np.ndarray, n: int | None = None, within: np.ndarray | None = None) -> np.ndarray: ...
    def sentence_dense(self, vector: np.ndarray, n: int | None = None,
                       within: np.ndarray | None = None) -> np.ndarray: ...
    def lexical(self, terms: list[str], n: int | None = None, within: np.ndarray | None = None) -> np.ndarray: ...
    def cosines(self, vector: np.ndarray, rows) -> np.ndarray: ...
    def sentence_vectors_of(self, ids) -> np.ndarray: ...
    def doc_freq(self) -> Mapping[str, int]: ...
    def close(self) -> None: ...
    # For the writer: the vectors of unchanged text to copy, or None when the engine keeps them.
    def all_vectors(self) -> np.ndarray | None: ...
    def all_sentence_vectors(self) -> np.ndarray | None: ...


def exists(t: Target) -> bool:
    return store.exists(t.tables)


def load(t: Target, *, eager: bool = False, token: str | None = None) -> PassageIndex:
    """Open the index `t` names (IndexNotFound / IndexMismatch with advice)."""
    if t.backend == "folder":
        return store.load(t.tables, eager=eager)
    if not store.exists(t.tables):
        raise IndexNotFound(f"no index at {t}: build one with `policyqa ingest corpus/ --index {t}`")
    from .milvus_index import MilvusIndex
    return MilvusIndex.open(t, store.load(t.tables), token=token)


def save(t: Target, data: store.IndexData, old: PassageIndex | None = None, *, token: str | None = None) -> None:
    """Write `data` as the index's new content. `old`: what it replaces (an engine writes
    only the difference)."""
    if t.backend == "folder":
        store.save(t.tables, data)
        return
    from .milvus_index import write
    write(t, data, old, token=token)


@contextlib.contextmanager
def writer_lock(t: Target) -> Iterator[None]:
    """One writer per index (the lock lives beside its tables)."""
    with store.writer_lock(t.tables):
        yield
