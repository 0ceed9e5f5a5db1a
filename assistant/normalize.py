"""Query normalisation: width forms, Traditional -> Simplified, content words for BM25."""
from __future__ import annotations

import re
import threading
import unicodedata

from ingest.errors import BadQuery
from ingest.tokenize import tokenize_for_index
from ingest.zhtext import CONTENT_CHAR, EN_STOP, HAN_CHAR, ZH_STOP

MAX_QUERY_CHARS = 1000
_t2s = None
_t2s_lock = threading.Lock()


def to_simplified(text: str) -> str:
    global _t2s
    with _t2s_lock:
        if _t2s is None:
            import opencc
            _t2s = opencc.OpenCC("t2s")
    return _t2s.convert(text)


def normalize_query(query: str) -> str:
    """Half-width letters and digits, Simplified characters, single spaces.

    Raises BadQuery for empty, over-long or content-free questions.
    """
    if query is None or not query.strip():
        raise BadQuery("the question is empty: type a question or a few words to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise BadQuery(f"the question is {len(query)} characters long; keep it under {MAX_QUERY_CHARS} "
                       "(ask about one thing at a time)")
    q = unicodedata.normalize("NFKC", query)
    if not CONTENT_CHAR.search(q):
        raise BadQuery("the question has no words in it (only punctuation, symbols or emoji)")
    if HAN_CHAR.search(q):
        q = to_simplified(q)
    return re.sub(r"\s+", " ", q).strip()


def content_terms(query: str) -> list[str]:
    """BM25 tokens of a (normalised) query without question and function words."""
    out = []
    for t in tokenize_for_index(query):
        if t in ZH_STOP or t in EN_STOP:
            continue
        out.append(t)
    return out
