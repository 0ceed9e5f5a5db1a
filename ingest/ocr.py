"""Text recognition of page images (RapidOCR: PP-OCRv4 Chinese models on onnxruntime).

The model runs in a worker process at low priority: a page that overruns its time
budget is ended by ending the process, and the interpreter that serves questions (the
app) keeps its GIL and, on a busy machine, the CPU first. Results are cached by the
hash of the page image, so a page is recognised once, however often it is ingested.

Optional: `pip install 'policyqa[ocr]'`. Without it `unavailable()` says how to enable it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from .ocr_text import OcrLine

log = logging.getLogger(__name__)

PACKAGE = "rapidocr_onnxruntime"
ENGINE = "rapidocr_onnxruntime-1.4.4 PP-OCRv4 no-cls"      # part of the cache key
MIN_CONFIDENCE = 0.3       # below this a "line" is noise (a seal, a smudge); RapidOCR's default is 0.5
ENABLE_HINT = "install the OCR extra to read scanned pages: pip install 'policyqa[ocr]'"
_START_SECONDS = 120.0     # loading the worker and the models, not counted in a page's budget


@dataclass(frozen=True)
class OcrSettings:
    """How scanned pages are read (POLICYQA_OCR_* in ingest.settings)."""
    dpi: int = 150                    # rendering resolution (README: accuracy and speed at 150/200/300)
    page_seconds: float = 120.0       # time budget of one page (a dense A4 page: 10-45 s on 2 busy cores)
    max_pages: int = 100              # pages recognised per file
    threads: int = 0                  # onnxruntime threads; 0: as many as cores
    cache_dir: Path | None = None     # recognised pages by image hash; None: none kept


class PageFailed(Exception):
    """A page could not be recognised (over its time budget, or the engine failed)."""


def unavailable() -> str | None:
    """None when OCR can run here, else why not and how to enable it."""
    if importlib.util.find_spec(PACKAGE) is None:
        return f"OCR is not installed ({ENABLE_HINT})"
    return None


class Recognizer:
    """Lines of page images, from the cache or the model. Use as a context manager; the
    worker process starts at the first page the cache does not hold."""

    def __init__(self, settings: OcrSettings = OcrSettings(), progress: bool = False):
        self.settings = settings
        self.progress = progress
        self.cache_dir = Path(settings.cache_dir) if settings.cache_dir else None
        self.recognised = 0           # pages the model read
        self.cached = 0               # pages found in the cache
        self._proc = None
        self._conn = None
        self._broken: str | None = None   # why the engine cannot start here: not tried again

    def lines(self, gray: bytes, width: int, height: int) -> list[OcrLine]:
        """The recognised fragments of an 8-bit grayscale image (PageFailed on trouble)."""
        key = self._key(gray, width, height)
        hit = self._cache_get(key)
        if hit is not None:
            self.cached += 1
            return hit
        found = self._run(gray, width, height)
        self.recognised += 1
        self._cache_put(key, found)
        return found

    # -- the worker ---------------------------------------------------------------
    def _run(self, gray: bytes, width: int, height: int) -> list[OcrLine]:
        if self._proc is not None and self._proc.poll() is not None:
            self._stop()              # it died on an earlier page (e.g. out of memory): a new one
        if self._broken:
            raise PageFailed(self._broken)
        if self._conn is None:
            self._start()
        budget = self.settings.page_seconds
        t0 = time.monotonic()
        try:
            self._conn.send((gray, width, height))
        except OSError:
            self._stop()
            raise PageFailed("the OCR process ended unexpectedly") from None
        if not self._conn.poll(budget):
            self._stop()              # the only way to interrupt onnxruntime mid-page
            raise PageFailed(f"not recognised within its time budget of {budget:g} s "
                             f"(POLICYQA_OCR_PAGE_SECONDS)")
        try:
            status, payload = self._conn.recv()
        except (EOFError, OSError):
            self._stop()
            raise PageFailed("the OCR process ended unexpectedly") from None
        if status != "ok":
            raise PageFailed(f"OCR failed: {payload}")
        log.debug("page recognised in %.1f s", time.monotonic() - t0)
        return [OcrLine(t, tuple(b), c) for t, b, c in payload]

    def _start(self) -> None:
        # A plain child interpreter (`python -m ingest.ocr`), not multiprocessing: its
        # "spawn" would run the caller's main script again in the child.
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[1])     # `-m ingest.ocr` imports this package
        with theirs:
            proc = subprocess.Popen([sys.executable, "-m", "ingest.ocr", str(theirs.fileno()),
                                     str(self.settings.threads)],
                                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, cwd=root)
        conn = Connection(ours.detach())
        self._proc, self._conn = proc, conn
        if not conn.poll(_START_SECONDS):
            self._stop()
            self._broken = f"the OCR engine did not start within {_START_SECONDS:g} s"
            raise PageFailed(self._broken)
        try:
            status, payload = conn.recv()
        except (EOFError, OSError):
            status, payload = "error", "the OCR process ended while starting"
        if status != "ready":
            self._stop()
            self._broken = f"the OCR engine cannot start: {payload}"
            raise PageFailed(self._broken)

    def _stop(self) -> None:
        proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        if conn is not None:
            conn.close()
        if proc is not None:
            proc.kill()
            proc.wait(10)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)     # a clean exit
                self._proc.wait(5)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self._stop()

    def __enter__(self) -> "Recognizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the cache ----------------------------------------------------------------
    @staticmethod
    def _key(gray: bytes, width: int, height: int) -> str:
        h = hashlib.sha256(f"{ENGINE} min={MIN_CONFIDENCE} {width}x{height}\n".encode())
        h.update(gray)
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cache_get(self, key: str) -> list[OcrLine] | None:
        if self.cache_dir is None:
            return None
        try:
            rows = json.loads(self._path(key).read_text("utf-8"))
            return [OcrLine(t, tuple(b), c) for t, b, c in rows]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as e:     # a torn or foreign file: a miss
            log.warning("OCR cache entry %s unreadable (%s); recognising the page again", key, e)
            return None

    def _cache_put(self, key: str, lines: list[OcrLine]) -> None:
        if self.cache_dir is None:
            return
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps([[x.text, list(x.box), x.confidence] for x in lines],
                                      ensure_ascii=False), "utf-8")
            os.replace(tmp, path)         # readers see the whole entry or none
        except OSError as e:              # the cache is an optimisation
            log.warning("OCR cache %s not writable (%s); going on without it", self.cache_dir, e)
            tmp.unlink(missing_ok=True)


def _serve(conn, threads: int) -> None:
    """The worker: load the models once, then answer (gray, width, height) requests."""
    try:
        os.nice(10)           # questions in the parent come first on a busy machine
    except OSError:
        pass
    if sys.platform == "linux":   # end with the parent, even mid-page (a killed ingest)
        try:
            import ctypes
            import signal
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    try:
        import numpy as np
        from rapidocr_onnxruntime import RapidOCR
        # max_side_len: recognise at the resolution the page was rendered at (RapidOCR
        # would shrink pages over 2,000 px, i.e. A4 over ~170 dpi). No direction classifier:
        # the lines of a page are upright, and it turned whole lines upside down, which then
        # read as nothing (a line lost in 40 on a law rendered at 200 dpi).
        kw = dict(max_side_len=10_000, text_score=MIN_CONFIDENCE, print_verbose=False, use_cls=False)
        if threads > 0:
            kw.update(intra_op_num_threads=threads, inter_op_num_threads=1)
        engine = RapidOCR(**kw)
    except Exception as e:        # noqa: BLE001 - reported to the parent as the reason
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            return
        if req is None:
            return
        gray, width, height = req
        try:
            img = np.frombuffer(gray, dtype=np.uint8).reshape(height, width)
            result, _ = engine(img)
            rows = []
            for quad, text, score in result or []:
                xs, ys = [p[0] for p in quad], [p[1] for p in quad]
                box = [round(max(0.0, min(xs)) / width, 5), round(max(0.0, min(ys)) / height, 5),
                       round(min(float(width), max(xs)) / width, 5), round(min(float(height), max(ys)) / height, 5)]
                rows.append((text, box, round(float(score), 4)))
            conn.send(("ok", rows))
        except Exception as e:    # noqa: BLE001
            conn.send(("error", f"{type(e).__name__}: {e}"))


if __name__ == "__main__":           # the worker: python -m ingest.ocr FD THREADS
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
