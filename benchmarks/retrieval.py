"""Retrieval side by side on the dev sets, each part of the query path on and off, and a
fusion grid chosen by k-fold (figures on held-out folds).

    python benchmarks/retrieval.py [--work DIR] [--index-all DIR --index-zh DIR] [--only dev|cmrc]
                                   [--folds 5] [--no-grid] [--llamaindex]

Indexes, as ../shared/tools/dev_eval.sh builds them: A = corpus/ + ../shared/corpus-extra
(SOURCES.md included, as a user would ingest the folder), B = the same without the English
2017 report. Query groups: seed_dev English and Chinese questions and corpus_dev's
Chinese questions (the control), its cross-lingual and English-document questions (all
over A), and bitext_dev (English sentences of the 2017 translation -> the Chinese span
they translate, over B). A retrieved passage is a hit when it contains an evidence
string (DESIGN.md); rank = first hit among the top 10.

Methods: `ours` (the default FusionConfig), ablations (`-no-sentences`: without the
rankings by each passage's best sentence; `-no-other-language`: a Chinese question without
the ranking over the English sentences; `-other-language-en`: an English question with the
one over the Chinese sentences; `-no-translation`: without the dense rankings of an English
question's Chinese rendering (`-no-translated-sentences`: without the one against each
passage's best sentence); `-no-numbers`: English numbers not rendered the Chinese way
(5 percent -> 5%); `-no-expansion`: without dictionary and glossary terms;
`-no-constraints`: years, places and documents of the question ignored; `-no-rerank`;
`-dense-across`: the passage cosine also ranks passages in the other language),
and the baselines `dense` (passage cosine only), `bm25`, `llamaindex-default` (with
--llamaindex: SentenceSplitter + VectorStoreIndex over the same cleaned documents).

The grid fuses rankings computed once per question under every combination of GRID;
the setting with the best mean MRR@10 over the groups (each group weighs the same) is
chosen on k-1 folds and scored on the held-out fold. cmrc2018 (848 passages, 800
questions) is the check that Chinese retrieval does not get worse.

A table goes to stderr, one JSON object to stdout.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from _setup import ROOT, SHARED  # noqa: E402  (offline env, repository on sys.path)

import numpy as np  # noqa: E402

from assistant import Assistant  # noqa: E402
from assistant.evaluate import first_hit_rank, load_questions, retrieval_scores  # noqa: E402
from assistant.query import analyse  # noqa: E402
from assistant.scope import fit  # noqa: E402
from assistant.tuned import FusionConfig  # noqa: E402
from ingest import ingest  # noqa: E402
from ingest.errors import BadQuery  # noqa: E402

DEPTH = 10
GRID = {"w_bm25_zh": (1.5, 2.0), "w_sentence_zh": (0.5, 1.0),
        "w_bm25_en": (1.0, 1.5), "w_sentence_en": (1.0, 1.5), "w_sentence_other_en": (0.0, 1.0),
        "w_translated": (0.5, 1.0), "w_translated_sentence": (0.5, 1.0), "w_match": (0.05, 0.1),
        "w_same_language": (0.0, 0.03), "w_coverage_en": (0.0, 0.1, 0.2)}
ZH_ONLY = {"w_bm25_zh", "w_sentence_zh", "w_coverage_zh", "w_sentence_other_zh"}
EN_ONLY = {"w_bm25_en", "w_sentence_en", "w_translated", "w_translated_sentence", "w_model_rendered",
           "w_coverage_en", "w_sentence_other_en"}
ABLATIONS = {
    "ours-no-sentences": {"w_sentence_zh": 0.0, "w_sentence_en": 0.0, "w_sentence_other_zh": 0.0,
                          "w_sentence_other_en": 0.0},
    "ours-no-other-language": {"w_sentence_other_zh": 0.0},
    "ours-other-language-en": {"w_sentence_other_en": 1.0},
    "ours-no-translation": {"translate_dense": False},
    "ours-no-translated-sentences": {"w_translated_sentence": 0.0},
    "ours-no-numbers": {"render_numbers": False},
    "ours-no-places": {"render_places": False},
    "ours-no-senses-together": {"render_together": False},
    "ours-no-expansion": {"expand_en": False, "expand_glossary": False},
    "ours-no-rerank": {"w_coverage_zh": 0.0, "w_coverage_en": 0.0},
    "ours-dense-across": {"w_dense_other": 1.0},
}
PLAIN = {"w_sentence_zh": 0.0, "w_sentence_en": 0.0, "w_sentence_other_zh": 0.0, "w_sentence_other_en": 0.0,
         "translate_dense": False, "render_numbers": False, "render_places": False, "render_together": False,
         "expand_en": False, "expand_glossary": False, "w_coverage_zh": 0.0, "w_coverage_en": 0.0, "w_match": 0.0,
         "w_dense_other": 1.0}
BASELINES = {"dense": {"method": "dense", **PLAIN}, "bm25": {"method": "bm25", **PLAIN}}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- indexes and questions -------------------------------------------------------------

def dev_indexes(work: Path) -> tuple[Path, Path]:
    """Index A (corpus/ + corpus-extra) and B (without the English report), built once."""
    all_dir, zh_dir = work / "idx-all", work / "idx-zh"
    extra = [] if (ROOT / "corpus" / "2024_state-council_government-work-report_zh.txt").exists() \
        else [SHARED / "corpus-extra"]
    if not (all_dir / "CURRENT").exists():
        ingest([ROOT / "corpus", *extra], all_dir, progress=sys.stderr.isatty())
    if not (zh_dir / "CURRENT").exists():
        # One file per name, corpus/ over corpus-extra, as dev_eval.sh links them: corpus/
        # ships corpus-extra as its starter library, and each document twice changes the figures.
        by_name = {f.name: f for f in [*sorted((SHARED / "corpus-extra").glob("*_zh.txt")),
                                       *sorted((ROOT / "corpus").iterdir())]}
        files = [f for f in by_name.values()
                 if f.is_file() and not f.name.endswith(("_en.txt", "_en.txt.meta.json", "_en.meta.json"))
                 and f.name != "README.md" and f.suffix != ".json"]
        ingest(files, zh_dir, progress=sys.stderr.isatty())
    return all_dir, zh_dir


def dev_groups() -> list[tuple[str, str, list[dict]]]:
    """(group, index A|B, answerable questions)."""
    load = lambda name: [q for q in load_questions(SHARED / "eval" / f"{name}.jsonl") if q["answerable"]]  # noqa: E731
    seed, corpus, bitext = load("seed_dev"), load("corpus_dev"), load("bitext_dev")
    return [("seed_dev en", "A", [q for q in seed if q["lang"] == "en"]),
            ("seed_dev zh", "A", [q for q in seed if q["lang"] == "zh"]),
            ("corpus_dev zh", "A", [q for q in corpus if q["lang"] == "zh"]),
            ("corpus_dev cross-lingual", "A", [q for q in corpus if q.get("kind") == "cross-lingual"]),
            ("corpus_dev en-doc", "A", [q for q in corpus if q.get("kind") == "en-doc"]),
            ("bitext_dev", "B", bitext)]


# -- one question's rankings, fused many ways ----------------------------------------------

class Prepared:
    """A question's rankings under the default expansion settings (and, lazily, others)."""

    def __init__(self, a: Assistant, q: dict, constraints: bool = True):
        self.a, self.q = a, q
        self.analysis = analyse(q["question"], a.catalog, a.retriever.doc_freq())
        self.qv = a.embedder.embed_query(self.analysis.text)
        self.constraints = constraints
        self._rankings: dict[tuple, object] = {}

    def rankings(self, cfg: FusionConfig):
        key = (cfg.expand_en, cfg.expand_glossary, cfg.translate_dense, cfg.render_numbers, cfg.render_places,
               cfg.render_together, cfg.method)
        if key not in self._rankings:
            t = self.analysis
            self._rankings[key] = self.a.retriever.rankings(
                t.text, query_vector=self.qv, terms=list(t.terms),
                fit=fit(t.constraints, self.a.catalog) if self.constraints else None,
                lexical_query=t.rest if self.constraints else t.text, fusion=cfg)
        return self._rankings[key]

    def rank(self, cfg: FusionConfig) -> int | None:
        scored = self.a.retriever.fuse(self.rankings(cfg), DEPTH, cfg)
        return first_hit_rank((self.a.data.chunks[s.row].text for s in scored), self.q["evidence"])


def prepare_all(assistants: dict[str, Assistant], groups, constraints: bool = True) -> dict[str, list[Prepared]]:
    out = {}
    for name, idx, qs in groups:
        out[name] = []
        for q in qs:
            try:
                out[name].append(Prepared(assistants[idx], q, constraints))
            except BadQuery:
                continue
    return out


def scores(ranks: list[int | None]) -> dict:
    s = retrieval_scores(ranks)
    s.pop("recall_at_k")
    return {"n": len(ranks), **{k: None if v is None else round(v, 4) for k, v in s.items()}}


def method_scores(prepared: dict[str, list[Prepared]], cfg: FusionConfig) -> dict:
    return {g: scores([p.rank(cfg) for p in ps]) for g, ps in prepared.items()}


def llamaindex_scores(assistants: dict[str, Assistant], groups) -> dict:
    """llama-index's default recipe over the same cleaned documents, with our embedder."""
    import contextlib

    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    from ingest.embed.llama import LlamaIndexEmbedding
    out, built = {}, {}
    with contextlib.redirect_stdout(sys.stderr):        # it prints "LLM is explicitly disabled"
        Settings.llm = None
    for name, idx, qs in groups:
        a = assistants[idx]
        if idx not in built:
            model = LlamaIndexEmbedding(a.embedder)
            Settings.embed_model = model                 # nothing may fall back to OpenAI
            docs = [Document(text=a.document(d).text, doc_id=d) for d in a.data.docs]
            index = VectorStoreIndex.from_documents(docs, transformations=[SentenceSplitter()], embed_model=model)
            built[idx] = index.as_retriever(similarity_top_k=DEPTH)
        out[name] = scores([first_hit_rank((n.node.get_content() for n in built[idx].retrieve(q["question"])),
                                           q["evidence"]) for q in qs])
    return out


# -- the grid, chosen by k-fold ------------------------------------------------------------

def grid_configs() -> list[FusionConfig]:
    return [FusionConfig(**dict(zip(GRID, values))) for values in itertools.product(*GRID.values())]


def grid_ranks(prepared: dict[str, list[Prepared]], configs: list[FusionConfig]) -> list[dict[str, list]]:
    """Per config, per group, the rank of each question. A question's ranking depends only on
    the fields of its own language, so configs that agree on those share one fusion."""
    memo: dict[tuple, int | None] = {}
    out = []
    for cfg in configs:
        fields = asdict(cfg)
        keys = {zh: tuple(v for k, v in fields.items() if k not in (EN_ONLY if zh else ZH_ONLY)) for zh in (True, False)}
        ranks = {}
        for g, ps in prepared.items():
            row = []
            for i, p in enumerate(ps):
                key = (g, i) + keys[p.analysis.zh]
                if key not in memo:
                    memo[key] = p.rank(cfg)
                row.append(memo[key])
            ranks[g] = row
        out.append(ranks)
    return out


def mean_mrr(ranks: dict[str, list], keep: dict[str, set[int]] | None = None) -> float:
    vals = []
    for g, rs in ranks.items():
        rs = [r for i, r in enumerate(rs) if keep is None or i in keep[g]]
        if rs:
            vals.append(retrieval_scores(rs)["mrr_at_10"])
    return float(np.mean(vals)) if vals else 0.0


def kfold(prepared: dict[str, list[Prepared]], configs, all_ranks, k: int, seed: int) -> dict:
    """Each fold's setting chosen on the other folds; held-out ranks scored per group."""
    rng = random.Random(seed)
    fold_of = {g: [i % k for i in rng.sample(range(len(ps)), len(ps))] for g, ps in prepared.items()}
    held = {g: [None] * len(ps) for g, ps in prepared.items()}
    chosen = []
    for f in range(k):
        train = {g: {i for i, x in enumerate(fo) if x != f} for g, fo in fold_of.items()}
        best = max(range(len(configs)), key=lambda c: (mean_mrr(all_ranks[c], train), -c))
        chosen.append({k2: getattr(configs[best], k2) for k2 in GRID})
        for g, fo in fold_of.items():
            for i, x in enumerate(fo):
                if x == f:
                    held[g][i] = all_ranks[best][g][i]
    return {"held_out": {g: scores(rs) for g, rs in held.items()}, "per_fold": chosen}


# -- cmrc2018 -------------------------------------------------------------------------------

def cmrc(work: Path, limit: int | None, backend: str = "folder", methods: bool = True) -> dict:
    """cmrc2018 as retrieval; `backend` "milvus-lite" indexes it in a Milvus Lite file
    instead of a folder; `methods`: the dense-only and BM25-only baselines too."""
    base = SHARED / "benchmarks" / "cmrc2018"
    docs_dir = work / "cmrc2018-docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for line in (base / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            p = json.loads(line)
            f = docs_dir / f"{p['id']}.txt"
            content = f"{p['title']}\n{p['text']}\n"
            if not f.exists() or f.read_text(encoding="utf-8") != content:
                f.write_text(content, encoding="utf-8")
            files.append(f)
    idx = work / "cmrc2018" if backend == "folder" else f"milvus-lite:{work / 'cmrc2018.db'}"
    ingest(files, idx, progress=sys.stderr.isatty())
    a = Assistant.open(idx)
    passage_of = {d["doc_id"]: Path(d["source_path"]).stem for d in a.documents()}
    gold: dict[str, set[str]] = {}
    for line in (base / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            qid, pid, rel = line.split("\t")
            if int(rel) > 0:
                gold.setdefault(qid, set()).add(pid)
    qs = [json.loads(x) for x in (base / "queries.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    qs = [q for q in qs if q["id"] in gold][:limit]
    out = {}
    configs = {"ours": FusionConfig(), **({n: FusionConfig(**o) for n, o in BASELINES.items()} if methods else {})}
    for name, cfg in configs.items():
        ranks, ms = [], []
        for q in qs:
            t0 = time.perf_counter()
            docs = [h.doc_id for h in a.search(q["text"], DEPTH)] if cfg == FusionConfig() else \
                [a.data.chunks[s.row].doc_id for s in a.retriever.search(q["text"], DEPTH, fusion=cfg)]
            ms.append((time.perf_counter() - t0) * 1000)
            ranks.append(next((r for r, d in enumerate(docs, 1) if passage_of.get(d) in gold[q["id"]]), None))
        out[name] = {**scores(ranks), "search_median_ms": round(float(np.median(ms)), 1)}
    a.data.close()
    return {"passages": len(files), "queries": len(qs), "methods": out}


# -- main -----------------------------------------------------------------------------------

def table(result: dict) -> str:
    lines = []
    dev = result.get("dev")
    if dev:
        groups = list(dev["methods"]["ours"])
        w = max(len(m) for m in dev["methods"]) + 2
        lines.append(" " * w + " | ".join(f"{g[:24]:>24}" for g in groups))
        lines.append(" " * w + " | ".join(f"{'R@5   MRR@10  (n=' + str(dev['methods']['ours'][g]['n']) + ')':>24}"
                                          for g in groups))
        for m, gs in dev["methods"].items():
            lines.append(f"{m:<{w}}" + " | ".join(f"{gs[g]['recall_at_5']:>11.3f} {gs[g]['mrr_at_10']:>12.3f}"
                                                    for g in groups))
        if "grid" in dev:
            lines.append("")
            lines.append(f"fusion grid: {dev['grid']['settings']} settings; chosen on all: {dev['grid']['chosen_on_all']}")
            for g, s in dev["grid"]["held_out"].items():
                lines.append(f"  held out ({dev['grid']['folds']}-fold) {g:26} R@5 {s['recall_at_5']:.3f}  MRR@10 {s['mrr_at_10']:.3f}")
    if result.get("cmrc2018"):
        lines.append("")
        lines.append("cmrc2018 (R@1 R@5 R@10 MRR@10, search ms):")
        for m, s in result["cmrc2018"]["methods"].items():
            lines.append(f"  {m:8} {s['recall_at_1']:.3f} {s['recall_at_5']:.3f} {s['recall_at_10']:.3f} "
                         f"{s['mrr_at_10']:.3f}  {s['search_median_ms']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="/tmp/policyqa-bench", help="indexes are built here once and reused")
    p.add_argument("--index-all", help="index A (default: WORK/idx-all, built when missing)")
    p.add_argument("--index-zh", help="index B (default: WORK/idx-zh)")
    p.add_argument("--only", choices=["dev", "cmrc"])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="cmrc2018: the first N questions")
    p.add_argument("--no-grid", action="store_true")
    p.add_argument("--llamaindex", action="store_true", help="also the llama-index default recipe (slow the first time)")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result: dict = {"benchmark": "retrieval", "depth": DEPTH, "default_fusion": asdict(FusionConfig()),
                    "load_avg_start": [round(x, 2) for x in os.getloadavg()]}
    if args.only in (None, "dev"):
        all_dir, zh_dir = (Path(args.index_all), Path(args.index_zh)) if args.index_all and args.index_zh \
            else dev_indexes(work)
        assistants = {"A": Assistant.open(all_dir), "B": Assistant.open(zh_dir)}
        groups = dev_groups()
        prepared = prepare_all(assistants, groups)
        methods = {"ours": method_scores(prepared, FusionConfig())}
        for name, over in ABLATIONS.items():
            methods[name] = method_scores(prepared, replace(FusionConfig(), **over))
        methods["ours-no-constraints"] = method_scores(prepare_all(assistants, groups, constraints=False),
                                                       FusionConfig())
        plain = prepare_all(assistants, groups, constraints=False)
        for name, over in BASELINES.items():
            methods[name] = method_scores(plain, FusionConfig(**over))
        if args.llamaindex:
            methods["llamaindex-default"] = llamaindex_scores(assistants, groups)
        dev = {"groups": {g: len(qs) for g, _, qs in groups}, "methods": methods}
        if not args.no_grid:
            configs = grid_configs()
            all_ranks = grid_ranks(prepared, configs)
            best = max(range(len(configs)), key=lambda c: (mean_mrr(all_ranks[c]), -c))
            dev["grid"] = {"axes": {k: list(v) for k, v in GRID.items()}, "settings": len(configs),
                           "chosen_on_all": {k: getattr(configs[best], k) for k in GRID},
                           "in_sample": {g: scores(r) for g, r in all_ranks[best].items()},
                           **kfold(prepared, configs, all_ranks, args.folds, args.seed), "folds": args.folds}
        result["dev"] = dev
    if args.only in (None, "cmrc"):
        result["cmrc2018"] = cmrc(work, args.limit)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    log(table(result))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
