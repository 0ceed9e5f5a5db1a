"""The BM25 index bm25s writes, read with numpy alone, so a search does not import bm25s.

Importing bm25s imports scipy.sparse: 0.35 s of a cold `policyqa search` of 1.5 s. Its
saved eager index is three arrays (a term-major sparse matrix of precomputed BM25 term
scores), a vocabulary and the parameters. Scoring repeats bm25s 0.3's numpy path
(`BM25.get_scores` without numba), so the scores are the same floats; a test holds the
two side by side. Indexes are still written by bm25s (`store._write_bm25`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# bm25s adds a per-term non-occurrence score for these methods; the project writes "lucene".
_NEEDS_NONOCCURRENCE = ("bm25l", "bm25+")


class Bm25Index:
    """`vocab_dict`, `scores` (data, indices, indptr, num_docs) and `get_scores` as bm25s.BM25."""

    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        params = json.loads((folder / "params.index.json").read_text("utf-8"))
        if params.get("method") in _NEEDS_NONOCCURRENCE:
            raise ValueError(f"BM25 method {params['method']!r} is not read here")
        self.vocab_dict: dict[str, int] = json.loads((folder / "vocab.index.json").read_text("utf-8"))
        self.dtype = np.dtype(params.get("dtype", "float32"))
        self.int_dtype = np.dtype(params.get("int_dtype", "int32"))
        self.scores = {name: np.load(folder / f"{name}.csc.index.npy") for name in ("data", "indices", "indptr")}
        self.scores["num_docs"] = params["num_docs"]

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 of every passage for the tokens (repeats count again, unknown ones are left out)."""
        data, indices, indptr = self.scores["data"], self.scores["indices"], self.scores["indptr"]
        # bm25s's vocabulary also holds "" past its last column (no postings): it scores nothing
        ids = np.asarray([i for i in (self.vocab_dict.get(t) for t in tokens) if i is not None and i + 1 < len(indptr)],
                         dtype=self.int_dtype)
        out = np.zeros(self.scores["num_docs"], dtype=self.dtype)
        for start, end in zip(indptr[ids], indptr[ids + 1]):
            np.add.at(out, indices[start:end], data[start:end])
        return out
