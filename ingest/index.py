"""The index interface, and which backend an `--index` value names.

    DIR                                   the `folder` backend (ingest/store.py): FAISS + bm25s
    milvus-lite:PATH                      Milvus Lite, embedded, in the file PATH
    milvus://HOST:PORT/COLLECTION         a Milvus server or cluster (token: POLICYQA_MILVUS_TOKEN)

Retrieval, lookup and the answer stages read an index only through `PassageIndex`; the
ingest pipeline writes one only through `save`. Rows are positions in `chunks`: every
backend keeps its chunk table in that order, and an engine maps its own keys to them.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from . import store
from .errors import BadIndexAddress, IndexNotFound
from .settings import MILVUS, MILVUS_LITE
from .types import Chunk


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


@dataclass(frozen=True)
class Target:
    """Where an index lives. `tables`: the folder holding its manifest, chunk and document
    tables (for the folder backend, the index itself)."""
    backend: str                 # "folder" | "milvus-lite" | "milvus"
    tables: Path
    uri: str = ""                # Milvus: the file (Lite) or http://HOST:PORT
    collection: str = ""

    def __str__(self) -> str:
        if self.backend == "folder":
            return str(self.tables)
        if self.backend == "milvus-lite":
            return f"milvus-lite:{self.uri}"
        return f"milvus://{self.uri.removeprefix('http://')}/{self.collection}"


_MILVUS = re.compile(r"^milvus://(?P<host>[^/:]+):(?P<port>\d+)/(?P<coll>[A-Za-z_][A-Za-z0-9_]*)$")


def target(spec: str | Path | Target, *, tables_root: str | Path = ".policyqa/milvus") -> Target:
    """Parse an `--index` value. A Milvus server's tables are kept under `tables_root`
    (one folder per host, port and collection)."""
    if isinstance(spec, Target):
        return spec
    text = str(spec)
    if text.startswith(MILVUS_LITE):
        path = Path(text.removeprefix(MILVUS_LITE)).expanduser()
        if not path.name:
            raise BadIndexAddress("milvus-lite: needs a file, e.g. --index milvus-lite:library.db")
        return Target("milvus-lite", path.with_name(path.name + ".tables"), str(path), "policyqa")
    if text.startswith(MILVUS):
        m = _MILVUS.match(text)
        if not m:
            raise BadIndexAddress(f"{text!r} is not milvus://HOST:PORT/COLLECTION (the token goes in "
                             "POLICYQA_MILVUS_TOKEN, never in the address)")
        host, port, coll = m["host"], m["port"], m["coll"]
        return Target("milvus", Path(tables_root) / f"{host}_{port}_{coll}", f"http://{host}:{port}", coll)
    return Target("folder", Path(spec))


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
