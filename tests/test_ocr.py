"""Scanned documents: real page images made here (tests/scans.py), the real OCR model.

OCR costs 5-30 s a page on this CPU, so the whole module reads about a dozen pages:
pages are made once per session and recognised once per session (one OCR cache
`ocr_cache`); the tests about the cache itself and about the time budget use their own.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pymupdf
import pytest

from assistant import Assistant
from app import render
from app.service import AppService
from cli.main import main as cli
from ingest import ingest, store
from ingest.chunk import ChunkSettings
from ingest.errors import FileSkipped
from ingest.ocr import OcrSettings, PageFailed, Recognizer, unavailable
from ingest.ocr_text import OcrLine, QuoteState, normalize_punctuation, page_text, reading_order
from ingest.pipeline import prepare_document
from ingest.settings import Settings

from . import scans
from .conftest import SEED, need_shared

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"{unavailable()}")


# -- the pure part: reading order and punctuation ------------------------------------------
def line(text, x0, y0, x1, y1, conf=0.99):
    return OcrLine(text, (x0, y0, x1, y1), conf)


def test_reading_order_rows_then_left_to_right():
    # Shuffled; row 2 split by the detector at a wide gap; row 3 a little askew.
    frags = [line("第三行", 0.12, 0.205, 0.5, 0.225), line("正文", 0.40, 0.16, 0.6, 0.18),
             line("第一行", 0.12, 0.10, 0.8, 0.12), line("第二条", 0.12, 0.161, 0.3, 0.181)]
    rows = reading_order(frags)
    assert [[f.text for f in r] for r in rows] == [["第一行"], ["第二条", "正文"], ["第三行"]]
    page = page_text(frags)
    assert page.text == "第一行\n第二条 正文\n第三行"          # a space at the gap, as in a PDF extraction
    assert [page.text[s:e] for s, e, _ in page.lines] == ["第一行\n", "第二条 正文\n", "第三行"]
    assert page.lines[1][2].box == (0.12, 0.16, 0.6, 0.181)


def test_indented_lines_start_paragraphs():
    frags = [line("一段话的第一行，缩进两个字。这一行很长很长很长", 0.16, 0.10, 0.85, 0.12),
             line("第二行顶格。", 0.12, 0.13, 0.4, 0.15), line("另一段落开头", 0.16, 0.16, 0.85, 0.18)]
    text = page_text(frags).text.split("\n")
    assert text[0].startswith("\u3000\u3000") and not text[1].startswith("\u3000") and text[2].startswith("\u3000\u3000")


@pytest.mark.parametrize("ocr, want", [
    ("提出”三步走”计划，明确建设的”设计图”。", "提出“三步走”计划，明确建设的“设计图”。"),
    ('要"统筹推进国际科技创新中心"。', "要“统筹推进国际科技创新中心”。"),
    ("关键节点。［1］在全球化", "关键节点。[1]在全球化"),
    ("枢纽城市，［6」形成了", "枢纽城市，[6]形成了"),
    ("【内容提要】在经济", "【内容提要】在经济"),                  # not a footnote mark
    ("行动计划（2022一2024年）", "行动计划（2022—2024年）"),
    ("一2一", "— 2 —"),
    ("-科技创新实现新的突破", "——科技创新实现新的突破"),
    ("一一经济总体回升向好", "——经济总体回升向好"),
    ("一2024年3月5日在第十四届", "——2024年3月5日在第十四届"),
    ("一批重大科技成果", "一批重大科技成果"),
    ("北京,上海;粤港澳:", "北京，上海；粤港澳："),
    ("8,536.9亿元 (约)", "8,536.9亿元 （约）"),
    ("中心(Global Innovation Hubs)是", "中心（Global Innovation Hubs）是"),
    ("G丨oba丨 Innovation", "Global Innovation"),
    ("２０２２年", "2022年"),
    ("《关于修改（中华人民共和国专利法）的决定》", "《关于修改〈中华人民共和国专利法〉的决定》"),
    ("《关于修改<中华人民共和国专利法>的决定》", "《关于修改〈中华人民共和国专利法〉的决定》"),
    ("《北京高校科研创新发展行动计划（2022—2024年）》", "《北京高校科研创新发展行动计划（2022—2024年）》"),
    ("依照（中华人民共和国专利法）规定", "依照（中华人民共和国专利法）规定"),     # no 《》: left alone
])
def test_punctuation_forms(ocr, want):
    assert normalize_punctuation(ocr) == want


def test_quotes_carry_over_lines():
    state = QuoteState()
    lines = ["新中小企业高质量发展的若干措施》，提出力争到”十四五”末，国家级专精特新”",
             "小巨人”企业达500家"]
    assert [normalize_punctuation(t, state) for t in lines] == [
        "新中小企业高质量发展的若干措施》，提出力争到“十四五”末，国家级专精特新“", "小巨人”企业达500家"]


# -- fixtures: scanned renderings, recognised once per session ---------------------------
@pytest.fixture(scope="session")
def ocr_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ocrcache")


@pytest.fixture(scope="session")
def seed_pages():
    return scans.printed_pages(SEED)


@pytest.fixture(scope="session")
def scans_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scans")


@pytest.fixture(scope="session")
def seed_scan(seed_pages, scans_dir) -> Path:
    """The whole seed article as an image-only PDF (5 pages)."""
    return scans.scan_pdf(scans.text_pdf(seed_pages), scans_dir / "seed-scan.pdf")


@pytest.fixture(scope="session")
def seed_scan_2(seed_pages, scans_dir) -> Path:
    """Its first two pages (the same page images, so the cache serves them to both)."""
    return scans.scan_pdf(scans.text_pdf(seed_pages[:2]), scans_dir / "seed-scan-2.pdf")


def ocr_settings(cache: Path, **kw) -> OcrSettings:
    return OcrSettings(cache_dir=cache, **kw)


def build(files, index_dir, cache_dir, ocr: OcrSettings, **kw):
    return ingest([str(f) for f in files], index_dir, cache_path=cache_dir / "embeddings.sqlite",
                  progress=False, ocr=ocr, **kw)


@pytest.fixture(scope="session")
def scan_index(seed_scan_2, tmp_path_factory, cache_dir, ocr_cache):
    idx = tmp_path_factory.mktemp("scanidx") / "index"
    summary = build([seed_scan_2], idx, cache_dir, ocr_settings(ocr_cache))
    assert summary.added == ["seed-scan-2"] and not summary.skipped and not summary.warnings
    return idx, summary


def question(seed_dev, qid) -> dict:
    return next(q for q in seed_dev if q["id"] == qid)


def assert_answers(a: Assistant, q: dict, page: int, ocr: bool) -> None:
    ans = a.ask(q["question"])
    flat = "".join(ans.text.split())
    assert ans.found and all(x in flat for x in q["answer_contains"]), (q["id"], ans.text)
    cited = [c for c in ans.citations if any("".join(e.split()) in "".join(c.text.split()) or
                                           "".join(c.text.split()) in "".join(e.split()) for e in q["evidence"])]
    best = cited[0] if cited else ans.citations[0]
    assert best.page == page, (q["id"], best)
    doc = a.document(best.doc_id)
    assert doc.text[best.start:best.end] == best.text
    assert (best.ocr_confidence is not None) == ocr
    assert best.to_dict()["ocr_confidence"] == best.ocr_confidence
    if ocr:
        assert 0.5 < best.ocr_confidence <= 1


# -- targets: character accuracy, retrieval and answers over OCR'd text -----------------------
def test_character_accuracy_of_scanned_renderings(seed_pages, scans_dir, ocr_cache):
    """The seed article and three corpus-extra documents, first page each; the last one
    blurred, rotated 1.2 degrees and JPEG-compressed: >= 0.98 after cleaning."""
    extra = need_shared() / "corpus-extra"
    docs = [("seed", seed_pages[:1], False)] + [
        (name[:20], scans.printed_pages(extra / name, 1), name == scans.DEGRADED) for name in scans.EXTRA]
    scores = {}
    with Recognizer(ocr_settings(ocr_cache)) as ocr:
        for label, pages, degrade in docs:
            pdf = scans.scan_pdf(scans.text_pdf(pages), scans_dir / f"acc-{label}.pdf", degrade=degrade)
            prep = prepare_document(pdf, label, ChunkSettings(), 2**30, [], ocr=ocr)
            scores[label] = scans.char_accuracy(prep.doc.text, scans.printed_text(pages))
            assert all(c.ocr_confidence is not None and c.pages == (1,) for c in prep.chunks)
    assert min(scores.values()) >= 0.98, scores


def test_image_only_pdf_searched_and_answered_with_pages(scan_index, seed_dev, cache_dir):
    idx, summary = scan_index
    a = Assistant.open(idx, cache_path=cache_dir / "embeddings.sqlite")
    data = store.load(idx)
    (doc,) = data.docs.values()
    assert doc.metadata["kind"] == "pdf" and doc.metadata["ocr"]["pages"] == [1, 2]
    assert doc.metadata["n_pages"] == 2 and doc.lines and {r[2] for r in doc.lines} == {1, 2}
    assert all(0 <= r[3] < r[5] <= 1 and 0 <= r[4] < r[6] <= 1 for r in doc.lines)
    assert all(c.ocr_confidence is not None for c in data.chunks)
    # every line record spans its page's text
    assert all(doc.page_at(r[0]) == r[2] for r in doc.lines)
    hits = a.search("北京高校科研创新发展行动计划", k=3)
    assert hits[0].page == 2 and "2022—2024年" in hits[0].text
    assert_answers(a, question(seed_dev, "s04"), page=1, ocr=True)
    assert_answers(a, question(seed_dev, "s12"), page=2, ocr=True)     # quotes normalised: “小巨人”


def test_png_ingested_and_answered(scans_dir, tmp_path, cache_dir, ocr_cache):
    png = scans.short_scan(scans_dir / "数据要素办法.png")
    summary = build([png], tmp_path / "index", cache_dir, ocr_settings(ocr_cache))
    assert summary.added == ["数据要素办法"] and not summary.skipped, summary.skipped
    a = Assistant.open(tmp_path / "index", cache_path=cache_dir / "embeddings.sqlite")
    meta = a.document("数据要素办法").metadata
    assert meta["kind"] == "image" and meta["ocr"]["pages"] == [1] and meta["n_pages"] == 1
    assert a.search("数据商", k=1)[0].page == 1
    assert_answers(a, {"id": "png", "question": scans.SHORT_QUESTION, "answer_contains": ["五百亿元"],
                       "evidence": ["本市数据要素市场规模突破五百亿元"]}, page=1, ocr=True)


def test_mixed_pdf_text_and_scanned_pages(seed_pages, scans_dir, tmp_path, seed_dev, cache_dir, ocr_cache):
    """Pages 1 and 3 keep their text layer; page 2 is a scan (served from the cache)."""
    mixed = scans.scan_pdf(scans.text_pdf(seed_pages[:3]), scans_dir / "mixed.pdf", keep_text=(1, 3))
    summary = build([mixed], tmp_path / "index", cache_dir, ocr_settings(ocr_cache))
    assert summary.added == ["mixed"] and not summary.warnings, (summary.skipped, summary.warnings)
    assert summary.pages_recognised + summary.pages_from_ocr_cache == 1
    data = store.load(tmp_path / "index")
    doc = data.docs["mixed"]
    assert doc.metadata["ocr"]["pages"] == [2] and {r[2] for r in doc.lines} == {2}
    for c in data.chunks:
        assert (c.ocr_confidence is not None) == (2 in c.pages), c
    a = Assistant.open(tmp_path / "index", cache_path=cache_dir / "embeddings.sqlite")
    assert_answers(a, question(seed_dev, "s04"), page=1, ocr=False)
    assert_answers(a, question(seed_dev, "s12"), page=2, ocr=True)
    assert_answers(a, question(seed_dev, "s17"), page=3, ocr=False)


@pytest.mark.slow
def test_seed_dev_over_the_ocr_seed_matches_the_text(seed_scan, seed_index, tmp_path, cache_dir, ocr_cache):
    """The target: Recall@5 and answer accuracy within 0.05 of the text version's."""
    from assistant.evaluate import evaluate, load_questions
    questions = load_questions(need_shared() / "eval" / "seed_dev.jsonl")
    build([seed_scan], tmp_path / "index", cache_dir, ocr_settings(ocr_cache))
    emb = cache_dir / "embeddings.sqlite"
    text = evaluate(Assistant.open(seed_index, cache_path=emb), questions, k=5).overall
    ocr = evaluate(Assistant.open(tmp_path / "index", cache_path=emb), questions, k=5).overall
    assert abs(ocr.recall_at_5 - text.recall_at_5) <= 0.05, (ocr, text)
    assert abs(ocr.answer_accuracy - text.answer_accuracy) <= 0.05, (ocr, text)


# -- bounds: time budget, page limit, cache ------------------------------------------------------
def test_page_over_its_time_budget_is_reported_and_the_rest_kept(seed_pages, scans_dir, tmp_path, cache_dir,
                                                                 ocr_cache, seed_scan_2):
    """Page 1 text, page 2 a scan in the cache, page 3 a scan never seen: with a budget
    of 0.5 s (no page is recognised that fast) page 3 is reported, pages 1-2 are indexed."""
    build([seed_scan_2], tmp_path / "warm", cache_dir, ocr_settings(ocr_cache))      # page 2 cached
    src = scans.text_pdf(seed_pages[:2] + [scans.printed_pages(need_shared() / "corpus-extra" / scans.EXTRA[0])[1]])
    pdf = scans.scan_pdf(src, scans_dir / "budget.pdf", keep_text=(1,))
    summary = build([pdf], tmp_path / "index", cache_dir, ocr_settings(ocr_cache, page_seconds=0.5))
    assert summary.added == ["budget"] and summary.pages_from_ocr_cache == 1 and summary.pages_recognised == 0
    (warning,) = summary.warnings
    assert "page 3: not recognised within its time budget of 0.5 s (POLICYQA_OCR_PAGE_SECONDS)" in warning
    data = store.load(tmp_path / "index")
    doc = data.docs["budget"]
    assert doc.metadata["ocr"]["pages"] == [2] and doc.metadata["ocr"]["failed"][0]["page"] == 3
    assert {c.pages[0] for c in data.chunks} == {1, 2}
    assert "专精特新" in doc.text and not any(x.strip() in doc.text for x in src[2].get_text().split("\n")
                                              if len(x.strip()) > 10)


def test_a_timed_out_worker_is_replaced(seed_pages, tmp_path):
    dense = scans.text_pdf(seed_pages[3:4])[0].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY, alpha=False)
    small = pymupdf.open()
    page = small.new_page(width=300, height=80)
    page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font(scans.FONT).buffer)
    page.insert_text((20, 45), "国务院办公厅通知", fontname="cjk", fontsize=20)
    tiny = page.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY, alpha=False)
    with Recognizer(ocr_settings(tmp_path, page_seconds=0.3)) as ocr:
        with pytest.raises(PageFailed, match="time budget"):
            ocr.lines(dense.samples, dense.width, dense.height)
        ocr.settings = dataclasses.replace(ocr.settings, page_seconds=120)
        got = ocr.lines(tiny.samples, tiny.width, tiny.height)
    assert [f.text for f in got] == ["国务院办公厅通知"] and ocr.recognised == 1


def test_page_limit_per_file(seed_scan_2, tmp_path, ocr_cache):
    warnings: list[str] = []
    with Recognizer(ocr_settings(ocr_cache, max_pages=1)) as ocr:
        prep = prepare_document(seed_scan_2, "limited", ChunkSettings(), 2**30, warnings, ocr=ocr)
    assert {c.pages for c in prep.chunks} == {(1,)} and prep.doc.metadata["ocr"]["pages"] == [1]
    assert any("page 2 not recognised: over the limit of 1 scanned pages per file (POLICYQA_OCR_MAX_PAGES)" in w
               for w in warnings), warnings


def test_cache_makes_the_second_ingest_recognise_nothing(tmp_path, monkeypatch, capsys):
    """Through the CLI, settings from the environment: POLICYQA_CACHE_DIR holds the OCR cache."""
    png = scans.short_scan(tmp_path / "short.png")
    monkeypatch.setenv("POLICYQA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("POLICYQA_OCR_DPI", "120")
    assert cli(["ingest", str(png), "--index", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "OCR short.png" in err and "1/1" in err            # the per-page progress bar
    assert list((tmp_path / "cache" / "ocr").glob("*/*.json"))
    runs = []
    for index in ("b", "b"):                                   # a new index, then a --rebuild of it
        assert cli(["ingest", str(png), "--index", str(tmp_path / index), "--json", "--quiet", "--rebuild"]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert [(r["pages_recognised"], r["pages_from_ocr_cache"]) for r in runs] == [(0, 1), (0, 1)]
    a, b = (store.load(tmp_path / x).docs["short"] for x in "ab")
    assert a.text == b.text and "数据要素市场规模突破五百亿元" in a.text and a.lines == b.lines
    assert a.metadata["ocr"]["dpi"] == 120


def test_without_the_ocr_extra_images_are_skipped_with_how_to_enable(tmp_path, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "rapidocr_onnxruntime" else real(name, *a))
    png = scans.short_scan(tmp_path / "short.png")
    with Recognizer(ocr_settings(tmp_path)) as ocr, pytest.raises(FileSkipped) as e:
        prepare_document(png, "short", ChunkSettings(), 2**30, [], ocr=ocr)
    assert "pip install 'policyqa[ocr]'" in e.value.reason and ocr.recognised == 0


def test_settings_from_the_environment():
    s = Settings.from_env({"POLICYQA_OCR_DPI": "300", "POLICYQA_OCR_PAGE_SECONDS": "12.5",
                           "POLICYQA_OCR_MAX_PAGES": "7", "POLICYQA_OCR_THREADS": "1", "POLICYQA_CACHE_DIR": "/c"})
    assert s.ocr() == OcrSettings(dpi=300, page_seconds=12.5, max_pages=7, threads=1, cache_dir=Path("/c/ocr"))
    assert Settings.from_env({}).ocr() == OcrSettings(cache_dir=Path.home() / ".cache" / "policyqa" / "ocr")


# -- the app: questions answered during an OCR ingest, the page image with the cited line boxed ---
def ocr_workers() -> list[int]:
    """Pids of this process's OCR worker children (Linux /proc)."""
    pids = []
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                if b"ingest.ocr" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(int(pid))
            except OSError:
                pass
    return pids


@pytest.mark.slow
def test_app_answers_during_an_ocr_upload_and_shows_the_page(seed_index, seed_pages, scans_dir, tmp_path,
                                                             cache_dir, seed_dev):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index, symlinks=True)
    (tmp_path / "cache").mkdir()                        # an empty OCR cache; the session's vectors
    shutil.copy(cache_dir / "embeddings.sqlite", tmp_path / "cache" / "embeddings.sqlite")
    svc = AppService(index, settings=Settings(index_dir=index, cache_dir=tmp_path / "cache"),
                     upload_dir=tmp_path / "uploads")
    q = "2022年北京全年专利授权量是多少？"
    text_answer = svc.ask(q).answer                     # the model is loaded before the upload
    assert text_answer.found
    scan = scans.scan_pdf(scans.text_pdf(seed_pages[3:4]), scans_dir / "扫描件.pdf")
    done: dict = {}
    worker = threading.Thread(target=lambda: done.update(result=svc.ingest_uploads([("扫描件.pdf", scan)])))
    worker.start()
    ocr_cache = tmp_path / "cache" / "ocr"
    deadline = time.monotonic() + 300
    while worker.is_alive() and not ocr_workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    # The page is being recognised: questions asked now are answered during the OCR.
    during = []
    while ocr_workers() and not list(ocr_cache.glob("*/*.json")) and len(during) < 3:
        t0 = time.monotonic()
        assert svc.ask(q).answer.found
        if ocr_workers() and not list(ocr_cache.glob("*/*.json")):
            during.append(time.monotonic() - t0)
    worker.join(600)
    assert during and max(during) < 10, during
    result = done["result"]
    assert result.ingested == ["扫描件.pdf"] and result.summary.pages_recognised == 1

    # A text citation: no OCR mark, no page image.
    plain = text_answer.citations[0]
    assert plain.ocr_confidence is None and svc.page_image(plain.doc_id, plain.start, plain.end) is None
    assert render.OCR_LABEL not in render.source_card(plain, "m1", svc.document(plain.doc_id).text)

    # With only the scan left, its citations are OCR text, shown on the page image.
    svc.remove([SEED.stem])
    ans = svc.ask(question(seed_dev, "s38")["question"]).answer
    assert ans.found, ans.text
    c = ans.citations[0]
    assert c.doc_id == "扫描件" and c.page == 1 and c.ocr_confidence is not None
    view = svc.page_image(c.doc_id, c.start, c.end)
    assert view.page == 1 and view.png.startswith(b"\x89PNG") and view.boxes and not view.note
    doc = svc.document(c.doc_id)
    html = render.document_html(doc, c.start, c.end, view)
    assert "data:image/png;base64," in html and html.count('class="pq-scan-box"') == len(view.boxes)
    assert html.index("pq-scan-page") < html.index('id="pq-mark"')
    assert render.OCR_LABEL in render.source_card(c, "m2", doc.text)
    # The source file changed since: the view says so instead of showing another page.
    saved = tmp_path / "uploads" / "扫描件.pdf"
    saved.write_bytes(saved.read_bytes() + b"\n%changed")
    assert "changed" in svc.page_image(c.doc_id, c.start, c.end).note
