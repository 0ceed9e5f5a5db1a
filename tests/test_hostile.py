"""Reliability against hostile input and hostile visitors, as CI runs it (a few minutes).

- The bad-file matrix, built here: a zip bomb, billion laughs and an external entity in a
  .docx, 100,000-deep HTML, a 5,000-deep .docx table, a PDF whose drawings draw each
  other a billion times (the time budget; with text, the memory budget), over a million
  characters of text, a FIFO, a link to a device, a link
  loop, a dangling link, a link out of the folder, a name with control characters, a few
  invalid bytes. Each file is measured on its own (time and peak memory of the loading
  process and of its parser child), then all go through `policyqa ingest` at once.
- Crash consistency: `policyqa ingest` killed with SIGKILL while parsing, embedding and
  writing; after each kill the index loads and answers.
- A real server on 127.0.0.1 with accounts: the upload-path attack, the roles through the
  HTTP API, and 10 askers for 20 s while an ingest runs.

Measured figures are printed (run with -s to see them) and written to
test-artifacts/hostile.json; the README's Reliability section quotes them.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import psutil
import pytest

from assistant import Assistant
from app.service import AppService
from cli.main import main as cli
from ingest import store
from ingest.guard import LoadLimits
from ingest.settings import Settings

from .conftest import ROOT, free_port, http_server
from .test_ingest import _embedded_at_least, _wait_until

ARTIFACT = ROOT / "test-artifacts" / "hostile.json"
FIGURES: dict = {}
QUESTION = "2022年北京全年专利授权量是多少？"
PARSE_SECONDS = 5           # the time budget in these tests (default 60), so the PDF bomb is quick
MARKER = "绝密测试标记七九三"   # in files that must never reach the index


def _record(key: str, value) -> None:
    FIGURES[key] = value
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(FIGURES, ensure_ascii=False, indent=1), "utf-8")


def _env(cache: Path, **extra) -> dict:
    return {**os.environ, "POLICYQA_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "PYTHONPATH": str(ROOT), "POLICYQA_PARSE_SECONDS": str(PARSE_SECONDS), **extra}


def _policyqa() -> list[str]:
    return [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())"]


# ---- the bad files ---------------------------------------------------------------------------

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/word/document.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="word/document.xml"/></Relationships>')
_PARA = "<w:p><w:r><w:t>北京市加快建设国际科技创新中心，全年专利授权量20.3万件。</w:t></w:r></w:p>"


def docx(path: Path, body: str, prolog: str = "") -> Path:
    """A minimal .docx package around `body` (WordprocessingML), written as Word would zip it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("word/document.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                                        f"{prolog}<w:document {_W}><w:body>{body}</w:body></w:document>")
    return path


def pdf_xobject_bomb(levels: int = 9, fanout: int = 10, leaf: bytes = b"0 0 m 100 100 l S") -> bytes:
    """A one-page PDF whose form XObjects draw each other: fanout**levels draws of `leaf`
    (a line: time without end for a parser, little memory)."""
    objs = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    first = 10
    objs[3] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> /XObject << /X %d 0 R >> >> >>" % (first + levels))
    objs[4] = b"<< /Length 5 >>\nstream\n/X Do\nendstream"
    for i in range(levels + 1):
        if i == 0:
            body, res = leaf, b"/Font << /F1 5 0 R >>"
        else:
            body, res = b" ".join([b"/Y Do"] * fanout), b"/XObject << /Y %d 0 R >>" % (first + i - 1)
        objs[first + i] = (b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << %s >> "
                           b"/Length %d >>\nstream\n%s\nendstream" % (res, len(body), body))
    out, offsets = bytearray(b"%PDF-1.4\n"), {}
    for n in sorted(objs):
        offsets[n] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (n, objs[n])
    xref, size = len(out), max(objs) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for n in range(1, size):
        out += b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


# name -> the reason (a regular expression); every one is skipped, none reaches the index
BAD = {
    "bomb.docx": "unpacks to 40.0 MB",
    "laughs.docx": "declares a DTD",
    "external-entity.docx": "declares a DTD",
    "deep.html": "HTML elements nested more than 256 levels",
    "deep-table.docx": "nested more than 256 levels",
    "drawing-loop.pdf": f"parsing took longer than {PARSE_SECONDS} s",
    "huge.txt": "more than 1,000,000 characters",
    "many-headings.txt": r"splits into [\d,]+ passages, more than 20,000",
    "fifo.txt": "named pipe",
    "zero.txt": "character device|symbolic link to /dev/zero, outside the folder",   # named / in a folder
    "loop-a.txt": "symbolic link loop",
    "loop-b.txt": "symbolic link loop",
    "dangling.txt": "broken symbolic link",
    "evil\nname\x1b[31m.txt": "empty file",
}
IN_FOLDER = {"passwd.txt": "symbolic link to .*secret.txt, outside the folder being ingested"}


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "bad"
    folder.mkdir()
    # 40 MB of XML in ~130 KB: the zip bomb of the issue
    docx(folder / "bomb.docx", _PARA * (40 * 2**20 // len(_PARA.encode())))
    laughs = ('<!DOCTYPE w:document [<!ENTITY a "哈哈哈哈哈哈哈哈哈哈">'
              + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + "]>")
    docx(folder / "laughs.docx", "<w:p><w:r><w:t>开头&j;结尾</w:t></w:r></w:p>", laughs)
    secret = root / "secret.txt"
    secret.write_text(MARKER, "utf-8")
    docx(folder / "external-entity.docx", "<w:p><w:r><w:t>前文&ext;后文在这里。</w:t></w:r></w:p>",
         f'<!DOCTYPE w:document [<!ENTITY ext SYSTEM "file://{secret}">]>')
    (folder / "deep.html").write_text("<html><body>" + "<div>" * 100_000 + "深处的文字。" + "</div>" * 100_000
                                      + "</body></html>", "utf-8")
    docx(folder / "deep-table.docx", "<w:tbl><w:tr><w:tc>" * 5000 + _PARA + "</w:tc></w:tr></w:tbl>" * 5000)
    (folder / "drawing-loop.pdf").write_bytes(pdf_xobject_bomb())
    (folder / "huge.txt").write_text("北京市加快建设国际科技创新中心。" * 70_000, "utf-8")   # 1.12 M characters
    (folder / "many-headings.txt").write_text("\n".join(f"第{i}条 一、北京" for i in range(1, 70_000)), "utf-8")
    os.mkfifo(folder / "fifo.txt")
    os.symlink("/dev/zero", folder / "zero.txt")
    os.symlink(folder / "loop-b.txt", folder / "loop-a.txt")
    os.symlink(folder / "loop-a.txt", folder / "loop-b.txt")
    os.symlink(folder / "moved-away.txt", folder / "dangling.txt")
    os.symlink(secret, folder / "passwd.txt")          # a link to a file outside the folder
    (folder / "evil\nname\x1b[31m.txt").write_bytes(b"")
    assert (folder / "bomb.docx").stat().st_size < 200 * 2**10
    return folder


@pytest.fixture(scope="module")
def invalid_bytes(bad_folder) -> Path:
    good = "北京市加快建设国际科技创新中心，2022年全年专利授权量20.3万件。".encode() * 100
    path = bad_folder.parent / "invalid-bytes.txt"
    path.write_bytes(good[:999] + b"\xff\xfe" + good[1000:] + b"\xc3")
    return path


_PROBE = r"""
import json, os, resource, sys, time
from pathlib import Path
from ingest.chunk import ChunkSettings
from ingest.errors import FileSkipped
from ingest.guard import read_regular
from ingest.pipeline import prepare_document
from ingest.sandbox import Sandbox
from ingest.settings import Settings
limits = Settings.from_env(os.environ).load_limits()
path = Path(sys.argv[1])
t0 = time.perf_counter()
out = {}
with Sandbox(limits) as box:
    try:
        warnings = []
        data = read_regular(path, limits.max_bytes)
        prepare_document(path, "probe", ChunkSettings(), limits.max_bytes, warnings,
                         load=box.load_file, data=data, limits=limits)
        out = {"ingested": True, "warnings": warnings}
    except FileSkipped as e:
        out = {"skipped": e.reason}
out["seconds"] = round(time.perf_counter() - t0, 2)
# VmHWM: this program's own peak (ru_maxrss would count the pages of the forking test runner)
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
out["peak_mb"] = round(int(hwm.split()[1]) / 1024)
out["parser_peak_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
print(json.dumps(out, ensure_ascii=False))
"""


def _probe(path: Path, cache: Path, **env) -> dict:
    """Load, clean and chunk one file the way ingest does, in a fresh process: its time and
    the peak memory of that process and of its parser child."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(path)], env=_env(cache, **env), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_every_bad_file_is_skipped_quickly_with_little_memory(bad_folder, invalid_bytes, tmp_path):
    rows = {}
    for name, expected in BAD.items():
        got = _probe(bad_folder / name, tmp_path)
        rows[name] = got
        assert re.search(expected, got.get("skipped", "")), (name, got)
        assert "\n" not in got["skipped"] and len(got["skipped"]) < 220, (name, got)
        # the cleaner and chunker read a million characters of headings before the count is known
        limit = 30 if name == "many-headings.txt" else 10
        assert got["seconds"] < limit and got["peak_mb"] < 500 and got["parser_peak_mb"] < 500, (name, got)
    rows["/dev/zero"] = _probe(Path("/dev/zero"), tmp_path)
    assert "character device" in rows["/dev/zero"]["skipped"] and rows["/dev/zero"]["seconds"] < 1
    # a few invalid bytes: read, with a warning that counts them
    got = _probe(invalid_bytes, tmp_path)
    assert got.get("ingested") and "invalid byte sequences in utf-8 text" in " ".join(got["warnings"]), got
    rows[invalid_bytes.name] = got
    _record("bad_files", {k.encode("unicode_escape").decode(): v for k, v in rows.items()})
    width = max(len(repr(k)) for k in rows)
    for k, v in rows.items():
        print(f"{k!r:{width}}  {v['seconds']:5.2f} s  {v['peak_mb']:4d} MB + parser {v['parser_peak_mb']:3d} MB  "
              f"{v.get('skipped') or 'ingested; ' + '; '.join(v['warnings'])}")


def test_a_million_characters_of_short_lines_clean_in_linear_time(tmp_path):
    """330,000 two-character lines with no sentence end: the cleaner joined them pair by
    pair, copying the growing paragraph each time (hours); now one pass."""
    path = tmp_path / "lines.txt"
    path.write_text("北京\n" * 330_000, "utf-8")
    got = _probe(path, tmp_path)
    assert got.get("ingested") and got["seconds"] < 60 and got["peak_mb"] < 500, got
    _record("short_lines", got)


def test_a_parse_that_needs_too_much_memory_is_stopped(tmp_path):
    """The text-drawing variant of the PDF bomb piles up text: the memory budget stops it."""
    pdf = tmp_path / "text-loop.pdf"
    pdf.write_bytes(pdf_xobject_bomb(leaf=b"BT /F1 12 Tf 72 720 Td (Beijing patents 203000) Tj ET"))
    got = _probe(pdf, tmp_path, POLICYQA_PARSE_SECONDS="60", POLICYQA_PARSE_MEMORY_MB="200")
    assert "needs more than 200 MB of memory (POLICYQA_PARSE_MEMORY_MB)" in got.get("skipped", ""), got
    assert got["seconds"] < 30 and got["parser_peak_mb"] < 500, got
    _record("memory_budget", got)
    print(got)


def test_the_batch_goes_on_one_line_per_file_and_the_index_is_untouched(
        bad_folder, invalid_bytes, seed_index, cache_dir, tmp_path, capsys, monkeypatch):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index, symlinks=True)
    gen, before = (index / store.CURRENT).resolve(), store.load(index).manifest["documents"]
    for k, v in _env(cache_dir).items():
        if k.startswith("POLICYQA_"):
            monkeypatch.setenv(k, v)
    t0 = time.perf_counter()
    # the folder, and a FIFO and a device named directly (a FIFO argument used to hang holding the lock)
    code = cli(["ingest", str(bad_folder), str(bad_folder / "fifo.txt"), "/dev/zero", "--index", str(index),
                "--quiet"])
    seconds = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert code == 3 and "Traceback" not in err and "internal error" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("skipped ")]
    assert len(lines) == len(BAD) + len(IN_FOLDER) + 1, err    # fifo.txt once (de-duplicated), /dev/zero
    for name, reason in {**BAD, **IN_FOLDER}.items():
        shown = str(bad_folder / name).replace("\n", "\\n").replace("\x1b", "\\x1b")
        assert sum(ln.startswith(f"skipped {shown}: ") and bool(re.search(reason, ln)) for ln in lines) == 1, (
            name, err)
    assert "\x1b" not in err
    assert (index / store.CURRENT).resolve() == gen        # nothing rejected changed the index
    assert store.load(index).manifest["documents"] == before
    _record("matrix_cli_seconds", round(seconds, 1))

    # the invalid bytes are read, with the warning on its own line
    assert cli(["ingest", str(invalid_bytes), "--index", str(index), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "invalid byte sequences" in err
    doc = next(d for d in store.load(index).docs.values() if d.metadata["source_path"] == str(invalid_bytes))
    assert "\ufffd" in doc.text and "20.3万件" in doc.text
    # CLI provenance: the OS user and the path
    assert doc.metadata["added_from"] == str(invalid_bytes) and doc.metadata["added_by"]
    assert MARKER not in json.dumps([d.text for d in store.load(index).docs.values()], ensure_ascii=False)


def test_links_out_of_the_folder_are_followed_only_when_asked(bad_folder, tmp_path, cache_dir):
    from ingest import ingest
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "own.txt").write_text("上海市推进人工智能产业发展，到2025年核心产业规模突破一千二百亿元。", "utf-8")
    os.symlink(bad_folder.parent / "secret.txt", folder / "outside.txt")
    os.symlink(folder, folder / "self-loop")                  # a folder link back to itself
    kw = dict(cache_path=cache_dir / "embeddings.sqlite", progress=False)
    s = ingest([folder], tmp_path / "i1", **kw)
    assert [x["reason"] for x in s.skipped] == [f"symbolic link to {bad_folder.parent / 'secret.txt'}, outside "
                                                "the folder being ingested: not followed (--follow-links)"]
    assert len(s.added) == 1
    s = ingest([folder], tmp_path / "i2", follow_links=True, **kw)
    assert not s.skipped and len(s.added) == 2


def test_a_folder_made_only_of_links_to_files_is_a_selection(tmp_path):
    """dev_eval.sh's Chinese-only folder: `ln -s` of each document. Links to files only are
    followed; one real file among them makes it an ordinary folder again."""
    from ingest.walk import walk
    docs, picks = tmp_path / "docs", tmp_path / "picks"
    docs.mkdir(), picks.mkdir()
    for name in ("a.txt", "b.txt"):
        (docs / name).write_text("上海市推进人工智能产业发展。", "utf-8")
        os.symlink(docs / name, picks / name)
    w = walk([picks])
    assert sorted(p.name for p in w.files) == ["a.txt", "b.txt"] and not w.skipped
    (picks / "own.txt").write_text("本地文件。", "utf-8")
    w = walk([picks])
    assert [p.name for p in w.files] == ["own.txt"] and len(w.skipped) == 2


def test_terminal_output_carries_no_escape_codes(tmp_path, cache_dir, capsys, monkeypatch):
    """A title with escape codes (from a sidecar) and text with a bidi override print clean."""
    doc = tmp_path / "t.txt"
    doc.write_text("北京市2022年全年专利授权量20.3万件\x1b]0;pwned\x07，技术合同成交额\u202e增长。\n", "utf-8")
    doc.with_name("t.txt.meta.json").write_text(json.dumps({"title": "标题\x1b[2J\x1b[31m红\u0085色"}), "utf-8")
    monkeypatch.setenv("POLICYQA_CACHE_DIR", str(cache_dir))
    assert cli(["ingest", str(doc), "--index", str(tmp_path / "idx"), "--quiet"]) == 0
    capsys.readouterr()
    assert cli(["search", "专利授权量", "--index", str(tmp_path / "idx")]) == 0
    out = capsys.readouterr().out
    assert "标题红色" in out and "20.3万件" in out
    assert not any(ch in out for ch in "\x1b\x07\u202e\u0085")
    assert cli(["search", "专利授权量", "--index", str(tmp_path / "idx"), "--json"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\u0085" not in out
    assert json.loads(out)[0]["title"] == "标题\x1b[2J\x1b[31m红\u0085色"     # the same value, escaped


def test_markdown_in_documents_never_becomes_a_link():
    """The chat renders Markdown: what a document says is escaped so that nothing of it is
    read as Markdown (no raw blank line ends our HTML block) and no link syntax survives."""
    from markdown_it import MarkdownIt
    from app import render
    from assistant.types import Answer, Citation
    doc = ("前文。\n\n详见[通知全文](http://evil.example/a)及![图](http://evil.example/b.png)，"
           "或访问 http://evil.example/c 和 www.evil.example，邮件 x@evil.example。\n\n后文。")
    s, e = doc.index("详见"), doc.index("后文")
    c = Citation(1, "d", "标题\n\n[点我](http://evil.example/t)", "一、\n\n节", doc[s:e], s, e, None, 1.0)
    out = render.answer_html(Answer("q", doc[s:e] + "[1]", True, "extractive", (c,)), "m", {"d": doc},
                             {"d": {"added_by": "x\n\n[y](http://evil.example/p)", "added_from": "a.docx"}})
    assert "\n\n" not in out
    html_ = MarkdownIt("commonmark", {"linkify": False}).render(out)
    assert "evil.example" in html_ and 'href="http://evil' not in html_ and "<img" not in html_


# ---- crash consistency -------------------------------------------------------------------------

def _doc_text(n: int) -> str:
    return "\n".join(f"第{i}条 本市支持第{i}个创新联合体开展关键核心技术攻关，到{2000 + i % 30}年建成"
                     f"第{i}批新型研发机构{i * 7}家，培育专精特新企业{i * 13}户。" for i in range(1, n + 1))


def _start_ingest(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as f:
        return subprocess.Popen(_policyqa() + ["ingest", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=f, text=True)


def _parser_child(proc) -> psutil.Process | None:
    try:
        return next((c for c in psutil.Process(proc.pid).children(recursive=True)
                     if "ingest.sandbox" in " ".join(c.cmdline())), None)
    except psutil.Error:
        return None


def test_killed_ingests_leave_an_index_that_loads_and_answers(seed_index, tmp_path, bad_folder):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index, symlinks=True)
    gen = (index / store.CURRENT).resolve()
    before = store.load(index).manifest["documents"]
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "measures.txt").write_text(_doc_text(500), "utf-8")
    shutil.copy(bad_folder / "drawing-loop.pdf", folder / "drawing-loop.pdf")
    cache = tmp_path / "fresh-cache"                 # empty: the runs really embed
    opened: list[Assistant] = []

    def unchanged(what: str):
        assert (index / store.CURRENT).resolve() == gen, what
        assert store.load(index).manifest["documents"] == before, what
        a = Assistant.open(index, cache_path=cache / "embeddings.sqlite",
                           embedder=opened[-1].embedder if opened else None)     # the model loaded once
        opened.append(a)
        ans = a.ask(QUESTION)
        assert ans.found and "20.3万件" in ans.text, what

    kills = []
    # 1. while the parser child is busy with the PDF (a long budget keeps it busy)
    log = tmp_path / "parse.log"
    proc = _start_ingest([str(folder), "--index", str(index)], _env(cache, POLICYQA_PARSE_SECONDS="120"), log)
    _wait_until(proc, log, lambda: _parser_child(proc) is not None, "the parser child")
    child = _parser_child(proc)
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    child.wait(timeout=10)                           # the child dies with its parent (no orphan parsing on)
    kills.append("parsing")
    unchanged("SIGKILL while parsing")
    # 2. while embedding, at a quarter
    log = tmp_path / "embed.log"
    proc = _start_ingest([str(folder), "--index", str(index)], _env(cache), log)
    _wait_until(proc, log, _embedded_at_least(log, 0.25), "embedding")
    proc.kill()
    proc.wait()
    kills.append("embedding")
    unchanged("SIGKILL while embedding")
    # 3. while the new generation is being written
    log = tmp_path / "write.log"
    proc = _start_ingest([str(folder), "--index", str(index)], _env(cache), log)
    _wait_until(proc, log, lambda: any(index.glob(".tmp-gen-*")), "the write")
    proc.kill()
    proc.wait()
    kills.append("writing")
    unchanged("SIGKILL while writing")
    strays = {p.name for p in index.glob(".tmp-gen-*")}
    assert strays                                    # the killed writer's half-written folder
    # a full run afterwards: the document is in, the abandoned folder is gone at once
    log = tmp_path / "final.log"
    proc = _start_ingest([str(folder), "--index", str(index), "--json"], _env(cache), log)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 3, log.read_text()[-2000:]          # 3: the PDF is skipped
    summary = json.loads(out)
    assert summary["added"] == ["measures"] and summary["skipped"][0]["path"].endswith("drawing-loop.pdf")
    assert not strays & {p.name for p in index.glob(".tmp-gen-*")}
    a = Assistant.open(index, cache_path=cache / "embeddings.sqlite", embedder=opened[-1].embedder)
    assert a.ask(QUESTION).found
    assert any(h.doc_id == "measures" for h in a.search("第三百个创新联合体", k=5))
    _record("crash_kills", kills)


# ---- a real server with accounts ---------------------------------------------------------------

PASSWORDS = {"lib": "librarian-pw-1", "reader": "reader-pw-12", "temp": "temporary-pw"}


@pytest.fixture(scope="module")
def server(seed_index, cache_dir, tmp_path_factory):
    data = tmp_path_factory.mktemp("served")
    index = data / "index"
    shutil.copytree(seed_index, index, symlinks=True)
    users = data / "users.json"
    for name, role in (("lib", "librarian"), ("reader", "reader"), ("temp", "reader")):
        proc = subprocess.run(_policyqa() + ["user", "add", name, "--role", role, "--auth", str(users),
                                             "--password-stdin"], input=PASSWORDS[name] + "\n", text=True,
                              env=_env(cache_dir), cwd=ROOT, capture_output=True)
        assert proc.returncode == 0, proc.stderr
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = data / "app.log"
    cmd = _policyqa() + ["serve", "--index", str(index), "--port", str(port), "--auth", str(users)]
    with http_server(cmd, url, log, name="the app", env=_env(cache_dir, GRADIO_ANALYTICS_ENABLED="False"),
                     cwd=ROOT):
        yield {"url": url, "index": index, "users": users, "log": log, "data": data}
    # No handler of the app fails; Gradio itself logs its refusal of a server path with a
    # traceback of its InvalidPathError (the upload-path attack below), and nothing else.
    text = log.read_text()
    assert text.count("Traceback") == text.count("gradio.exceptions.InvalidPathError: Cannot move"), text[-3000:]


def _client(server, who: str | None):
    from gradio_client import Client
    return Client(server["url"], auth=(who, PASSWORDS[who]) if who else None, verbose=False)


def _login(server, who: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    body = urllib.parse.urlencode({"username": who, "password": PASSWORDS[who]}).encode()
    with opener.open(server["url"] + "login", body, timeout=30) as r:
        assert r.status == 200
    return opener


def _call(opener, server, api: str, data: list) -> str:
    """The raw HTTP API: POST the call, read its event stream; its last event."""
    req = urllib.request.Request(f"{server['url']}gradio_api/call/{api}", json.dumps({"data": data}).encode(),
                                 {"Content-Type": "application/json"})
    with opener.open(req, timeout=30) as r:
        event_id = json.loads(r.read())["event_id"]
    with opener.open(f"{server['url']}gradio_api/call/{api}/{event_id}", timeout=120) as r:
        events = [ln.split(":", 1)[1].strip() for ln in r.read().decode().splitlines() if ln.startswith("event:")]
        return events[-1]


def _content(message: dict) -> str:
    c = message["content"]
    return c if isinstance(c, str) else "".join(p.get("text", "") for p in c if isinstance(p, dict))


def _documents(server) -> dict:
    return store.load(server["index"]).manifest["documents"]


def test_no_file_of_the_server_is_readable_through_the_app(server, tmp_path):
    secret = tmp_path / "server-secret.md"
    secret.write_text(f"# 内部文件\n\n{MARKER}，不得外传。\n", "utf-8")
    before = _documents(server)
    lib = _login(server, "lib")
    # The attack of the issue, as raw HTTP: the upload handler named a server path.
    fd = {"path": str(secret), "meta": {"_type": "gradio.FileData"}, "orig_name": "x.md"}
    assert _call(lib, server, "_upload", [[fd]]) == "error"
    for path in (str(secret), "/etc/passwd", str(server["index"] / "CURRENT" / "docs.jsonl"), str(server["users"])):
        for route in ("gradio_api/file=", "file="):
            try:
                with lib.open(server["url"] + route + urllib.parse.quote(path), timeout=10) as r:
                    body = r.read().decode(errors="replace")
                    assert MARKER not in body and "scrypt$" not in body and "root:" not in body, route + path
                    pytest.fail(f"{route}{path} answered {r.status}")
            except urllib.error.HTTPError as e:
                assert e.code in (403, 404), (route, path, e.code)
    # The exact gradio_client call of the issue: without an account it cannot even connect;
    # a reader is refused. (gradio_client reads a local path on the *client* side and uploads
    # its bytes; only a librarian's upload is taken, and then it is the client's own file.)
    from gradio_client.exceptions import AppError, AuthenticationError
    with pytest.raises((AuthenticationError, ValueError)):
        _client(server, None).predict([{"path": str(secret), "meta": {"_type": "gradio.FileData"}}],
                                      api_name="/_upload")
    with pytest.raises(AppError, match="librarian"):
        _client(server, "reader").predict([{"path": str(secret), "meta": {"_type": "gradio.FileData"}}],
                                          api_name="/_upload")
    assert _documents(server) == before
    assert MARKER not in _client(server, "reader").predict("内部文件 不得外传", [], 10, api_name="/_search")


def test_the_service_takes_uploads_only_from_its_inbox(tmp_path, seed_index, cache_dir):
    """The app's own check, behind Gradio's: a path outside the upload folder is refused."""
    index = tmp_path / "index"
    shutil.copytree(seed_index, index, symlinks=True)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    svc = AppService(index, settings=Settings(cache_dir=cache_dir), inbox=inbox)
    outside = tmp_path / "server.md"
    outside.write_text(MARKER, "utf-8")
    (inbox / "link.md").symlink_to(outside)               # a link planted in the inbox: refused too
    for path in (outside, inbox / "link.md", inbox / ".." / "server.md"):
        accepted, rejected = svc.check_uploads([str(path)])
        assert not accepted and "not an uploaded file" in rejected[0][1], path
    before = store.load(index).manifest["documents"]
    from ingest.errors import UploadRejected
    with pytest.raises(UploadRejected, match="not an uploaded file"):
        svc.ingest_uploads([str(outside)])
    assert store.load(index).manifest["documents"] == before


def test_roles_are_enforced_through_the_http_api(server, tmp_path):
    from gradio_client.exceptions import AppError
    # no account: refused before any handler
    req = urllib.request.Request(server["url"] + "gradio_api/call/_search",
                                 json.dumps({"data": ["专利", [], 5]}).encode(), {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401
    # a reader reads ...
    reader = _client(server, "reader")
    assert "20.3万件" in reader.predict(QUESTION, [], 5, api_name="/_search").replace(" ", "")
    table, *_ = reader.predict(api_name="/_library")
    assert "pq-library" in table
    # ... and may not change the library, whatever the page shows
    doc_id = next(iter(_documents(server)))
    with pytest.raises(AppError, match="librarian"):
        reader.predict([doc_id], api_name="/_remove")
    upload = tmp_path / "上海办法.txt"
    upload.write_text("上海市支持建设人工智能创新策源地，到2025年人工智能核心产业规模突破一千二百亿元。", "utf-8")
    with pytest.raises(AppError, match="librarian"):
        reader.predict([{"path": str(upload), "meta": {"_type": "gradio.FileData"}}], api_name="/_upload")
    # nor make the server call an address of its choosing
    with pytest.raises(AppError, match="only calls the LLM endpoints"):
        reader.predict(QUESTION, [], "大模型 LLM", "http://169.254.169.254/latest", "m", "", 5, api_name="/_chat")
    assert doc_id in _documents(server)
    # a librarian uploads (provenance: the account and the upload's name) and removes
    lib = _client(server, "lib")
    status, table, *_ = lib.predict([{"path": str(upload), "meta": {"_type": "gradio.FileData"}}],
                                    api_name="/_upload")
    assert "已导入 1 个文件" in status
    added = next(m for m in _documents(server).values() if m.get("added_from") == "上海办法.txt")
    assert added["added_by"] == "lib" and added["added_at"]
    assert "上海办法.txt" in table and ">lib<" in table
    history, *_ = lib.predict("上海人工智能核心产业规模到2025年突破多少？", [], "摘录 Extractive", "", "", "", 5,
                              api_name="/_chat")
    assert "added by lib" in _content(history[-1])       # the source card says who added it
    lib.predict(api_name="/_library")
    lib.predict([added["doc_id"]], api_name="/_remove")
    assert added["doc_id"] not in _documents(server)
    # an account removed from the file stops working at its next request, session or not
    temp = _client(server, "temp")
    assert "pq-card" in temp.predict("专利", [], 3, api_name="/_search")
    assert cli(["user", "remove", "temp", "--auth", str(server["users"])]) == 0
    with pytest.raises(AppError, match="no longer exists"):
        temp.predict("专利", [], 3, api_name="/_search")


def test_the_page_offers_the_library_tools_to_librarians_only(server):
    from .test_ui_browser import CHROMIUM, CHROMIUM_ARGS, _need_browser
    _need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for who, tools in (("reader", False), ("lib", True)):
                page = browser.new_context(locale="zh-CN").new_page()
                page.set_default_timeout(60_000)
                page.goto(server["url"])
                page.fill("input[type=text], input[name=username]", who)
                page.fill("input[type=password]", PASSWORDS[who])
                page.keyboard.press("Enter")
                page.wait_for_selector("#pq-session .pq-session")
                assert who in page.inner_text("#pq-session")
                page.get_by_role("tab", name="文库 Library").click()
                page.wait_for_selector("#pq-library table")
                assert page.locator("#pq-upload").is_visible() is tools, who
                assert page.locator("#pq-remove").is_visible() is tools, who
                page.context.close()
        finally:
            browser.close()


def test_ten_askers_during_an_ingest_never_fail(server, tmp_path):
    askers, seconds = 10, 20.0
    clients = [_client(server, "reader") for _ in range(askers)]
    lib = _client(server, "lib")
    big = tmp_path / "并发测试文件.txt"
    big.write_text(_doc_text(400), "utf-8")
    latencies: list[float] = []
    failures: list[str] = []
    ingest_done: dict = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def ask(c):
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                history, *_ = c.predict(QUESTION, [], "摘录 Extractive", "", "", "", 5, api_name="/_chat")
                text = _content(history[-1])
                ok = "pq-found" in text and "20.3万件" in re.sub(r"<[^>]+>|\s", "", text)
            except Exception as e:       # noqa: BLE001
                ok, history = False, repr(e)
            with lock:
                latencies.append(time.perf_counter() - t0)
                if not ok:
                    failures.append(str(history)[-300:])

    def upload():
        time.sleep(2)
        t0 = time.perf_counter()
        status, *_ = lib.predict([{"path": str(big), "meta": {"_type": "gradio.FileData"}}], api_name="/_upload")
        ingest_done.update(ok="已导入 1 个文件" in status, seconds=round(time.perf_counter() - t0, 1))

    threads = [threading.Thread(target=ask, args=(c,)) for c in clients] + [threading.Thread(target=upload)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert ingest_done.get("ok"), ingest_done
    assert not failures, failures[:3]
    lat = sorted(latencies)
    figures = {"askers": askers, "seconds": seconds, "answers": len(lat), "failures": len(failures),
               "median_s": round(statistics.median(lat), 2), "p95_s": round(lat[int(0.95 * (len(lat) - 1))], 2),
               "ingest_s": ingest_done["seconds"]}
    _record("concurrency", figures)
    print(figures)
    assert len(lat) >= askers


def test_serving_beyond_loopback_needs_accounts(capsys):
    assert cli(["serve", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing to serve on 0.0.0.0 without accounts" in err


def test_limits_come_from_the_environment():
    s = Settings.from_env({"POLICYQA_MAX_UNPACKED_MB": "4", "POLICYQA_MAX_CHARS": "5000",
                           "POLICYQA_PARSE_SECONDS": "7", "POLICYQA_PARSE_MEMORY_MB": "300",
                           "POLICYQA_MAX_FILE_MB": "2", "POLICYQA_LLM_ALLOWED_URLS": "http://a:1/v1, http://b:2/v1"})
    assert s.load_limits() == LoadLimits(max_bytes=2 * 2**20, max_unpacked=4 * 2**20, max_chars=5000,
                                         parse_seconds=7.0, parse_memory=300 * 2**20)
    assert s.llm_allowed_urls == ("http://a:1/v1", "http://b:2/v1")
    # the defaults fit the largest real policy documents many times over
    d = LoadLimits()
    assert d.max_chars >= 10 * 100_000 and d.max_unpacked >= 16 * 2**20


def test_the_accounts_file_holds_no_password(server):
    text = server["users"].read_text("utf-8")
    assert all(pw not in text for pw in PASSWORDS.values()) and text.count("scrypt$") >= 2
