"""What one input file may cost, and reading a file only when it is a regular one.

Every check here runs before a parser sees the file, so a hostile file is refused with a
one-line reason instead of costing time, memory or a hang: devices, FIFOs and sockets are
never opened; a .docx is measured by its zip directory before anything is unpacked, and
one whose XML declares a DTD (entities: "billion laughs", external files) is refused.
"""
from __future__ import annotations

import errno
import io
import os
import re
import stat
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.parsers import expat

from .errors import FileSkipped

MB = 2**20


@dataclass(frozen=True)
class LoadLimits:
    """Bounds on one file (Settings.load_limits() builds them from POLICYQA_*)."""
    max_bytes: int = 50 * MB            # the file itself (POLICYQA_MAX_FILE_MB)
    max_unpacked: int = 16 * MB         # markup: HTML, or the XML unpacked from a .docx (POLICYQA_MAX_UNPACKED_MB)
    max_chars: int = 1_000_000          # extracted text (POLICYQA_MAX_CHARS)
    max_chunks: int = 20_000            # passages of one document, each embedded (POLICYQA_MAX_CHUNKS)
    parse_seconds: float = 60.0         # parsing one PDF/DOCX/HTML file (POLICYQA_PARSE_SECONDS)
    parse_memory: int = 1024 * MB       # memory for that parse (POLICYQA_PARSE_MEMORY_MB)
    max_depth: int = 256                # nesting of HTML elements / DOCX tables (libxml2's own limit)
    max_parts: int = 10_000             # members of a .docx package

    def to_dict(self) -> dict:
        return asdict(self)


# ---- reading -----------------------------------------------------------------------------

_NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `max_bytes`; else FileSkipped.

    The type is checked on the path before opening (opening some devices already does
    something) and again on the open descriptor, which is non-blocking, so a file swapped
    for a FIFO meanwhile cannot hang the ingest.
    """
    name = str(path)
    try:
        st = os.stat(path)
        _check_type(name, st, max_bytes)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            st2 = os.fstat(fd)
            _check_type(name, st2, max_bytes)
            if (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino):
                raise FileSkipped(name, "the file was replaced while being read; try again")
            chunks, left = [], max_bytes + 1          # +1: notice a file that grew after stat
            while left > 0:
                chunk = os.read(fd, min(left, MB))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
    except FileNotFoundError:
        reason = "broken symbolic link (its target is missing)" if os.path.islink(path) else "file not found"
        raise FileSkipped(name, reason) from None
    except PermissionError:
        raise FileSkipped(name, "permission denied") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise FileSkipped(name, "symbolic link loop (the link leads back to itself)") from None
        raise FileSkipped(name, f"cannot read file ({e.strerror or e})") from None
    except ValueError as e:                       # a NUL in the name
        raise FileSkipped(name, f"cannot read file ({e})") from None
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise FileSkipped(name, too_big(len(data), max_bytes))
    return data


def _check_type(name: str, st: os.stat_result, max_bytes: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise FileSkipped(name, "is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        what = next((w for test, w in _NOT_REGULAR if test(st.st_mode)), "a special file")
        raise FileSkipped(name, f"not a regular file but {what}: not read")
    if st.st_size > max_bytes:
        raise FileSkipped(name, too_big(st.st_size, max_bytes))


def too_big(size: int, limit: int) -> str:
    return f"file is {human(size)}, over the {human(limit, trim=True)} limit (POLICYQA_MAX_FILE_MB)"


def human(n: int, trim: bool = False) -> str:
    for unit, scale in (("MB", MB), ("KB", 2**10)):
        if n >= scale:
            s = f"{n / scale:.1f}"
            return f"{s[:-2] if trim and s.endswith('.0') else s} {unit}"
    return f"{n} bytes"


# ---- text size -----------------------------------------------------------------------------

def too_many_chars(name: str, limits: LoadLimits) -> FileSkipped:
    return FileSkipped(name, f"more than {limits.max_chars:,} characters of text (POLICYQA_MAX_CHARS); "
                             "split the document or raise the limit")


def too_many_chunks(name: str, n: int, limits: LoadLimits) -> FileSkipped:
    return FileSkipped(name, f"splits into {n:,} passages, more than {limits.max_chunks:,} "
                             "(POLICYQA_MAX_CHUNKS): cut up by headings far more than a document is")


def too_deep(name: str, what: str, limits: LoadLimits) -> FileSkipped:
    return FileSkipped(name, f"{what} nested more than {limits.max_depth} levels deep; "
                             "no real document is, so it is not read")


# ---- .docx packages --------------------------------------------------------------------------

_MARKUP = re.compile(r"(?i)\.(?:xml|rels|vml)$|^[^.]*$")


class _Stop(Exception):
    pass


def check_package(name: str, data: bytes, limits: LoadLimits) -> None:
    """Refuse a .docx whose parts would unpack past the limits or that declares a DTD.

    Sizes come from the zip directory; Python's zipfile stops at the declared size and
    fails the CRC check if a member holds more, so they cannot be understated.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError):
        return                          # python-docx says what is wrong with it
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_parts:
            raise FileSkipped(name, f"a .docx of {len(infos):,} parts (at most {limits.max_parts:,}); not read")
        markup = [i for i in infos if _MARKUP.search(i.filename.rsplit("/", 1)[-1])]
        xml_size = sum(i.file_size for i in markup)
        if xml_size > limits.max_unpacked:
            raise FileSkipped(name, f"its XML unpacks to {human(xml_size)}, over the "
                                    f"{human(limits.max_unpacked, trim=True)} limit (POLICYQA_MAX_UNPACKED_MB): "
                                    "a compression bomb, or far more text than a policy document")
        total = sum(i.file_size for i in infos)
        if total > limits.max_bytes + limits.max_unpacked:
            raise FileSkipped(name, f"unpacks to {human(total)}, over the limits "
                                    "(POLICYQA_MAX_FILE_MB + POLICYQA_MAX_UNPACKED_MB)")
        for info in markup:
            if _declares_dtd(zf, info):
                raise FileSkipped(name, f"{info.filename} declares a DTD (<!DOCTYPE>), which Word never "
                                        "writes: its entities could expand without bound or name other "
                                        "files, so the document is not read")


def _declares_dtd(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """True when the XML part has a DOCTYPE before its root element (read as a stream by
    expat up to the first element, so no entity is ever expanded)."""
    found = []

    def doctype(*_):
        found.append(True)
        raise _Stop

    def element(*_):
        raise _Stop

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = element
    try:
        with zf.open(info) as f:
            while chunk := f.read(2**16):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Stop:
        pass
    except (expat.ExpatError, zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        return False                    # malformed or unreadable: python-docx reports it
    return bool(found)
