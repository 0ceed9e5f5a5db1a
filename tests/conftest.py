"""Shared fixtures. Tests that need ../shared skip with a reason when it is absent."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED = ROOT / "corpus" / "beijing-international-sci-tech-innovation-center_zh.txt"
NO_SHARED = "../shared not present (a fresh clone): the real corpus and eval data live there"

# The test session is an entry point: its settings come from the environment once (CI points
# POLICYQA_CACHE_DIR at a fresh folder), and each test starts from them again.
from ingest.settings import Settings, active, configure  # noqa: E402

SETTINGS = configure(Settings.from_env(os.environ))


@pytest.fixture(autouse=True)
def _session_settings():
    """A test that runs the CLI or the app in this process configures its own settings: the
    next test gets the session's back."""
    yield
    if active() is not SETTINGS:
        configure(SETTINGS)


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
def full_index(tmp_path_factory, cache_dir):
    """The starter library of corpus/ (the seed article and the 20 documents of
    ../shared/corpus-extra, with their sidecars) in one real index:
    (files, ingest summary, loaded IndexData)."""
    from ingest import ingest, store
    files = sorted((ROOT / "corpus").glob("*.txt"))
    assert len(files) == 21
    index_dir = tmp_path_factory.mktemp("full") / "index"
    summary = ingest([str(f) for f in files], index_dir, cache_path=cache_dir / "embeddings.sqlite",
                     progress=False)
    return files, summary, store.load(index_dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def http_server(cmd: list[str], probe_url: str, log_path: Path, *, name: str, env=None, cwd=None,
                timeout: float = 120.0):
    """Run `cmd` until the block ends, once `probe_url` answers HTTP 200; its output goes to
    `log_path`, and its tail into the failure when it exits or never answers."""
    with open(log_path, "w+") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"{name} exited with {proc.returncode}:\n{log.read()[-3000:]}")
                try:
                    with urllib.request.urlopen(probe_url, timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"{name} did not answer HTTP within {timeout:.0f} s:\n{log.read()[-3000:]}")
                time.sleep(0.3)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
