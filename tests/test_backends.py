"""The index interface, once, against every backend: the folder (FAISS + bm25s) and
Milvus Lite (an embedded file in tmp_path). Real documents, the real bundled model."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from ingest import ingest, remove
from ingest import index as backends

from .conftest import ROOT, SEED, free_port

CORPUS = ROOT / "corpus"
G126 = CORPUS / "2018_state-council-office_guobanfa-2018-126_second-batch-innovation-reform-measures_zh.txt"
G127 = CORPUS / "2018_state-council-office_guobanfa-2018-127_research-institutions-autonomy_zh.txt"
# A sentence only the edited copy of 国办发〔2018〕127号 holds.
NEW_SENTENCE = "各单位应当每年向社会公开科研经费使用情况和绩效评价结果。"


TOKEN = "root:not-a-real-secret-7f3a"      # must never reach output or logs


def _need_milvus() -> None:
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed: pip install 'policyqa[milvus]'")
    pytest.importorskip("milvus_lite", reason="the milvus extra is not installed: pip install 'policyqa[milvus]'")


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    """A Milvus server on loopback (Milvus Lite's server mode: the same gRPC API as a cluster)."""
    _need_milvus()
    port = free_port()
    data = tmp_path_factory.mktemp("milvus-server")
    log = open(data / "server.log", "w+")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("milvus-lite")), "server", "--data-dir",
                             str(data / "data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"the Milvus Lite server did not start: {log.read()[-2000:]}")
        time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


def _spec(backend: str, tmp_path: Path, request) -> str:
    if backend == "folder":
        return str(tmp_path / "index")
    _need_milvus()
    if backend == "milvus-lite":
        return f"milvus-lite:{tmp_path / 'library.db'}"
    port = request.getfixturevalue("milvus_server")
    return f"milvus://127.0.0.1:{port}/t_{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["folder", "milvus-lite", "milvus-server"])
def library(request, tmp_path, cache_dir, monkeypatch):
    """(index spec, folder of the documents): the seed article and two State Council notices.
    A server's tables go under the test's working directory (tmp_path)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLICYQA_MILVUS_TOKEN", TOKEN)
    spec = _spec(request.param, tmp_path, request)
    docs = tmp_path / "docs"
    docs.mkdir()
    for f in (SEED, G126, G127):
        shutil.copy(f, docs)
        for side in CORPUS.glob(f.stem + ".*json"):
            shutil.copy(side, docs)
    summary = ingest([docs], spec, cache_path=cache_dir / "embeddings.sqlite", progress=False, token=TOKEN)
    assert len(summary.added) == 3
    return spec, docs


def _open(spec, cache_dir) -> Assistant:
    return Assistant.open(spec, cache_path=cache_dir / "embeddings.sqlite", token=TOKEN)


def _engine_rows(data) -> int | None:
    """Rows the engine holds for the chunk table (None for the folder backend)."""
    if data.backend == "folder":
        return None
    data.client.flush(data.chunk_coll)
    return int(data.client.get_collection_stats(data.chunk_coll)["row_count"])


def test_search_filters_and_reopen(library, cache_dir):
    spec, _ = library
    a = _open(spec, cache_dir)
    data = a.data
    assert isinstance(data, backends.PassageIndex)
    assert data.manifest["backend"] == backends.target(spec).backend
    assert len(data.docs) == 3 and len(data.chunks) > 30

    hits = a.search("北京研发经费投入", k=5)
    assert hits[0].doc_id == SEED.stem and "6%" in hits[0].text
    doc = a.document(hits[0].doc_id)
    assert doc.text[hits[0].start:hits[0].end] == hits[0].text

    # Rankings of the interface: within a row mask, nothing outside it.
    qv = a.embedder.embed_query("科研院所自主权")
    only = np.array([c.doc_id == G127.stem for c in data.chunks])
    for scores, none in ((data.dense(qv, 20, only), -np.inf), (data.sentence_dense(qv, 20, only), -np.inf),
                         (data.lexical(["科研", "院所"], 20, only), 0)):
        assert len(scores) == len(data.chunks)
        assert np.all(scores[~only] == none) and np.any(scores[only] != none)
    best = int(np.argmax(data.dense(qv, 20)))
    np.testing.assert_allclose(data.cosines(qv, [best]), [data.dense(qv, 20)[best]], atol=1e-4)
    assert data.doc_freq().get("科研", 0) > 0

    from assistant.constraints import filters
    kept = a.search("科研经费", k=10, filters=filters(docs=[G126.stem]))
    assert kept and {h.doc_id for h in kept} == {G126.stem}

    answer = a.ask("2022年北京全年专利授权量是多少？")
    assert answer.found and "20.3万件" in answer.text
    data.close()

    again = _open(spec, cache_dir)        # reopened: the same answers
    assert [(h.doc_id, h.start) for h in again.search("北京研发经费投入", k=5)] == [(h.doc_id, h.start) for h in hits]
    again.data.close()


def test_replace_and_delete_a_document(library, cache_dir):
    spec, docs = library
    edited = docs / G127.name
    edited.write_text(edited.read_text("utf-8").rstrip() + "\n" + NEW_SENTENCE + "\n", "utf-8")
    summary = ingest([docs], spec, cache_path=cache_dir / "embeddings.sqlite", progress=False, token=TOKEN)
    assert summary.updated == [G127.stem] and sorted(summary.unchanged) == sorted([SEED.stem, G126.stem])

    a = _open(spec, cache_dir)
    hit = a.search(NEW_SENTENCE, k=1)[0]
    assert hit.doc_id == G127.stem and NEW_SENTENCE in hit.text
    rows = _engine_rows(a.data)
    assert rows is None or rows == len(a.data.chunks)          # the old version's rows are gone
    if a.data.backend != "folder":           # kept up to date by difference, equal to a count from scratch
        from ingest.milvus_index import _doc_freq
        assert a.data.doc_freq() == _doc_freq(a.data.chunks)
    a.data.close()

    remove(spec, [G126.stem], token=TOKEN)
    b = _open(spec, cache_dir)
    assert G126.stem not in b.data.docs
    assert all(h.doc_id != G126.stem for h in b.search("第二批支持创新相关改革举措", k=10))
    rows = _engine_rows(b.data)
    assert rows is None or rows == len(b.data.chunks)
    if b.data.backend != "folder":
        from ingest.milvus_index import _doc_freq
        assert b.data.doc_freq() == _doc_freq(b.data.chunks)
    b.data.close()


def _writing(spec: str):
    """True once the ingest has begun to write (a generation half-written, or for Milvus the
    note of what it is about to upsert)."""
    tables = backends.target(spec).tables
    return lambda: any(tables.glob(".tmp-gen-*")) or (tables / "pending.json").exists()


def test_a_killed_ingest_leaves_one_version_whole(library, cache_dir, tmp_path):
    spec, docs = library
    before = _open(spec, cache_dir)
    documents = before.data.manifest["documents"]
    before.data.close()
    edited = docs / G127.name
    edited.write_text(edited.read_text("utf-8").rstrip() + "\n" + NEW_SENTENCE + "\n", "utf-8")
    env = dict(os.environ, POLICYQA_CACHE_DIR=str(cache_dir))
    cmd = [sys.executable, "-m", "cli", "ingest", str(docs), "--index", spec, "--quiet"]
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = _writing(spec)
    deadline = time.monotonic() + 240
    while not started() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, \
        f"the ingest ended ({proc.returncode}) before it could be killed while writing: {proc.stderr.read()[-2000:]}"

    a = _open(spec, cache_dir)                 # the old version, whole
    assert a.data.manifest["documents"] == documents
    assert all(NEW_SENTENCE not in h.text for h in a.search(NEW_SENTENCE, k=10))
    assert a.ask("2022年北京全年专利授权量是多少？").found
    a.data.close()

    ingest([docs], spec, cache_path=cache_dir / "embeddings.sqlite", progress=False, token=TOKEN)
    b = _open(spec, cache_dir)                 # the next ingest: the new version, nothing left over
    assert NEW_SENTENCE in b.search(NEW_SENTENCE, k=1)[0].text
    rows = _engine_rows(b.data)
    assert rows is None or rows == len(b.data.chunks)
    b.data.close()


def test_an_index_address_names_its_backend(tmp_path):
    assert backends.target(tmp_path / "x").backend == "folder"
    t = backends.target(f"milvus-lite:{tmp_path}/lib.db")
    assert (t.backend, t.uri, str(t)) == ("milvus-lite", f"{tmp_path}/lib.db", f"milvus-lite:{tmp_path}/lib.db")
    s = backends.target("milvus://10.0.0.5:19530/policy_lib", tables_root=tmp_path)
    assert (s.backend, s.uri, s.collection, str(s)) == ("milvus", "http://10.0.0.5:19530", "policy_lib",
                                                         "milvus://10.0.0.5:19530/policy_lib")
    with pytest.raises(ValueError, match="POLICYQA_MILVUS_TOKEN"):
        backends.target("milvus://user:secret@host/coll")
    from cli.main import main as cli
    assert cli(["search", "专利", "--index", "milvus://host-without-port/coll"]) == 1   # one line, no traceback


def test_the_cli_on_a_milvus_server_never_shows_its_token(milvus_server, tmp_path, cache_dir):
    spec = f"milvus://127.0.0.1:{milvus_server}/t_{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, POLICYQA_CACHE_DIR=str(cache_dir), POLICYQA_MILVUS_TOKEN=TOKEN, PYTHONPATH=str(ROOT))
    run = lambda *args: subprocess.run([sys.executable, "-m", "cli", *args, "--index", spec],  # noqa: E731
                                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    built = run("ingest", str(SEED), "--quiet")
    asked = run("ask", "2022年北京全年专利授权量是多少？")
    assert built.returncode == 0, built.stderr[-2000:]
    assert asked.returncode == 0 and "20.3万件" in asked.stdout, asked.stderr[-2000:]
    assert (tmp_path / ".policyqa" / "milvus").is_dir()          # the tables, beside the working directory
    gone = subprocess.run([sys.executable, "-m", "cli", "search", "专利", "--index",
                           "milvus://127.0.0.1:1/nowhere"], cwd=tmp_path, env=env, capture_output=True, text=True)
    for out in (built, asked, gone):
        assert TOKEN not in out.stdout + out.stderr
    assert gone.returncode == 1 and gone.stderr.startswith("policyqa: ") and "Traceback" not in gone.stderr


def test_a_large_folder_index_searches_through_hnsw(tmp_path, cache_dir, monkeypatch):
    """Past ANN_THRESHOLD passages (and sentences) the folder keeps their vectors in FAISS
    HNSW indexes (stored once) and searches them approximately; the answers stay the same."""
    from ingest import store
    exact_dir, ann_dir = tmp_path / "exact", tmp_path / "ann"
    ingest([SEED, G127], exact_dir, cache_path=cache_dir / "embeddings.sqlite", progress=False)
    monkeypatch.setattr(store, "ANN_THRESHOLD", 10)
    ingest([SEED, G127], ann_dir, cache_path=cache_dir / "embeddings.sqlite", progress=False)
    exact, ann = _open(str(exact_dir), cache_dir), _open(str(ann_dir), cache_dir)
    gen = ann.data.path
    assert (gen / "vectors.hnsw").is_file() and not (gen / "vectors.npy").exists() and not ann.data.exact
    assert (gen / "sentence_vectors.hnsw").is_file() and not (gen / "sentence_vectors.npy").exists()
    np.testing.assert_allclose(ann.data.all_vectors(), exact.data.vectors, atol=1e-6)
    for q in ("北京研发经费投入", "科研院所自主权", "How many patents were granted in Beijing?"):
        assert [(h.doc_id, h.start) for h in ann.search(q, k=5)] == [(h.doc_id, h.start) for h in exact.search(q, k=5)]
    assert ann.ask("2022年北京全年专利授权量是多少？").text == exact.ask("2022年北京全年专利授权量是多少？").text
    from assistant.constraints import filters
    only = filters(docs=[G127.stem])             # a filter is searched inside the graph
    assert [(h.doc_id, h.start) for h in ann.search("科研经费管理", k=5, filters=only)] == \
        [(h.doc_id, h.start) for h in exact.search("科研经费管理", k=5, filters=only)]
    remove(ann_dir, [G127.stem])                 # rewritten from the HNSW index's own vectors
    assert set(_open(str(ann_dir), cache_dir).data.docs) == {SEED.stem}
