"""Web app benchmark: how fast `python ui.py` serves, and how fast answers appear in a browser.

- startup: seconds from starting `python ui.py` to the page answering HTTP 200 (median of runs)
- in headless Chromium, for each dev question: milliseconds from pressing Enter to the first
  streamed answer characters, and to the complete answer with its source cards (medians)

The index is built from corpus/ in a temp folder (or --index DIR). Needs /usr/bin/chromium and
playwright (`make browser-deps`). Prints one JSON object on stdout:

    python benchmarks/ui.py [--questions FILE.jsonl] [--runs 3] [--index DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _setup import ROOT  # noqa: E402  (offline env, repository on sys.path)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Resolves with performance.now() stamps: Enter pressed, first answer text, complete answer.
WATCH = """() => { window.__pqBench = new Promise(resolve => {
  const t = {};
  const onKey = e => {
    if (e.key === 'Enter' && e.target.closest && e.target.closest('#pq-question')) {
      t.enter = performance.now(); document.removeEventListener('keydown', onKey, true);
    }
  };
  document.addEventListener('keydown', onKey, true);
  const chat = document.querySelector('#pq-chat');
  const obs = new MutationObserver(() => {
    if (!t.enter) return;
    if (!t.first && chat.querySelector('.pq-answer')) t.first = performance.now();
    if (chat.querySelector('.pq-answer:not(.pq-streaming), .pq-error')) {
      t.done = performance.now(); t.found = !!chat.querySelector('.pq-found');
      t.error = !!chat.querySelector('.pq-error');
      obs.disconnect(); resolve(t);
    }
  });
  obs.observe(chat, {subtree: true, childList: true, characterData: true});
  setTimeout(() => { obs.disconnect(); t.timeout = true; resolve(t); }, 120000);
}); }"""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--questions", default=str(ROOT.parent / "shared" / "eval" / "seed_dev.jsonl"),
                   help="JSONL questions (default ../shared/eval/seed_dev.jsonl)")
    p.add_argument("--runs", type=int, default=3, help="startups to time (default 3)")
    p.add_argument("--index", metavar="DIR", help="use this index instead of building one from corpus/")
    return p.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


APP_LOG: Path | None = None     # output of the app started last


def start_app(index_dir: Path, env: dict) -> tuple[subprocess.Popen, str, float]:
    """Start `python ui.py`; return the process, its URL and the seconds until HTTP 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    global APP_LOG
    APP_LOG = Path(tempfile.mkstemp(prefix="policyqa-ui-bench-app-", suffix=".log")[1])
    with open(APP_LOG, "wb") as log:   # kept for the error message when the app misbehaves
        proc = subprocess.Popen([sys.executable, "ui.py", "--index", str(index_dir), "--port", str(port)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    while True:
        if proc.poll() is not None:
            sys.exit(f"benchmarks/ui.py: the app exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - t0
        except OSError:
            pass
        if time.perf_counter() - t0 > 180:
            proc.kill()
            sys.exit("benchmarks/ui.py: the app did not answer HTTP within 180 s")
        time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    """Stop the app; its log is kept only when the run fails."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    if APP_LOG is not None and sys.exc_info()[0] is None:    # not while a failure propagates
        APP_LOG.unlink(missing_ok=True)


def ask_in_browser(page, question: str) -> dict:
    page.click("text=清空对话 Clear chat")
    page.wait_for_function("() => !document.querySelector('#pq-chat .pq-answer')")
    page.evaluate(WATCH)
    page.fill("#pq-question textarea", question)
    page.press("#pq-question textarea", "Enter")
    t = page.evaluate("() => window.__pqBench")
    if t.get("timeout") or t.get("error") or "enter" not in t:
        tail = APP_LOG.read_text("utf-8", "replace")[-3000:] if APP_LOG else ""
        sys.exit(f"benchmarks/ui.py: no answer in the page for {question!r}: {t}\napp log {APP_LOG}:\n{tail}")
    return {"first_ms": t["first"] - t["enter"], "complete_ms": t["done"] - t["enter"], "found": t["found"]}


def summary(values: list[float]) -> dict:
    values = sorted(values)
    return {"median": round(statistics.median(values), 1),
            "p90": round(values[min(len(values) - 1, int(0.9 * len(values)))], 1),
            "min": round(values[0], 1), "max": round(values[-1], 1)}


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    from ingest import ingest
    qfile = Path(args.questions)
    if not qfile.is_file():
        sys.exit(f"benchmarks/ui.py: {qfile} not found (pass --questions FILE.jsonl)")
    questions = [json.loads(line)["question"] for line in qfile.read_text("utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="policyqa-ui-bench-") as tmp:
        env = {**os.environ, "POLICYQA_CACHE_DIR": os.environ.get("POLICYQA_CACHE_DIR") or str(Path(tmp) / "cache")}
        index_dir = Path(args.index) if args.index else Path(tmp) / "index"
        if not args.index:
            ingest([ROOT / "corpus"], index_dir, cache_path=Path(env["POLICYQA_CACHE_DIR"]) / "embeddings.sqlite",
                   progress=False)
        startups = []
        for _ in range(max(1, args.runs) - 1):
            proc, _, seconds = start_app(index_dir, env)
            startups.append(seconds)
            stop(proc)
        proc, url, seconds = start_app(index_dir, env)
        startups.append(seconds)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(120_000)
                t0 = time.perf_counter()
                page.goto(url)
                page.wait_for_selector("#pq-question textarea")
                page_load = time.perf_counter() - t0
                first_question = ask_in_browser(page, questions[0])     # the index warms up meanwhile
                timings = []
                for i, q in enumerate(questions, 1):
                    timings.append(ask_in_browser(page, q))
                    print(f"{i}/{len(questions)} {timings[-1]['complete_ms']:.0f} ms  {q[:50]}", file=sys.stderr)
                browser.close()
        finally:
            stop(proc)
    return {
        "startup_to_http_s": {"runs": [round(s, 2) for s in startups],
                              "median": round(statistics.median(startups), 2)},
        "page_load_s": round(page_load, 2),
        "first_question_after_start_ms": {k: round(v, 1) if isinstance(v, float) else v
                                          for k, v in first_question.items()},
        "questions": len(timings),
        "found": sum(t["found"] for t in timings),
        "enter_to_first_chars_ms": summary([t["first_ms"] for t in timings]),
        "enter_to_complete_answer_ms": summary([t["complete_ms"] for t in timings]),
        "question_file": str(qfile),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def main(argv=None) -> int:
    result = run(parse_args(argv))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
