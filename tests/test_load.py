"""Loading stage on real content: the seed article and ../shared/corpus-extra."""
from __future__ import annotations

import codecs
import json
import os
import random
from pathlib import Path

import docx
import pymupdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import FileSkipped
from ingest.load import KINDS, load_file
from ingest.meta import is_sidecar, read_sidecar, resolve_metadata
from ingest.types import RawDocument

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED = SHARED / "seed" / "000_437448e36eb9382d.txt"
EXTRA = SHARED / "corpus-extra"
GUOFA = EXTRA / "2019_state-council_guofa-2019-4_national-vocational-education-reform-plan_zh.txt"
ENGLISH = EXTRA / "2017_state-council_government-work-report_en.txt"

# Hand-written Traditional Chinese: Big5 cannot hold the simplified seed article.
TRADITIONAL = (
    "臺灣的科技政策以促進產業創新為主要目標。政府持續擴大研究發展經費，鼓勵企業與大學合作，"
    "培育高階科技人才。\n為了強化國際競爭力，各部會應當建立跨領域的協調機制，並定期檢討執行成效。\n"
)


def shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"../shared not present (fresh clone): {path}")
    return path


@pytest.fixture(scope="module")
def seed() -> str:
    return shared(SEED).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed_lines(seed: str) -> list[str]:
    return [line for line in seed.split("\n") if line.strip()]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def skipped(path: Path, **kw) -> str:
    with pytest.raises(FileSkipped) as e:
        load_file(path, **kw)
    assert e.value.path == str(path)
    assert "\n" not in e.value.reason
    return e.value.reason


# ---- text encodings ---------------------------------------------------------------------

def test_seed_loads_as_utf8(seed):
    raw = load_file(SEED)
    assert (raw.kind, raw.encoding, raw.pages) == ("txt", "utf-8", [])
    assert raw.text == seed


@pytest.mark.parametrize("encoding, data, expect", [
    ("gb18030", lambda s: s.encode("gb18030"), "gb18030"),
    # GBK lacks the en/em spaces of the PDF extraction; GBK bytes read back through gb18030.
    ("gbk", lambda s: s.replace("\u2002", " ").replace("\u2003", " ").encode("gbk"), "gb18030"),
    ("utf-8-bom", lambda s: codecs.BOM_UTF8 + s.encode("utf-8"), "utf-8-sig"),
    ("utf-16-le-bom", lambda s: codecs.BOM_UTF16_LE + s.encode("utf-16-le"), "utf-16-le"),
    ("utf-16-be-bom", lambda s: codecs.BOM_UTF16_BE + s.encode("utf-16-be"), "utf-16-be"),
    ("utf-16-le-no-bom", lambda s: s.encode("utf-16-le"), "utf-16-le"),
    ("crlf", lambda s: s.replace("\n", "\r\n").encode("utf-8"), "utf-8"),
    ("cr", lambda s: s.replace("\n", "\r").encode("gb18030"), "gb18030"),
])
def test_seed_reencoded_loads_back(tmp_path, seed, encoding, data, expect):
    raw = load_file(write(tmp_path / f"seed-{encoding}.txt", data(seed)))
    text = seed.replace("\u2002", " ").replace("\u2003", " ") if encoding == "gbk" else seed
    assert raw.text == text
    assert raw.encoding == expect


def test_big5_traditional_paragraph(tmp_path):
    raw = load_file(write(tmp_path / "tw.txt", TRADITIONAL.encode("big5")))
    assert raw.text == TRADITIONAL
    assert raw.encoding in ("big5", "cp950")


@pytest.mark.parametrize("line", [0, 1, 2])   # short texts are where detectors guess wrong
def test_short_gbk_lines(tmp_path, line):
    text = shared(GUOFA).read_text(encoding="utf-8").split("\n")[line]
    raw = load_file(write(tmp_path / "short.md", text.encode("gbk")))
    assert (raw.text, raw.encoding) == (text, "gb18030")


def test_corpus_extra_loads_unchanged():
    files = sorted(shared(EXTRA).glob("*.txt"))
    assert len(files) == 20
    for f in files:
        raw = load_file(f)
        assert raw.text == f.read_text(encoding="utf-8"), f.name
        assert raw.encoding == "utf-8"


# ---- pdf --------------------------------------------------------------------------------

LINES_PER_PAGE = 25


@pytest.fixture
def seed_pdf(tmp_path, seed_lines) -> Path:
    doc = pymupdf.open()
    for start in range(0, 3 * LINES_PER_PAGE, LINES_PER_PAGE):
        page = doc.new_page()
        page.insert_text((50, 60), seed_lines[start:start + LINES_PER_PAGE], fontname="china-s", fontsize=10)
    doc.set_metadata({"title": "科技自立自强视角下国际科技创新中心建设研究", "author": "庄芹芹; 吴沁沁; 谭畅"})
    path = tmp_path / "seed.pdf"
    doc.save(path)
    return path


def test_pdf_pages_cover_text(seed_pdf, seed_lines):
    raw = load_file(seed_pdf)
    assert raw.kind == "pdf" and raw.encoding is None
    assert [p.page for p in raw.pages] == [1, 2, 3]
    assert raw.pages[0].start == 0 and raw.pages[-1].end == len(raw.text)
    assert all(a.end == b.start for a, b in zip(raw.pages, raw.pages[1:]))
    assert raw.metadata == {"title": "科技自立自强视角下国际科技创新中心建设研究",
                            "authors": ["庄芹芹", "吴沁沁", "谭畅"]}
    # A phrase written on page 2 maps back to page 2.
    phrases = [ln.strip()[:10] for ln in seed_lines[LINES_PER_PAGE:2 * LINES_PER_PAGE]]
    phrase = next(p for p in phrases if len(p) == 10 and raw.text.count(p) == 1)
    at = raw.text.index(phrase)
    assert [p.page for p in raw.pages if p.start <= at < p.end] == [2]


def test_pdf_owner_password_only_still_loads(tmp_path, seed_pdf):
    path = tmp_path / "owner.pdf"
    pymupdf.open(seed_pdf).save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner")
    assert load_file(path).text == load_file(seed_pdf).text


def test_pdf_encrypted(tmp_path, seed_pdf):
    path = tmp_path / "locked.pdf"
    pymupdf.open(seed_pdf).save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    assert "PDF is encrypted" in skipped(path)


@pytest.mark.parametrize("keep", [300, 0.5])
def test_pdf_truncated(tmp_path, seed_pdf, keep):
    data = seed_pdf.read_bytes()
    n = keep if isinstance(keep, int) else int(len(data) * keep)
    assert skipped(write(tmp_path / "cut.pdf", data[:n])).startswith("not a readable PDF")


def test_pdf_not_a_pdf(tmp_path):
    path = write(tmp_path / "page.pdf", b"<html><body>404 Not Found</body></html>")
    assert skipped(path).startswith("not a readable PDF")


def test_pdf_image_only_without_ocr(tmp_path, monkeypatch):
    """Without the OCR extra, the reason says how to enable OCR (tests/test_ocr.py reads scans)."""
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "rapidocr_onnxruntime" else real(name, *a))
    from ingest.ocr import Recognizer
    doc = pymupdf.open()
    page = doc.new_page()
    page.draw_rect(pymupdf.Rect(50, 50, 300, 200), color=(0, 0, 0), fill=(0.8, 0.8, 0.8))
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 32, 32), False)
    pix.clear_with(180)
    page.insert_image(pymupdf.Rect(50, 250, 150, 350), pixmap=pix)
    path = tmp_path / "scan.pdf"
    doc.save(path)
    with Recognizer() as ocr:
        assert skipped(path, ocr=ocr) == ("PDF has no text layer (scanned images): OCR is not installed "
                                          "(install the OCR extra to read scanned pages: pip install 'policyqa[ocr]')")
        assert ocr.recognised == ocr.cached == 0


# ---- other reasons to skip ----------------------------------------------------------

def test_binary_txt(tmp_path):
    data = bytes(random.Random(7).randrange(256) for _ in range(4096)) + b"\x00\x00"
    assert skipped(write(tmp_path / "blob.txt", data)) == "not a text file (binary content)"


def test_empty_and_blank(tmp_path):
    assert skipped(write(tmp_path / "empty.txt", b"")) == "empty file"
    assert skipped(write(tmp_path / "blank.md", "\n \u3000\n".encode())) == "no text"


def test_unsupported_extension(tmp_path):
    reason = skipped(write(tmp_path / "table.xlsx", b"PK\x03\x04"))
    assert reason == "unsupported file type .xlsx (supported: .txt .md .html .pdf .docx .png .jpg .jpeg .tif .tiff)"


def test_unreadable_paths(tmp_path):
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "missing.txt")
    assert "broken symbolic link" in skipped(link)
    assert skipped(tmp_path / "missing.txt") == "file not found"
    folder = tmp_path / "folder.md"
    folder.mkdir()
    assert "folder" in skipped(folder)


def test_permission_denied(tmp_path, monkeypatch):
    path = write(tmp_path / "secret.txt", "保密".encode())
    if os.geteuid() == 0:   # root reads files whatever their mode: make open() refuse instead
        real_open = os.open

        def refuse(file, *args, **kwargs):
            if os.fspath(file) == str(path):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)
        monkeypatch.setattr(os, "open", refuse)
    else:
        path.chmod(0)
    assert skipped(path) == "permission denied"


def test_over_size_limit(tmp_path, seed):
    path = write(tmp_path / "seed.txt", seed.encode())
    assert skipped(path, max_bytes=1000) == "file is 16.4 KB, over the 1000 bytes limit (POLICYQA_MAX_FILE_MB)"
    assert load_file(path, max_bytes=len(seed.encode())).text == seed


def test_corrupt_docx(tmp_path):
    assert skipped(write(tmp_path / "bad.docx", b"PK\x03\x04 not really a zip")).startswith("not a readable .docx")
    assert "old Word .doc" in skipped(write(tmp_path / "old.docx", b"\xd0\xcf\x11\xe0" + bytes(508)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=2048), ext=st.sampled_from(sorted(KINDS)))
def test_random_bytes_never_crash(tmp_path, data, ext):
    path = write(tmp_path / f"random{ext}", data)
    try:
        raw = load_file(path)
    except FileSkipped:
        return
    assert isinstance(raw, RawDocument) and raw.text.strip()


# ---- docx, html, markdown ---------------------------------------------------------------

def test_docx_order_headings_and_table(tmp_path, seed_lines):
    d = docx.Document()
    d.core_properties.title = "国际科技创新中心建设研究"
    d.core_properties.author = "庄芹芹"
    d.add_heading("科技自立自强视角下国际科技创新中心建设研究", level=1)
    d.add_paragraph(seed_lines[3])
    d.add_heading("一、科技自立自强与国际科技创新中心的理论内涵", level=2)
    d.add_heading("Background", level=2)
    d.add_paragraph(seed_lines[4])
    table = d.add_table(rows=3, cols=2)
    for r, row in enumerate([("指标", "2022年"), ("专利授权量", "20.3万件")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(2, 0).merge(table.cell(2, 1)).text = "数据来源于北京市统计局"
    d.add_paragraph("表后的段落。")
    path = tmp_path / "article.docx"
    d.save(path)

    raw = load_file(path)
    assert raw.kind == "docx"
    assert raw.text.split("\n") == [
        "# 科技自立自强视角下国际科技创新中心建设研究",
        seed_lines[3],
        "一、科技自立自强与国际科技创新中心的理论内涵",
        "## Background",
        seed_lines[4],
        "指标 | 2022年",
        "专利授权量 | 20.3万件",
        "数据来源于北京市统计局",
        "表后的段落。",
    ]
    assert raw.metadata["title"] == "国际科技创新中心建设研究"
    assert raw.metadata["authors"] == ["庄芹芹"]


HTML = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="gbk"><title>北京国际科技创新中心建设条例_首都之窗</title>
<style>p { color: red }</style><script>var s = "不应出现";</script></head>
<body><nav><a href="/">首页</a> | <a href="/zc">政策文件</a></nav>
<header><div>北京市人民政府网站</div></header>
<article>
  <h1>北京国际科技创新中心建设条例</h1>
  <p>第一条　为了加快建设北京国际科技
     创新中心，制定本条例。</p>
  <h2>Overview</h2>
  <p>Beijing<br>Shanghai and
     Guangdong</p>
  <ul><li>一是推动区域创新共同体建设</li><li>二是积极展开国际合作</li></ul>
  <table><tr><th>指标</th><th>数值</th></tr><tr><td>专利授权量</td><td>20.3万件</td></tr></table>
  <!-- 注释不应出现 -->
  <p>&nbsp;</p>
</article>
<footer>版权所有</footer><noscript>请启用脚本</noscript></body></html>
"""


def test_html_blocks_and_metadata(tmp_path):
    raw = load_file(write(tmp_path / "page.HTM", HTML.encode("gbk")))
    assert (raw.kind, raw.encoding) == ("html", "gb18030")
    assert raw.text.split("\n") == [
        "# 北京国际科技创新中心建设条例",
        "第一条\u3000为了加快建设北京国际科技创新中心，制定本条例。",
        "## Overview",
        "Beijing",
        "Shanghai and Guangdong",
        "一是推动区域创新共同体建设",
        "二是积极展开国际合作",
        "指标 | 数值",
        "专利授权量 | 20.3万件",
    ]
    assert raw.metadata == {"title": "北京国际科技创新中心建设条例_首都之窗", "language": "zh-CN"}


def test_markdown_front_matter(tmp_path):
    body = "# 第一章 总则\n\n第一条 为了加快建设北京国际科技创新中心，制定本条例。\n"
    md = ("---\ntitle: 北京国际科技创新中心建设条例\nauthor:\n  - 北京市人民代表大会\n"
          "date: 2024-01-19\ntags: [科技, 北京]\n---\n" + body)
    raw = load_file(write(tmp_path / "law.markdown", md.encode()))
    assert raw.text == body
    assert raw.metadata == {"title": "北京国际科技创新中心建设条例", "author": ["北京市人民代表大会"],
                            "date": "2024-01-19", "tags": ["科技", "北京"]}


def test_markdown_rule_is_not_front_matter(tmp_path):
    md = "---\n这不是元数据，而是正文。\n---\n正文继续。\n"
    raw = load_file(write(tmp_path / "rule.md", md.encode()))
    assert (raw.text, raw.metadata) == (md, {})


# ---- sidecars and metadata -------------------------------------------------------------

@pytest.fixture
def guofa(tmp_path) -> Path:
    return write(tmp_path / GUOFA.name, shared(GUOFA).read_bytes())


def test_is_sidecar():
    assert is_sidecar("a/b/report.pdf.meta.json") and is_sidecar("report.META.JSON")
    assert not is_sidecar("report.json") and not is_sidecar("meta.json.txt")


def test_metadata_read_off_the_text(guofa):
    meta = resolve_metadata(guofa, load_file(guofa), read_sidecar(guofa))
    assert meta == {"title": "国务院关于印发国家职业教育改革实施方案的通知", "authors": [], "issuer": "国务院",
                    "date": "2019-01-24", "date_source": "signed", "doc_number": "国发〔2019〕4号",
                    "language": "zh", "source_url": None, "jurisdiction": "全国", "doc_type": "notice",
                    "display_title": "国务院关于印发国家职业教育改革实施方案的通知（国发〔2019〕4号）",
                    "kind": "txt", "filename": GUOFA.name}


def test_metadata_fallback_title_and_language(seed):
    assert resolve_metadata(SEED, load_file(SEED), {})["title"] == "科技自立自强视角下国际科技创新中心建设研究"
    english = resolve_metadata(ENGLISH, load_file(shared(ENGLISH)), {})
    assert english["language"] == "en" and english["date"] == "2017-03-05"
    undated = RawDocument(path="2025_report.txt", kind="txt", text="各位代表：\n现在，我代表国务院，向大会报告政府工作。")
    meta = resolve_metadata("2025_report.txt", undated, {})
    assert (meta["date"], meta["date_source"], meta["title"]) == ("2025", "file name", "政府工作报告")
    for first in ("国际科技创新中心建设研究 *", "国际科技创新中心建设研究①", "国际科技创新中心建设研究[1]"):
        raw = RawDocument(path="x.txt", kind="txt", text=f"\n{first}\n正文。")
        assert resolve_metadata("x.txt", raw, {})["title"] == "国际科技创新中心建设研究"
    long_line = RawDocument(path="notes.txt", kind="txt", text="很长的一行" * 20)
    assert resolve_metadata("notes.txt", long_line, {})["title"] == "notes"


def test_sidecar_wins_and_keeps_extra_keys(guofa):
    stem_sidecar = guofa.with_name(guofa.stem + ".meta.json")
    full_sidecar = guofa.with_name(guofa.name + ".meta.json")
    stem_sidecar.write_text(json.dumps({"title": "不会被采用"}, ensure_ascii=False), encoding="utf-8")
    full_sidecar.write_text(json.dumps({
        "title": "国家职业教育改革实施方案", "authors": "国务院、教育部", "issuer": "国务院",
        "date": "2019-01-24", "doc_number": "国发〔2019〕4号", "language": "zh-CN",
        "source_url": "http://www.gov.cn/zhengce/content/2019-02/13/content_5365341.htm",
        "topic": "职业教育"}, ensure_ascii=False), encoding="utf-8")
    sidecar = read_sidecar(guofa)
    assert sidecar["authors"] == ["国务院", "教育部"] and sidecar["topic"] == "职业教育"
    meta = resolve_metadata(guofa, load_file(guofa), sidecar)
    assert meta["title"] == "国家职业教育改革实施方案"
    assert (meta["doc_number"], meta["date"], meta["language"]) == ("国发〔2019〕4号", "2019-01-24", "zh")
    assert (meta["kind"], meta["filename"], meta["topic"]) == ("txt", GUOFA.name, "职业教育")
    full_sidecar.unlink()
    assert read_sidecar(guofa) == {"title": "不会被采用"}


def test_own_metadata_beats_fallback_and_placeholders_drop(tmp_path, seed_lines):
    d = docx.Document()   # python-docx writes author "python-docx" by itself
    d.add_paragraph(seed_lines[3])
    path = tmp_path / "2023_note.docx"
    d.save(path)
    meta = resolve_metadata(path, load_file(path), {})
    assert meta["authors"] == [] and meta["date"] == "2023" and meta["created"]
    raw = RawDocument(path="x.md", kind="md", text="正文第一行\n", metadata={"title": "自带标题", "lang": "en-US"})
    meta = resolve_metadata("x.md", raw, {"title": "旁注标题"})
    assert (meta["title"], meta["language"]) == ("旁注标题", "en")


@pytest.mark.parametrize("content, reason", [
    ('{"title": "缺少引号}', "not valid JSON"),
    ('["a", "b"]', "must be a JSON object"),
    ('{"date": "2019/01/24"}', "date must be YYYY or YYYY-MM-DD"),
    ('{"date": "2019-02-30"}', "date must be YYYY or YYYY-MM-DD"),
    ('{"authors": [1, 2]}', "authors must be"),
])
def test_bad_sidecar_names_the_sidecar(guofa, content, reason):
    sidecar = guofa.with_name(guofa.stem + ".meta.json")
    sidecar.write_text(content, encoding="utf-8")
    with pytest.raises(FileSkipped) as e:
        read_sidecar(guofa)
    assert e.value.path == str(sidecar)
    assert reason in e.value.reason
