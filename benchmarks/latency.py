"""Warm in-process latency of `search` and `ask` over the dev questions, single questions
and comparisons apart.

    python benchmarks/latency.py --index DIR [--sets seed_dev,corpus_dev] [--rounds 1]

DIR: an index of corpus/ (what ../shared/tools/dev_eval.sh builds as idx-all). Run it with
an empty `POLICYQA_CACHE_DIR` to measure with an empty embedding cache: every question's
vector is computed, nothing is looked up from an earlier run. The index is opened and one
question asked first (model load, dictionaries), so the figures are warm.

One JSON object goes to stdout: median / p95 / max in ms per call and kind of question.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from _setup import SHARED  # noqa: E402  (offline env, repository on sys.path)

from assistant import Assistant  # noqa: E402
from assistant.evaluate import load_questions  # noqa: E402


def _stats(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"n": len(ms), "median": round(statistics.median(ms), 1),
            "p95": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1), "max": round(ms[-1], 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", required=True)
    p.add_argument("--sets", default="seed_dev,corpus_dev")
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args()
    questions = [q for name in args.sets.split(",") for q in load_questions(SHARED / "eval" / f"{name}.jsonl")]
    t = time.perf_counter()
    a = Assistant.open(args.index)
    a.ask("2022年北京全年专利授权量是多少？")
    a.ask("How many patents were granted in Beijing in 2022?")
    warm_s = time.perf_counter() - t
    search, ask = [], {"single": [], "compare": []}
    for _ in range(args.rounds):
        for q in questions:
            t = time.perf_counter()
            a.search(q["question"], k=10)
            search.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            ans = a.ask(q["question"])
            ask["compare" if ans.table is not None else "single"].append((time.perf_counter() - t) * 1000)
    out = {"index": args.index, "questions": len(questions), "rounds": args.rounds, "open_and_warm_s": round(warm_s, 1),
           "search_ms": _stats(search), "ask_ms": _stats(ask["single"] + ask["compare"]),
           "ask_single_ms": _stats(ask["single"]),
           "ask_compare_ms": _stats(ask["compare"]) if ask["compare"] else None}
    print(json.dumps(out, ensure_ascii=False))
    print(json.dumps(out, ensure_ascii=False, indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
