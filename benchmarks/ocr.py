"""OCR benchmark: scanned renderings of the seed article and three corpus-extra documents
(tests/scans.py: typeset with PyMuPDF, "scanned" at 300 dpi, one of them blurred, rotated
1.2 degrees and JPEG-compressed) read back at several resolutions; character accuracy
after cleaning and pages per minute at each, then seed_dev over the OCR'd seed article
against the text version. Prints one JSON object on stdout (tables on stderr):

    python benchmarks/ocr.py [--dpi 150,200,300] [--pages 2] [--eval-dpi 150] [--no-eval]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, SEED, SHARED  # noqa: E402  (offline env, repository on sys.path)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dpi", default="150,200,300", help="resolutions to compare (default 150,200,300)")
    p.add_argument("--pages", type=int, default=2, help="pages of each corpus-extra document (the seed: all)")
    p.add_argument("--eval-dpi", type=int, default=150, help="resolution of the OCR'd seed for seed_dev (default 150)")
    p.add_argument("--no-eval", action="store_true", help="skip the seed_dev comparison")
    return p.parse_args(argv)


def renderings(work: Path, pages: int) -> list[dict]:
    from tests import scans
    docs = [("seed", SEED, None, False)] + [
        (name.split("_")[1], SHARED / "corpus-extra" / name, pages, name == scans.DEGRADED) for name in scans.EXTRA]
    out = []
    for label, path, n, degrade in docs:
        printed = scans.printed_pages(path, n)
        pdf = scans.scan_pdf(scans.text_pdf(printed), work / f"{label}.pdf", degrade=degrade)
        out.append({"name": label, "file": pdf, "pages": len(printed), "degraded": degrade,
                    "reference": scans.printed_text(printed)})
    return out


def read(item: dict, dpi: int, cache: Path) -> dict:
    from ingest.chunk import ChunkSettings
    from ingest.ocr import OcrSettings, Recognizer
    from ingest.pipeline import prepare_document
    from tests.scans import char_accuracy
    warnings: list[str] = []
    t0 = time.perf_counter()
    with Recognizer(OcrSettings(dpi=dpi, page_seconds=600, cache_dir=cache)) as ocr:
        ocr.lines(b"\xff" * 64 * 64, 64, 64)          # start the worker outside the timing
        t0 = time.perf_counter()
        prep = prepare_document(item["file"], item["name"], ChunkSettings(), 2**30, warnings, ocr)
        seconds = time.perf_counter() - t0
    confidences = [c.ocr_confidence for c in prep.chunks if c.ocr_confidence is not None]
    return {"name": item["name"], "dpi": dpi, "pages": item["pages"], "degraded": item["degraded"],
            "seconds": round(seconds, 1), "pages_per_min": round(60 * item["pages"] / seconds, 2),
            "char_accuracy": round(char_accuracy(prep.doc.text, item["reference"]), 4),
            "mean_confidence": round(sum(confidences) / len(confidences), 4) if confidences else None,
            "min_chunk_confidence": min(confidences) if confidences else None, "warnings": warnings}


def seed_eval(seed_pdf: Path, dpi: int, cache: Path, work: Path) -> dict:
    from assistant import Assistant
    from assistant.evaluate import evaluate, load_questions
    from ingest import ingest
    from ingest.ocr import OcrSettings
    questions = load_questions(SHARED / "eval" / "seed_dev.jsonl")
    out = {}
    for label, path in (("text", SEED), ("ocr", seed_pdf)):
        index = work / f"index-{label}"
        ingest([path], index, progress=False, ocr=OcrSettings(dpi=dpi, page_seconds=600, cache_dir=cache))
        report = evaluate(Assistant.open(index), questions, k=5)
        m = report.overall
        out[label] = {"recall_at_5": m.recall_at_5, "mrr_at_10": round(m.mrr_at_10, 4),
                      "answer_accuracy": m.answer_accuracy, "false_refusals": m.false_refusals,
                      "refusal_accuracy": m.refusal_accuracy,
                      "missed": [q.id for q in report.questions if not q.answer_ok]}
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (SHARED / "corpus-extra").is_dir():
        sys.exit(f"benchmarks/ocr.py: {SHARED / 'corpus-extra'} not found")
    from ingest.ocr import unavailable
    if unavailable():
        sys.exit(f"benchmarks/ocr.py: {unavailable()}")
    dpis = [int(x) for x in args.dpi.split(",")]
    result = {"machine": {"cores": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()]},
              "runs": []}
    with tempfile.TemporaryDirectory(prefix="ocr-bench-") as tmp:
        work = Path(tmp)
        items = renderings(work, args.pages)
        for dpi in dpis:
            cache = work / f"cache-{dpi}"
            for item in items:
                run = read(item, dpi, cache)
                result["runs"].append(run)
                print(f"{dpi:4d} dpi  {run['name']:<14} {run['pages']} p  acc {run['char_accuracy']:.4f}  "
                      f"{run['pages_per_min']:5.2f} pages/min  conf {run['mean_confidence']}", file=sys.stderr)
        result["by_dpi"] = {}
        for dpi in dpis:
            runs = [r for r in result["runs"] if r["dpi"] == dpi]
            pages = sum(r["pages"] for r in runs)
            result["by_dpi"][dpi] = {
                "pages": pages, "pages_per_min": round(60 * pages / sum(r["seconds"] for r in runs), 2),
                "char_accuracy_min": min(r["char_accuracy"] for r in runs),
                "char_accuracy_mean": round(sum(r["char_accuracy"] * r["pages"] for r in runs) / pages, 4)}
            print(f"{dpi:4d} dpi: {result['by_dpi'][dpi]}", file=sys.stderr)
        if not args.no_eval:
            seed = next(i for i in items if i["name"] == "seed")
            result["seed_dev"] = {"dpi": args.eval_dpi, **seed_eval(seed["file"], args.eval_dpi,
                                                                     work / f"cache-{args.eval_dpi}", work)}
            print(f"seed_dev: {result['seed_dev']}", file=sys.stderr)
    result["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
