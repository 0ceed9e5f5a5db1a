"""Term lookup latency: `lookup_all` (glossary + CC-CEDICT + concordance) over ~50 terms.

    python benchmarks/lookup.py [--index DIR] [--shared PATH] [--repeat N]

Without --index, the seed article and ../shared/corpus-extra/*.txt are loaded, cleaned and
chunked in memory (no embedding: a concordance needs none). The first lookup pays for
loading CC-CEDICT and jieba; it is reported apart (`cold_ms`) and the timed rounds start
warm. One JSON object goes to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from _setup import ROOT, SEED  # noqa: E402  (offline env, repository on sys.path)

# Chinese (some in Traditional characters), English, and words outside the glossary.
TERMS_ZH = ["科技自立自强", "国际科技创新中心", "專精特新", "专精特新“小巨人”企业", "三城一区", "新型举国体制",
            "高质量发展", "新质生产力", "京津冀协同发展", "粤港澳大湾区", "長三角一體化", "十四五", "创新驱动发展战略",
            "供给侧结构性改革", "放管服", "双循环", "科技成果转化", "職務科技成果", "国家实验室", "卡脖子",
            "关键核心技术", "基础研究", "营商环境", "专利", "知识产权", "人才", "国务院办公厅", "通知",
            "苹果", "天气预报"]
TERMS_EN = ["new quality productive forces", "international science and technology innovation center",
            "SRDI", "little giant", "supply-side structural reform", "Belt and Road Initiative",
            "patent", "intellectual property rights", "basic research", "negative list", "business environment",
            "innovation-driven development", "sponge cities", "R&D intensity", "State Council",
            "national laboratory", "venture capital", "talent", "apple", "weather forecast"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", metavar="DIR", help="an existing index (default: build one in memory, unembedded)")
    p.add_argument("--shared", metavar="PATH", default=str(ROOT.parent / "shared"),
                   help="the shared data folder holding corpus-extra/ (default: ../shared)")
    p.add_argument("--repeat", type=int, default=3, help="timed rounds over all terms (default 3)")
    return p.parse_args(argv)


def in_memory_index(shared: Path):
    """Seed + corpus-extra, cleaned and chunked, with zero vectors."""
    import numpy as np

    from ingest import store
    from ingest.chunk import ChunkSettings
    from ingest.pipeline import prepare_document
    extra = shared / "corpus-extra"
    if not extra.is_dir():
        sys.exit(f"benchmarks/lookup.py: {extra} not found; pass --shared PATH or --index DIR")
    chunks, docs = [], {}
    for f in [SEED] + sorted(extra.glob("*.txt")):
        p = prepare_document(f, f.stem, ChunkSettings(), 50 * 2**20)
        docs[p.doc_id] = p.doc
        chunks += p.chunks
    return store.IndexData({"embedder": {"dim": 1}}, chunks, docs, np.zeros((len(chunks), 1), np.float32))


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def run(args: argparse.Namespace) -> dict:
    from assistant.glossary import Glossary, lookup_all
    from ingest import store
    t0 = time.perf_counter()
    data = store.load(args.index) if args.index else in_memory_index(Path(args.shared))
    index_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    glossary = Glossary.load()
    lookup_all(TERMS_ZH[0], data, glossary=glossary)
    lookup_all(TERMS_EN[0], data, glossary=glossary)      # CC-CEDICT, jieba, opencc all loaded now
    cold_ms = (time.perf_counter() - t0) * 1000

    times: dict[str, list[float]] = {"zh": [], "en": []}
    found = {}
    for _ in range(args.repeat):
        for lang, terms in (("zh", TERMS_ZH), ("en", TERMS_EN)):
            for term in terms:
                t = time.perf_counter()
                r = lookup_all(term, data, glossary=glossary)
                times[lang].append((time.perf_counter() - t) * 1000)
                found[term] = (r.glossary_found, r.concordance.total)
    every = times["zh"] + times["en"]

    def stats(ms: list[float]) -> dict:
        return {"median_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 0.95), 1),
                "max_ms": round(max(ms), 1)}

    return {
        "terms": len(TERMS_ZH) + len(TERMS_EN),
        "rounds": args.repeat,
        "all": stats(every),
        "zh": stats(times["zh"]),
        "en": stats(times["en"]),
        "cold_ms": round(cold_ms, 1),
        "glossary_entries": len(glossary),
        "glossary_hits": sum(1 for g, _ in found.values() if g),
        "terms_with_occurrences": sum(1 for _, n in found.values() if n),
        "documents": len(data.docs),
        "characters": sum(len(d.text) for d in data.docs.values()),
        "chunks": len(data.chunks),
        "index": args.index,
        "seconds_index_load": round(index_seconds, 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def main(argv=None) -> int:
    print(json.dumps(run(parse_args(argv)), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
