"""The embedder interface: unit vectors of one fixed model, loaded lazily.

Every embedder returns float32, L2-normalised vectors, so inner product is cosine.
Creating an embedder never embeds and never imports torch. ``info`` goes into the index
manifest; ``key`` names the exact vectors an embedder produces (cache keys, manifest checks).
"""
from __future__ import annotations

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from importlib import metadata
from typing import Any, Callable, Iterable

import numpy as np

Progress = Callable[[int], None]

E5_QUERY_PREFIX = "query: "
E5_PASSAGE_PREFIX = "passage: "


def version_of(dist: str) -> str:
    """The installed version of a distribution, or "missing"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "missing"


def digest(obj: Any, n: int = 16) -> str:
    """A short stable hash of a JSON-able value (embedder identities)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:n]


class Embedder(ABC):
    """Turns passages and queries into unit vectors of one fixed model."""

    backend: str = ""
    preferred_batch: int = 16     # texts per embed_passages call in ingest (measured per engine)

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()   # one lazy load even when UI threads race

    # -- identity --------------------------------------------------------------
    @property
    @abstractmethod
    def dim(self) -> int: ...

    @property
    @abstractmethod
    def info(self) -> dict: ...

    @property
    @abstractmethod
    def key(self) -> str: ...

    @property
    def space(self) -> str:
        """Embedders with the same space give interchangeable vectors (parity measured in
        benchmarks/embed.py): an index written by one may be read or extended by another."""
        return self.key

    @property
    def loaded(self) -> bool:
        """True once the model is in memory."""
        return self._model is not None

    # -- embedding -------------------------------------------------------------
    @abstractmethod
    def _load(self) -> Any: ...

    @abstractmethod
    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray: ...

    @abstractmethod
    def count_tokens(self, texts: str | Iterable[str]) -> int:
        """Tokens the model reads for these passages (best effort, for throughput reports)."""

    def warm_up(self) -> None:
        """Load the model now (no embedding), e.g. in a background thread after a server starts."""
        self._ensure()

    def _ensure(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def embed_passages(self, texts: list[str], batch_size: int = 16,
                       progress: Progress | None = None) -> np.ndarray:
        """(n, dim) float32 unit vectors; progress(k) after each batch of k texts."""
        texts = list(texts)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = texts[start:start + batch_size]
            out[start:start + len(batch)] = self._encode(batch, is_query=False)
            if progress is not None:
                progress(len(batch))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 unit vector for a search query."""
        return self._encode([text], is_query=True)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"

    # Picklable without the model, so worker processes can receive an embedder and load it lazily.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_model"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def unit_rows(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (float32, contiguous)."""
    # Guard against an all-zero row (never seen, but a NaN in an index is forever).
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)
