"""LLM answer mode on ../shared/eval/seed_dev.jsonl: time to first token, total time, and
what the citation check makes of the answers.

    python benchmarks/llm.py [--base-url URL --model NAME] [--index DIR] [--timeout S] [--limit N]
    python benchmarks/llm.py --scripted          # no model: the check itself, measured

Against a real endpoint ($POLICYQA_LLM_BASE_URL / $POLICYQA_LLM_MODEL or the flags) it
reports, per answerable question: time to first token, total time, the share of answer
sentences with a verified citation, the share flagged, and how often it fell back.

`--scripted` answers through the tests' scripted OpenAI-compatible server
(tests/fake_llm.py) with known truth: for each question it quotes the passage sentence
that holds the gold evidence, cited (a supported sentence), and adds one false sentence
(the quoted sentence with its numbers changed, or a claim about something the sources do
not say) with a citation. The share of supported sentences verified and of planted false
sentences flagged then measure the checker, not a model.

A table goes to stderr, one JSON object to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _setup import SEED, SHARED  # noqa: E402  (offline env, repository on sys.path)

from assistant.core import Assistant  # noqa: E402
from assistant.llm import LLMConfig  # noqa: E402
from assistant.types import Answer  # noqa: E402
from assistant.verify import CLAIM_PROBLEMS, split_claims  # noqa: E402
from ingest import ingest  # noqa: E402

FALSE_CLAIMS = {True: "该文件还规定北京须在两年内建成十座大型国际机场。",
                False: "The document also requires Beijing to build ten large international airports within two years."}


def scripted_behaviour(question_of):
    """A model that quotes the gold sentence and adds one planted false sentence."""
    from tests.fake_llm import Reply, sources

    def reply(messages):
        q = question_of(messages)
        srcs = sources(messages)
        ev = q["evidence"][0]
        n, text = next(((n, t) for n, t in srcs.items() if ev in t), (None, None))
        if n is None:
            return Reply("资料中没有相关内容。" if q["lang"] == "zh" else "The sources do not say.")
        sent = next((s for s in re.findall(r"[^。！？]+[。！？]?", text) if ev in s), ev).strip()
        digits = re.findall(r"\d+(?:\.\d+)?", sent)
        false = (sent.replace(digits[0], str(int(float(digits[0]) * 3 + 7)), 1) if digits
                 else FALSE_CLAIMS[q["lang"] == "zh"])
        # For English questions the model quotes in Chinese; the language check would ask
        # again, so the scripted model keeps to Chinese questions' behaviour for both.
        return Reply(f"{sent}[{n}]{false}[{n}]", chunk_delay=0.005)
    return reply


def run(assistant: Assistant, questions: list[dict], llm: LLMConfig, scripted: bool) -> dict:
    rows = []
    for q in questions:
        t0 = time.monotonic()
        first = None
        ans = None
        for item in assistant.ask_stream(q["question"], mode="llm", llm=llm):
            if isinstance(item, Answer):
                ans = item
            elif first is None:
                first = time.monotonic() - t0
        total = time.monotonic() - t0
        spans = split_claims(ans.text) if ans.mode == "llm" else []
        flagged = [(f.start, f.end) for f in ans.flags if f.kind in CLAIM_PROBLEMS]
        is_flagged = [any(a <= s < b for a, b in flagged) for s, _ in spans]
        cited = [bool(re.search(r"\[\d+\]", ans.text[s:e])) for s, e in spans]
        row = {"id": q["id"], "lang": q["lang"], "mode": ans.mode, "found": ans.found,
               "ttft_s": round(first, 3) if first is not None else None, "total_s": round(total, 3),
               "sentences": len(spans), "verified": sum(c and not f for c, f in zip(cited, is_flagged)),
               "flagged": sum(is_flagged), "notice": ans.notice[:120]}
        if scripted and ans.mode == "llm":
            row["true_verified"] = int(bool(spans) and cited[0] and not is_flagged[0])
            row["false_flagged"] = int(len(spans) > 1 and is_flagged[-1])
        rows.append(row)
    return {"questions": rows, "summary": summarise(rows, scripted)}


def summarise(rows: list[dict], scripted: bool) -> dict:
    llm_rows = [r for r in rows if r["mode"] == "llm"]
    sents = sum(r["sentences"] for r in llm_rows)
    ttft = [r["ttft_s"] for r in rows if r["ttft_s"] is not None]
    out = {"n": len(rows), "answered_by_llm": len(llm_rows),
           "fallbacks": sum(1 for r in rows if r["mode"] != "llm" and r["notice"] and "not asked" not in r["notice"]),
           "not_asked": sum(1 for r in rows if "not asked" in r["notice"]),
           "ttft_median_s": round(statistics.median(ttft), 3) if ttft else None,
           "total_median_s": round(statistics.median([r["total_s"] for r in rows]), 3),
           "sentences": sents,
           "verified_share": round(sum(r["verified"] for r in llm_rows) / sents, 3) if sents else None,
           "flagged_share": round(sum(r["flagged"] for r in llm_rows) / sents, 3) if sents else None}
    if scripted and llm_rows:
        out["true_sentences_verified"] = round(sum(r["true_verified"] for r in llm_rows) / len(llm_rows), 3)
        out["false_sentences_flagged"] = round(sum(r["false_flagged"] for r in llm_rows) / len(llm_rows), 3)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url")
    p.add_argument("--model")
    p.add_argument("--timeout", type=float)
    p.add_argument("--index", help="an index holding the seed article (default: build one in a temp folder)")
    p.add_argument("--limit", type=int)
    p.add_argument("--scripted", action="store_true", help="the scripted server with planted false sentences")
    args = p.parse_args()
    questions = [json.loads(x) for x in (SHARED / "eval" / "seed_dev.jsonl").read_text("utf-8").splitlines() if x]
    questions = [q for q in questions if q.get("answerable", True) and q.get("evidence")][:args.limit]
    tmp = tempfile.TemporaryDirectory()
    index = Path(args.index) if args.index else Path(tmp.name) / "index"
    if not args.index:
        ingest([SEED], index, progress=False)
    assistant = Assistant.open(index)
    server = None
    if args.scripted:
        from tests.fake_llm import FakeLLM
        by_text = {q["question"]: q for q in questions}

        def question_of(messages):
            m = re.search(r"<question>\n(.*?)\n</question>", messages[-1]["content"], re.S)
            return by_text[m.group(1)] if m and m.group(1) in by_text else questions[0]
        server = FakeLLM().script(scripted_behaviour(question_of))
        # English questions: the scripted model answers in Chinese, so ask them as the
        # Chinese rows do (the language check is tested on its own in tests/test_llm.py).
        questions = [q for q in questions if q["lang"] == "zh"]
        llm = LLMConfig(server.url, "scripted", timeout=args.timeout or 30)
    else:
        llm = LLMConfig.from_env(os.environ).with_(base_url=args.base_url, model=args.model, timeout=args.timeout)
        if not llm.configured:
            p.error("no endpoint: set POLICYQA_LLM_BASE_URL and POLICYQA_LLM_MODEL, pass --base-url and "
                    "--model, or use --scripted")
    result = run(assistant, questions, llm, args.scripted)
    result["endpoint"] = "scripted" if args.scripted else llm.describe()
    if server:
        server.close()
    s = result["summary"]
    print(f"{'endpoint':24} {result['endpoint']}", file=sys.stderr)
    for k, v in s.items():
        print(f"{k:24} {v}", file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
