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
    q = "北京国际科技创新中心建设取得了哪些成就？"
    off = _terms(seed_assistant, q, True, expand_glossary=False)
    on = _terms(seed_assistant, q, True)
    assert not any(t.isascii() for t in off)
    # The seed article names the centre once in English (Global Innovation Hubs): the
    # glossary's English forms add exactly the words the index holds, lower-cased.
    added = [t for t in on if t not in off]
    assert "innovation" in added and all(t.isascii() and t.islower() for t in added)
    assert "science" not in added             # not in the index: a BM25 term that cannot match


class _CountingEmbedder:
    """The real embedder, counting its query embeddings."""
    def __init__(self, real):
        self.real, self.queries = real, []

    def __getattr__(self, name):
        return getattr(self.real, name)

    def embed_query(self, text):
        self.queries.append(text)
        return self.real.embed_query(text)


def test_english_questions_also_rank_by_a_chinese_rendering(seed_assistant, seed_dev):
    emb = _CountingEmbedder(seed_assistant.embedder)
    on = Retriever(seed_assistant.data, emb)
    off = Retriever(seed_assistant.data, seed_assistant.embedder, FusionConfig(translate_dense=False))
    q = "How many patents were granted in Beijing in 2022?"
    assert {"专利", "北京"} <= set(on.chinese_rendering(q))
    on.search(q, 10)
    assert emb.queries[0] == q and len(emb.queries) == 2 and "专利" in emb.queries[1]
    emb.queries.clear()
    on.search("2022年北京全年专利授权量是多少？", 10)
    assert len(emb.queries) == 1                       # Chinese questions: no rendering

    def rank(r, question, evidence):
        rows = [s.row for s in r.search(question, 10)]
        hits = [i for i, row in enumerate(rows, 1) if any(e in seed_assistant.data.chunks[row].text for e in evidence)]
        return hits[0] if hits else 11
    english = [q for q in seed_dev if q["lang"] == "en" and q["answerable"]]
    with_r = [rank(on, q["question"], q["evidence"]) for q in english]
    without = [rank(off, q["question"], q["evidence"]) for q in english]
    assert sum(1 / r for r in with_r) >= sum(1 / r for r in without)


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


def test_reverse_dictionary_is_cached_on_disk(tmp_path, monkeypatch):
    from assistant import crosslingual
    from ingest.settings import Settings, configure
    configure(Settings(cache_dir=tmp_path))          # conftest restores the session's after the test
    monkeypatch.setattr(crosslingual, "_reverse", None)
    built = crosslingual.reverse_dictionary()
    files = list(tmp_path.glob("cedict-reverse-*.marshal"))
    assert len(files) == 1 and "专利" in built["patent"]
    monkeypatch.setattr(crosslingual, "_reverse", None)
    assert crosslingual.reverse_dictionary() == built                # read back from the file
    files[0].write_bytes(b"not marshal data")                        # damaged: rebuilt, rewritten
    monkeypatch.setattr(crosslingual, "_reverse", None)
    assert crosslingual.reverse_dictionary() == built
    assert crosslingual.marshal.loads(files[0].read_bytes()) == built
