"""PDF, DOCX and HTML parsed in a child process, with a time and a memory budget per file.

A hostile file can keep a parser busy for minutes (a PDF whose pages draw each other a
billion times), make it allocate gigabytes, or crash a C library. In the child, such a
file ends the child, not the ingest: the file is reported as skipped and the next one
gets a fresh child. Plain text (.txt, .md) is decoded in the calling process, bounded by
the file size limit. Requests carry the bytes the parent has read (the child opens no
file); answers are JSON, so nothing the child sends can run code in the parent.

    with Sandbox(limits) as box:
        raw = box.load_file(path, data=data)       # RawDocument, or FileSkipped
"""
from __future__ import annotations

import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

from .errors import FileSkipped
from .guard import LoadLimits, human, read_regular
from .load import DEFER, kind_of, load_bytes
from .types import PageSpan, RawDocument

IN_PROCESS = ("txt", "md", "image")     # decoded here; an image is only read by OCR, in its own worker
_LEN = struct.Struct("!Q")
_ALLOC_FAILED = re.compile(r"(?i)\b(?:[mc]|re)alloc\b.*\bfailed|out of memory|cannot allocate memory")


class Sandbox:
    """One child process at a time, started on the first file that needs it."""

    def __init__(self, limits: LoadLimits | None = None, ocr=None):
        """`ocr`: the ingest.ocr.Recognizer that reads scanned pages (None: they are reported)."""
        self.limits, self.ocr = limits or LoadLimits(), ocr
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()          # the child ends at EOF
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            proc.stdout.close()

    def load_file(self, path: str | Path, *, data: bytes | None = None,
                  limits: LoadLimits | None = None) -> RawDocument:
        """`load.load_file`, with PDF/DOCX/HTML parsed in the child. `data`: the file's bytes
        when they have been read already."""
        name, limits = str(path), limits or self.limits
        kind = kind_of(path)
        if data is None:
            data = read_regular(path, limits.max_bytes)
        if kind in IN_PROCESS:
            return load_bytes(name, kind, data, limits, self.ocr)
        if not data:
            raise FileSkipped(name, "empty file")
        raw = self._ask(name, kind, data, limits)
        if raw.scanned_pages:
            # The child parsed the PDF; its scanned pages are rendered here and recognised in
            # the OCR worker, each page under its own time budget.
            from .pdf import read_scanned
            raw = read_scanned(name, data, raw, self.ocr)
        return raw

    # -- the parent's side ----------------------------------------------------------------
    def _start(self) -> subprocess.Popen:
        # Run from the repository root, so that `-m ingest.sandbox` imports this very package
        # (sys.path[0] is the working folder) whatever the caller's PYTHONPATH says.
        root = str(Path(__file__).resolve().parents[1])
        return subprocess.Popen([sys.executable, "-m", "ingest.sandbox"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=root, close_fds=True)

    def _ask(self, name: str, kind: str, data: bytes, limits: LoadLimits) -> RawDocument:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        proc = self._proc
        header = json.dumps({"name": name, "kind": kind, "limits": limits.to_dict()}).encode()
        deadline = time.monotonic() + limits.parse_seconds
        try:
            proc.stdin.write(_LEN.pack(len(header)) + header + _LEN.pack(len(data)))
            proc.stdin.write(data)
            proc.stdin.flush()
            size = _LEN.unpack(_read_exact(proc.stdout, _LEN.size, deadline))[0]
            answer = json.loads(_read_exact(proc.stdout, size, deadline))
        except TimeoutError:
            self._kill()
            raise FileSkipped(name, f"parsing took longer than {limits.parse_seconds:g} s "
                                    "(POLICYQA_PARSE_SECONDS); stopped") from None
        except (OSError, EOFError, ValueError):
            code = self._kill()
            raise FileSkipped(name, _death(kind, code, limits)) from None
        if answer.get("fatal"):                   # the child ends after this answer
            self._kill()
        if "skip" in answer:
            raise FileSkipped(name, answer["skip"])
        d = answer["raw"]
        return RawDocument(path=name, kind=d["kind"], text=d["text"],
                           pages=[PageSpan(*p) for p in d["pages"]], metadata=d["metadata"],
                           encoding=d["encoding"], warnings=d["warnings"], scanned_pages=d["scanned_pages"])

    def _kill(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        return code


def _read_exact(f, n: int, deadline: float) -> bytes:
    fd, parts, left = f.fileno(), [], n
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(left, 2**20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _death(kind: str, code: int | None, limits: LoadLimits) -> str:
    if code == -signal.SIGKILL:                        # the kernel's out-of-memory killer
        return (f"the .{kind} parser was killed (out of memory?) reading this file; "
                f"at most {human(limits.parse_memory, trim=True)} may be used (POLICYQA_PARSE_MEMORY_MB)")
    what = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
    return f"the .{kind} parser crashed on this file ({what}); the file is damaged or hostile"


# -- the child's side -------------------------------------------------------------------------
def _serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is for the parent, which ends us
    _die_with_parent()
    import resource
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(_LEN.size)
        if len(head) < _LEN.size:
            return                                     # the parent closed the pipe (or died)
        req = json.loads(stdin.read(_LEN.unpack(head)[0]))
        data = stdin.read(_LEN.unpack(stdin.read(_LEN.size))[0])
        limits = LoadLimits(**req["limits"])
        if req["kind"] == "pdf":
            from . import pdf  # noqa: F401  - imported before the limit: it maps large libraries
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = _vm_size() + limits.parse_memory
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
        out_of_memory = {"skip": f"reading it needs more than {human(limits.parse_memory, trim=True)} of memory "
                                 "(POLICYQA_PARSE_MEMORY_MB)", "fatal": True}
        try:
            raw = load_bytes(req["name"], req["kind"], data, limits, DEFER)
            answer = {"raw": {"kind": raw.kind, "text": raw.text, "metadata": raw.metadata,
                              "pages": [[p.start, p.end, p.page] for p in raw.pages],
                              "encoding": raw.encoding, "warnings": raw.warnings,
                              "scanned_pages": raw.scanned_pages}}
        except FileSkipped as e:        # a C library's failed allocation comes back as its error message
            answer = out_of_memory if _ALLOC_FAILED.search(e.reason) else {"skip": e.reason}
        except MemoryError:
            answer = out_of_memory
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        del data
        out = json.dumps(answer, default=str).encode()   # ASCII: a lone surrogate travels too
        stdout.write(_LEN.pack(len(out)) + out)
        stdout.flush()
        if answer.get("fatal"):                        # a parser may be left half-done: start afresh
            return


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _die_with_parent() -> None:
    """Linux: the kernel kills this child when the parent dies mid-parse (kill -9)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)                 # PR_SET_PDEATHSIG
        if os.getppid() == 1:                          # the parent died before the prctl
            os._exit(0)
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    _serve()
