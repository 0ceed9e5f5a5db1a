"""Which backend an `--index` value names, and where its tables live.

    DIR                                   the `folder` backend (ingest/store.py)
    milvus-lite:PATH                      Milvus Lite, embedded, in the file PATH
    milvus://HOST:PORT/COLLECTION         a Milvus server or cluster
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BadIndexAddress
from .settings import MILVUS, MILVUS_LITE


@dataclass(frozen=True)
class Target:
    """Where an index lives. `tables`: the folder holding its manifest, chunk and document
    tables (for the folder backend, the index itself)."""
    backend: str                 # "folder" | "milvus-lite" | "milvus"
    tables: Path
    uri: str = ""                # Milvus: the file (Lite) or http://HOST:PORT
    collection: str = ""

    def __str__(self) -> str:
        if self.backend == "folder":
            return str(self.tables)
        if self.backend == "milvus-lite":
            return f"milvus-lite:{self.uri}"
        return f"milvus://{self.uri.removeprefix('http://')}/{self.collection}"


_MILVUS = re.compile(r"^milvus://(?P<host>[^/:]+):(?P<port>\d+)/(?P<coll>[A-Za-z_][A-Za-z0-9_]*)$")


def target(spec: str | Path | Target, *, tables_root: str | Path = ".policyqa/milvus") -> Target:
    """Parse an `--index` value. A Milvus server's tables are kept under `tables_root`
    (one folder per host, port and collection)."""
    if isinstance(spec, Target):
        return spec
    text = str(spec)
    if text.startswith(MILVUS_LITE):
        path = Path(text.removeprefix(MILVUS_LITE)).expanduser()
        if not path.name:
            raise BadIndexAddress("milvus-lite: needs a file, e.g. --index milvus-lite:library.db")
        return Target("milvus-lite", path.with_name(path.name + ".tables"), str(path), "policyqa")
    if text.startswith(MILVUS):
        m = _MILVUS.match(text)
        if not m:
            raise BadIndexAddress(f"{text!r} is not milvus://HOST:PORT/COLLECTION (the token goes in "
                             "POLICYQA_MILVUS_TOKEN, never in the address)")
        host, port, coll = m["host"], m["port"], m["coll"]
        return Target("milvus", Path(tables_root) / f"{host}_{port}_{coll}", f"http://{host}:{port}", coll)
    return Target("folder", Path(spec))
