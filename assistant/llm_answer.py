"""LLM mode: rewrite a follow-up, ask the model over numbered sources, check its citations.

The found decision is the extractive one: with no relevant passage the model is not
asked. Any failure of the model (unreachable, error status, timeout, malformed or empty
output, the wrong language twice) gives the extractive answer with a notice saying what
failed. The configured timeout bounds the answer (stream and language retry together)
and, separately, the rewriting of a follow-up (at most `LLMRules.rewrite_seconds` of it).
"""
from __future__ import annotations

import re
import time
from typing import Iterator, Sequence

from ingest.zhtext import HAN_URO, is_chinese

from .compare import not_found_cell
from .llm import LLMClient, LLMConfig, LLMError
from .prompt import Source, answer_messages, language_retry, rewrite_messages
from .tuned import LLMRules
from .types import Answer, AnswerTable, TableRow
from .verify import CLAIM_PROBLEMS, NO_ANSWER, SourcePassage, Verifier

N_SOURCES = 5
RULES = LLMRules()


def answer_with_llm(assistant, question: str, llm, history: Sequence[tuple[str, str]] = (),
                    k: int = N_SOURCES, filters=None) -> Iterator[str | Answer]:
    zh = is_chinese(question)
    try:
        client = llm if isinstance(llm, LLMClient) else LLMClient(llm or LLMConfig())
    except LLMError as e:
        yield assistant.extractive_answer(assistant.evidence(question, k, filters=filters), notice=_notice(e))
        return
    client.warm_up()               # built (imports and all) before the model's clock starts
    standalone = ""
    if history:
        try:
            standalone = _rewrite(client, history, question, time.monotonic() + client.config.timeout)
        except LLMError:
            standalone = ""        # answer the question as asked; the answer call reports failures
    query = standalone or question
    ev = assistant.evidence(query, k, filters=filters)
    if not ev.found:
        note = ("未调用大模型：已载入的文件中没有相关内容。 "
                "The model was not asked: nothing relevant was found in the loaded documents.")
        yield assistant.extractive_answer(ev, question=question, notice=note, standalone=standalone)
        return
    # A comparison shows the model each side's own passages (two each, interleaved).
    n_sources = max(1, min(k, N_SOURCES)) if not ev.comparison else min(2 * len(ev.comparison[1]), 2 * N_SOURCES)
    hits = ev.hits[:n_sources]
    sides = [s.label for s, _ in ev.comparison[1]] if ev.comparison else None
    messages = answer_messages(query, [Source(i, h.title, h.section, h.page, h.text)
                                       for i, h in enumerate(hits, 1)], zh, sides=sides)
    deadline = time.monotonic() + client.config.timeout     # the answer and its one retry
    try:
        parts = []
        for delta in client.stream(messages, timeout=_left(deadline, client)):
            parts.append(delta)
            yield delta
        draft = "".join(parts).strip()
        if _wrong_language(draft, zh):
            draft = client.complete(language_retry(messages, draft, zh), timeout=_left(deadline, client))
            if _wrong_language(draft, zh):
                raise LLMError("language", "the model answered in Chinese, not English" if not zh else
                               "the model answered in English, not Chinese")
    except LLMError as e:
        yield assistant.extractive_answer(ev, question=question, notice=_notice(e), standalone=standalone)
        return
    yield _checked(assistant, question, standalone, draft, hits, ev)


def _checked(assistant, question: str, standalone: str, draft: str, hits, ev) -> Answer:
    docs = assistant.data.docs
    sources = [SourcePassage(i, h.doc_id, h.title, h.section, h.start, h.end, docs[h.doc_id].text,
                             docs[h.doc_id].page_at, h.document) for i, h in enumerate(hits, 1)]
    verifier = Verifier(assistant.embedder.embed_query, assistant.embed_passages,
                        assistant.retriever.doc_freq())
    checked = verifier.check(draft, sources)
    # The model said the sources do not answer: report it as not found, with the passages.
    declined = not checked.citations and bool(NO_ANSWER.search(checked.text))
    table = _table(checked.text, ev.comparison, checked.flags) if ev.comparison and not declined else None
    return Answer(question, checked.text, not declined, "llm", checked.citations,
                  related=tuple(ev.hits[:3]) if declined else (), flags=checked.flags,
                  standalone=standalone, table=table)


def _table(text: str, comparison, flags=()) -> AnswerTable:
    """The model's comparison as a table: its line for each side (the prompt asks for one
    line per side, opening with the side's label), with the citations that line kept after
    the check; a side without a line, whose line cites nothing, or whose line the check
    flagged (a number in no source, a claim no source backs) is not answered."""
    dimension, per_side = comparison
    lines, pos = [], 0
    for raw in text.splitlines(keepends=True):
        if raw.strip():
            lines.append((pos, pos + len(raw), raw.strip()))
        pos += len(raw)
    bad = [f.start for f in flags if f.kind in CLAIM_PROBLEMS]
    rows = []
    for side, _ in per_side:
        a, b, line = next(((a, b, ln) for a, b, ln in lines
                           if re.sub(r"^[-*•\s]+", "", ln).startswith(side.label)), (0, 0, ""))
        body = re.sub(rf"^[-*•\s]*{re.escape(side.label)}\s*[：:]?\s*", "", line)
        cited = tuple(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", body)))
        if cited and not any(a <= f < b for f in bad):
            rows.append(TableRow(side.label, body, cited, True))
        else:                       # the model's line stays in the text, marked; the cell says so
            rows.append(TableRow(side.label, not_found_cell(is_chinese(side.label)), (), False))
    return AnswerTable(dimension, tuple(rows))


def _rewrite(client: LLMClient, history, question: str, deadline: float) -> str:
    """The follow-up as a stand-alone question ("" when it needs no rewriting)."""
    text = client.complete(rewrite_messages(list(history), question),
                           timeout=min(_left(deadline, client), RULES.rewrite_seconds))
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^(?:rewritten question|问题)\s*[:：]\s*", "", line, flags=re.I).strip().strip('"“”')
    if not line or len(line) > RULES.rewrite_growth * len(question) + RULES.rewrite_slack or line == question.strip():
        return ""
    return line


def _left(deadline: float, client: LLMClient) -> float:
    left = deadline - time.monotonic()
    if left <= 0.05:
        raise LLMError("timeout", f"the model did not finish within {client.config.timeout:g} s "
                                  f"({client.config.describe()})")
    return left


def _wrong_language(text: str, zh: bool) -> bool:
    body = re.sub(r"\[\d+\]|[（(][^)）]*[)）]", "", text)      # bracketed originals do not count
    cjk = len(re.findall(f"[{HAN_URO}]", body))
    latin = len(re.findall(r"[A-Za-z]", body)) / RULES.letters_per_word   # ~ words against characters
    if cjk + latin < 4:
        return False
    share = cjk / (cjk + latin)
    return share < RULES.zh_min_han if zh else share > RULES.en_max_han


def _notice(e: LLMError) -> str:
    what = {"unreachable": ("无法连接大模型服务", "the LLM endpoint cannot be reached"),
            "timeout": ("大模型响应超时", "the LLM timed out"),
            "status": ("大模型服务返回错误", "the LLM endpoint returned an error"),
            "malformed": ("大模型返回内容无法解析", "the LLM's reply could not be read"),
            "empty": ("大模型没有返回内容", "the LLM returned nothing"),
            "language": ("大模型未按要求的语言回答", "the LLM answered in the wrong language"),
            "config": ("未配置大模型", "no LLM is configured")}.get(e.kind, ("大模型出错", "the LLM failed"))
    return f"{what[0]}，以下为摘录式回答。 {what[1][0].upper() + what[1][1:]}; showing the extractive answer. ({e})"
