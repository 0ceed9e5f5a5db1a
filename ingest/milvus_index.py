"""The `milvus` backend: passages and sentences in Milvus (Lite embedded, or a server).

Two collections per index, `<name>_chunks` (pk, doc_id, text, BM25 sparse vector from the
engine's jieba analyzer, dense vector, HNSW) and `<name>_sentences` (pk, doc_id, chunk pk,
dense vector). The manifest, the chunk and document tables and the sentence table stay in
a small folder beside it (the folder backend's format, `tables_only`): a document's text
is longer than a VARCHAR's 65,535 bytes, and the manifest must change in one atomic
rename, which Milvus has no transaction for.

Keys are content hashes, so an unchanged passage keeps its row in the engine across
ingests. A write upserts the new rows, then swaps the tables (the one atomic step), then
deletes the rows no longer listed. A crash before the swap leaves the old version whole:
readers see only the keys their tables list (an unlisted row is skipped), and the next
write deletes what the crashed one left, named in `PENDING`.

Milvus Lite's BM25 scores are negative, and IDF is per segment: lexical rankings are used
by order only, and differ a little from the folder backend's bm25s statistics.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from . import store
from .errors import IndexBusy, IndexMismatch, IndexNotFound
from .address import Target
from .tokenize import tokenize_for_index

PENDING = "pending.json"
_MAX_LIMIT = 16384            # Milvus's largest top-k
_BATCH = 2000
# The analyzer drops punctuation (Lite refuses {"type": "chinese"}; a stop filter does it).
_PUNCT = list("，。、；：？！「」『』（）《》〈〉【】“”‘’…—·,.;:?!()[]\"'%-/")
_ANALYZER = {"tokenizer": "jieba", "filter": [{"type": "stop", "stop_words": _PUNCT}]}


def chunk_key(c) -> str:
    """A passage's key in the engine: its document, span and text."""
    h = hashlib.blake2b(f"{c.doc_id}\0{c.start}\0{c.end}\0{c.section}\0{c.text}".encode(), digest_size=12)
    return h.hexdigest()


def sentence_key(chunk_pk: str, start: int, end: int) -> str:
    return hashlib.blake2b(f"{chunk_pk}\0{start}\0{end}".encode(), digest_size=12).hexdigest()


def _keys(chunks, sentences) -> tuple[list[str], list[str]]:
    """The engine's keys of a chunk table and of its sentence table, row for row."""
    keys = [chunk_key(c) for c in chunks]
    return keys, [sentence_key(keys[int(r)], int(s), int(e)) for r, s, e in sentences]


# Milvus Lite runs inside the process that opens its file, and only one process may: the
# file stays open while any index object of this process uses it.
_LITE_USERS: dict[str, int] = {}
_LITE_LOCK = threading.Lock()


def _client(t: Target, token: str | None):
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError as e:
        raise IndexMismatch("this index lives in Milvus, which needs the milvus extra: "
                            "pip install 'policyqa[milvus]'") from e
    if t.backend != "milvus-lite":
        try:
            return MilvusClient(uri=t.uri, token=token or "")
        except MilvusException as e:
            raise IndexNotFound(f"cannot reach the Milvus server at {t} ({e.message}); check the address "
                                "and POLICYQA_MILVUS_TOKEN") from None
    Path(t.uri).parent.mkdir(parents=True, exist_ok=True)
    path = os.path.abspath(t.uri)
    tokenize_for_index("")       # Lite's analyzer runs jieba in this process: initialise it quietly first
    with _LITE_LOCK:
        try:
            client = MilvusClient(uri=path)
        except MilvusException as e:
            if _locked_elsewhere(path):
                raise IndexBusy(f"another process has {t} open (Milvus Lite serves one process at a time): "
                                "stop it, or use a Milvus server for many processes") from None
            raise IndexMismatch(f"cannot open {t}: {e.message}") from None
        _LITE_USERS[path] = _LITE_USERS.get(path, 0) + 1
    return client


def _locked_elsewhere(path: str) -> bool:
    try:
        from milvus_lite import DataDirLockedError, MilvusLite
    except ImportError:
        return False
    try:
        MilvusLite(path).close()
    except DataDirLockedError:
        return True
    except Exception:
        return False
    return False


def _release(t: Target, client) -> None:
    """Close a client; the last one of this process over a Lite file lets the file go."""
    client.close()
    if t.backend != "milvus-lite":
        return
    path = os.path.abspath(t.uri)
    with _LITE_LOCK:
        _LITE_USERS[path] = _LITE_USERS.get(path, 1) - 1
        if _LITE_USERS[path] > 0:
            return
        del _LITE_USERS[path]
    from milvus_lite import server_manager_instance
    server_manager_instance.release_server(path)


def _quote(values) -> str:
    return "[" + ",".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


class MilvusIndex:
    """A `PassageIndex` over Milvus collections and their tables folder."""

    backend = "milvus"
    exact = False

    def __init__(self, t: Target, tables: store.IndexData, client):
        self.target, self.tables, self.client = t, tables, client
        self.manifest, self.chunks, self.docs = tables.manifest, tables.chunks, tables.docs
        self.sentences = tables.sentences if tables.sentences is not None else np.zeros((0, 3), dtype=np.int32)
        self.path = tables.path
        names = self.manifest.get("milvus") or {}
        self.chunk_coll, self.sentence_coll = names.get("chunks"), names.get("sentences")
        self.keys, self.sentence_keys = _keys(self.chunks, self.sentences)
        self.row_of = {k: i for i, k in enumerate(self.keys)}
        self.sentence_row = {k: int(self.sentences[i][0]) for i, k in enumerate(self.sentence_keys)}
        self._doc_freq = tables._doc_freq

    @classmethod
    def open(cls, t: Target, tables: store.IndexData, *, token: str | None = None) -> "MilvusIndex":
        client = _client(t, token)
        names = tables.manifest.get("milvus") or {}
        try:
            for name in (names.get("chunks"), names.get("sentences")):
                if not name or not client.has_collection(name):
                    raise IndexMismatch(f"the Milvus collection {name!r} that {t} names is missing; "
                                        f"rebuild with `policyqa ingest --rebuild --index {t}`")
                client.load_collection(name)
        except BaseException:
            _release(t, client)
            raise
        return cls(t, tables, client)

    @property
    def dim(self) -> int:
        return int(self.manifest["embedder"]["dim"])

    @property
    def has_sentences(self) -> bool:
        return len(self.sentences) > 0

    # -- rankings --------------------------------------------------------------------
    def _filter(self, within: np.ndarray | None) -> str:
        if within is None or within.all():
            return ""
        docs = sorted({self.chunks[i].doc_id for i in np.nonzero(within)[0]})
        return f"doc_id in {_quote(docs)}"

    def _search(self, coll: str, data, field: str, n: int, within, params: dict):
        res = self.client.search(coll, data=[data], anns_field=field, limit=min(max(n, 1), _MAX_LIMIT),
                                 filter=self._filter(within), output_fields=["pk"], search_params=params)
        return res[0] if res else []

    def dense(self, vector, n=None, within=None) -> np.ndarray:
        out = np.full(len(self.chunks), -np.inf)
        if not self.chunks or (within is not None and not within.any()):
            return out
        n = n or 100
        for hit in self._search(self.chunk_coll, vector.astype(np.float32).tolist(), "vector", n, within,
                                {"metric_type": "IP", "params": {"ef": max(128, n)}}):
            row = self.row_of.get(hit["pk"])
            if row is not None:           # a row this generation does not list: skipped
                out[row] = hit["distance"]
        return out if within is None else np.where(within, out, -np.inf)

    def sentence_dense(self, vector, n=None, within=None) -> np.ndarray:
        out = np.full(len(self.chunks), -np.inf)
        if not self.has_sentences or (within is not None and not within.any()):
            return out
        n = 3 * (n or 100)               # several sentences per passage
        for hit in self._search(self.sentence_coll, vector.astype(np.float32).tolist(), "vector", n, within,
                                {"metric_type": "IP", "params": {"ef": max(128, n)}}):
            row = self.sentence_row.get(hit["pk"])
            if row is not None:
                out[row] = max(out[row], hit["distance"])
        return out if within is None else np.where(within, out, -np.inf)

    def lexical(self, terms, n=None, within=None) -> np.ndarray:
        out = np.zeros(len(self.chunks), dtype=np.float32)
        if not self.chunks or not terms or (within is not None and not within.any()):
            return out
        hits = self._search(self.chunk_coll, " ".join(terms), "sparse", n or 100, within, {"metric_type": "BM25"})
        rows = [self.row_of[h["pk"]] for h in hits if h["pk"] in self.row_of]
        # By order only: Lite's scores are negative, and its IDF is per segment.
        out[rows] = np.arange(len(rows), 0, -1, dtype=np.float32)
        return out if within is None else np.where(within, out, 0.0).astype(np.float32)

    def _vectors(self, coll: str, keys: list[str]) -> np.ndarray:
        got = {}
        for i in range(0, len(keys), _BATCH):
            for r in self.client.get(coll, ids=keys[i:i + _BATCH], output_fields=["vector"]):
                got[r["pk"]] = r["vector"]
        missing = [k for k in keys if k not in got]
        if missing:
            raise IndexMismatch(f"{len(missing)} rows of {self.target} are missing from Milvus; "
                                f"rebuild with `policyqa ingest --rebuild --index {self.target}`")
        return np.array([got[k] for k in keys], dtype=np.float32).reshape(len(keys), self.dim)

    def cosines(self, vector, rows) -> np.ndarray:
        keys = [self.keys[int(r)] for r in rows]
        return self._vectors(self.chunk_coll, keys) @ vector.astype(np.float32) if keys else np.zeros(0)

    def sentence_vectors_of(self, ids) -> np.ndarray:
        return self._vectors(self.sentence_coll, [self.sentence_keys[int(i)] for i in ids])

    def doc_freq(self) -> dict[str, int]:
        if self._doc_freq is None:
            self._doc_freq = _doc_freq(self.chunks)
        return self._doc_freq

    def all_vectors(self):
        return None                      # the vectors live in the engine only

    def all_sentence_vectors(self):
        return None

    def close(self) -> None:
        if self.client is not None:
            _release(self.target, self.client)
            self.client = None


def _doc_freq(chunks, df: dict[str, int] | None = None, sign: int = 1) -> dict[str, int]:
    """Index token -> passages holding it: the found decision weighs terms by rarity, and
    the engine does not expose its statistics. With `df`, `chunks` are added to it (sign 1)
    or taken out of it (-1), so a write tokenizes only the passages it changes."""
    df = {} if df is None else df
    for c in chunks:
        for t in set(tokenize_for_index(c.text)):
            n = df.get(t, 0) + sign
            if n > 0:
                df[t] = n
            else:
                df.pop(t, None)
    return df


def _create(client, name: str, dim: int, with_text: bool) -> None:
    from pymilvus import DataType, Function, FunctionType
    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=32)
    s.add_field("doc_id", DataType.VARCHAR, max_length=512)
    ip = client.prepare_index_params()
    if with_text:
        s.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=_ANALYZER)
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                output_field_names=["sparse"]))
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    else:
        s.add_field("chunk_pk", DataType.VARCHAR, max_length=32)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    ip.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
    ip.add_index("doc_id", index_type="INVERTED")
    client.create_collection(name, schema=s, index_params=ip)


def write(t: Target, data: store.IndexData, old, *, token: str | None = None) -> None:
    """Make `data` the index's content: upsert new rows, swap the tables, delete stale rows.
    `old`: the MilvusIndex it replaces, or None to start new collections (a rebuild)."""
    own = not isinstance(old, MilvusIndex)
    client = _client(t, token) if own else old.client
    try:
        _write(t, data, old, client)
    finally:
        if own:
            _release(t, client)


def _write(t: Target, data: store.IndexData, old, client) -> None:
    t.tables.mkdir(parents=True, exist_ok=True)
    _finish_pending(client, t)
    dim = data.dim
    reuse = bool(isinstance(old, MilvusIndex) and old.dim == dim and old.chunk_coll)
    if reuse:
        chunks_coll, sent_coll = old.chunk_coll, old.sentence_coll
        old_keys, old_sent = set(old.keys), set(old.sentence_keys)
    else:
        stamp = os.urandom(4).hex()
        chunks_coll, sent_coll = f"{t.collection}_{stamp}_chunks", f"{t.collection}_{stamp}_sentences"
        _create(client, chunks_coll, dim, True)
        _create(client, sent_coll, dim, False)
        old_keys, old_sent = set(), set()
    table = data.sentences if data.sentences is not None else np.zeros((0, 3), dtype=np.int32)
    keys, skeys = _keys(data.chunks, table)
    # The collections a rebuild replaces (dropped once the new tables are current).
    previous = {} if reuse else _current_manifest(t).get("milvus") or {}
    # What this write may leave behind if it is killed: named before the first upsert.
    _write_json(t.tables / PENDING, {"chunks": chunks_coll, "sentences": sent_coll,
                                     "drop": [] if reuse else [previous.get("chunks"), previous.get("sentences")]})
    new_rows = [i for i, k in enumerate(keys) if k not in old_keys]
    _upsert(client, chunks_coll, [{"pk": keys[i], "doc_id": data.chunks[i].doc_id, "text": data.chunks[i].text,
                                   "vector": data.vectors[i].tolist()} for i in new_rows])
    new_sent = [i for i, k in enumerate(skeys) if k not in old_sent]
    _upsert(client, sent_coll, [{"pk": skeys[i], "doc_id": data.chunks[int(table[i][0])].doc_id,
                                 "chunk_pk": keys[int(table[i][0])], "vector": data.sentence_vectors[i].tolist()}
                                for i in new_sent])
    client.flush(chunks_coll)
    client.flush(sent_coll)
    manifest = {**data.manifest, "backend": t.backend,
                "milvus": {"chunks": chunks_coll, "sentences": sent_coll, "uri": str(t)}}
    tables = store.IndexData(manifest, data.chunks, data.docs, None, sentences=table)
    if reuse:
        listed = set(keys)
        df = _doc_freq([c for c, k in zip(old.chunks, old.keys) if k not in listed], dict(old.doc_freq()), -1)
        tables._doc_freq = _doc_freq([data.chunks[i] for i in new_rows], df)
    else:
        tables._doc_freq = _doc_freq(data.chunks)
    store.save(t.tables, tables, tables_only=True, extra={"doc_freq.json": tables._doc_freq})
    # The tables are current: what they no longer list goes.
    for coll, stale in ((chunks_coll, old_keys - set(keys)), (sent_coll, old_sent - set(skeys))):
        stale = sorted(stale)
        for i in range(0, len(stale), _BATCH):
            client.delete(coll, ids=stale[i:i + _BATCH])
    if not reuse:
        for coll in (previous.get("chunks"), previous.get("sentences")):
            if coll and client.has_collection(coll):
                client.drop_collection(coll)
    (t.tables / PENDING).unlink()


def _upsert(client, coll: str, rows: list[dict]) -> None:
    for i in range(0, len(rows), _BATCH):
        client.upsert(coll, rows[i:i + _BATCH])


def _finish_pending(client, t: Target) -> None:
    """After a write that was killed: delete the rows the current tables do not list in the
    collections it named (a scan of their keys), and drop collections of a rebuild that
    never became current or that one replaced."""
    pending = t.tables / PENDING
    if not pending.is_file():
        return
    p = json.loads(pending.read_text("utf-8"))
    current, keys, skeys = {}, set(), set()
    if store.exists(t.tables):
        tables = store.load(t.tables)
        current = tables.manifest.get("milvus") or {}
        keys, skeys = map(set, _keys(tables.chunks, tables.sentences))
    for coll, listed in ((p["chunks"], keys), (p["sentences"], skeys)):
        if not client.has_collection(coll):
            continue
        if coll not in (current.get("chunks"), current.get("sentences")):
            client.drop_collection(coll)            # a rebuild that never became current
            continue
        stale = [r["pk"] for r in _all_keys(client, coll) if r["pk"] not in listed]
        for i in range(0, len(stale), _BATCH):
            client.delete(coll, ids=stale[i:i + _BATCH])
        client.flush(coll)
    for coll in p.get("drop") or []:
        if coll and coll not in (current.get("chunks"), current.get("sentences")) and client.has_collection(coll):
            client.drop_collection(coll)
    pending.unlink()


def _all_keys(client, coll: str):
    it = client.query_iterator(coll, batch_size=_BATCH, filter='pk != ""', output_fields=["pk"])
    try:
        while True:
            batch = it.next()
            if not batch:
                return
            yield from batch
    finally:
        it.close()


def _current_manifest(t: Target) -> dict:
    try:
        return json.loads((t.tables / store.CURRENT / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
