"""HTML for the web app: answers whose `[n]` link to source cards, passages with the query
terms marked, the library table, and a document with one span marked.

Pure functions over the result objects. All document and user text goes through
`html.escape`; the only markup is ours. The output has no blank lines, so a Markdown
renderer (the chat) passes it through as one HTML block.
"""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import quote

from assistant.constraints import bilingual_type_label, identity_line
from assistant.types import Answer, Citation, Document, Hit, PageImage

_CITE = re.compile(r"\[(\d{1,3})\]")
_SENT_END = "。！？；!?;"
VIEW_LABEL = "查看原文 View in document"
MAX_DOC_CHARS = 200_000          # longer documents are shown around the marked span
OCR_LABEL = "识别文本 OCR text — check the page image"
LOW_OCR_CONFIDENCE = 0.9         # below: the card says the recognition is uncertain


# What a Markdown renderer could still make a link of, in escaped text: an inline link or
# image ("](" after "[text"), a bare URL or www. address, an e-mail address.
_MD_LINK = re.compile(r"\]\(|(?<=[A-Za-z]):(?=//)|(?<![\w.])(?i:www)\.|@")
_MD_SAFE = {"](": "]&#40;", ":": "&#58;", "@": "&#64;"}


def esc(text: str | None) -> str:
    """HTML-escaped text that the chat's Markdown renderer leaves alone too: no raw line
    break (a blank line would end our HTML block and let Markdown read the rest) and no
    link syntax, so a document's "[click](http://…)" or bare URL never becomes a link."""
    s = html.escape(text or "", quote=True).replace("\r", "&#13;").replace("\n", "&#10;")
    return _MD_LINK.sub(lambda m: _MD_SAFE.get(m.group(0)) or m.group(0)[:-1] + "&#46;", s)


def _lines(text: str) -> str:
    return esc(text).replace("&#10;", "<br>")


# -- chat ------------------------------------------------------------------------------
def user_html(question: str) -> str:
    return f'<div class="pq-user">{_lines(question.strip())}</div>'


def pending_html() -> str:
    return '<div class="pq-pending">正在查找出处… Searching the documents…</div>'


def error_html(message: str) -> str:
    return f'<div class="pq-error"><b>出错了 Something went wrong</b><br>{_lines(message)}</div>'


def stream_steps(text: str) -> list[str]:
    """Growing prefixes of an answer, one sentence (or citation) at a time, ending with the text."""
    cuts = [m.end() for m in re.finditer(r"\n|\[\d{1,3}\]\s*|[。！？；](?!\[)|[.!?](?=\s)", text)]
    steps = [text[:c].rstrip() for c in cuts if 0 < c < len(text)]
    steps = [s for i, s in enumerate(steps) if s and (i == 0 or s != steps[i - 1])]
    return steps + [text]


def answer_text_html(text: str, msg_id: str, n_citations: int, flags=(), links: bool = False) -> str:
    """The answer text with each valid `[n]` a link to source card n of message `msg_id`,
    and the sentences the citation check could not verify marked; with `links`, glossary
    terms link to the 术语 Lookup tab."""
    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if not 1 <= n <= n_citations:
            return m.group(0)
        return f'<a class="pq-cite" href="#src-{msg_id}-{n}" title="出处 Source {n}">[{n}]</a>'

    def part(t: str) -> str:
        return _CITE.sub(link, _glossary_links(t) if links else _lines(t))

    marked = sorted({(f.start, f.end) for f in flags if f.kind in _CLAIM_FLAGS and 0 <= f.start < f.end <= len(text)})
    out, pos = [], 0
    for a, b in marked:
        if a < pos:
            continue
        out.append(part(text[pos:a]))
        out.append(f'<span class="pq-unverified">{part(text[a:b])}<sup class="pq-warn">⚠</sup></span>')
        pos = b
    out.append(part(text[pos:]))
    return f'<div class="pq-text">{"".join(out)}</div>'


_CLAIM_FLAGS = {"unsupported", "uncited", "number"}
_FLAG_LABEL = {"unsupported": "所引来源不支持 Not supported by its source",
               "uncited": "未注明出处 No source", "number": "数字未见于来源 Number not in the sources",
               "removed_citation": "已删除无效引用 Invalid citation removed"}


def streaming_html(prefix: str, msg_id: str, n_citations: int) -> str:
    return (f'<div class="pq-answer pq-streaming" id="ans-{msg_id}">'
            f'{answer_text_html(prefix, msg_id, n_citations)}</div>')


def draft_html(draft: str) -> str:
    """A model's answer while it streams: its citations are not checked yet, so not linked."""
    return (f'<div class="pq-answer pq-streaming"><div class="pq-text">{_lines(draft)}</div>'
            '<div class="pq-pending">正在生成，引用将在完成后核对… Writing; citations are checked when it is done…</div></div>')


def answer_html(answer: Answer, msg_id: str, texts: Mapping[str, str],
                metas: Mapping[str, Mapping] | None = None) -> str:
    """The complete answer: text, then numbered source cards (found) or related passages.
    `metas`: document metadata by id, for each card's provenance line."""
    found = "pq-found" if answer.found else "pq-not-found"
    parts = [f'<div class="pq-answer {found}" id="ans-{msg_id}">']
    if answer.notice:        # first: it says what kind of answer follows (e.g. the model failed)
        parts.append(f'<div class="pq-notice">{_lines(answer.notice)}</div>')
    if answer.mode == "llm":
        parts.append('<div class="pq-mode">大模型撰写 · 引用已逐句核对 Written by the LLM · every citation checked</div>')
    if answer.table is not None:
        parts.append(f'<div class="pq-text">{esc(answer.text.split(chr(10), 1)[0])}</div>')
        parts.append(table_html(answer, msg_id))
    else:
        parts.append(answer_text_html(answer.text, msg_id, len(answer.citations), answer.flags, links=answer.found))
    if answer.standalone:
        parts.append(f'<div class="pq-meta">按上下文理解为 Understood as: {esc(answer.standalone)}</div>')
    if answer.flags:
        parts.append('<div class="pq-h pq-h-flags">未经核实 Not verified against the sources</div><ul class="pq-flags">')
        parts.extend(f'<li><b>{esc(_FLAG_LABEL.get(f.kind, f.kind))}</b>: {esc(f.sentence)} '
                     f'<span class="pq-meta">({esc(f.detail)})</span></li>' for f in answer.flags)
        parts.append("</ul>")
    if answer.citations:
        parts.append('<div class="pq-h">出处 Sources</div>')
        parts.extend(source_card(c, msg_id, texts.get(c.doc_id), (metas or {}).get(c.doc_id))
                     for c in answer.citations)
    if answer.related:
        parts.append('<div class="pq-h pq-h-related">相关段落（未能回答问题，仅供参考）'
                     ' Related passages — not an answer, for reference only</div>')
        parts.append('<div class="pq-related">')
        parts.extend(passage_card(h, excerpt=260) for h in answer.related)
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def source_card(c: Citation, msg_id: str, doc_text: str | None, meta: Mapping | None = None) -> str:
    """Card n: title, section path, page, the cited sentence marked inside its passage, and
    who added the document, when and from which file (when `meta` says)."""
    if doc_text is not None and doc_text[c.start:c.end] == c.text:
        before, span, after = passage_context(doc_text, c.start, c.end)
    else:
        before, span, after = "", c.text, ""
    ctx = (f'{"…" if before and not _starts_block(doc_text, c.start - len(before)) else ""}{_lines(before)}'
           f'<mark class="pq-cited">{_glossary_links(span)}</mark>{_lines(after)}'
           f'{"…" if after and doc_text and c.end + len(after) < len(doc_text) else ""}')
    return (f'<div class="pq-card" id="src-{msg_id}-{c.n}">'
            f'<div class="pq-card-head"><span class="pq-num">{c.n}</span>'
            f'<span class="pq-title">{esc(c.title)}</span></div>'
            f'{identity_html(c.document)}'
            f'{_meta_line(c.section, c.page)}'
            f'{ocr_note(c.ocr_confidence)}'
            f'<div class="pq-ctx">{ctx}</div>'
            f'{provenance_html(meta)}'
            f'{view_link(c.doc_id, c.start, c.end)}</div>')


def identity(d: Mapping | None) -> str:
    """Date · issuer · jurisdiction · type · 文号 of a document, as far as known."""
    return identity_line(d or {}, lambda kind: bilingual_type_label(kind) if kind != "other" else None,
                         "（据文件名 from the file name）")


def identity_html(d: Mapping | None) -> str:
    line = identity(d)
    return f'<div class="pq-ident">{esc(line)}</div>' if line else ""


def table_html(answer: Answer, msg_id: str) -> str:
    """A comparison answer's table: one row per side, its quoted figure or provision with
    citation marks that open the source cards; a side not answered says so."""
    t = answer.table
    head = {"year": "年份 Year", "place": "地区 Place", "document": "文件 Document"}.get(t.dimension, t.dimension)
    rows = []
    for r in t.rows:
        cell = answer_text_html(r.text, msg_id, len(answer.citations), (), links=True) if r.found else \
            f'<span class="pq-missing">{esc(r.text)}</span>'
        rows.append(f'<tr class="{"pq-row-found" if r.found else "pq-row-missing"}">'
                    f'<th scope="row">{esc(r.side)}</th><td>{cell}</td></tr>')
    return (f'<table class="pq-compare"><thead><tr><th>{esc(head)}</th><th>原文 Quoted from the documents</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def ocr_note(confidence: float | None) -> str:
    """The mark on a citation of recognised text (nothing for extracted text)."""
    if confidence is None:
        return ""
    low = confidence < LOW_OCR_CONFIDENCE
    extra = "，识别置信度低 low recognition confidence" if low else ""
    return (f'<div class="pq-ocr{" pq-ocr-low" if low else ""}">{esc(OCR_LABEL)}'
            f' · 置信度 confidence {confidence:.2f}{extra}</div>')


def provenance(meta: Mapping | None) -> str:
    """"added by wang · 2026-12-01 21:33 · from 通知.docx", or "" when the metadata does not say."""
    m = meta or {}
    if not m.get("added_by"):
        return ""
    bits = [f"添加 added by {m['added_by']}"]
    if m.get("added_at"):
        bits.append(_when(m["added_at"]))
    if m.get("added_from"):
        bits.append(f"来自 from {_file_name(m['added_from'])}")
    return " · ".join(bits)


def provenance_html(meta: Mapping | None) -> str:
    line = provenance(meta)
    return f'<div class="pq-prov">{esc(line)}</div>' if line else ""


def _glossary_links(text: str) -> str:
    """Escaped text in which the glossary's Chinese terms link to the 术语 Lookup tab."""
    from assistant.glossary_use import entries_in_chinese
    out, pos = [], 0
    for start, end, _ in entries_in_chinese(text):
        out.append(_lines(text[pos:start]))
        out.append(lookup_link(text[start:end]))
        pos = end
    out.append(_lines(text[pos:]))
    return "".join(out)


def passage_card(h: Hit, terms: Iterable[str] = (), excerpt: int | None = None, links: bool = False) -> str:
    """A retrieved passage (search result or related passage) with its terms marked."""
    text = h.text if excerpt is None or len(h.text) <= excerpt else h.text[:excerpt] + "…"
    return (f'<div class="pq-card pq-hit">'
            f'<div class="pq-card-head"><span class="pq-num">{h.rank}</span>'
            f'<span class="pq-title">{esc(h.title)}</span></div>'
            f'{identity_html(h.document)}'
            f'{_meta_line(h.section, h.page)}'
            f'<div class="pq-ctx">{highlight_terms(text, terms, links)}</div>'
            f'{view_link(h.doc_id, h.start, h.end)}</div>')


def view_link(doc_id: str, start: int, end: int) -> str:
    # The request rides in the fragment: the chat's sanitiser keeps href but drops data-*.
    return (f'<a class="pq-view" href="#view/{quote(doc_id, safe="")}/{int(start)}/{int(end)}">'
            f'{VIEW_LABEL} ›</a>')


def parse_view_request(href: str) -> tuple[str, int, int] | None:
    """The inverse of `view_link`'s href (None when it is not one)."""
    from urllib.parse import unquote
    m = re.fullmatch(r"#?view/([^/]*)/(\d{1,9})/(\d{1,9})", (href or "").strip())
    if not m:
        return None
    return unquote(m.group(1)), int(m.group(2)), int(m.group(3))


def _meta_line(section: str, page: int | None) -> str:
    bits = []
    if section:
        bits.append(f'<span class="pq-section">{esc(section.replace(" > ", " › "))}</span>')
    if page:
        bits.append(f'<span class="pq-page">第 {int(page)} 页 p. {int(page)}</span>')
    return f'<div class="pq-meta">{" · ".join(bits)}</div>' if bits else ""


def _starts_block(text: str | None, i: int) -> bool:
    return not text or i <= 0 or text[i - 1] == "\n"


def passage_context(text: str, start: int, end: int, width: int = 160) -> tuple[str, str, str]:
    """(before, span, after): the span with the rest of its paragraph, at most `width`
    characters each side, cut back to a sentence end where there is one."""
    lo = max(text.rfind("\n", 0, start) + 1, start - width)
    if lo > 0 and text[lo - 1] != "\n":
        cut = max(text.rfind(ch, lo, start) for ch in _SENT_END)
        if cut >= lo:
            lo = cut + 1
    nl = text.find("\n", end)
    hi = min(len(text) if nl < 0 else nl, end + width)
    if hi < len(text) and text[hi:hi + 1] != "\n":
        cuts = [i for i in (text.rfind(ch, end, hi) for ch in _SENT_END) if i >= end]
        if cuts:
            hi = max(cuts) + 1
    return text[lo:start].lstrip(), text[start:end], text[end:hi].rstrip()


# -- search ------------------------------------------------------------------------------
def lookup_link(term: str, inner: str | None = None) -> str:
    """A link that sends `term` to the 术语 Lookup tab (the request rides in the fragment,
    like `view_link`): #lookup/<term>."""
    return (f'<a class="pq-lookup" href="#lookup/{quote(term, safe="")}" title="查术语 Look up “{esc(term)}”">'
            f'{esc(term) if inner is None else inner}</a>')


def parse_lookup_request(href: str) -> str | None:
    """The inverse of `lookup_link`'s href (None when it is not one)."""
    from urllib.parse import unquote
    m = re.fullmatch(r"#?lookup/(.+)", (href or "").strip(), re.S)
    return (unquote(m.group(1)).strip() or None) if m else None


def highlight_terms(text: str, terms: Iterable[str], links: bool = False) -> str:
    """Escaped text with every occurrence of the terms (longest first, any case) marked;
    with `links`, each mark is also a link that looks the term up (`lookup_link`)."""
    words = sorted({t for t in terms if t and t.strip()}, key=len, reverse=True)
    if not words:
        return _lines(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out, pos = [], 0
    for m in pattern.finditer(text):
        out.append(_lines(text[pos:m.start()]))
        mark = f'<mark class="pq-term">{_lines(m.group(0))}</mark>'
        out.append(lookup_link(m.group(0), mark) if links else mark)
        pos = m.end()
    out.append(_lines(text[pos:]))
    return "".join(out)


def hits_html(query: str, hits: list[Hit], terms: Iterable[str], filtered: bool = False) -> str:
    terms = list(terms)
    if not hits:
        where = "所选文件中" if filtered else "文库中"
        return (f'<div class="pq-results"><div class="pq-empty">{where}没有找到与“{esc(query)}”相关的段落。'
                f' No passages found for “{esc(query)}”.</div></div>')
    head = (f'<div class="pq-results-head">“{esc(query)}”：{len(hits)} 个段落 · {len(hits)} passages'
            + (f'<span class="pq-terms">匹配词 Terms: {esc(" ".join(terms))}</span>' if terms else "")
            + "</div>"
            + ('<div class="pq-hint">点击高亮的词可在「术语 Lookup」页查看译法和出处。'
               ' Click a highlighted term to look it up in the Lookup tab.</div>' if terms else ""))
    cards = "".join(passage_card(h, terms, links=True) for h in hits)
    return f'<div class="pq-results">{head}{cards}</div>'


# -- term lookup ---------------------------------------------------------------------------
_MATCH = {"exact": "完全匹配 exact", "variant": "变体 variant", "contains": "包含 contains"}


def lookup_html(result: Mapping, max_passages: int = 30) -> str:
    """A `LookupResult.to_dict()`: glossary entries (policy renderings), CC-CEDICT senses
    (only when the glossary has no exact or variant match, clearly marked as general
    dictionary senses), counts per document and the passages with each occurrence marked."""
    term = result.get("term") or ""
    entries = result.get("entries") or []
    conc = result.get("concordance") or {}
    parts = [f'<div class="pq-lookup-result"><div class="pq-results-head">术语 Term: <b>{esc(term)}</b>'
             + (f' <span class="pq-terms">→ {esc(result["normalized"])}</span>'
                if result.get("normalized") and result["normalized"] != term else "") + "</div>"]
    # the glossary
    parts.append('<div class="pq-h pq-h-glossary">政策术语表 Glossary</div>')
    if entries:
        for e in entries:
            variants = [*e.get("zh_variants", []), *e.get("en_variants", [])]
            parts.append(
                '<div class="pq-card pq-entry">'
                f'<div class="pq-card-head"><span class="pq-zh">{esc(e["zh"])}</span> — '
                f'<span class="pq-en">{esc(e["en"])}</span>'
                f'<span class="pq-badge">{esc(_MATCH.get(e.get("match", ""), e.get("match", "")))}</span></div>'
                + (f'<div class="pq-meta">变体 Variants: {esc("；".join(variants))}</div>' if variants else "")
                + f'<div class="pq-source">来源 Source: <b>{esc(e.get("source"))}</b> · {esc(e.get("note"))}</div>'
                "</div>")
    else:
        parts.append('<div class="pq-empty">术语表中没有这个词。 Not in the policy glossary.</div>')
    # the general dictionary, only without a glossary rendering
    senses = result.get("dictionary") or []
    if not result.get("glossary_found") and senses:
        parts.append('<div class="pq-h pq-h-dict">通用词典 General dictionary（CC-CEDICT）'
                     ' — 一般词义，并非政策文件的规范译法 general senses, not a policy rendering</div>'
                     '<div class="pq-dict">')
        for d in senses:
            trad = f' 〔{esc(d["traditional"])}〕' if d.get("traditional") and d["traditional"] != d["headword"] else ""
            part = (f' <span class="pq-meta">（{esc(d["part"])}）</span>'
                    if d.get("part") and d["part"] not in (d["headword"], result.get("normalized")) else "")
            parts.append(f'<div class="pq-sense"><b>{esc(d["headword"])}</b>{trad} '
                         f'<span class="pq-pinyin">{esc(d.get("pinyin"))}</span>{part}: '
                         f'{esc("; ".join(d.get("definitions") or []))}</div>')
        parts.append("</div>")
    # the concordance
    total = int(conc.get("total") or 0)
    docs = conc.get("documents") or []
    forms = conc.get("forms") or []
    parts.append(f'<div class="pq-h">出现次数 Occurrences: {total}'
                 + (f'<span class="pq-terms">查找的写法 Forms: {esc(" · ".join(forms))}</span>' if forms else "")
                 + "</div>")
    if docs:
        rows = "".join(f'<tr><td class="pq-col-title">{esc(d.get("title") or d["doc_id"])}'
                       f'<div class="pq-docid">{esc(d["doc_id"])}</div></td>'
                       f'<td class="pq-num-col">{int(d["count"])}</td></tr>' for d in docs)
        parts.append('<table class="pq-library pq-counts"><thead><tr><th>文档 Document</th>'
                     f'<th>次数 Occurrences</th></tr></thead><tbody>{rows}</tbody></table>')
    else:
        parts.append('<div class="pq-empty">文库中没有出现这个词。 The term does not occur in the library.</div>')
    passages = (conc.get("passages") or [])[:max_passages]
    if passages:
        shown = conc.get("passages_total") or len(passages)
        parts.append(f'<div class="pq-h">原文段落 Passages ({len(passages)}'
                     + (f' / {shown}' if shown > len(passages) else "") + ")</div>")
        for i, p in enumerate(passages, 1):
            text, ms, me = p["text"], int(p["match_start"]), int(p["match_end"])
            before, span, after = passage_context(text, ms, me)
            ctx = (f'{"…" if before and ms - len(before) > 0 else ""}{highlight_terms(before, forms)}'
                   f'<mark class="pq-occ">{_lines(span)}</mark>{highlight_terms(after, forms)}'
                   f'{"…" if after and me + len(after) < len(text) else ""}')
            more = int(p.get("occurrences") or 1)
            parts.append(
                '<div class="pq-card pq-hit pq-conc">'
                f'<div class="pq-card-head"><span class="pq-num">{i}</span>'
                f'<span class="pq-title">{esc(p.get("title"))}</span>'
                + (f'<span class="pq-badge">本段 {more} 次 · {more}× here</span>' if more > 1 else "")
                + "</div>"
                f'{_meta_line(p.get("section") or "", p.get("page"))}'
                f'<div class="pq-ctx">{ctx}</div>'
                f'{view_link(p["doc_id"], int(p["start"]) + ms, int(p["start"]) + me)}</div>')
    trend = result.get("by_year")
    if trend:
        parts.append(trend_html(trend, conc))
    parts.append("</div>")
    return "".join(parts)


def trend_rows(trend: Mapping) -> list[dict]:
    """A trend's points as chart rows: one per year (documents of one year summed)."""
    years: dict[int, int] = {}
    for p in trend.get("points") or []:
        years[int(p["year"])] = years.get(int(p["year"]), 0) + int(p["count"])
    return [{"year": str(y), "count": n} for y, n in sorted(years.items())]


def trend_html(trend: Mapping, conc: Mapping, per_year: int = 5) -> str:
    """The term by year: a link per year (to that year's passages, below) and, per year,
    its documents with their counts and the first passages holding the term."""
    points = trend.get("points") or []
    if not points:
        return ('<div class="pq-h">按年份 By year</div><div class="pq-empty">文库中没有注明年份的文件。'
                ' No dated documents are loaded.</div>')
    rows = trend_rows(trend)
    links = " ".join(f'<a class="pq-cite pq-year" href="#pq-year-{r["year"]}">{r["year"]}年 ({r["count"]})</a>'
                     for r in rows)
    parts = ['<div class="pq-h">按年份 By year（各年文件中的出现次数 occurrences in each dated document）</div>'
             f'<div class="pq-trend-years">{links}</div>']
    for r in rows:
        parts.append(year_passages_html(trend, conc, int(r["year"]), per_year))
    return "".join(parts)


def year_passages_html(trend: Mapping, conc: Mapping, year: int, per_year: int = 5) -> str:
    """One year of a trend: its documents with their counts, and their passages holding the term."""
    docs = [p for p in trend.get("points") or [] if int(p["year"]) == year]
    ids = {p["doc_id"] for p in docs}
    found = [p for p in conc.get("passages") or [] if p["doc_id"] in ids]
    forms = conc.get("forms") or []
    head = "；".join(f'{esc(p["title"])}：{int(p["count"])} 次' for p in docs)
    parts = [f'<div class="pq-card pq-year-group" id="pq-year-{year}">'
             f'<div class="pq-card-head"><span class="pq-title">{year}年</span></div>'
             f'<div class="pq-meta">{head}</div>']
    for p in found[:per_year]:
        ms, me = int(p["match_start"]), int(p["match_end"])
        before, span, after = passage_context(p["text"], ms, me)
        parts.append(f'<div class="pq-ctx">{highlight_terms(before, forms)}<mark class="pq-occ">{_lines(span)}</mark>'
                     f'{highlight_terms(after, forms)} '
                     f'{view_link(p["doc_id"], int(p["start"]) + ms, int(p["start"]) + me)}</div>')
    if not found and any(int(p["count"]) for p in docs):
        parts.append('<div class="pq-meta">段落见上方列表之外。 Its passages are beyond those listed above.</div>')
    parts.append("</div>")
    return "".join(parts)


def message_html(text: str, kind: str = "info") -> str:
    return f'<div class="pq-msg pq-msg-{esc(kind)}">{_lines(text)}</div>'


# -- library -------------------------------------------------------------------------------
_LANG = {"zh": "中文 zh", "en": "英文 en"}


def library_html(docs: list[dict]) -> str:
    if not docs:
        return ('<div class="pq-empty">文库是空的：请在下方上传文件。'
                ' The library is empty: upload documents below.</div>')
    rows = []
    for d in docs:
        lang = d.get("language") or ""
        rows.append(
            "<tr>"
            f'<td class="pq-col-title">{esc(d.get("display_title") or d.get("title") or d["doc_id"])}'
            f'<div class="pq-docid">{esc(d["doc_id"])}</div>'
            f'{identity_html(d)}</td>'
            f'<td>{esc((d.get("kind") or "").upper())}{" · OCR" if d.get("ocr") else ""}</td>'
            f'<td>{esc(_LANG.get(lang, lang))}</td>'
            f'<td class="pq-num-col">{esc(str(d.get("n_pages") or "—"))}</td>'
            f'<td class="pq-num-col">{esc(str(d.get("n_chunks") or 0))}</td>'
            f'<td>{esc(_when(d.get("ingested_at")))}</td>'
            f'<td class="pq-col-prov">{_added(d)}</td>'
            "</tr>")
    return ('<table class="pq-library"><thead><tr>'
            "<th>标题 Title</th><th>类型 Type</th><th>语言 Language</th><th>页数 Pages</th>"
            "<th>段落 Chunks</th><th>导入时间 Ingested</th><th>添加者 Added by</th>"
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<div class="pq-count">共 {len(docs)} 个文件 · {len(docs)} documents</div>')


def _added(d: Mapping) -> str:
    """Who added a document and from which file (the full path where the CLI ingested it)."""
    if not d.get("added_by"):
        return "—"
    where = d.get("added_from") or ""
    return (f'{esc(d["added_by"])}<div class="pq-docid" title="{esc(where)}">'
            f'{esc(_file_name(where))}</div>')


def _file_name(path: str) -> str:
    """The last part of a path (the CLI records whole paths; uploads their own names)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def session_html(user: str, role: str) -> str:
    return (f'<div class="pq-session">已登录 Signed in: <b>{esc(user)}</b>（{esc(role)}） · '
            '<a href="logout">退出 Sign out</a></div>')


def _when(stamp: str | None) -> str:
    if not stamp:
        return ""
    m = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)", stamp)
    return f"{m.group(1)} {m.group(2)}" if m else stamp


# -- the document view ---------------------------------------------------------------------
def document_html(doc: Document, start: int | None = None, end: int | None = None,
                  scan: PageImage | None = None) -> str:
    """The cleaned document, paragraph by paragraph, with [start, end) in `<mark id="pq-mark">`;
    for recognised text, the scanned page with the cited lines boxed (`scan`) just before it."""
    text = doc.text
    ok = start is not None and end is not None and 0 <= start < end <= len(text)
    lo, hi = 0, len(text)
    if len(text) > MAX_DOC_CHARS:
        centre = start if ok else 0
        lo = max(0, text.rfind("\n", 0, max(0, centre - MAX_DOC_CHARS // 2)) + 1)
        hi = min(len(text), lo + MAX_DOC_CHARS)
    m = doc.metadata or {}
    facts = [esc(x) for x in (m.get("issuer"), m.get("doc_number"), m.get("date"),
                              ", ".join(m.get("authors") or []) or None) if x]
    facts.append(f'{esc((m.get("kind") or "").upper())} · {esc(doc.doc_id)}')
    parts = [f'<div class="pq-doc"><div class="pq-doc-title">{esc(doc.title)}</div>',
             f'<div class="pq-doc-meta">{" · ".join(facts)}</div>', provenance_html(m)]
    if not ok and start is not None:
        parts.append('<div class="pq-msg pq-msg-warn">这段引文在当前版本的文件中已找不到（文件可能已更新）。'
                     ' The cited span is no longer in this version of the document.</div>')
    if lo > 0 or hi < len(text):
        parts.append(f'<div class="pq-msg">文件较长，只显示第 {lo + 1}–{hi} 字。'
                     f' Long document: showing characters {lo + 1}–{hi}.</div>')
    first = True
    pos = lo
    for line in text[lo:hi].split("\n"):
        a, b = pos, pos + len(line)
        pos = b + 1
        if not line.strip():
            continue
        if ok and a < end and start < b:
            s, e = max(a, start), min(b, end)
            mark_id = ' id="pq-mark"' if first else ""
            if first and scan is not None:
                parts.append(page_image_html(scan))
            first = False
            body = (f'{esc(text[a:s])}<mark class="pq-cited"{mark_id}>{esc(text[s:e])}</mark>'
                    f'{esc(text[e:b])}')
        else:
            body = esc(line)
        parts.append(f"<p>{body}</p>")
    parts.append("</div>")
    return "".join(parts)


def page_image_html(scan: PageImage) -> str:
    """A scanned page with the cited lines boxed (positions in per cent of the page)."""
    head = (f'<div class="pq-scan-head">{esc(OCR_LABEL)} · 第 {scan.page} 页原图 page {scan.page}, '
            f'引文所在行已框出 the cited lines are boxed</div>')
    if not scan.png:
        return f'<div class="pq-scan">{head}<div class="pq-msg pq-msg-warn">{esc(scan.note)}</div></div>'
    boxes = "".join(
        f'<div class="pq-scan-box" style="left:{100 * x0:.2f}%;top:{100 * y0:.2f}%;'
        f'width:{100 * (x1 - x0):.2f}%;height:{100 * (y1 - y0):.2f}%"></div>'
        for x0, y0, x1, y1 in scan.boxes)
    src = "data:image/png;base64," + base64.b64encode(scan.png).decode("ascii")
    return (f'<div class="pq-scan">{head}<div class="pq-scan-page" id="pq-scan-page">'
            f'<img src="{src}" alt="第 {scan.page} 页 page {scan.page}">{boxes}</div></div>')


CSS = (Path(__file__).parent / "static" / "app.css").read_text("utf-8")
