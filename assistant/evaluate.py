"""Retrieval and answer metrics over a JSONL question file (format: DESIGN.md, "Evaluation data").

A retrieved passage is a hit when, with all whitespace removed from both, it contains any
evidence string. Recall@k and MRR@10 count answerable questions only. An answer is right
when `found` is true and its text contains every `answer_contains` string; an
unanswerable question is answered right when `found` is false.
"""
from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from ingest.errors import BadEvalFile, BadQuery

_WS = re.compile(r"\s+")


# -- the two rules -------------------------------------------------------------------

def squash(text: str) -> str:
    """The text with every whitespace character (full-width spaces too) removed."""
    return _WS.sub("", text)


def is_hit(passage: str, evidence: Iterable[str]) -> bool:
    """True when the passage contains any evidence string, whitespace ignored on both sides."""
    p = squash(passage)
    return any(e and e in p for e in (squash(x) for x in evidence))


def first_hit_rank(passages: Iterable[str], evidence: Iterable[str]) -> int | None:
    """1-based rank of the first passage that is a hit, or None."""
    evidence = list(evidence)
    for rank, text in enumerate(passages, 1):
        if is_hit(text, evidence):
            return rank
    return None


def answer_is_right(question: dict, found: bool, text: str) -> bool:
    if not question["answerable"]:
        return not found
    t = squash(text)
    return found and all(squash(s) in t for s in question.get("answer_contains", []))


# -- results -------------------------------------------------------------------------

@dataclass(frozen=True)
class QuestionResult:
    """One question: where its evidence was first retrieved and whether the answer was right."""
    id: str
    lang: str
    answerable: bool
    kind: str
    rank: int | None             # first hit among the retrieved passages; None: not retrieved
    found: bool                  # what the assistant said
    answer_ok: bool
    search_ms: float
    ask_ms: float
    error: str = ""              # BadQuery message, when the assistant refused the input

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Metrics:
    """Scores of one group of questions; rates are None when the group has nobody to count."""
    questions: int
    answerable: int
    unanswerable: int
    recall_at_1: float | None
    recall_at_5: float | None
    recall_at_10: float | None
    recall_at_k: float | None    # k as in EvalReport.k (the headline Recall@k)
    mrr_at_10: float | None
    answer_accuracy: float | None        # over all questions
    refusal_accuracy: float | None       # share of unanswerable questions refused (found false)
    false_refusals: int                  # answerable questions with found false
    false_refusal_rate: float | None     # ... as a share of answerable questions

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Latency:
    """Milliseconds per call during the run."""
    search_median_ms: float | None
    search_p95_ms: float | None
    ask_median_ms: float | None
    ask_p95_ms: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EvalReport:
    """What `policyqa eval` prints; `to_dict()` is its `--json` output."""
    k: int
    overall: Metrics
    by_lang: dict[str, Metrics]
    latency: Latency
    questions: tuple[QuestionResult, ...] = field(default=())
    by_kind: dict[str, Metrics] = field(default_factory=dict)   # by the questions' `kind`, when they have one

    def to_dict(self) -> dict:
        return {"k": self.k, "overall": self.overall.to_dict(),
                "by_lang": {lang: m.to_dict() for lang, m in self.by_lang.items()},
                "by_kind": {kind: m.to_dict() for kind, m in self.by_kind.items()},
                "latency": self.latency.to_dict(),
                "questions": [q.to_dict() for q in self.questions]}


# -- loading -------------------------------------------------------------------------

def check_question(q: object, where: str) -> dict:
    """The question dict with defaults filled in; BadEvalFile naming `where` when it is malformed."""
    def bad(msg: str) -> BadEvalFile:
        return BadEvalFile(f"{where}: {msg} (each line needs id, lang, question, answerable, evidence, "
                           "answer_contains; see DESIGN.md 'Evaluation data')")

    if not isinstance(q, dict):
        raise bad(f"expected a JSON object, got {type(q).__name__}")
    for key in ("id", "question"):
        if not isinstance(q.get(key), str) or not q[key].strip():
            raise bad(f"{key!r} must be a non-empty string")
    if not isinstance(q.get("answerable"), bool):
        raise bad("'answerable' must be true or false")
    out = dict(q)
    out["lang"] = q.get("lang") or "?"
    if not isinstance(out["lang"], str):
        raise bad("'lang' must be a string such as \"zh\" or \"en\"")
    out["kind"] = q.get("kind") or ""
    if not isinstance(out["kind"], str):
        raise bad("'kind' must be a string such as \"dated-fact\"")
    for key in ("evidence", "answer_contains"):
        value = q.get(key) if q.get(key) is not None else []
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise bad(f"{key!r} must be a list of strings")
        out[key] = value
    if q["answerable"] and not any(squash(s) for s in out["evidence"]):
        raise bad(f"question {q['id']!r} is answerable but has no evidence string to look for")
    return out


def load_questions(path: str | Path) -> list[dict]:
    """The questions of a JSONL file; BadEvalFile naming the line of the first malformed one."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise BadEvalFile(f"{path}: no such question file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadEvalFile(f"{path}: cannot read it as UTF-8 text ({e})") from e
    questions, seen = [], {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadEvalFile(f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno}); "
                              "write one JSON object per line") from None
        q = check_question(raw, f"{path}:{n}")
        if q["id"] in seen:
            raise BadEvalFile(f"{path}:{n}: id {q['id']!r} was already used on line {seen[q['id']]}; "
                              "ids must be unique")
        seen[q["id"]] = n
        questions.append(q)
    if not questions:
        raise BadEvalFile(f"{path}: no questions in the file")
    return questions


# -- running -------------------------------------------------------------------------

def evaluate(assistant, questions: list[dict], k: int = 5, *, warm_up: bool = True) -> EvalReport:
    """Search and ask every question once; metrics overall and by language.

    With warm_up, the first question is searched and asked once untimed before the run,
    so one-off lazy loading (models, jieba, BM25) does not land in the latency figures.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    qs = [check_question(q, f"question {i + 1}") for i, q in enumerate(questions)]
    depth = max(10, k)
    if warm_up and qs:
        with contextlib.suppress(BadQuery):
            assistant.search(qs[0]["question"], depth)
            assistant.ask(qs[0]["question"])
    results = []
    for q in qs:
        error = ""
        t0 = time.perf_counter()
        try:
            hits = assistant.search(q["question"], depth)
        except BadQuery as e:
            hits, error = [], str(e)
        t1 = time.perf_counter()
        try:
            ans = assistant.ask(q["question"])
            found, text = bool(ans.found), ans.text
        except BadQuery as e:
            found, text, error = False, "", error or str(e)
        t2 = time.perf_counter()
        rank = first_hit_rank((h.text for h in hits), q["evidence"]) if q["answerable"] else None
        results.append(QuestionResult(q["id"], q["lang"], q["answerable"], q["kind"], rank, found,
                                      answer_is_right(q, found, text),
                                      round((t1 - t0) * 1000, 3), round((t2 - t1) * 1000, 3), error))
    langs = sorted({r.lang for r in results})
    kinds = sorted({r.kind for r in results if r.kind})
    return EvalReport(k, metrics(results, k), {lang: metrics([r for r in results if r.lang == lang], k)
                                                for lang in langs},
                      latency(results), tuple(results),
                      {kind: metrics([r for r in results if r.kind == kind], k) for kind in kinds})


def retrieval_scores(ranks: list[int | None], k: int = 5) -> dict:
    """Recall@1/5/10/k and MRR@10 of first-hit ranks (None: not retrieved); rates None when empty."""
    n = len(ranks)

    def recall(at: int) -> float | None:
        return sum(1 for r in ranks if r is not None and r <= at) / n if n else None

    return {"recall_at_1": recall(1), "recall_at_5": recall(5), "recall_at_10": recall(10),
            "recall_at_k": recall(k),
            "mrr_at_10": sum(1 / r for r in ranks if r is not None and r <= 10) / n if n else None}


def metrics(results: list[QuestionResult], k: int = 5) -> Metrics:
    """The scores of a group of question results."""
    ans = [r for r in results if r.answerable]
    una = [r for r in results if not r.answerable]

    def share(n: int, of: int) -> float | None:
        return n / of if of else None

    false_refusals = sum(1 for r in ans if not r.found)
    return Metrics(len(results), len(ans), len(una), **retrieval_scores([r.rank for r in ans], k),
                   answer_accuracy=share(sum(r.answer_ok for r in results), len(results)),
                   refusal_accuracy=share(sum(1 for r in una if not r.found), len(una)),
                   false_refusals=false_refusals, false_refusal_rate=share(false_refusals, len(ans)))


def latency(results: list[QuestionResult]) -> Latency:
    def stats(xs: list[float]) -> tuple[float | None, float | None]:
        if not xs:
            return None, None
        return round(float(np.median(xs)), 3), round(float(np.percentile(xs, 95)), 3)

    s = stats([r.search_ms for r in results])
    a = stats([r.ask_ms for r in results])
    return Latency(s[0], s[1], a[0], a[1])


# -- display -------------------------------------------------------------------------

def format_table(report: EvalReport) -> str:
    """A plain-text table: one column overall, one per language; then one per kind of
    question (when the file says kinds); then latency and misses."""
    text = _table([("all", report.overall)] + list(report.by_lang.items()), report.k)
    if report.by_kind:
        text += "\n\n" + _kind_table(report.by_kind)
    return text + "\n" + _misses(report)


def _kind_table(by_kind: dict[str, Metrics]) -> str:
    """One row per kind of question: the few figures that say how each kind fares."""
    def rate(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    head = ("kind", "questions", "Recall@5", "MRR@10", "accuracy", "refused unans.", "false refusals")
    rows = [(kind, str(m.questions), rate(m.recall_at_5), rate(m.mrr_at_10), rate(m.answer_accuracy),
             rate(m.refusal_accuracy), str(m.false_refusals)) for kind, m in by_kind.items()]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head, *rows]]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _table(cols: list[tuple[str, Metrics]], k: int) -> str:
    def rate(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    rows: list[tuple[str, list[str]]] = [
        ("questions", [str(m.questions) for _, m in cols]),
        ("answerable", [str(m.answerable) for _, m in cols]),
        ("unanswerable", [str(m.unanswerable) for _, m in cols]),
        ("Recall@1", [rate(m.recall_at_1) for _, m in cols]),
        ("Recall@5", [rate(m.recall_at_5) for _, m in cols]),
        ("Recall@10", [rate(m.recall_at_10) for _, m in cols]),
    ]
    if k not in (1, 5, 10):
        rows.append((f"Recall@{k}", [rate(m.recall_at_k) for _, m in cols]))
    rows += [
        ("MRR@10", [rate(m.mrr_at_10) for _, m in cols]),
        ("answer accuracy", [rate(m.answer_accuracy) for _, m in cols]),
        ("refusal accuracy", [rate(m.refusal_accuracy) for _, m in cols]),
        ("false refusals", [f"{m.false_refusals} ({rate(m.false_refusal_rate)})" for _, m in cols]),
    ]
    w0 = max(len(r[0]) for r in rows)
    widths = [max(len(name), *(len(r[1][i]) for r in rows)) for i, (name, _) in enumerate(cols)]
    lines = [" " * w0 + "".join(f"  {name:>{w}}" for (name, _), w in zip(cols, widths))]
    lines.append("-" * len(lines[0]))
    for label, cells in rows:
        lines.append(f"{label:<{w0}}" + "".join(f"  {c:>{w}}" for c, w in zip(cells, widths)))
    return "\n".join(lines)


def _misses(report: EvalReport) -> str:
    lat = report.latency

    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}"

    lines = ["", f"latency ms   search median {ms(lat.search_median_ms)}  p95 {ms(lat.search_p95_ms)}"
                  f"   ask median {ms(lat.ask_median_ms)}  p95 {ms(lat.ask_p95_ms)}"]
    not_retrieved = [r.id for r in report.questions if r.answerable and (r.rank is None or r.rank > 10)]
    wrong = [r.id for r in report.questions if not r.answer_ok]
    errors = [f"{r.id}: {r.error}" for r in report.questions if r.error]
    if not_retrieved:
        lines.append(f"evidence not in top 10: {', '.join(not_retrieved)}")
    if wrong:
        lines.append(f"answers wrong: {', '.join(wrong)}")
    lines += [f"refused input: {e}" for e in errors]
    return "\n".join(lines)
