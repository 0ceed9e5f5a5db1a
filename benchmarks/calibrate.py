"""Calibrate the found / not-found decision (`assistant/tuned.py: Thresholds`) on several
dev sets together, and report it on questions the thresholds were not chosen on.

    python benchmarks/calibrate.py --index DIR [--sets seed_dev,corpus_dev,FILE.jsonl] [--folds 5] [--seed 0]

DIR is an index of corpus/ + ../shared/corpus-extra (what ../shared/tools/dev_eval.sh
builds as idx-all). Every question is asked once with the gates only (the passage fits
the question's years, places and documents and holds its names and numbers); the
deciding sentence's cosine and its passage's key-term coverage are recorded with whether
the answer would be right, once for each set of passages that the grid's thresholds let
meet the bar (they decide what the answer quotes). The grid below then picks the thresholds: on all questions
(what tuned.py should say), and per fold on the other folds with the held-out fold
scored (k-fold, stratified by set and kind; the held-out figures are the ones to report).

One JSON object goes to stdout (chosen thresholds, held-out metrics overall / per set /
per kind / per language, the grid's best rows); a summary goes to stderr.
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from _setup import ROOT, SHARED  # noqa: E402  (offline env, repository on sys.path)

from assistant import Assistant  # noqa: E402
from assistant.answer import to_quote  # noqa: E402
from assistant.evaluate import answer_is_right, load_questions  # noqa: E402
from assistant.tuned import Thresholds  # noqa: E402

# The grid: thresholds for a passage in the question's language, and across languages.
SEM = (0.78, 0.80, 0.82, 0.84, 0.86, 0.88, 0.90)
COV_SAME = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8)
COV_ACROSS = (0.0, 0.15, 0.25, 0.35, 0.45, 0.55)
SEM_ACROSS = (0.74, 0.76, 0.78, 0.79, 0.80, 0.82, 0.84)
# Questions the library cannot answer whose words it does use (票价, 房价, 奖牌 ...): the dev
# sets' unanswerable questions are refused by the gates (another year, place or article),
# so without these nothing would show what a low coverage bar costs.
OFFTOPIC = ROOT / "benchmarks" / "data" / "offtopic_dev.jsonl"
OPEN = Thresholds(min_semantic_zh=-1.0, min_coverage_zh=0.0, min_semantic_en=-1.0, min_coverage_en=0.0)


def _decision(ev) -> dict:
    f = ev.decision.features if ev.decision and ev.decision.features else None
    return {"gated": ev.found, "semantic": f.semantic if f else None, "coverage": f.coverage if f else None,
            "across": bool(f and f.across), "whole_article": bool(ev.analysis and ev.analysis.whole_article)}


def record(a: Assistant, q: dict) -> dict:
    """The deciding features and whether the gated answer is right, for one question (for a
    comparison, per side: it is found when a side is, right when every side is found).

    Which passages meet the bar decides what the answer quotes (and, of a report and its
    translation, which version), so a single question's answer is recorded once per set of
    passing passages the grid can produce (`passing`: each candidate's passage and features;
    `right_by_passing`). A comparison's is recorded with the gates alone."""
    ev = a.evidence(q["question"])
    parts = [_decision(sub) for _, sub in ev.comparison[1]] if ev.comparison else [_decision(ev)]
    row = {"id": q["id"], "set": q["_set"], "kind": q.get("kind") or q["_set"], "lang": q["lang"],
           "answerable": q["answerable"], "sides": parts, "right_if_found": False}
    if not ev.found:
        return row
    right_of = lambda e: answer_is_right({**q, "answerable": True}, True, a.extractive_answer(e).text)  # noqa: E731
    if ev.comparison or ev.analysis.whole_article:
        row["right_if_found"] = right_of(ev)
        return row
    row["passing"] = [[f.hit_rank, f.semantic, f.coverage, f.names_ok and f.topic_ok and f.fits, f.across]
                      for f in ev.decision.considered]
    row["right_by_passing"] = {}
    for t in grid():
        key = _passing_key(row, t)
        if key not in row["right_by_passing"]:
            kept = frozenset(int(x) for x in key.split(",") if x)
            row["right_by_passing"][key] = right_of(replace(ev, candidates=to_quote(list(ev.considered), kept,
                                                                                   ev.analysis.zh)))
    return row


_KEYS: dict[tuple[str, Thresholds], str] = {}


def _passing_key(r: dict, t: Thresholds) -> str:
    """The hit ranks of the passages that meet the bar under `t`, as a key."""
    got = _KEYS.get((r["id"], t))
    if got is not None:
        return got
    ranks = set()
    for rank, sem, cov, gates, across in r["passing"]:
        min_sem, min_cov = (t.min_semantic_en, t.min_coverage_en) if across else (t.min_semantic_zh, t.min_coverage_zh)
        if gates and sem >= min_sem and cov >= min_cov:
            ranks.add(rank)
    _KEYS[r["id"], t] = got = ",".join(map(str, sorted(ranks)))
    return got


def right_if_found(r: dict, t: Thresholds) -> bool:
    if "right_by_passing" in r:
        return r["right_by_passing"][_passing_key(r, t)]
    return r["right_if_found"]


def _side_found(d: dict, t: Thresholds) -> bool:
    if not d["gated"]:
        return False
    if d["whole_article"]:
        return True
    sem, cov = (t.min_semantic_en, t.min_coverage_en) if d["across"] else (t.min_semantic_zh, t.min_coverage_zh)
    return d["semantic"] >= sem and d["coverage"] >= cov


def found(r: dict, t: Thresholds) -> bool:
    return any(_side_found(d, t) for d in r["sides"])


def right(r: dict, t: Thresholds) -> bool:
    if not r["answerable"]:
        return not found(r, t)
    return all(_side_found(d, t) for d in r["sides"]) and right_if_found(r, t)


def score(rows: list[dict], t: Thresholds) -> tuple:
    """What the grid maximises: right answers, then fewer wrong answers given (a refusal is
    the better failure), then fewer refusals."""
    ok = sum(right(r, t) for r in rows)
    wrong_given = sum(found(r, t) and not right(r, t) for r in rows)
    return ok, -wrong_given


def grid() -> list[Thresholds]:
    return [Thresholds(s, c, se, ce) for s, c, se, ce in itertools.product(SEM, COV_SAME, SEM_ACROSS, COV_ACROSS)]


def choose(rows: list[dict], candidates: list[Thresholds]) -> Thresholds:
    best = max(score(rows, t) for t in candidates)
    tied = [t for t in candidates if score(rows, t) == best]
    # Among equal settings take the middle of the plateau, not its edge.
    return tied[len(tied) // 2]


def metrics(rows: list[dict], picks: dict[str, Thresholds]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    return {"questions": len(rows),
            "accuracy": round(sum(right(r, picks[r["id"]]) for r in rows) / len(rows), 3) if rows else None,
            "answerable_refused": sum(not found(r, picks[r["id"]]) for r in ans),
            "unanswerable_refused": f"{sum(not found(r, picks[r['id']]) for r in una)} of {len(una)}",
            "wrong_answers_given": sum(found(r, picks[r["id"]]) and not right(r, picks[r["id"]]) for r in rows)}


def folds(rows: list[dict], k: int, seed: int) -> list[list[dict]]:
    """k folds, each with a share of every (set, kind, answerable) group."""
    rng = random.Random(seed)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["set"], r["kind"], r["answerable"])].append(r)
    out: list[list[dict]] = [[] for _ in range(k)]
    i = 0
    for key in sorted(groups):
        g = groups[key]
        rng.shuffle(g)
        for r in g:
            out[i % k].append(r)
            i += 1
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", required=True, help="index of corpus/ + ../shared/corpus-extra")
    p.add_argument("--sets", default="seed_dev,corpus_dev," + str(OFFTOPIC),
                   help="names of ../shared/eval sets or paths of .jsonl files (default: %(default)s)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    a = Assistant.open(args.index, thresholds=OPEN)
    questions = []
    for name in args.sets.split(","):
        # a dev set of ../shared/eval by name, or a file of the same form by path
        path = Path(name) if name.endswith(".jsonl") else SHARED / "eval" / f"{name}.jsonl"
        for q in load_questions(path):
            questions.append({**q, "_set": path.stem})
    rows = [record(a, q) for q in questions]
    candidates = grid()
    chosen = choose(rows, candidates)
    held_out: dict[str, Thresholds] = {}
    per_fold = []
    for i, test in enumerate(folds(rows, args.folds, args.seed)):
        train = [r for r in rows if r not in test]
        t = choose(train, candidates)
        per_fold.append(t.__dict__)
        held_out.update({r["id"]: t for r in test})
    by = lambda key: {v: metrics([r for r in rows if r[key] == v], held_out)  # noqa: E731
                      for v in sorted({r[key] for r in rows})}
    report = {"chosen_on_all": chosen.__dict__, "in_sample": metrics(rows, {r["id"]: chosen for r in rows}),
              "held_out": {"overall": metrics(rows, held_out), "by_set": by("set"), "by_kind": by("kind"),
                           "by_lang": by("lang")},
              "folds": per_fold, "k": args.folds, "seed": args.seed, "sets": args.sets,
              "questions": rows}
    print(json.dumps(report, ensure_ascii=False))
    print(f"chosen on all: {chosen}", file=sys.stderr)
    print(f"in sample: {report['in_sample']}", file=sys.stderr)
    print(f"held out ({args.folds}-fold): {report['held_out']['overall']}", file=sys.stderr)
    for kind, m in report["held_out"]["by_kind"].items():
        print(f"  {kind:16} {m}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
