"""Retrieval baselines side by side, on the index's own embedding model.

    python benchmarks/retrieval.py [--only seed|cmrc] [--limit N] [--index-dir DIR] [--no-grid]

Methods: `dense` and `bm25` (one side of our index each), `llamaindex-default`
(llama-index's default recipe: SentenceSplitter() over the same cleaned documents into a
VectorStoreIndex, top-k similarity), `ours` (the default FusionConfig), `ours-no-expansion`
/ `ours-glossary-only` / `ours-dictionary-only` (ours with the English query expansion
switched off in part or whole), `ours-no-translation` (without the dense ranking of an
English question's Chinese rendering; `-balanced`: dense hits ranked per document
language instead, the previous default), `ours-no-rerank` (without the rerank by the
key-term coverage of a passage's best sentence), and `fusion_grid`
(ours over a grid of fusion weights, so weights are chosen by measurement).

Datasets: `seed_dev` (../shared/eval/seed_dev.jsonl over one index of the seed article
plus ../shared/corpus-extra/*.txt; hit rule of DESIGN.md) and `cmrc2018` (each passage a
.txt file; a hit is a retrieved chunk of the gold passage). Rank = rank of the first hit
among the top 10 chunks (nodes for llama-index).

A table goes to stderr, one JSON object to stdout. --index-dir keeps the built indexes
(and the cmrc passage files) so later runs reuse them; the embedding cache
($POLICYQA_CACHE_DIR) makes rebuilds and the llama-index baseline fast the second time.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from _setup import ROOT, SEED, SHARED  # noqa: E402  (offline env, repository on sys.path)

import numpy as np  # noqa: E402

from assistant.core import Assistant  # noqa: E402
from assistant.evaluate import evaluate, first_hit_rank, load_questions, retrieval_scores  # noqa: E402
from assistant.normalize import is_chinese, normalize_query  # noqa: E402
from assistant.retrieve import FusionConfig  # noqa: E402
from ingest import ingest  # noqa: E402
from ingest.cache import EmbeddingCache, default_cache_path, embed_cached  # noqa: E402
from ingest.errors import BadQuery  # noqa: E402

DEPTH = 10                      # passages retrieved per query; MRR@10 and Recall@10 need 10
# The fusion grid: every combination of these FusionConfig values (--grid adds or replaces axes).
GRID_AXES = {"rrf_k": (10, 60), "w_bm25_zh": (0.5, 1.0, 1.5, 2.0, 3.0), "w_bm25_en": (0.0, 0.3, 1.0, 2.0),
             "expand_en": (True, False), "balance_languages": (True, False), "w_translated": (0.0, 0.5, 1.0, 2.0),
             "w_coverage_zh": (0.0, 0.1, 0.3)}
TOP_ROWS = 12                             # grid rows in the table
EN_ONLY = {"w_bm25_en", "expand_en", "w_translated", "translate_dense", "w_coverage_en"}  # fields that matter for English questions only
ZH_ONLY = {"w_bm25_zh", "w_coverage_zh"}                           # ... and for Chinese questions only
FLAGS = {"expand_en": "x", "balance_languages": "b"}     # boolean axes, shown as letters

Results = list[tuple[str, str]]          # (passage text, doc_id), best first
Search = Callable[[str], Results]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- embedder wrappers -----------------------------------------------------------------

class BenchEmbedder:
    """The index's embedder with memoised query vectors and cached passage vectors.

    Every method embeds the same questions; computing each vector once keeps the fusion
    grid cheap. Passage vectors go through the embedding cache so the llama-index baseline
    is only embedded on the first run. Not used where latency is measured (`ours`).
    """

    def __init__(self, base, cache: EmbeddingCache | None):
        self.base, self.cache, self._memo = base, cache, {}

    def __getattr__(self, name):
        return getattr(self.base, name)

    def embed_query(self, text: str) -> np.ndarray:
        v = self._memo.get(text)
        if v is None:
            v = self._memo[text] = self.base.embed_query(text)
        return v

    def embed_passages(self, texts: list[str], batch_size: int = 16, progress=None) -> np.ndarray:
        return embed_cached(self.base, texts, self.cache, batch_size=batch_size, progress=progress)[0]


# -- searchers -------------------------------------------------------------------------

def fusion_searcher(a: Assistant, emb, cfg: FusionConfig) -> Search:
    """Our retriever with another fusion config over the same loaded index."""
    other = Assistant(a.data, emb, index_dir=a.index_dir, fusion=cfg)

    def search(q: str) -> Results:
        try:
            return [(h.text, h.doc_id) for h in other.search(q, DEPTH)]
        except BadQuery:
            return []
    return search


def llamaindex_searcher(a: Assistant, emb: BenchEmbedder) -> tuple[Search, dict]:
    """llama-index's default recipe over the index's cleaned documents, with our embedder."""
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    from ingest.embed import LlamaIndexEmbedding

    embed_model = LlamaIndexEmbedding(emb)
    with contextlib.redirect_stdout(sys.stderr):    # it prints "LLM is explicitly disabled"
        Settings.llm = None
    Settings.embed_model = embed_model              # nothing may fall back to OpenAI
    docs = [Document(text=a.document(d).text, doc_id=d) for d in a.data.docs]
    t0 = time.perf_counter()
    splitter = SentenceSplitter()
    index = VectorStoreIndex.from_documents(docs, transformations=[splitter], embed_model=embed_model,
                                            show_progress=sys.stderr.isatty())
    nodes = list(index.docstore.docs.values())
    lengths = [len(n.get_content()) for n in nodes]
    info = {"chunk_size_tokens": splitter.chunk_size, "chunk_overlap_tokens": splitter.chunk_overlap,
            "nodes": len(nodes), "mean_node_chars": round(float(np.mean(lengths)), 1),
            "build_seconds": round(time.perf_counter() - t0, 1)}
    retriever = index.as_retriever(similarity_top_k=DEPTH)

    def search(q: str) -> Results:
        return [(n.node.get_content(), n.node.ref_doc_id) for n in retriever.retrieve(q)]
    return search, info


# -- scoring ---------------------------------------------------------------------------

def scores(ranks: list[int | None]) -> dict:
    s = retrieval_scores(ranks)
    s.pop("recall_at_k")
    return {"n": len(ranks), **{k: None if v is None else round(v, 4) for k, v in s.items()}}


def score_groups(queries: list[dict], ranks: list[int | None]) -> dict:
    langs = sorted({q["lang"] for q in queries})
    return {"overall": scores(ranks),
            "by_lang": {lang: scores([r for q, r in zip(queries, ranks) if q["lang"] == lang])
                        for lang in langs}}


def run_method(search: Search, queries: list[dict], judge) -> list[int | None]:
    return [judge(q, search(q["question"])) for q in queries]


def grid_configs(axes: dict[str, tuple]) -> list[FusionConfig]:
    return [FusionConfig(**dict(zip(axes, values))) for values in itertools.product(*axes.values())]


def parse_axis(text: str) -> tuple[str, tuple]:
    """`name=v1,v2` -> (name, values typed like the FusionConfig default)."""
    name, _, values = text.partition("=")
    name = name.strip()
    if name not in FusionConfig.__dataclass_fields__ or name == "method" or not values.strip():
        raise argparse.ArgumentTypeError(
            f"expected FIELD=V1,V2,... with FIELD one of {', '.join(f for f in FusionConfig.__dataclass_fields__ if f != 'method')}")
    kind = type(getattr(FusionConfig(), name))

    def conv(v: str):
        v = v.strip()
        if kind is bool:
            if v.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise argparse.ArgumentTypeError(f"{name} takes true/false, not {v!r}")
            return v.lower() in ("true", "1", "yes")
        try:
            return kind(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} takes {kind.__name__} values, not {v!r}") from None
    return name, tuple(conv(v) for v in values.split(","))


def run_grid(a: Assistant, emb, queries: list[dict], judge, axes: dict[str, tuple]) -> list[dict]:
    """Every grid config. A query's ranking depends only on the weights of its own language,
    so configs that agree on those share one search."""
    memo: dict[tuple, int | None] = {}
    searchers: dict[FusionConfig, Search] = {}
    zh = {}
    for q in queries:
        try:
            zh[q["id"]] = is_chinese(normalize_query(q["question"]))
        except BadQuery:
            zh[q["id"]] = True
    rows = []
    for cfg in grid_configs(axes):
        ranks = []
        for q in queries:
            fields = asdict(cfg)
            if zh[q["id"]]:
                fields = {k: v for k, v in fields.items() if k not in EN_ONLY}
            else:
                fields = {k: v for k, v in fields.items() if k not in ZH_ONLY}
            key = (q["id"], tuple(sorted(fields.items())))
            if key not in memo:
                s = searchers.setdefault(cfg, fusion_searcher(a, emb, cfg))
                memo[key] = judge(q, s(q["question"]))
            ranks.append(memo[key])
        rows.append({**{k: getattr(cfg, k) for k in dict.fromkeys(("rrf_k", "w_dense", *axes))},
                     **score_groups(queries, ranks)})
    return rows


def best_configs(grid: list[dict], langs: list[str]) -> dict:
    """The best grid row overall and per language, by MRR@10 then Recall@5 then Recall@1
    (first in grid order on a tie; `tied` says how many rows share the best scores)."""
    def best(group, drop=()):
        def key(row):
            return tuple(-(group(row)[m] or 0) for m in ("mrr_at_10", "recall_at_5", "recall_at_1"))
        top = min(grid, key=key)
        cfg = {k: v for k, v in top.items() if k not in ("overall", "by_lang", *drop)}
        return {**cfg, "tied": sum(1 for r in grid if key(r) == key(top))}

    out = {"overall": best(lambda r: r["overall"])}
    for lang in langs:
        drop = EN_ONLY if lang == "zh" else ZH_ONLY if lang == "en" else ()
        out[lang] = best(lambda r, lang=lang: r["by_lang"][lang], drop)
    return out


def ms_stats(xs: list[float]) -> dict:
    return {"search_median_ms": round(float(np.median(xs)), 2),
            "search_p95_ms": round(float(np.percentile(xs, 95)), 2)}


def build_index(files: list[Path], index_dir: Path, cache_path: Path) -> dict:
    t0 = time.perf_counter()
    s = ingest(files, index_dir, cache_path=cache_path, progress=sys.stderr.isatty())
    if s.skipped:
        log(f"  skipped: {s.skipped}")
    log(f"  index {index_dir}: {s.documents} documents, {s.chunks} chunks "
        f"({s.chunks_embedded} embedded) in {time.perf_counter() - t0:.1f} s")
    return {"documents": s.documents, "chunks": s.chunks}


def embedder_info(a: Assistant) -> dict:
    info = a.data.manifest["embedder"]
    return {k: info.get(k) for k in ("backend", "model", "version", "key")}


def compare(a: Assistant, queries: list[dict], judge, cache: EmbeddingCache,
            ours: tuple[list[int | None], dict], axes: dict[str, tuple]) -> dict:
    """dense, bm25, llamaindex-default and ours (already run, with its latency), then the grid."""
    emb = BenchEmbedder(a.embedder, cache)
    methods = {}
    # Dense only: one cosine ranking of the question over all passages.
    plain = {"w_coverage_zh": 0.0, "w_coverage_en": 0.0}     # no rerank on a one-sided baseline
    baselines = [("dense", FusionConfig(method="dense", balance_languages=False, translate_dense=False, **plain)),
                 ("bm25", FusionConfig(method="bm25", **plain))]
    # Query expansion of ours, switched off part by part (English questions are the ones it serves).
    baselines += [("ours-no-expansion", FusionConfig(expand_en=False, expand_glossary=False)),
                  ("ours-glossary-only", FusionConfig(expand_en=False)),
                  ("ours-dictionary-only", FusionConfig(expand_glossary=False)),
                  # ... and the dense ranking of English questions' Chinese rendering
                  ("ours-no-translation", FusionConfig(translate_dense=False)),
                  ("ours-no-translation-balanced", FusionConfig(translate_dense=False, balance_languages=True)),
                  # ... and the rerank by key-term coverage of one sentence
                  ("ours-no-rerank", FusionConfig(w_coverage_zh=0.0, w_coverage_en=0.0))]
    for name, cfg in baselines:
        t0 = time.perf_counter()
        methods[name] = score_groups(queries, run_method(fusion_searcher(a, emb, cfg), queries, judge))
        log(f"  {name}: {time.perf_counter() - t0:.1f} s")
    log("  llamaindex-default: splitting and embedding the cleaned documents ...")
    search, info = llamaindex_searcher(a, emb)
    methods["llamaindex-default"] = {**score_groups(queries, run_method(search, queries, judge)), **info}
    log(f"  llamaindex-default: {info['nodes']} nodes, built in {info['build_seconds']} s")
    ranks, extra = ours
    methods["ours"] = {**score_groups(queries, ranks), "config": asdict(FusionConfig()), **extra}
    t0 = time.perf_counter()
    grid = run_grid(a, emb, queries, judge, axes)
    log(f"  fusion grid ({len(grid)} configs): {time.perf_counter() - t0:.1f} s")
    langs = sorted({q["lang"] for q in queries})
    return {"methods": methods, "grid_axes": {k: list(v) for k, v in axes.items()}, "fusion_grid": grid,
            "best": best_configs(grid, langs)}


# -- datasets --------------------------------------------------------------------------

def seed_dev(work: Path, cache_path: Path, cache: EmbeddingCache, limit: int | None,
             axes: dict[str, tuple]) -> dict:
    log("seed_dev: seed article + corpus-extra/*.txt")
    files = [SEED] + sorted((SHARED / "corpus-extra").glob("*.txt"))
    index_info = build_index(files, work / "seed_dev", cache_path)
    questions = load_questions(SHARED / "eval" / "seed_dev.jsonl")[:limit]
    a = Assistant.open(work / "seed_dev", cache_path=cache_path)
    index_info["embedder"] = embedder_info(a)

    t0 = time.perf_counter()
    report = evaluate(a, questions, k=5)        # ours, with the plain embedder: honest latency
    log(f"  ours (evaluate: search + ask): {time.perf_counter() - t0:.1f} s")
    answerable = [q for q in questions if q["answerable"]]
    by_id = {r.id: r for r in report.questions}
    ranks = [by_id[q["id"]].rank for q in answerable]
    answer_fields = ("questions", "answerable", "unanswerable", "answer_accuracy", "refusal_accuracy",
                     "false_refusals", "false_refusal_rate")

    def answers(m):
        return {f: getattr(m, f) for f in answer_fields}
    extra = {"answers": {"overall": answers(report.overall),
                         "by_lang": {lang: answers(m) for lang, m in report.by_lang.items()}},
             "latency": report.latency.to_dict(),
             "questions": [r.to_dict() for r in report.questions]}

    def judge(q, results):
        return first_hit_rank((t for t, _ in results), q["evidence"])
    out = compare(a, answerable, judge, cache, (ranks, extra), axes)
    return {"index": index_info, "questions": len(questions), "answerable": len(answerable), **out,
            "lookup_latency": lookup_latency(a), "cold_ask": cold_ask(work / "seed_dev", cache_path)}


def cold_ask(index_dir: Path, cache_path: Path, runs: int = 3) -> dict:
    """Wall time of `policyqa ask "…"` in a new process (interpreter start, imports, index
    load, answer), median of `runs`, for a Chinese and an English question."""
    import subprocess
    env = {**os.environ, "POLICYQA_CACHE_DIR": str(cache_path.parent)}
    out = {}
    for lang, q in (("zh", "2022年北京全年专利授权量是多少？"), ("en", "How many patents were granted in Beijing in 2022?")):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "assistant.cli", "ask", q, "--index", str(index_dir)],
                           cwd=ROOT, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        out[lang] = {"question": q, "median_s": round(float(np.median(times)), 2), "runs": runs}
    log(f"  cold `policyqa ask`: zh {out['zh']['median_s']} s, en {out['en']['median_s']} s (median of {runs})")
    return out


def lookup_latency(a: Assistant) -> dict:
    """`Assistant.lookup` over the terms of benchmarks/lookup.py (after one warm-up lookup)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lookup import TERMS_EN, TERMS_ZH
    a.lookup(TERMS_ZH[0])
    a.lookup(TERMS_EN[0])
    ms = []
    for term in TERMS_ZH + TERMS_EN:
        t = time.perf_counter()
        a.lookup(term)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    result = {"terms": len(ms), "median_ms": round(ms[len(ms) // 2], 1),
              "p95_ms": round(ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], 1)}
    log(f"  lookup latency: median {result['median_ms']} ms, p95 {result['p95_ms']} ms")
    return result


def cmrc2018(work: Path, cache_path: Path, cache: EmbeddingCache, limit: int | None,
             axes: dict[str, tuple]) -> dict:
    base = SHARED / "benchmarks" / "cmrc2018"
    log("cmrc2018: one .txt file per passage")
    docs_dir = work / "cmrc2018-docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for line in (base / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        p = json.loads(line)
        f = docs_dir / f"{p['id']}.txt"
        content = f"{p['title']}\n{p['text']}\n"
        if not f.exists() or f.read_text(encoding="utf-8") != content:
            f.write_text(content, encoding="utf-8")
        files.append(f)
    index_info = build_index(files, work / "cmrc2018", cache_path)
    a = Assistant.open(work / "cmrc2018", cache_path=cache_path)
    index_info["embedder"] = embedder_info(a)
    passage_of = {d["doc_id"]: Path(d["source_path"]).stem for d in a.documents()}

    gold: dict[str, set[str]] = {}
    for line in (base / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            qid, pid, rel = line.split("\t")
            if int(rel) > 0:
                gold.setdefault(qid, set()).add(pid)
    queries = []
    for line in (base / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            if q["id"] in gold:
                queries.append({"id": q["id"], "lang": "zh", "question": q["text"], "gold": gold[q["id"]]})
    queries = queries[:limit]

    def judge(q, results):
        for rank, (_, doc_id) in enumerate(results, 1):
            if passage_of.get(doc_id) in q["gold"]:
                return rank
        return None

    ours = fusion_searcher(a, a.embedder, FusionConfig())      # plain embedder: honest latency
    ranks, times = [], []
    if queries:
        ours(queries[0]["question"])      # warm-up: lazy loads stay out of the latency
    t0 = time.perf_counter()
    for q in queries:
        t = time.perf_counter()
        results = ours(q["question"])
        times.append((time.perf_counter() - t) * 1000)
        ranks.append(judge(q, results))
    log(f"  ours: {time.perf_counter() - t0:.1f} s")
    out = compare(a, queries, judge, cache, (ranks, {"latency": ms_stats(times)}), axes)
    return {"index": index_info, "passages": len(files), "queries": len(queries), **out}


# -- table -----------------------------------------------------------------------------

def _cells(s: dict) -> list[str]:
    return [f"{s[m]:.3f}" if s[m] is not None else "-"
            for m in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10")]


def _grid_rows(d: dict, langs: list[str]) -> tuple[list[tuple[str, dict]], list[str], int]:
    """(label, row) for the grid rows worth showing, best first; and the fields shown."""
    # Without English questions the English-only fields change nothing: show each setting once.
    fields = [k for k in d["grid_axes"] if "en" in langs or k not in EN_ONLY]
    default = {k: getattr(FusionConfig(), k) for k in fields}
    grid, seen = [], set()
    for r in sorted(d["fusion_grid"], key=lambda r: (-(r["overall"]["mrr_at_10"] or 0),
                                                    -(r["overall"]["recall_at_5"] or 0))):
        key = tuple(r[k] for k in fields)
        if key not in seen:
            seen.add(key)
            grid.append(r)
    names = {"rrf_k": "k", "w_bm25_zh": "zh", "w_bm25_en": "en", "w_dense": "d", "w_other_lang": "o",
             "w_translated": "tr", "w_coverage_zh": "cov"}
    out = []
    for i, r in enumerate(grid):
        is_default = all(r[k] == v for k, v in default.items())
        if i >= TOP_ROWS and not is_default:
            continue
        label = " ".join(f"{names.get(k, k)}={r[k]:<3}" for k in fields if k not in FLAGS)
        label += " " + "".join(flag if r[k] else " " for k, flag in FLAGS.items() if k in fields)
        out.append((label + (" *" if is_default else ""), r))
    return out, fields, len(grid)


def table(name: str, d: dict) -> str:
    langs = sorted(d["methods"]["ours"]["by_lang"])
    grid, fields, n_settings = _grid_rows(d, langs)
    w = max([len(m) for m in d["methods"]] + [len(label) for label, _ in grid]) + 2
    ns = [d["methods"]["ours"]["overall"]["n"]] + [d["methods"]["ours"]["by_lang"][g]["n"] for g in langs]
    head1 = " " * w + "".join(f" | {g + ' (n=' + str(n) + ')':<23}" for g, n in zip(["all"] + langs, ns))
    head2 = f"{'method':<{w}}" + "".join(" | " + " ".join(f"{h:>5}" for h in ("R@1", "R@5", "R@10", "MRR"))
                                         for _ in ns)
    lines = [f"== {name}: index {d['index']['documents']} documents, {d['index']['chunks']} chunks; "
             "R@k = Recall@k, MRR = MRR@10", head1, head2, "-" * len(head2)]

    def row(label: str, g: dict) -> str:
        cells = [_cells(g["overall"])] + [_cells(g["by_lang"][lang]) for lang in langs]
        return f"{label:<{w}}" + "".join(" | " + " ".join(f"{c:>5}" for c in cs) for cs in cells)

    for m, g in d["methods"].items():
        lines.append(row(m, g))
    ours = d["methods"]["ours"]
    lat = ours["latency"]
    lat_text = f"ours search ms: median {lat['search_median_ms']:.1f}, p95 {lat['search_p95_ms']:.1f}"
    if "ask_median_ms" in lat:
        lat_text += f"; ask ms: median {lat['ask_median_ms']:.1f}, p95 {lat['ask_p95_ms']:.1f}"
    lines += ["", lat_text]
    if "answers" in ours:
        for g, m in [("all", ours["answers"]["overall"])] + list(ours["answers"]["by_lang"].items()):
            acc = "-" if m["answer_accuracy"] is None else f"{m['answer_accuracy']:.3f}"
            ref = "-" if m["refusal_accuracy"] is None else f"{m['refusal_accuracy']:.3f}"
            lines.append(f"ours answers [{g}]: accuracy {acc} over {m['questions']}, refusal accuracy {ref} "
                         f"over {m['unanswerable']}, false refusals {m['false_refusals']}/{m['answerable']}")
    li = d["methods"]["llamaindex-default"]
    lines.append(f"llamaindex-default: {li['nodes']} nodes, mean {li['mean_node_chars']} chars "
                 f"(SentenceSplitter chunk_size={li['chunk_size_tokens']} tokens)")
    lines += ["", "fusion grid (ours), best MRR@10 first: "
              + (f"top {TOP_ROWS} of {n_settings} settings and the default (every row in the JSON):"
                 if n_settings > TOP_ROWS else f"all {n_settings} settings:")]
    lines += [row(label, r) for label, r in grid]
    notes = {"expand_en": "x = English questions expanded with Chinese dictionary terms",
             "balance_languages": "b = dense hits ranked per document language"}
    lines.append("; ".join(["* = the current default"] + [n for k, n in notes.items() if k in fields]))
    for group, cfg in d["best"].items():
        lines.append(f"best for {group}: {json.dumps(cfg)}")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=["seed", "cmrc"], help="run one dataset only")
    p.add_argument("--limit", type=int, metavar="N", help="first N queries of each dataset (quick runs)")
    p.add_argument("--index-dir", metavar="DIR", help="keep and reuse the built indexes here")
    p.add_argument("--grid", type=parse_axis, action="append", default=[], metavar="FIELD=V1,V2",
                   help="add or replace a fusion grid axis, e.g. --grid w_other_lang=0.5,1,2 (repeatable)")
    p.add_argument("--no-grid", action="store_true", help="skip the fusion grid (minutes on cmrc2018)")
    args = p.parse_args(argv)
    axes = {k: v for k, v in GRID_AXES.items() if k in FusionConfig.__dataclass_fields__}
    axes.update(dict(args.grid))
    if args.no_grid:
        axes = {}
    if not SHARED.is_dir():
        p.error(f"{SHARED} not found: the eval data and corpus live there")
    cache_path = default_cache_path()
    cache = EmbeddingCache(cache_path)
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if args.index_dir:
            work = Path(args.index_dir)
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="policyqa-bench-")))
        result: dict = {"benchmark": "retrieval", "depth": DEPTH, "limit": args.limit,
                        "cache": str(cache_path), "default_fusion": asdict(FusionConfig()),
                        "load_avg_start": [round(x, 2) for x in os.getloadavg()], "datasets": {}}
        if args.only in (None, "seed"):
            result["datasets"]["seed_dev"] = seed_dev(work, cache_path, cache, args.limit, axes)
        if args.only in (None, "cmrc"):
            result["datasets"]["cmrc2018"] = cmrc2018(work, cache_path, cache, args.limit, axes)
        result["embedder"] = next(iter(result["datasets"].values()))["index"]["embedder"]
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]   # latency is only as good as a quiet machine
    for name, d in result["datasets"].items():
        log("\n" + table(name, d))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
