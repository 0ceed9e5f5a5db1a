"""Word tokens for BM25: jieba for Chinese, lower-cased words for English.

The same function tokenizes passages at ingest and queries at search time, so that
the two sides always agree.
"""
from __future__ import annotations

import logging
import re
import threading

_WORD = re.compile(r"[0-9A-Za-z\u00c0-\u024f]+(?:[.%][0-9A-Za-z]+)*%?|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_jieba_lock = threading.Lock()
_jieba = None


def _get_jieba():
    """jieba builds its prefix dictionary on first use (~1 s); do it once, quietly."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


def tokenize_for_index(text: str) -> list[str]:
    """Tokens of a passage: jieba words for CJK runs (search mode, so long words also
    yield their parts), lower-cased Latin words and numbers as they are."""
    jieba = _get_jieba()
    out: list[str] = []
    for m in _WORD.finditer(text):
        piece = m.group(0)
        if piece[0].isascii():
            out.append(piece.lower())
        else:
            out.extend(w for w in jieba.cut_for_search(piece) if w.strip())
    return out
