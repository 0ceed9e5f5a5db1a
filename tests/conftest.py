"""Shared fixtures. Tests that need ../shared skip with a reason when it is absent."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED = ROOT / "corpus" / "beijing-international-sci-tech-innovation-center_zh.txt"
NO_SHARED = "../shared not present (a fresh clone): the real corpus and eval data live there"


def need_shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(NO_SHARED)
    return SHARED


@pytest.fixture(scope="session")
def shared() -> Path:
    return need_shared()


@pytest.fixture(scope="session")
def seed_dev(shared) -> list[dict]:
    with open(shared / "eval" / "seed_dev.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One embedding cache for the session, so the same passage is embedded once."""
    return tmp_path_factory.mktemp("embcache")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, cache_dir) -> Path:
    """A real index of the seed article (real vectors of the default embedder), built once per session."""
    from ingest import ingest
    idx = tmp_path_factory.mktemp("seed") / "index"
    ingest([SEED], idx, cache_path=cache_dir / "embeddings.sqlite", progress=False)
    return idx


@pytest.fixture(scope="session")
def seed_assistant(seed_index, cache_dir):
    from assistant import Assistant
    return Assistant.open(seed_index, cache_path=cache_dir / "embeddings.sqlite")


@pytest.fixture(scope="session")
def full_index(shared, tmp_path_factory, cache_dir):
    """The seed article and all 20 corpus-extra documents in one real index:
    (files, ingest summary, loaded IndexData)."""
    from ingest import ingest, store
    files = sorted((shared / "corpus-extra").glob("*.txt")) + [SEED]
    assert len(files) == 21
    index_dir = tmp_path_factory.mktemp("full") / "index"
    summary = ingest([str(f) for f in files], index_dir, cache_path=cache_dir / "embeddings.sqlite",
                     progress=False)
    return files, summary, store.load(index_dir)
