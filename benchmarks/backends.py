"""The same questions on both index backends, side by side: the folder (FAISS + bm25s)
and Milvus Lite (an embedded file; the same code talks to a Milvus server).

    python benchmarks/backends.py [--work DIR] [--cmrc-limit N]

Per backend: index A (corpus/: the seed article and the 20 documents of corpus-extra)
and index B (the Chinese documents only) are built in WORK (reused when present), then
`policyqa eval`'s measure on seed_dev and corpus_dev over A, bitext_dev over B, and
cmrc2018 as retrieval (its own index). Also each build's time. Questions whose rank or
answer differ between the backends are listed. One JSON object to stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _setup import ROOT, SHARED  # noqa: E402  (offline env, repository on sys.path)

from assistant import Assistant  # noqa: E402
from assistant.evaluate import evaluate, load_questions  # noqa: E402
from ingest import ingest  # noqa: E402
from ingest import index as backends  # noqa: E402
from retrieval import cmrc  # noqa: E402

SETS = (("seed_dev", "all"), ("corpus_dev", "all"), ("bitext_dev", "zh"))


def _address(backend: str, work: Path, name: str) -> str:
    return str(work / name) if backend == "folder" else f"milvus-lite:{work / (name + '.db')}"


def _zh_files() -> list[Path]:
    return [f for f in sorted((ROOT / "corpus").glob("*")) if f.is_file() and not f.name.endswith(
        ("_en.txt", "_en.txt.meta.json", "README.md", "README.md.meta.json"))]


def run(backend: str, work: Path, cmrc_limit: int | None) -> dict:
    out: dict = {"build_s": {}}
    for name, paths in (("idx-all", [ROOT / "corpus"]), ("idx-zh", _zh_files())):
        spec = _address(backend, work, name)
        if not backends.exists(backends.target(spec)):
            t = time.perf_counter()
            ingest(paths, spec, progress=False)
            out["build_s"][name] = round(time.perf_counter() - t, 1)
    for name, which in SETS:
        a = Assistant.open(_address(backend, work, f"idx-{which}"))
        report = evaluate(a, load_questions(SHARED / "eval" / f"{name}.jsonl")).to_dict()
        a.data.close()
        out[name] = {"overall": {k: report["overall"][k] for k in
                                 ("recall_at_5", "mrr_at_10", "answer_accuracy", "false_refusals")},
                     "latency": report["latency"],
                     "questions": {q["id"]: (q["rank"], q["answer_ok"]) for q in report["questions"]}}
    out["cmrc2018"] = cmrc(work, cmrc_limit, backend=backend, methods=False)["methods"]["ours"]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="/tmp/policyqa-backends", help="indexes are built here once and reused")
    p.add_argument("--cmrc-limit", type=int, help="cmrc2018: the first N questions")
    args = p.parse_args()
    work = Path(args.work)
    result = {b: run(b, work / b, args.cmrc_limit) for b in ("folder", "milvus-lite")}
    for name, _ in SETS:           # which questions the backends disagree on
        f, m = result["folder"][name].pop("questions"), result["milvus-lite"][name].pop("questions")
        diff = {q: {"folder": f[q], "milvus-lite": m[q]} for q in f if f[q] != m.get(q)}
        result.setdefault("differences", {})[name] = {
            "rank_or_answer_differs": len(diff),
            "answer_differs": sorted(q for q in diff if f[q][1] != m[q][1]), "detail": diff}
    print(json.dumps(result, ensure_ascii=False))
    print(json.dumps({b: {k: v for k, v in r.items()} for b, r in result.items() if b != "differences"},
                     ensure_ascii=False, indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
