"""Cold start: a new process per call, as a user's `policyqa search` / `policyqa ask` is.

    python benchmarks/coldstart.py --index DIR|milvus-lite:FILE [--runs 5]

Per command, the median and spread of the whole process's wall time over `--runs` runs,
and, in the same kind of process, the phases: importing policyqa, `Assistant.open`, the
first call (jieba's dictionaries and the model load on first use). A Chinese `search` and
`ask`, and an English `ask`. One JSON object to stdout. The first process on a machine
loads jieba whole and writes its lexicon file (ingest/lexicon.py); the warm-up run does
that here, as any earlier ingest has on a user's machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _setup import ROOT  # noqa: E402  (offline env, repository on sys.path)

QUESTION = "2022年北京全年专利授权量是多少？"
QUESTION_EN = "How many patents were granted in Beijing in 2022?"
# (name in the output, command, question)
CALLS = (("search", "search", QUESTION), ("ask", "ask", QUESTION), ("ask_en", "ask", QUESTION_EN))
PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
from assistant import Assistant
t1 = time.perf_counter()
a = Assistant.open(sys.argv[1])
t2 = time.perf_counter()
getattr(a, sys.argv[2])(sys.argv[3])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1, "first_call_s": t3 - t2}))
"""


def _wall(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", required=True)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = {"index": args.index, "runs": args.runs}
    for name, command, question in CALLS:
        cli = [sys.executable, "-m", "cli", command, question, "--index", args.index, "--json"]
        _wall(cli, env)                          # the page cache warm, as on a machine in use
        walls = [_wall(cli, env) for _ in range(args.runs)]
        phases = [json.loads(subprocess.run([sys.executable, "-c", PHASES, args.index, command, question],
                                            cwd=ROOT, env=env, check=True, capture_output=True, text=True
                                            ).stdout.strip().splitlines()[-1]) for _ in range(args.runs)]
        out[name] = {"wall_s": {"median": round(statistics.median(walls), 2), "min": round(min(walls), 2),
                                   "max": round(max(walls), 2)},
                        **{k: round(statistics.median(ph[k] for ph in phases), 2) for k in phases[0]}}
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
