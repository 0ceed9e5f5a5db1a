"""Glossary file validity, lookups in both directions and in Traditional characters, the
CC-CEDICT fallback, and concordance counts against plain counts over cleaned documents."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from assistant.glossary import (DEFAULT_PATH, Glossary, _zh_key, concordance, dictionary_senses,
                                lookup_all, read_entries)
from ingest import store
from ingest.chunk import ChunkSettings
from ingest.errors import BadQuery
from ingest.pipeline import prepare_document

from .conftest import SEED, SHARED, need_shared

CJK = re.compile(r"[\u3400-\u9fff]")
SOURCES = {"2017-gwr-official", "official-english-title", "common-official-usage", "descriptive-translation"}
GWR = SHARED / "corpus-extra" / "2017_state-council_government-work-report_{}.txt"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with open(DEFAULT_PATH, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def data() -> store.IndexData:
    """A real, non-embedded index: the seed article, plus two shared documents when present."""
    files = [SEED]
    extra = SHARED / "corpus-extra"
    if extra.is_dir():
        files += [extra / "2024_beijing-peoples-congress_international-sci-tech-innovation-center-regulation_zh.txt",
                  GWR.with_name(GWR.name.format("en"))]
    chunks, docs = [], {}
    for f in files:
        p = prepare_document(f, f.stem, ChunkSettings(), 50 * 2**20)
        docs[p.doc_id] = p.doc
        chunks += p.chunks
    return store.IndexData({"embedder": {"dim": 4}}, chunks, docs, np.zeros((len(chunks), 4), np.float32))


# ---------------------------------------------------------------- the file

def test_every_line_is_a_complete_entry(rows):
    assert len(rows) >= 300
    for r in rows:
        assert isinstance(r["zh"], str) and CJK.search(r["zh"]), r
        assert isinstance(r["en"], str) and r["en"].strip() and not CJK.search(r["en"]), r
        assert isinstance(r["zh_variants"], list) and isinstance(r["en_variants"], list), r
        assert all(isinstance(v, str) and CJK.search(v) for v in r["zh_variants"]), r
        assert all(isinstance(v, str) and v.strip() and not CJK.search(v) for v in r["en_variants"]), r
        assert r["source"] in SOURCES, r
        assert len(r["note"].strip()) >= 15, r          # says where the rendering comes from


def test_no_duplicate_keys_or_colliding_variants(rows):
    keys = [r["zh"] for r in rows]
    assert len(keys) == len(set(keys))
    norm_keys = {_zh_key(k): k for k in keys}
    assert len(norm_keys) == len(keys), "two keys differ only in quotes or width"
    owner: dict[str, str] = {}
    for r in rows:
        for v in r["zh_variants"]:
            assert v != r["zh"], r
            assert _zh_key(v) not in norm_keys or norm_keys[_zh_key(v)] == r["zh"], f"{v} of {r['zh']} is a key"
            assert owner.setdefault(v, r["zh"]) == r["zh"], f"{v} is a variant of {owner[v]} and {r['zh']}"


def test_the_terms_the_issue_names_are_there(rows):
    keys = {r["zh"] for r in rows}
    for term in ["科技自立自强", "国际科技创新中心", "专精特新“小巨人”企业", "三城一区", "新型举国体制", "高质量发展",
                 "新质生产力", "专精特新", "京津冀协同发展", "粤港澳大湾区", "长三角一体化", "十四五", "创新驱动发展战略",
                 "供给侧结构性改革", "放管服", "双循环", "新发展格局", "科技成果转化", "职务科技成果", "国家实验室",
                 "综合性国家科学中心", "四链融合", "卡脖子", "关键核心技术", "基础研究", "研发经费投入强度", "营商环境",
                 "负面清单", "专利", "知识产权", "人才", "全国人大常委会", "国务院", "国务院办公厅", "通知", "条例",
                 "意见", "实施方案", "专利法", "科学技术进步法", "促进科技成果转化法"]:
        assert term in keys, term


def test_2017_official_entries_are_attested_in_both_reports(rows):
    need_shared()
    zh = GWR.with_name(GWR.name.format("zh")).read_text("utf-8")
    en = GWR.with_name(GWR.name.format("en")).read_text("utf-8").lower()
    official = [r for r in rows if r["source"] == "2017-gwr-official"]
    assert len(official) >= 100
    for r in official:
        assert r["zh"] in zh, f"{r['zh']} is not in the Chinese 2017 report"
        assert any(f.lower() in en for f in [r["en"], *r["en_variants"]]), \
            f"neither {r['en']!r} nor a variant of it is in the English 2017 report"


def test_loader_reads_the_file_once(rows):
    g = Glossary.load()
    assert len(g) == len(rows) == len(read_entries(DEFAULT_PATH))
    assert Glossary.load() is g


def test_a_malformed_entry_names_its_line(tmp_path):
    bad = tmp_path / "g.jsonl"
    bad.write_text('{"zh": "专利", "en": "patent", "zh_variants": [], "en_variants": [], "source": "x", "note": "n"}\n'
                   '{"zh": "商标", "en": "", "zh_variants": [], "en_variants": [], "source": "x", "note": "n"}\n',
                   encoding="utf-8")
    with pytest.raises(ValueError, match=r"g\.jsonl:2"):
        read_entries(bad)


# ---------------------------------------------------------------- lookups

def test_chinese_to_english():
    g = Glossary.load()
    assert g.lookup("科技自立自强")[0].en == "greater self-reliance and strength in science and technology"
    assert g.lookup("新质生产力")[0].en == "new quality productive forces"
    best = g.matches("专精特新")
    assert best[0].entry.zh == "专精特新" and best[0].match == "exact"
    assert "SRDI" in best[0].entry.en_variants
    # entries that only contain the term come after the exact one
    assert [m.match for m in best][1:] and all(m.match == "contains" for m in best[1:])
    assert any(m.entry.zh == "专精特新“小巨人”企业" for m in best[1:])


def test_english_to_chinese_case_and_plurals():
    g = Glossary.load()
    assert g.lookup("new quality productive forces")[0].zh == "新质生产力"
    assert g.lookup("NEW QUALITY PRODUCTIVE FORCE")[0].zh == "新质生产力"
    assert g.lookup("sponge cities")[0].zh == "海绵城市"
    assert g.lookup("patents")[0].zh == "专利"
    m = g.matches("SRDI")[0]
    assert (m.entry.zh, m.match) == ("专精特新", "variant")
    assert g.lookup("Beijing-Tianjin-Hebei integration")[0].zh == "京津冀协同发展"


def test_variants_and_quotes():
    g = Glossary.load()
    assert g.lookup("小巨人")[0].zh == "专精特新“小巨人”企业"
    assert g.lookup("专精特新小巨人企业")[0].zh == "专精特新“小巨人”企业"     # quotes do not matter
    assert g.lookup("双创")[0].zh == "大众创业、万众创新"


@pytest.mark.parametrize("traditional, simplified", [
    ("國際科技創新中心", "国际科技创新中心"),
    ("專精特新", "专精特新"),
    ("專精特新「小巨人」企業", "专精特新“小巨人”企业"),
    ("科技自立自強", "科技自立自强"),
    ("新質生產力", "新质生产力"),
])
def test_traditional_input(traditional, simplified):
    assert Glossary.load().lookup(traditional)[0].zh == simplified


def test_empty_or_punctuation_only_terms_are_bad_queries(data):
    for term in ["", "   ", "。，！", "“”"]:
        with pytest.raises(BadQuery):
            Glossary.load().lookup(term)
        with pytest.raises(BadQuery):
            dictionary_senses(term)
        with pytest.raises(BadQuery):
            lookup_all(term, data)
    with pytest.raises(BadQuery):
        concordance(["", "  "], data)


# ---------------------------------------------------------------- dictionary fallback

def test_dictionary_fallback_for_a_non_policy_word():
    assert Glossary.load().lookup("苹果") == [] and Glossary.load().lookup("apple") == []
    zh = dictionary_senses("苹果")
    assert zh[0].headword == "苹果" and "apple" in zh[0].definitions
    assert zh[0].kind == "dictionary" and zh[0].direction == "zh-en" and zh[0].part == "苹果"
    assert dictionary_senses("蘋果")[0].headword == "苹果"            # Traditional input
    en = dictionary_senses("apple")
    assert en[0].headword == "苹果" and en[0].exact_gloss and en[0].direction == "en-zh"
    assert all(s.kind == "dictionary" for s in en)


def test_dictionary_senses_of_the_parts_when_the_whole_is_missing():
    senses = dictionary_senses("国际科技创新中心")
    parts = {s.part for s in senses}
    assert parts and parts <= {"国际", "科技", "创新", "中心"}
    assert any("international" in d for s in senses for d in s.definitions)


# ---------------------------------------------------------------- concordance

def _plain_count(data, form: str) -> dict[str, int]:
    return {d: doc.text.count(form) for d, doc in data.docs.items() if doc.text.count(form)}


@pytest.mark.parametrize("forms", [["国际科技创新中心"], ["科技自立自强"], ["科技自立自强", "关键核心技术"]])
def test_concordance_counts_equal_plain_counts(data, forms):
    c = concordance(forms, data, max_passages=1000)
    expected: dict[str, int] = {}
    for f in forms:
        for d, n in _plain_count(data, f).items():
            expected[d] = expected.get(d, 0) + n
    assert expected, "the seed article uses these terms"
    assert {d.doc_id: d.count for d in c.documents} == expected
    assert c.total == sum(expected.values())
    for d in c.documents:
        assert sum(d.per_form.values()) == d.count
        assert d.per_form == {f: data.docs[d.doc_id].text.count(f) for f in forms if data.docs[d.doc_id].text.count(f)}


def test_traditional_forms_are_searched_as_simplified(data):
    c = concordance(["國際科技創新中心"], data)
    assert c.forms == ("國際科技創新中心", "国际科技创新中心")
    assert c.total == sum(_plain_count(data, "国际科技创新中心").values()) > 0


def test_nested_forms_are_counted_once(data):
    c = concordance(["专精特新", "专精特新“小巨人”企业"], data, max_passages=1000)
    assert c.total == sum(_plain_count(data, "专精特新").values())
    big = sum(_plain_count(data, "专精特新“小巨人”企业").values())
    assert big and sum(d.per_form.get("专精特新“小巨人”企业", 0) for d in c.documents) == big


def test_passages_point_at_the_first_occurrence(data):
    c = concordance(["国际科技创新中心", "科技自立自强"], data, max_passages=1000)
    assert c.passages and c.passages_total == len(c.passages)
    assert sum(p.occurrences for p in c.passages) >= c.total     # overlap sentences count twice
    assert {p.doc_id for p in c.passages} == {d.doc_id for d in c.documents}
    keys = set()
    for p in c.passages:
        assert data.docs[p.doc_id].text[p.start:p.end] == p.text
        assert p.text[p.match_start:p.match_end] == p.form
        assert p.form not in p.text[:p.match_start]          # the first one in the passage
        assert p.occurrences == sum(p.text.count(f) for f in c.forms)
        keys.add((p.doc_id, p.ordinal))
    assert len(keys) == len(c.passages)                      # no passage twice
    few = concordance(["国际科技创新中心"], data, max_passages=3)
    assert len(few.passages) == 3 and few.passages_total > 3


def test_english_forms_match_whole_words_in_any_case():
    doc = store.StoredDocument("d", "Patent law: patents, PATENT office; patently not; the patentee.", {"title": "t"})
    from ingest.types import Chunk
    chunk = Chunk("d", 0, 0, len(doc.text), doc.text, "")
    data = store.IndexData({"embedder": {"dim": 1}}, [chunk], {"d": doc}, np.zeros((1, 1), np.float32))
    c = concordance(["patent"], data)
    assert c.total == 3                       # Patent, patents, PATENT; not patently / patentee
    p = c.passages[0]
    assert (p.match_start, p.match_end, p.occurrences) == (0, 6, 3)


# ---------------------------------------------------------------- all together

def test_lookup_all_traditional_equals_simplified(data):
    a = lookup_all("國際科技創新中心", data).to_dict()
    b = lookup_all("国际科技创新中心", data).to_dict()
    assert a["normalized"] == b["normalized"] == "国际科技创新中心"
    a.pop("term"), b.pop("term")
    assert a == b
    assert a["glossary_found"] and a["entries"][0]["zh"] == "国际科技创新中心"
    assert a["concordance"]["total"] >= sum(_plain_count(data, "国际科技创新中心").values()) > 0
    json.dumps(a, ensure_ascii=False)


def test_an_english_term_finds_chinese_passages(data):
    r = lookup_all("international science and technology innovation center", data)
    assert r.lang == "en" and r.entries[0].entry.zh == "国际科技创新中心"
    assert r.form_origins["国际科技创新中心"] == "glossary"
    seed = SEED.stem
    assert any(d.doc_id == seed and d.per_form.get("国际科技创新中心") for d in r.concordance.documents)


def test_a_word_outside_the_glossary_gets_flagged_dictionary_senses(data):
    r = lookup_all("apple", data)
    assert not r.glossary_found and r.entries == ()
    assert r.dictionary and all(s.kind == "dictionary" for s in r.dictionary)
    assert r.form_origins.get("苹果") == "dictionary"          # so an English word can find Chinese text
    d = r.to_dict()
    assert d["dictionary"][0]["headword"] == "苹果" and d["concordance"]["total"] == 0
