"""The web app in a real browser: headless Chromium (Debian's, never a downloaded build)
driven by Playwright against `python ui.py` started on a free local port over a real index
of the seed article. Screenshots of each tab go to test-artifacts/ui/.

Needs apt `chromium` + `fonts-wqy-zenhei` and pip `playwright` (`make browser-deps`); without
them these tests skip locally, and fail under CI (CI=true), where they must run.
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest import ingest

from .conftest import ROOT, SEED, free_port, http_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000
NEW_DOC = ("上海市人工智能产业发展办法\n\n第一条 为促进本市人工智能产业发展，制定本办法。\n\n"
           "第二条 本市支持建设人工智能创新策源地，到2025年人工智能核心产业规模突破一千二百亿元。\n")


def _need_browser():
    missing = []
    if not CHROMIUM.exists():
        missing.append("/usr/bin/chromium (apt-get install chromium fonts-wqy-zenhei)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        reason = "browser tests need " + " and ".join(missing) + "; `make browser-deps` installs them"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def fake_llm():
    from .fake_llm import FakeLLM
    server = FakeLLM()
    yield server
    server.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, cache_dir, fake_llm):
    _need_browser()
    data = tmp_path_factory.mktemp("ui-browser")
    idx = data / "index"
    ingest([SEED], idx, cache_path=cache_dir / "embeddings.sqlite", progress=False)
    port = free_port()
    # The scripted LLM is on the operator's list, so a visitor may choose it in the page.
    env = {**os.environ, "POLICYQA_CACHE_DIR": str(cache_dir), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           "POLICYQA_LLM_ALLOWED_URLS": fake_llm.url}
    url = f"http://127.0.0.1:{port}/"
    with http_server([sys.executable, "ui.py", "--index", str(idx), "--port", str(port)], url,
                     data / "app.log", name="the app", env=env, cwd=ROOT):
        yield url


@pytest.fixture(scope="module")
def browser(app_url):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def outside_requests() -> list[str]:
    """Every request a page made to anywhere but the app (must stay empty: offline)."""
    return []


@pytest.fixture
def page(browser, app_url, outside_requests):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.on("request", lambda r: None if r.url.startswith((app_url, "data:", "blob:"))
          else outside_requests.append(r.url))
    pg.goto(app_url)
    pg.wait_for_selector("#pq-question textarea")
    yield pg
    ctx.close()


def _shot(pg, name: str, full_page: bool = False):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.evaluate("document.fonts.ready")
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def _ask(pg, question: str, nth: int):
    """Ask in the chat and wait for the nth (1-based) complete answer (failing with the
    message when the chat shows an error instead)."""
    pg.fill("#pq-question textarea", question)
    pg.press("#pq-question textarea", "Enter")
    return _answer(pg, nth)


def _answer(pg, nth: int):
    pg.wait_for_function(
        "n => document.querySelectorAll('#pq-chat .pq-answer:not(.pq-streaming)').length >= n"
        " || document.querySelector('#pq-chat .pq-error')", arg=nth)
    errors = pg.locator("#pq-chat .pq-error")
    assert errors.count() == 0, errors.first.inner_text()
    return pg.locator("#pq-chat .pq-answer:not(.pq-streaming)").nth(nth - 1)


def _tab(pg, name: str):
    pg.get_by_role("tab", name=name).click()


def _choose(pg, box: str, label_part: str):
    pg.click(f"{box} input")
    pg.click(f'{box} [role=option][aria-label*="{label_part}"]')
    pg.keyboard.press("Escape")


def test_chat_answers_chinese_and_english_with_citations(page):
    assert page.get_by_text("2022年北京全年专利授权量是多少？").first.is_visible()   # examples on an empty chat
    zh = _ask(page, "2022年北京全年专利授权量是多少？", 1)
    assert "pq-found" in zh.get_attribute("class")
    assert zh.locator("a.pq-cite").count() >= 1 and zh.locator(".pq-card").count() >= 1
    assert "20.3万件" in zh.locator(".pq-card mark.pq-cited").first.inner_text()
    en = _ask(page, "How many patents were granted in Beijing in 2022?", 2)     # a follow-up
    assert "pq-found" in en.get_attribute("class")
    assert en.locator("a.pq-cite").count() >= 1 and en.locator(".pq-card").count() >= 1
    _shot(page, "chat")


def test_a_question_sent_while_an_answer_is_coming_is_answered_after_it(page):
    # The second Enter lands while the first answer is still on its way: it must wait, not be dropped.
    page.fill("#pq-question textarea", "2022年北京全年专利授权量是多少？")
    page.press("#pq-question textarea", "Enter")
    page.wait_for_selector("#pq-chat .pq-pending, #pq-chat .pq-streaming")
    page.fill("#pq-question textarea", "How many patents were granted in Beijing in 2022?")
    page.press("#pq-question textarea", "Enter")
    first, second = _answer(page, 1), _answer(page, 2)
    assert "20.3万件" in first.inner_text()
    assert "pq-found" in second.get_attribute("class") and second.inner_text().startswith("From the")
    assert page.locator("#pq-chat .pq-user").count() == 2


def test_a_comparison_is_a_table_whose_marks_open_the_sources(page):
    ans = _ask(page, "2021年和2022年北京的专利授权量分别是多少？", 1)
    table = ans.locator("table.pq-compare")
    assert table.is_visible()
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("th").inner_text() == "2021年" and rows.nth(0).locator(".pq-missing").count() == 1
    found = rows.nth(1)
    assert "20.3万件" in found.inner_text() and found.locator("a.pq-cite").count() >= 1
    found.locator("a.pq-cite").first.click()
    page.wait_for_function("() => document.querySelector('#pq-chat .pq-card.pq-flash') !== null")
    table.scroll_into_view_if_needed()
    _shot(page, "chat-comparison")


def test_an_unanswerable_question_says_so_and_lists_related_passages(page):
    ans = _ask(page, "What is the GDP of France?", 1)
    assert "pq-not-found" in ans.get_attribute("class")
    assert "do not answer" in ans.locator(".pq-text").inner_text()
    assert ans.locator(".pq-h-related").is_visible() and ans.locator(".pq-related .pq-card").count() >= 1
    assert ans.locator("a.pq-cite").count() == 0
    ans.locator(".pq-text").scroll_into_view_if_needed()
    _shot(page, "chat-not-found")


def test_an_example_question_is_answered(page):
    page.get_by_text("How many patents were granted in Beijing in 2022?").first.click()
    answer = page.locator("#pq-chat .pq-answer:not(.pq-streaming)").first
    answer.wait_for()
    assert answer.locator(".pq-card").count() >= 1


def test_citation_opens_the_document_at_the_highlighted_sentence(page):
    ans = _ask(page, "2022年北京全年专利授权量是多少？", 1)
    ans.locator("a.pq-cite").first.click()
    card = ans.locator(".pq-card").first
    page.wait_for_function("() => document.querySelector('#pq-chat .pq-card.pq-flash') !== null")
    cited = card.locator("mark.pq-cited").inner_text()
    card.locator("a.pq-view").click()
    mark = page.locator("#pq-mark")
    mark.wait_for(state="visible")
    assert mark.inner_text() == cited
    page.wait_for_function("""() => { const r = document.getElementById('pq-mark').getBoundingClientRect();
                                      return r.top >= 0 && r.bottom <= window.innerHeight; }""")
    _shot(page, "citation")


def _ask_the_model(pg, url: str, question: str) -> None:
    """Choose LLM mode with the scripted model in the page's settings, and ask."""
    pg.get_by_text("大模型 LLM").click()
    pg.get_by_text("大模型设置 LLM settings").click()
    pg.fill("#pq-llm-url textarea", url)
    pg.fill("#pq-llm-model textarea", "scripted")
    pg.fill("#pq-question textarea", question)
    pg.press("#pq-question textarea", "Enter")


def test_llm_mode_streams_and_marks_unverified_sentences(page, fake_llm):
    from .fake_llm import Reply, sources

    def answer(messages):
        n = next(n for n, t in sources(messages).items() if "专利授权量" in t)
        sent = next(x for x in re.findall(r"[^。]+。", sources(messages)[n]) if "专利授权量" in x).strip()
        # slow enough (~3 s) that the streamed draft is surely on screen for a while
        return Reply(f"{sent}[{n}]北京计划在五年内建成十座大型机场。", chunk_delay=0.4)
    fake_llm.script(answer)
    _ask_the_model(page, fake_llm.url, "2022年北京全年专利授权量是多少？")
    page.wait_for_selector("#pq-chat .pq-answer.pq-streaming")          # the draft, as it arrives
    ans = page.locator("#pq-chat .pq-answer:not(.pq-streaming)").first
    ans.wait_for()
    assert "大模型撰写" in ans.locator(".pq-mode").inner_text()
    assert ans.locator("a.pq-cite").count() == 1 and "20.3万件" in ans.locator(".pq-card mark.pq-cited").inner_text()
    flagged = ans.locator(".pq-unverified")
    assert flagged.count() == 1 and "十座大型机场" in flagged.inner_text()
    assert "未注明出处" in ans.locator("ul.pq-flags").inner_text()
    assert fake_llm.requests and fake_llm.requests[0]["model"] == "scripted"
    _shot(page, "chat-llm")


def test_search_ranks_passages_with_terms_highlighted(page):
    _tab(page, "检索 Search")
    page.fill("#pq-k input[type=number]", "3")
    page.press("#pq-k input[type=number]", "Enter")
    page.fill("#pq-query textarea, #pq-query input", "专利授权量")
    page.press("#pq-query textarea, #pq-query input", "Enter")
    page.wait_for_selector("#pq-results .pq-hit")
    assert page.locator("#pq-results .pq-hit").count() == 3
    assert page.locator("#pq-results mark.pq-term").count() >= 1
    assert "二、国际科技创新中心建设的成就与挑战" in page.locator("#pq-results .pq-meta").first.inner_text()
    _shot(page, "search")
    page.locator("#pq-results a.pq-view").first.click()
    page.locator("#pq-mark").wait_for(state="visible")


def test_lookup_tab_shows_the_rendering_and_marked_occurrences(page):
    _tab(page, "术语 Lookup")
    page.fill("#pq-term textarea, #pq-term input", "专精特新")
    page.click("#pq-lookup-btn")
    page.wait_for_selector("#pq-lookup-out .pq-entry")
    out = page.locator("#pq-lookup-out")
    assert "政策术语表 Glossary" in out.inner_text()
    assert "specialized, refined, distinctive and innovative" in out.locator(".pq-entry .pq-en").first.inner_text()
    assert "专精特新" in out.locator("mark.pq-occ").first.inner_text()
    assert out.locator("table.pq-counts tbody tr").count() >= 1
    _shot(page, "lookup")
    out.locator("a.pq-view").first.click()
    page.locator("#pq-mark").wait_for(state="visible")
    assert "专精特新" in page.locator("#pq-mark").inner_text()
    # a highlighted search term looks itself up in the Lookup tab
    _tab(page, "检索 Search")
    page.fill("#pq-query textarea, #pq-query input", "专精特新")
    page.press("#pq-query textarea, #pq-query input", "Enter")
    page.wait_for_selector("#pq-results a.pq-lookup")
    term = page.locator("#pq-results a.pq-lookup").first.inner_text()
    page.locator("#pq-results a.pq-lookup").first.click()
    page.wait_for_function(
        "t => { const b = document.querySelector('#pq-term textarea, #pq-term input');"
        " const o = document.querySelector('#pq-lookup-out');"
        " return b && b.value === t && o && o.offsetParent !== null && o.innerText.includes('Occurrences'); }",
        arg=term)


def test_upload_search_filter_and_remove(page, tmp_path):
    _tab(page, "文库 Library")
    page.wait_for_selector("#pq-library table")
    assert "科技自立自强视角下国际科技创新中心建设研究" in page.inner_text("#pq-library")
    f = tmp_path / "上海人工智能办法.txt"
    f.write_text(NEW_DOC, encoding="utf-8")
    page.set_input_files("#pq-upload input[type=file]", str(f))
    page.get_by_text("上海人工智能办法.txt").first.wait_for(timeout=3 * TIMEOUT_MS)
    page.click("#pq-ingest")
    page.wait_for_selector("#pq-status .pq-msg-ok", timeout=3 * TIMEOUT_MS)   # first ingest loads the model
    page.wait_for_function("() => document.querySelector('#pq-library').innerText.includes('上海市人工智能产业发展办法')")
    _shot(page, "library", full_page=True)

    _tab(page, "检索 Search")
    _choose(page, "#pq-filter", "上海市人工智能产业发展办法")
    page.fill("#pq-query textarea, #pq-query input", "人工智能核心产业规模")
    page.press("#pq-query textarea, #pq-query input", "Enter")
    page.wait_for_selector("#pq-results .pq-hit")
    titles = page.locator("#pq-results .pq-hit .pq-title").all_inner_texts()
    assert titles and set(titles) == {"上海市人工智能产业发展办法"}
    assert "一千二百亿元" in page.inner_text("#pq-results")

    _tab(page, "文库 Library")
    _choose(page, "#pq-remove-choice", "上海市人工智能产业发展办法")
    page.click("#pq-remove")
    page.wait_for_function("() => document.querySelector('#pq-status').innerText.includes('Removed')")
    assert "上海市人工智能产业发展办法" not in page.inner_text("#pq-library")
    _tab(page, "检索 Search")
    page.fill("#pq-query textarea, #pq-query input", "人工智能核心产业规模")
    page.click("#pq-search-btn")
    page.wait_for_function("() => !document.querySelector('#pq-results').innerText.includes('一千二百亿元')")


def test_links_in_a_document_stay_text_and_its_card_says_who_added_it(page, tmp_path):
    """The chat renders Markdown; a document's Markdown link, image or bare URL must not
    become one. The source card names who added the document, and from which file."""
    f = tmp_path / "链接测试.md"
    f.write_text("# 链接测试通知\n\n青岛市2024年新建5G基站一万二千个，详见[点此下载](http://evil.example/a)和"
                 "![图](http://evil.example/b.png)，或访问 http://evil.example/c 与 www.evil.example。\n", "utf-8")
    _tab(page, "文库 Library")
    page.set_input_files("#pq-upload input[type=file]", str(f))
    page.get_by_text("链接测试.md").first.wait_for(timeout=3 * TIMEOUT_MS)
    page.click("#pq-ingest")
    page.wait_for_selector("#pq-status .pq-msg-ok", timeout=3 * TIMEOUT_MS)
    assert "anonymous" in page.inner_text("#pq-library")
    _tab(page, "问答 Chat")
    ans = _ask(page, "青岛市2024年新建多少个5G基站？", 1)
    assert "pq-found" in ans.get_attribute("class")
    card = ans.locator(".pq-card").first
    assert "[点此下载](http://evil.example/a)" in card.inner_text()       # shown as the text it is
    assert "added by anonymous" in card.inner_text() and "链接测试.md" in card.inner_text()
    assert page.locator("#pq-chat a[href*='evil'], #pq-chat img[src*='evil']").count() == 0
    _tab(page, "文库 Library")
    _choose(page, "#pq-remove-choice", "链接测试通知")
    page.click("#pq-remove")
    page.wait_for_function("() => document.querySelector('#pq-status').innerText.includes('Removed')")


def test_a_bad_upload_is_a_readable_message(page, tmp_path):
    _tab(page, "文库 Library")
    f = tmp_path / "表格.xlsx"
    f.write_bytes(b"PK\x03\x04 not really a spreadsheet")
    page.set_input_files("#pq-upload input[type=file]", str(f))
    page.click("#pq-ingest")
    toast = page.get_by_text(re.compile("不支持的文件类型|Invalid file type|unsupported", re.I)).first
    toast.wait_for()
    assert "Traceback" not in page.inner_text("body")
    _shot(page, "library-error")
    # the app keeps serving
    _tab(page, "问答 Chat")
    assert "pq-found" in _ask(page, "2022年北京全年专利授权量是多少？", 1).get_attribute("class")


def test_scanned_upload_cites_ocr_text_on_the_page_image(page, tmp_path):
    """A PNG scan is uploaded, answered from, and its citation shown boxed on the page image."""
    from ingest.ocr import unavailable
    if unavailable():
        pytest.skip(unavailable())
    from .scans import SHORT_QUESTION, short_scan
    png = short_scan(tmp_path / "数据要素办法.png")
    _tab(page, "文库 Library")
    page.set_input_files("#pq-upload input[type=file]", str(png))
    page.get_by_text("数据要素办法.png").first.wait_for(timeout=3 * TIMEOUT_MS)
    page.click("#pq-ingest")
    page.wait_for_selector("#pq-status .pq-msg-ok", timeout=5 * TIMEOUT_MS)
    _tab(page, "问答 Chat")
    ans = _ask(page, SHORT_QUESTION, 1)
    assert "pq-found" in ans.get_attribute("class") and "五百亿元" in ans.inner_text()
    card = ans.locator(".pq-card").first
    assert "识别文本 OCR text" in card.locator(".pq-ocr").inner_text()
    card.locator("a.pq-view").click()
    page.locator("#pq-mark").wait_for(state="visible")
    img = page.locator("#pq-doc-view .pq-scan-page img")
    page.wait_for_function("() => { const i = document.querySelector('#pq-doc-view .pq-scan-page img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    box = page.locator("#pq-doc-view .pq-scan-box").first.bounding_box()
    frame = img.bounding_box()
    assert box and frame and frame["y"] < box["y"] < frame["y"] + frame["height"] and box["width"] > 0.3 * frame["width"]
    page.locator("#pq-doc-view .pq-scan").scroll_into_view_if_needed()
    _shot(page, "ocr-citation")


def test_two_sessions_ask_at_once(browser, app_url, fake_llm):
    """One session's answer waits on its model (held until the test lets it go); another
    session's question is answered meanwhile, and each page shows only its own exchange."""
    from .fake_llm import Reply, sources
    release = threading.Event()

    def held(messages):
        release.wait(120)
        n = next(n for n, t in sources(messages).items() if "专利授权量" in t)
        sent = next(x for x in re.findall(r"[^。]+。", sources(messages)[n]) if "专利授权量" in x).strip()
        return Reply(f"{sent}[{n}]")
    fake_llm.script(held)
    before = len(fake_llm.requests)
    pages = []
    for _ in range(2):
        ctx = browser.new_context(viewport={"width": 1000, "height": 800})
        pg = ctx.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(app_url)
        pg.wait_for_selector("#pq-question textarea")
        pages.append(pg)
    slow, fast = pages
    try:
        _ask_the_model(slow, fake_llm.url, "2022年北京全年专利授权量是多少？")
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while len(fake_llm.requests) == before:            # the slow answer is now waiting on its model
            assert time.monotonic() < deadline, \
                f"the LLM-mode question never reached the model; the page shows: {slow.locator('#pq-chat').inner_text()!r}"
            time.sleep(0.05)
        answer = _ask(fast, "How many patents were granted in Beijing in 2022?", 1)
        assert "pq-found" in answer.get_attribute("class") and "20.3" in answer.inner_text()
        assert slow.locator("#pq-chat .pq-answer:not(.pq-streaming)").count() == 0   # still waiting
        release.set()
        done = slow.locator("#pq-chat .pq-answer:not(.pq-streaming)").first
        done.wait_for()
        assert "大模型撰写" in done.locator(".pq-mode").inner_text()
        assert "How many patents" not in slow.locator("#pq-chat").inner_text()
        assert "专利授权量是多少" not in fast.locator("#pq-chat").inner_text()
    finally:
        release.set()
        for pg in pages:
            pg.context.close()


def test_no_request_left_the_machine(outside_requests):
    """Runs last in this module: nothing any page did fetched from the internet."""
    assert outside_requests == []
