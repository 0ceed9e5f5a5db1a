"""The Gradio app: 问答 Chat, 检索 Search, 术语 Lookup, 文库 Library. Widgets and wiring only; the work
is done by `app.service.AppService` and the HTML by `app.render`.

Started by `python ui.py` or `policyqa serve` (cli/main.py), which call `launch`.
"""
from __future__ import annotations

import html
import logging
import threading
import time
import uuid
from pathlib import Path

import gradio as gr   # app/__init__.py has turned its analytics off before this import

from assistant.accounts import ROLE_NAMES, Accounts
from assistant.constraints import filters, parse_years
from assistant.llm import LLMConfig
from ingest.errors import BadQuery, IndexBusy, IndexMismatch, IndexNotFound, PolicyQAError
from ingest.settings import Settings

from . import render
from .service import AppService

log = logging.getLogger("policyqa.ui")
STEP_SECONDS = 0.04          # pause between streamed sentences, so the answer visibly grows
CONCURRENCY = 8              # events of one kind running at once (questions from many sessions)

# What the starter library (corpus/) shows: a year's report, a law's article, a comparison,
# English over Chinese text; tests/test_starter.py asks each one.
EXAMPLES = [
    "2024年国内生产总值增长预期目标是多少？",
    "专利法第四十二条规定了什么？",
    "2025年北京和上海的地区生产总值分别是多少？",
    "What were the GDP growth targets for 2021 and 2022?",
    "How many patents were granted in Beijing in 2022?",
    "2022年北京全年专利授权量是多少？",
]

# Clicks on links inside answers and results. The chat's sanitiser keeps only href, so a
# "view in document" request travels in the fragment: #view/<doc_id>/<start>/<end>; a term
# to look up (a highlighted search term) as #lookup/<term>.
HEAD = "<script>\n" + (Path(__file__).parent / "static" / "app.js").read_text("utf-8") + "</script>"

SCROLL_TO_MARK = """() => {
  var tries = 0;
  (function go() {
    var m = document.getElementById('pq-mark');
    if (m && m.offsetParent !== null) { m.scrollIntoView({block: 'center'}); return; }
    if (++tries < 40) setTimeout(go, 50);
  })();
}"""


# -- errors -------------------------------------------------------------------------------
def describe(e: BaseException) -> str:
    """A readable, bilingual message for any error: what happened and what to do next."""
    if isinstance(e, IndexNotFound):
        return ("还没有可用的索引：请在「文库 Library」页上传文件，或在命令行运行 make run。"
                f" No index yet: upload documents in the Library tab, or run `make run`. ({e})")
    if isinstance(e, IndexMismatch):
        return f"索引需要重建（policyqa ingest --rebuild）。 The index must be rebuilt: {e}"
    if isinstance(e, IndexBusy):
        return "另一个导入正在进行，请等它完成后再试。 Another ingest is running; try again when it has finished."
    if isinstance(e, BadQuery):
        return f"请输入一个问题或几个关键词。 Please type a question or a few words ({e})."
    if isinstance(e, PolicyQAError):
        return str(e)
    if isinstance(e, KeyError):
        return ("这个文件已不在文库中（可能刚被删除）。"
                f" This document is no longer in the library ({e.args[0] if e.args else e}).")
    log.error("unexpected error in a handler", exc_info=e)
    return (f"处理时出现意外错误，应用仍在运行，可以继续使用。 Unexpected error ({type(e).__name__}: {e}); "
            "the app is still running.")


def _fail(e: BaseException) -> gr.Error:
    # gr.Error renders its message as HTML: escape it.
    return gr.Error(html.escape(describe(e)), title="出错了 Error", print_exception=False)


# -- handlers (the functions behind the widgets; tests call them directly) -----------------
MODES = {"摘录 Extractive": "extractive", "大模型 LLM": "llm"}


def session_llm(svc: AppService, base_url: str = "", model: str = "", api_key: str = "",
                timeout: float | None = None) -> LLMConfig:
    """The LLM settings of one browser session over the server's defaults. The endpoint must
    be the server's own or on the operator's list (Forbidden otherwise); the server's API
    key only goes to the server's own endpoint, never to another one."""
    base = svc.llm
    typed = (base_url or "").strip()
    url = svc.check_llm_url(typed) if typed else base.base_url
    key = (api_key or "").strip() or (base.api_key if url == base.base_url else "")
    return LLMConfig(url, (model or "").strip() or base.model, key, float(timeout or base.timeout),
                     base.connect_timeout, base.max_tokens, base.temperature)


def make_filters(years: str = "", places: list[str] | None = None, doc_types: list[str] | None = None,
                 doc_ids: list[str] | None = None):
    """The filter boxes as a `Constraints` (None when all are empty); BadQuery on bad years."""
    return filters(years=parse_years(years or ""), places=places or None, doc_types=doc_types or None,
                   docs=doc_ids or None)


def chat_reply(svc: AppService, message: str, history: list | None, mode: str = "extractive",
               llm: LLMConfig | None = None, turns: list | None = None, scope=None):
    """Answer one message, streaming it. Yields (chat, question box, turns); `turns` holds the
    (question, answer text) pairs that LLM mode uses to resolve follow-up questions; `scope`,
    the filters (`make_filters`) that only passages fitting them may answer."""
    history, turns = list(history or []), list(turns or [])
    mode = MODES.get(mode, mode)
    q = (message or "").strip()
    if not q:
        yield history, "", turns
        return
    user = {"role": "user", "content": render.user_html(q)}
    cleared = False     # the question box is cleared once; later steps leave what the user types next

    def show(content: str):
        nonlocal cleared
        box, cleared = (gr.skip() if cleared else ""), True
        return history + [user, {"role": "assistant", "content": content}], box, turns

    yield show(render.pending_html())
    got, draft, shown = None, "", 0.0
    try:
        for item in svc.ask_stream(q, mode=mode, llm=llm, history=turns if mode == "llm" else (), filters=scope):
            if isinstance(item, str):
                draft += item
                if time.monotonic() - shown >= STEP_SECONDS:     # not one page update per token
                    shown = time.monotonic()
                    yield show(render.draft_html(draft))
            else:
                got = item
    except Exception as e:          # noqa: BLE001 - every failure becomes a message in the chat
        yield show(render.error_html(describe(e)))
        return
    ans, msg_id = got.answer, uuid.uuid4().hex[:8]
    turns = (turns + [(q, ans.text)])[-10:]
    if not draft:                   # extractive answers appear sentence by sentence too
        for prefix in render.stream_steps(ans.text)[:-1]:
            yield show(render.streaming_html(prefix, msg_id, len(ans.citations)))
            time.sleep(STEP_SECONDS)
    yield show(render.answer_html(ans, msg_id, got.texts, got.metas))


def pick_example(evt: gr.SelectData) -> str:
    v = evt.value
    return v.get("text", "") if isinstance(v, dict) else str(v or "")


def run_search(svc: AppService, query: str, doc_ids: list[str] | None, k: float, years: str = "",
               places: list[str] | None = None, doc_types: list[str] | None = None) -> str:
    if not (query or "").strip():
        return render.message_html("请输入要查找的词语或问题。 Type words or a question to search for.")
    try:
        scope = make_filters(years, places, doc_types)
        found = svc.search(query, k=int(k or 10), doc_ids=doc_ids or None, filters=scope)
    except Exception as e:          # noqa: BLE001
        return render.message_html(describe(e), "error")
    return render.hits_html(query.strip(), found.hits, found.terms, filtered=bool(doc_ids) or scope is not None)


def run_lookup(svc: AppService, term: str) -> str:
    """Glossary entries, dictionary senses (without a glossary match), counts and passages."""
    return lookup_view(svc, term, by_year=False)[0]


def lookup_view(svc: AppService, term: str, doc_type: str | None = None, by_year: bool = True):
    """The Lookup tab: its HTML (with the term by year, each year linking to its passages),
    the chart's rows (None with fewer than two years) and the lookup's dict (for the chart's clicks)."""
    if not (term or "").strip():
        return (render.message_html("请输入要查的术语（中文或英文）。 Type a term to look up, in Chinese or English."),
                None, None)
    try:
        result = svc.lookup(term.strip(), by_year=by_year, doc_types=(doc_type,) if doc_type else None).to_dict()
    except Exception as e:          # noqa: BLE001
        return render.message_html(describe(e), "error"), None, None
    rows = render.trend_rows(result["by_year"]) if by_year else []
    return render.lookup_html(result), (_chart(rows) if len(rows) >= 2 else None), result


def _chart(rows: list[dict]):
    import pandas as pd
    return pd.DataFrame(rows, columns=["year", "count"])


def trend_pick(result: dict | None, evt: gr.SelectData) -> str:
    """A click (or a brushed range) on the trend chart: that year's passages."""
    if not result or not result.get("by_year"):
        return ""
    picked = evt.index if isinstance(evt.index, (list, tuple)) else [evt.index]
    years = sorted({int(r["year"]) for r in render.trend_rows(result["by_year"])})
    try:
        nums = [float(v) for v in picked if v is not None]
    except (TypeError, ValueError):
        nums = []
    chosen = [y for y in years if nums and min(nums) - 0.5 <= y <= max(nums) + 0.5] or years[-1:]
    return "".join(render.year_passages_html(result["by_year"], result["concordance"], y) for y in chosen)


def lookup_request(svc: AppService, request: str):
    """A click on a highlighted term ('#lookup/<term>'): fill the Lookup box, switch to the
    Lookup tab and show the lookup."""
    term = render.parse_lookup_request(request) or ""
    return (gr.Tabs(selected="lookup"), term, *_lookup_outputs(lookup_view(svc, term)))


def _lookup_outputs(got):
    html_out, chart, result = got
    return html_out, gr.BarPlot(value=chart, visible=chart is not None), result, ""


def view_document(svc: AppService, request: str):
    """Open the document panel at a cited span (request: '#view/<doc_id>/<start>/<end>')."""
    parsed = render.parse_view_request(request)
    if parsed is None:
        raise gr.Error("无法打开这个链接。 This link cannot be opened.", title="出错了 Error",
                       print_exception=False)
    doc_id, start, end = parsed
    try:
        doc = svc.document(doc_id)
        scan = svc.page_image(doc_id, start, end)
    except Exception as e:          # noqa: BLE001
        raise _fail(e) from None
    return gr.Sidebar(open=True), render.document_html(doc, start, end, scan)


def library_state(svc: AppService):
    """The library table and the document choices of the remove and filter boxes."""
    try:
        docs = svc.documents()
    except Exception as e:          # noqa: BLE001 - e.g. an index that must be rebuilt
        return render.message_html(describe(e), "error"), gr.Dropdown(choices=[]), gr.Dropdown(choices=[])
    choices = [(f'{d.get("display_title") or d.get("title") or d["doc_id"]}（{d["doc_id"]}）', d["doc_id"])
               for d in docs]
    return (render.library_html(docs), gr.Dropdown(choices=choices, value=[], multiselect=True),
            gr.Dropdown(choices=choices, value=[], multiselect=True))


def facet_state(svc: AppService):
    """The places and document types the filters offer: Search's, Chat's, then the Lookup
    chart's single type (empty: all)."""
    try:
        places, kinds = svc.facets()
    except Exception:               # noqa: BLE001 - the library state shows the error
        places, kinds = [], []
    return (gr.Dropdown(choices=places), gr.Dropdown(choices=kinds), gr.Dropdown(choices=places),
            gr.Dropdown(choices=kinds), gr.Dropdown(choices=[("全部 All", "")] + kinds))


def upload_files(svc: AppService, files, progress=None, user: str | None = None):
    """Save, check and ingest uploaded files; then they are searchable at once. `user`: the
    signed-in account (a librarian, when the app has accounts)."""
    def step(fraction: float, text: str):
        if progress is not None:
            progress(fraction, desc=text)
    try:
        res = svc.ingest_uploads(files or [], on_progress=step, bars=progress is not None, user=user)
    except Exception as e:          # noqa: BLE001
        raise _fail(e) from None
    lines = []
    if res.ingested:
        lines.append(f"已导入 {len(res.ingested)} 个文件，现在可以提问和检索。"
                     f" Ingested {len(res.ingested)} file(s), searchable now: " + ", ".join(res.ingested))
    if res.unchanged:
        lines.append("已在文库中，未重复导入 · already in the library: " + ", ".join(res.unchanged))
    for name, reason in res.rejected:
        lines.append(f"未导入 Not ingested — {name}: {reason}")
    kind = "ok" if res.ingested and not res.rejected else ("warn" if res.ingested or res.unchanged else "error")
    return (render.message_html("\n".join(lines), kind), *library_state(svc), None)


def remove_documents(svc: AppService, doc_ids: list[str] | None, user: str | None = None):
    try:
        removed = svc.remove(list(doc_ids or []), user=user)
    except Exception as e:          # noqa: BLE001
        raise _fail(e) from None
    return (render.message_html(f"已删除 Removed: {', '.join(removed)}", "ok"), *library_state(svc))


def allowed(svc: AppService, request: gr.Request | None, action: str) -> str | None:
    """The signed-in name if it may `action` ("read", "write"); gr.Error otherwise. Every
    handler asks, so an API call cannot do what the page would not offer, and an account
    removed from the accounts file stops working at once."""
    user = getattr(request, "username", None)
    try:
        svc.authorize(user, action)
    except PolicyQAError as e:
        raise _fail(e) from None
    return user


def session_html(svc: AppService, user: str | None) -> str:
    if svc.accounts is None or not user:
        return ""
    role = ROLE_NAMES.get(svc.role(user) or "", "")
    return render.session_html(user, role)


# -- the page ----------------------------------------------------------------------------------
def _filter_boxes(prefix: str):
    """Years, places and document types that the passages must fit (choices filled from the library)."""
    with gr.Row():
        years = gr.Textbox(label="年份 Years", placeholder="如 e.g. 2024 或 2021-2023", scale=2,
                           elem_id=f"{prefix}-years", max_lines=1)
        places = gr.Dropdown(label="地区 Places", choices=[], multiselect=True, scale=2,
                             elem_id=f"{prefix}-places")
        kinds = gr.Dropdown(label="文件类型 Document types", choices=[], multiselect=True, scale=2,
                            elem_id=f"{prefix}-types")
    return years, places, kinds


def build(svc: AppService) -> gr.Blocks:
    exts = list(svc.limits.extensions)
    if svc.inbox is None:        # a served app takes files only from Gradio's own upload folder
        from gradio.utils import get_upload_folder
        svc.inbox = Path(get_upload_folder())
    # delete_cache: uploads wait in gradio's temp folder only until they are copied and ingested
    with gr.Blocks(title="政策文件问答 PolicyQA", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.HTML('<div class="pq-header"><h1>政策文件问答 PolicyQA</h1>'
                '<p>每个回答都附原文出处，可逐句核对。 Every answer quotes and cites the exact source sentence.</p></div>')
        signed_in = gr.HTML(elem_id="pq-session")
        with gr.Sidebar(open=False, position="right", width="46%", elem_id="pq-sidebar") as sidebar:
            gr.Markdown("### 原文 Document")
            doc_view = gr.HTML('<div class="pq-empty">点击“查看原文”在这里打开文件。'
                               ' Click “View in document” to open a document here.</div>', elem_id="pq-doc-view")
        with gr.Tabs() as tabs:
            with gr.Tab("问答 Chat", id="chat"):
                chatbot = gr.Chatbot(
                    elem_id="pq-chat", height=560, layout="panel", latex_delimiters=[], show_label=False,
                    buttons=["copy"], feedback_options=None,
                    placeholder="**向文件提问，回答会注明出处。** Ask the documents; answers cite their sources.",
                    examples=[{"text": q} for q in EXAMPLES])
                with gr.Row():
                    msg = gr.Textbox(placeholder="输入问题，按回车发送 · Type a question and press Enter",
                                     show_label=False, scale=8, elem_id="pq-question", max_lines=4)
                    send = gr.Button("发送 Send", variant="primary", scale=1, min_width=100)
                with gr.Row():
                    mode = gr.Radio(list(MODES), value="大模型 LLM" if svc.llm.configured else "摘录 Extractive",
                                    label="回答方式 Answer mode", scale=3, elem_id="pq-mode",
                                    info="摘录：直接引用原文句子；大模型：由大模型撰写并逐句核对引用。 "
                                         "Extractive quotes the source sentences; LLM writes the answer, every citation checked.")
                    clear = gr.Button("清空对话 Clear chat", size="sm", variant="secondary", scale=1)
                with gr.Accordion("大模型设置 LLM settings", open=False, elem_id="pq-llm-settings"):
                    gr.Markdown("任何兼容 OpenAI 接口的服务（Ollama、vLLM、llama.cpp、DeepSeek、通义千问）。"
                                " Any OpenAI-compatible endpoint. Empty fields use the server's settings"
                                " ($POLICYQA_LLM_*); these apply to this browser session only. 本服务器可调用的接口"
                                " Endpoints this server may call: " + (", ".join(svc.llm_urls) or "—"))
                    with gr.Row():
                        llm_url = gr.Textbox(label="接口地址 Base URL", value=svc.llm.base_url, scale=3,
                                             placeholder="http://localhost:11434/v1", elem_id="pq-llm-url")
                        llm_model = gr.Textbox(label="模型 Model", value=svc.llm.model, scale=2,
                                               placeholder="qwen2.5:7b", elem_id="pq-llm-model")
                    with gr.Row():
                        llm_key = gr.Textbox(label="API 密钥 API key（可选 optional）", type="password", scale=3,
                                             placeholder="留空则使用服务器设置 empty: the server's", elem_id="pq-llm-key")
                        llm_timeout = gr.Number(label="超时（秒） Timeout (s)", value=svc.llm.timeout, minimum=1,
                                                maximum=600, scale=2, elem_id="pq-llm-timeout")
                with gr.Accordion("限定范围 Filters", open=False, elem_id="pq-chat-filters"):
                    chat_years, chat_places, chat_types = _filter_boxes("pq-chat")
                turns = gr.State([])
            with gr.Tab("检索 Search", id="search") as search_tab:
                with gr.Row():
                    query = gr.Textbox(label="查找原文段落 Find source passages", scale=5, elem_id="pq-query",
                                       placeholder="词语或问题，如：专利授权量 · words or a question, e.g. patents")
                    search_btn = gr.Button("检索 Search", variant="primary", scale=1, min_width=100,
                                           elem_id="pq-search-btn")
                with gr.Row():
                    doc_filter = gr.Dropdown(label="限定文件（不选则检索全部） Only these documents (empty: all)",
                                             choices=[], multiselect=True, scale=4, elem_id="pq-filter")
                    k = gr.Slider(1, 30, value=10, step=1, label="结果数量 Results", scale=2, elem_id="pq-k")
                years_box, place_box, type_box = _filter_boxes("pq")
                results = gr.HTML(elem_id="pq-results")
            with gr.Tab("术语 Lookup", id="lookup"):
                with gr.Row():
                    term_box = gr.Textbox(label="查术语（中文、英文或繁体） Look up a term (Chinese, English or Traditional)",
                                          scale=5, elem_id="pq-term",
                                          placeholder="如：专精特新、little giant、專精特新")
                    lookup_btn = gr.Button("查询 Look up", variant="primary", scale=1, min_width=100,
                                           elem_id="pq-lookup-btn")
                trend_type = gr.Dropdown(label="按年份统计的文件类型 Documents counted by year", choices=[],
                                         value="", elem_id="pq-trend-type", scale=2)
                trend_plot = gr.BarPlot(x="year", y="count", x_title="年份 Year", y_title="出现次数 Occurrences",
                                        title="按年份 By year", visible=False, elem_id="pq-trend-plot",
                                        sort="x", height=260)
                trend_sel = gr.HTML(elem_id="pq-trend-pick")
                lookup_out = gr.HTML(elem_id="pq-lookup-out")
                lookup_state = gr.State(None)
            with gr.Tab("文库 Library", id="library") as library_tab:
                library = gr.HTML(elem_id="pq-library")
                # Shown to librarians only; the handlers check the role as well.
                with gr.Column(visible=svc.accounts is None, elem_id="pq-library-write") as write_tools:
                    gr.Markdown(f"#### 上传文件 Upload documents\n支持 {' '.join(exts)}（图片和扫描件经文字识别 OCR）；单个文件不超过 "
                                f"{svc.limits.max_mb:g} MB，每次最多 {svc.limits.max_files} 个。 "
                                f"Up to {svc.limits.max_files} files of at most {svc.limits.max_mb:g} MB each.")
                    files = gr.File(label="拖放文件到这里，或点击选择 Drop files here or click to choose",
                                    file_count="multiple", file_types=exts, type="filepath", elem_id="pq-upload")
                    ingest_btn = gr.Button("导入 Ingest", variant="primary", elem_id="pq-ingest")
                    status = gr.HTML(elem_id="pq-status", min_height=56)
                    gr.Markdown("#### 删除文件 Remove documents")
                    with gr.Row():
                        to_remove = gr.Dropdown(label="选择要删除的文件 Documents to remove", choices=[],
                                                multiselect=True, scale=4, elem_id="pq-remove-choice")
                        remove_btn = gr.Button("删除 Remove", variant="stop", scale=1, min_width=100,
                                               elem_id="pq-remove")
        view_req = gr.Textbox(visible="hidden", elem_id="pq-view-req")
        view_btn = gr.Button("view", visible="hidden", elem_id="pq-view-btn")
        lookup_req = gr.Textbox(visible="hidden", elem_id="pq-lookup-req")
        lookup_req_btn = gr.Button("lookup", visible="hidden", elem_id="pq-lookup-req-btn")

        # The filters have defaults: API clients written before them keep working.
        def _chat(message, history, mode_label, url, model, key, timeout, past, years=None, places=None,
                  kinds=None, request: gr.Request = None):
            allowed(svc, request, "read")
            llm = None
            try:
                scope = make_filters(years, places, kinds)
                if MODES.get(mode_label, mode_label) == "llm":
                    llm = session_llm(svc, url, model, key, timeout)
            except PolicyQAError as e:
                raise _fail(e) from None
            yield from chat_reply(svc, message, history, mode_label, llm, past, scope)

        def _search(q, d, n, years=None, places=None, kinds=None, request: gr.Request = None):
            allowed(svc, request, "read")
            return run_search(svc, q, d, n, years, places, kinds)

        def _lookup(t, kind=None, request: gr.Request = None):
            allowed(svc, request, "read")
            return _lookup_outputs(lookup_view(svc, t, kind))

        def _lookup_request(r, request: gr.Request):
            allowed(svc, request, "read")
            return lookup_request(svc, r)

        def _view(r, request: gr.Request):
            allowed(svc, request, "read")
            return view_document(svc, r)

        def _library(request: gr.Request):
            allowed(svc, request, "read")
            return library_state(svc)

        def _facets(request: gr.Request):
            allowed(svc, request, "read")
            return facet_state(svc)

        def _start(request: gr.Request):
            user = allowed(svc, request, "read")
            return (session_html(svc, user), gr.Column(visible=svc.role(user) == "librarian"),
                    *library_state(svc))

        def _upload(paths, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            return upload_files(svc, paths, progress, user=allowed(svc, request, "write"))

        def _remove(ids, request: gr.Request):
            return remove_documents(svc, ids, user=allowed(svc, request, "write"))

        lib_outputs = [library, to_remove, doc_filter]
        facet_outputs = [place_box, type_box, chat_places, chat_types, trend_type]
        chat_in = [msg, chatbot, mode, llm_url, llm_model, llm_key, llm_timeout, turns,
                   chat_years, chat_places, chat_types]
        chat_out = [chatbot, msg, turns]
        # Reading events are always_last: a follow-up question, a second search or a second
        # citation clicked while the one before is still finishing runs after it (Gradio's
        # default, "once", drops it). Writes (upload, remove) keep "once": no double submits.
        msg.submit(_chat, chat_in, chat_out, trigger_mode="always_last")
        send.click(_chat, chat_in, chat_out, trigger_mode="always_last")
        chatbot.example_select(pick_example, None, msg).then(_chat, chat_in, chat_out)
        clear.click(lambda: ([], "", []), None, [chatbot, msg, turns], queue=False)
        for trigger in (query.submit, search_btn.click):
            trigger(_search, [query, doc_filter, k, years_box, place_box, type_box], results,
                    trigger_mode="always_last")
        lookup_outs = [lookup_out, trend_plot, lookup_state, trend_sel]
        for trigger in (term_box.submit, lookup_btn.click, trend_type.input):
            trigger(_lookup, [term_box, trend_type], lookup_outs, trigger_mode="always_last")
        trend_plot.select(trend_pick, lookup_state, trend_sel)
        lookup_req_btn.click(_lookup_request, lookup_req, [tabs, term_box, *lookup_outs],
                             js="(x) => window.__pqLookup || x", show_progress_on=[lookup_out],
                             trigger_mode="always_last")
        view_btn.click(_view, view_req, [sidebar, doc_view],
                       js="(x) => window.__pqView || x", show_progress_on=[doc_view],
                       trigger_mode="always_last").then(None, js=SCROLL_TO_MARK)
        # Progress and error badges on the status line only, not over the table and boxes.
        ingest_btn.click(_upload, files, [status, *lib_outputs, files], concurrency_id="library-write",
                         concurrency_limit=1, show_progress_on=[status]).then(_facets, None, facet_outputs)
        remove_btn.click(_remove, to_remove, [status, *lib_outputs], concurrency_id="library-write",
                         concurrency_limit=1, show_progress_on=[status]).then(_facets, None, facet_outputs)
        for tab in (search_tab, library_tab):
            tab.select(_library, None, lib_outputs)
        demo.load(_start, None, [signed_in, write_tools, *lib_outputs]).then(_facets, None, facet_outputs)
    return demo


THEME = gr.themes.Default(
    primary_hue="blue", neutral_hue="slate",
    # Local and system fonts only: nothing is fetched from the internet. Not the bundled IBM
    # Plex SemiBold (a subset missing Latin letters), and no Linux CJK font by name: reached
    # through the generic family, fontconfig also gives it a bold face.
    font=[gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)), "PingFang SC", "Hiragino Sans GB",
          "Microsoft YaHei", "Noto Sans CJK SC", "sans-serif"])


def launch(index_dir: str | Path | None = None, host: str = "127.0.0.1", port: int = 7860, *,
           block: bool = True, accounts: Accounts | None = None, settings: Settings | None = None):
    """Serve the app on host:port over the index at `index_dir` (default: settings). With
    `accounts`, every visitor signs in and the roles decide who may change the library.
    `settings`: the caller's (`policyqa serve`); None reads them from the environment."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("policyqa.ui", "app.service"):
        logging.getLogger(name).setLevel(logging.INFO)
    svc = AppService.from_env(index_dir, accounts=accounts, settings=settings)
    demo = build(svc)
    demo.queue(default_concurrency_limit=CONCURRENCY)
    auth = None
    if accounts is not None:
        async def auth(name: str, password: str) -> bool:     # scrypt off the event loop
            import anyio
            return await anyio.to_thread.run_sync(accounts.verify, name, password)
    _, url, _ = demo.launch(
        server_name=host, server_port=int(port), theme=THEME, css=render.CSS, head=HEAD,
        max_file_size=svc.limits.max_bytes, show_error=False, quiet=True, ssr_mode=False, pwa=False,
        mcp_server=False, footer_links=["api", "settings"], prevent_thread_lock=True,
        allowed_paths=[], run_history=False, auth=auth,
        auth_message=("政策文件问答：请用管理员分配的账号登录。"
                      " PolicyQA: sign in with the account your administrator gave you."),
        app_kwargs={"docs_url": None, "redoc_url": None})
    who = f"accounts from {accounts.path}" if accounts is not None else "no accounts"
    print(f"policyqa: serving {svc.index_dir} at {url} ({who}; Ctrl-C to stop)", flush=True)
    # After the server is up, so the page answers first; a question meanwhile waits for it.
    threading.Thread(target=svc.warm_up, name="warm-up", daemon=True).start()
    if block:
        try:
            demo.block_thread()
        except KeyboardInterrupt:
            pass
    return demo
