"""Constraints read off questions, in Chinese and English, against the identities of the
real corpus (documents prepared as ingest does, without embedding them)."""
from __future__ import annotations

import numpy as np
import pytest

from assistant.catalog import Catalog
from assistant.query import analyse
from ingest.chunk import ChunkSettings
from ingest.pipeline import prepare_document
from ingest.store import IndexData

from .conftest import SEED, need_shared


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    files = sorted((need_shared() / "corpus-extra").glob("*.txt")) + [SEED]
    chunks, docs = [], {}
    for f in files:
        p = prepare_document(f, f.stem, ChunkSettings(), 50 * 2**20)
        docs[p.doc_id] = p.doc
        chunks += p.chunks
    return Catalog.from_index(IndexData({}, chunks, docs, np.zeros((len(chunks), 1), dtype=np.float32)))


PATENT = "2020_npcsc_patent-law_zh"
PROMOTING = "2015_npcsc_law-on-promoting-transformation-of-sci-tech-achievements_zh"
ZGC = "2010_beijing-peoples-congress-sc_zhongguancun-national-innovation-demonstration-zone-regulation_zh"
VOCATIONAL = "2019_state-council_guofa-2019-4_national-vocational-education-reform-plan_zh"
NOTICE_127 = "2018_state-council-office_guobanfa-2018-127_research-institutions-autonomy_zh"
CPC19 = "2017_cpc_19th-national-congress-report_zh"
CPC20 = "2022_cpc_20th-national-congress-report_zh"
SH_REG = "2020_shanghai-peoples-congress-sc_sci-tech-innovation-center-regulation_zh"


def read(catalog, question):
    c = analyse(question, catalog).constraints
    return {k: v for k, v in c.to_dict().items() if v and k != "named"}


@pytest.mark.parametrize("question, expected", [
    ("2024年国内生产总值增长预期目标是多少？", {"years": [2024]}),
    ("北京2025年地区生产总值是多少？", {"years": [2025], "places": ["北京市"]}),
    ("请问2022年政府工作报告把财政赤字率定在多少？", {"doc_years": [2022], "doc_types": ["work_report"]}),
    ("2018年到2022年这五年间，我国国内生产总值增加到多少？", {"years": [2018, 2019, 2020, 2021, 2022], "places": ["全国"]}),
    ("专利法第四十二条规定了什么？", {"docs": [PATENT], "articles": [42]}),
    ("促进科技成果转化法第四十五条规定的奖励比例是多少？", {"docs": [PROMOTING], "articles": [45]}),
    ("中关村示范区条例规定的企业筹建期限是多长？", {"docs": [ZGC]}),
    ("职教改革方案提出到2022年要建设多少所高水平高等职业学校？", {"docs": [VOCATIONAL], "years": [2022]}),
    ("国办发〔2018〕127号要求各单位什么时候完成？", {"docs": [NOTICE_127]}),
    ("十九大报告和二十大报告分别说国内生产总值增长到了多少？", {"docs": [CPC19, CPC20]}),
    ("深圳市2026年地区生产总值增长目标是多少？", {"years": [2026], "places": ["深圳市"]}),
    ("有研究认为2019—2022年北京研发经费投入强度大致保持在什么水平？",
     {"years": [2019, 2020, 2021, 2022], "places": ["北京市"], "doc_types": ["article"]}),
])
def test_chinese_constraints(catalog, question, expected):
    assert read(catalog, question) == expected


@pytest.mark.parametrize("question, expected", [
    ("What was China's research and development spending as a proportion of GDP in 2016?",
     {"years": [2016], "places": ["全国"]}),
    ("What does the Patent Law say about the term of invention patents?", {"docs": [PATENT]}),
    ("What does Article 42 of the Patent Law provide?", {"docs": [PATENT], "articles": [42]}),
    ("What is Beijing's GDP growth target in 2024?", {"years": [2024], "places": ["北京市"]}),
    ("What GDP growth target did China's 2020 government work report set?",
     {"doc_years": [2020], "doc_types": ["work_report"], "places": ["全国"]}),
    ("When did the Law on Promoting the Transformation of Scientific and Technological Achievements come into force?",
     {"docs": [PROMOTING]}),
    ("Which new board does Shanghai's S&T innovation centre regulation commit to supporting?", {"docs": [SH_REG]}),
    ("What did the report to the 19th Party Congress say about land contracts?", {"docs": [CPC19]}),
    ("What was R&D spending as a share of GDP, according to the English report?", {"languages": ["en"]}),
])
def test_english_constraints(catalog, question, expected):
    assert read(catalog, question) == expected


def test_what_the_constraints_read_is_not_a_key_term(catalog):
    q = analyse("请问2022年政府工作报告把财政赤字率定在多少？", catalog)
    assert "2022" not in q.rest and "政府工作报告" not in q.rest
    assert all(t.text not in ("2022", "政府工作报告") for t in q.terms)
    assert analyse("专利法第四十二条规定了什么？", catalog).whole_article
    assert not analyse("专利法第四十二条关于外观设计专利权的期限是多久？", catalog).whole_article
