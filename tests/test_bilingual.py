"""Glossary at work in retrieval and answers, on a real index of the seed article."""
from __future__ import annotations

import re

from assistant.retrieve import FusionConfig, Retriever


def _terms(asst, query: str, zh: bool, **cfg) -> list[str]:
    return Retriever(asst.data, asst.embedder, FusionConfig(**cfg)).lexical_terms(query, zh)


def test_english_question_gets_chinese_terms_on_the_bm25_side(seed_assistant):
    q = "What is the target for specialized, refined, distinctive and innovative little giant enterprises?"
    plain = _terms(seed_assistant, q, False, expand_en=False, expand_glossary=False)
    glossary = _terms(seed_assistant, q, False, expand_en=False)
    both = _terms(seed_assistant, q, False)
    assert not any(re.search(r"[\u4e00-\u9fff]", t) for t in plain)
    # The glossary's Chinese form 专精特新“小巨人”企业, as BM25 tokens (jieba: 专精 特新 … 巨人 企业).
    assert {"专精", "特新", "巨人"} <= set(glossary)
    assert set(glossary) <= set(both) and len(both) > len(glossary)  # plus dictionary terms
    assert "专利" in _terms(seed_assistant, "How many patents were granted?", False, expand_glossary=False)


def test_chinese_question_gets_english_terms_for_english_documents(seed_assistant):
    q = "专精特新企业有哪些支持措施？"
    off = _terms(seed_assistant, q, True, expand_glossary=False)
    on = _terms(seed_assistant, q, True)
    assert not any(t.isascii() for t in off)
    # Only forms that occur in the index are kept; the seed article is Chinese, so the
    # English forms are filtered out unless the index holds them.
    assert set(off) <= set(on)


def test_glosses_for_english_questions_only(seed_assistant):
    en = seed_assistant.ask("How many patents were granted in Beijing in 2022?")
    zh = seed_assistant.ask("2022年北京全年专利授权量是多少？")
    assert en.found and zh.found
    assert "专利 [patent]" in en.text                               # glossary rendering in brackets
    assert " [" not in zh.text and "[patent]" not in zh.text
    for ans in (en, zh):                                            # citations stay exact
        for c in ans.citations:
            assert seed_assistant.document(c.doc_id).text[c.start:c.end] == c.text
        assert {int(n) for n in re.findall(r"\[(\d+)\]", ans.text)} == {c.n for c in ans.citations}
