"""Word tokens for BM25: jieba for Chinese, lower-cased words for English.

The same function tokenizes passages at ingest and queries at search time, so that
the two sides always agree.
"""
from __future__ import annotations

import io
import logging
import sqlite3
import sys
import threading
from pathlib import Path

from . import lexicon
from .zhtext import WORD

log = logging.getLogger(__name__)
_jieba_lock = threading.Lock()
_jieba = None
_lex: lexicon.Lexicon | None = None      # the lexicon jieba reads from, when there is one
_pseg = None


def jieba_tokenizer():
    """jieba, its dictionary read from the lexicon file when one is written (see lexicon.py),
    else loaded whole (~1 s) and the lexicon file written for the next process."""
    global _jieba, _lex
    with _jieba_lock:
        if _jieba is None:
            import jieba
            jieba.setLogLevel(logging.WARNING)
            _lex = _open_lexicon(jieba)
            if _lex is None:
                jieba.initialize()
                _write_lexicon(jieba)
            else:
                jieba.dt.FREQ, jieba.dt.total, jieba.dt.initialized = _lex.freq, _lex.total, True
            _jieba = jieba
    return _jieba


def word_tags(text: str) -> list[tuple[str, str]]:
    """jieba's precise cut of `text` with part-of-speech tags (ns place, nr person, n noun ...)."""
    global _pseg
    jieba = jieba_tokenizer()
    with _jieba_lock:
        if _pseg is None:
            _pseg = _import_posseg(jieba)
        return [(w, flag) for w, flag in _pseg.cut(text)]


def _lexicon_path(jieba) -> Path:
    from .settings import active
    return lexicon.path_for(active().cache_folder, Path(jieba.__file__).parent / "dict.txt",
                            jieba.__version__)


def _open_lexicon(jieba) -> lexicon.Lexicon | None:
    try:
        path = _lexicon_path(jieba)
        return lexicon.Lexicon(path, _load_full) if path.is_file() else None
    except (OSError, sqlite3.Error) as e:
        log.info("jieba lexicon unreadable (%s); loading the full dictionary", e)
        return None


def _write_lexicon(jieba) -> None:
    try:
        path = _lexicon_path(jieba)
        if not path.is_file():
            lexicon.write(path, jieba.dt.FREQ, jieba.dt.total, _dict_tags(jieba))
    except OSError as e:
        log.info("jieba lexicon not written (%s)", e)


def _dict_tags(jieba) -> dict[str, str]:
    """Word -> tag, read from dict.txt as jieba.posseg reads it (word, frequency, tag a line)."""
    tags: dict[str, str] = {}
    with jieba.dt.get_dict_file() as f:
        for line in f:
            parts = line.strip().decode("utf-8").split(" ")
            if len(parts) == 3:
                tags[parts[0]] = parts[2]
    return tags


def _load_full() -> tuple[dict[str, int], dict[str, str]]:
    """jieba's full tables, for a process that looks up many words (an ingest) or whose
    lexicon file broke; jieba cuts from the full prefix table directly from then on."""
    import jieba
    full = jieba.Tokenizer()
    full.initialize()
    jieba.dt.FREQ = full.FREQ
    return full.FREQ, _dict_tags(jieba)


def _import_posseg(jieba):
    """jieba.posseg; with the lexicon, without its import-time parse of dict.txt for the tags."""
    if _lex is None or "jieba.posseg" in sys.modules:
        import jieba.posseg as pseg
        return pseg
    # POSTokenizer(jieba.dt) at import reads get_dict_file(): give it an empty one, then the lexicon's tags
    jieba.dt.get_dict_file = lambda: io.BytesIO()
    try:
        import jieba.posseg as pseg
    finally:
        del jieba.dt.get_dict_file
    pseg.dt.word_tag_tab = _lex.tags
    return pseg


def tokenize_for_index(text: str) -> list[str]:
    """Tokens of a passage: jieba words for CJK runs (search mode, so long words also
    yield their parts), lower-cased Latin words and numbers as they are."""
    jieba = jieba_tokenizer()
    out: list[str] = []
    for m in WORD.finditer(text):
        piece = m.group(0)
        if piece[0].isascii():
            out.append(piece.lower())
        else:
            out.extend(w for w in jieba.cut_for_search(piece) if w.strip())
    return out
