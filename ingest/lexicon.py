"""jieba's word table read from SQLite a word at a time, so a short-lived process starts fast.

jieba keeps its dictionary (498,113 words and prefixes with frequencies, 349,045
part-of-speech tags) as Python dicts, and building them costs a cold `policyqa ask` ~1 s
(0.5 s unmarshalling the prefix table, 0.45 s parsing dict.txt again for the tags). A
question needs a few hundred of those entries. So the first process that loads the full
table also writes it to one SQLite file in the cache folder, and later processes answer
jieba's lookups from that file, each entry once. The answers are the same entries, so
every cut and tag is identical; a process that looks up many words (an ingest) loads the
full table after `PROMOTE_AFTER` distinct words and goes on at dict speed.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

FORMAT = 1
# Distinct words before the whole table pays off: a question looks up ~100-300, an eval of
# 100 questions ~15,000; an ingest passes this within its first few passages.
PROMOTE_AFTER = 50_000


def path_for(folder: Path, dict_file: Path, version: str) -> Path:
    """The lexicon file for this jieba dictionary (its version and size name it)."""
    return folder / f"jieba-lexicon-{FORMAT}-{version}-{dict_file.stat().st_size}.sqlite"


def write(path: Path, freq: dict[str, int], total: int, tags: dict[str, str]) -> bool:
    """Write the table atomically (temp file, rename); False, with a log line, when it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp)
            # a temp file renamed when complete: no journal needed; keys in order fill the B-tree fast
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            with conn:
                conn.execute("CREATE TABLE w (k TEXT PRIMARY KEY, f INTEGER, t TEXT) WITHOUT ROWID")
                conn.execute("CREATE TABLE meta (total INTEGER)")
                conn.execute("INSERT INTO meta VALUES (?)", (total,))
                conn.executemany("INSERT INTO w VALUES (?, ?, ?)",
                                 ((k, freq.get(k), tags.get(k)) for k in sorted(freq.keys() | tags.keys())))
            conn.close()
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return True
    except (OSError, sqlite3.Error) as e:
        log.info("jieba lexicon not written to %s (%s); later starts load the full dictionary", path, e)
        return False


class Lexicon:
    """Entries of a written table, each read once; `freq` and `tags` stand in for jieba's dicts.

    `load_full()` returns jieba's full (frequencies, tags): used after PROMOTE_AFTER distinct
    entries, or when the file turns out unreadable (then it is also removed, so that the
    next full load writes it again)."""

    def __init__(self, path: Path, load_full: Callable[[], tuple[dict[str, int], dict[str, str]]]) -> None:
        self.path = path
        # check_same_thread off: the app's threads share it, under the lock
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        (self.total,) = self._conn.execute("SELECT total FROM meta").fetchone()
        self._memo: dict[str, tuple[int | None, str | None]] = {}
        self._lock = threading.Lock()
        self._load_full = load_full
        self._full: tuple[dict[str, int], dict[str, str]] | None = None
        self.freq = _Freq(self)
        self.tags = _Tags(self)

    def row(self, key: str) -> tuple[int | None, str | None]:
        """(frequency or None, tag or None) of a word or prefix."""
        if self._full is not None:
            return self._full[0].get(key), self._full[1].get(key)
        try:
            return self._memo[key]
        except KeyError:
            pass
        try:
            with self._lock:
                r = self._conn.execute("SELECT f, t FROM w WHERE k = ?", (key,)).fetchone()
        except sqlite3.Error as e:
            log.warning("jieba lexicon %s unreadable (%s); loading the full dictionary", self.path, e)
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.go_full()
            return self.row(key)
        self._memo[key] = value = r or (None, None)
        if len(self._memo) == PROMOTE_AFTER:
            self.go_full()
        return value

    def go_full(self) -> None:
        with self._lock:
            if self._full is None:
                self._full = self._load_full()


class _Freq:
    """jieba.Tokenizer.FREQ: word or prefix -> frequency (0 for a prefix that is no word)."""

    def __init__(self, lex: Lexicon) -> None:
        self._lex = lex

    def __contains__(self, key: str) -> bool:
        return self._lex.row(key)[0] is not None

    def __getitem__(self, key: str) -> int:
        f = self._lex.row(key)[0]
        if f is None:
            raise KeyError(key)
        return f

    def get(self, key: str, default=None):
        f = self._lex.row(key)[0]
        return default if f is None else f


class _Tags:
    """jieba.posseg.POSTokenizer.word_tag_tab: word -> part-of-speech tag."""

    def __init__(self, lex: Lexicon) -> None:
        self._lex = lex

    def get(self, key: str, default=None):
        t = self._lex.row(key)[1]
        return default if t is None else t
