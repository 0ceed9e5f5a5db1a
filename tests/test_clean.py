"""The cleaner on the real seed article (a Chinese PDF extraction) and on hand cases."""
from __future__ import annotations

import re

import pytest

from ingest.clean import clean
from ingest.sentences import split_sentences
from ingest.structure import find_sections
from ingest.types import PageSpan

from .conftest import SEED

CJK = r"[\u4e00-\u9fff]"


@pytest.fixture(scope="module")
def seed_clean():
    raw = SEED.read_text("utf-8")
    return raw, clean(raw)


def test_no_space_between_chinese_characters(seed_clean):
    _, c = seed_clean
    lines = c.text.split("\n")
    offenders = [ln for ln in lines if re.search(rf"{CJK}[ \t\u3000\u2002\u2003]+{CJK}", ln)]
    # The only spaces left between Chinese characters separate the three authors' names.
    assert offenders == ["庄芹芹 吴沁沁 谭畅"]


def test_no_line_break_inside_a_sentence(seed_clean):
    _, c = seed_clean
    body = c.text.split("\n")[3:]            # after title and author lines
    for line in body:
        is_heading = bool(re.match(r"^(?:[一二三四]、|（[一二三四]）|注释：)", line))
        if not is_heading:
            assert re.search(r"[。！？；]\W{0,4}$|[①②]$|\]$", line), f"paragraph ends mid-sentence: {line[-30:]!r}"


def test_headings_on_their_own_lines(seed_clean):
    _, c = seed_clean
    lines = c.text.split("\n")
    for heading in ["一、科技自立自强与国际科技创新中心的理论内涵",
                    "二、国际科技创新中心建设的成就与挑战：基于北京的调研",
                    "（二）北京国际科技创新中心建设的主要成就",
                    "（三）全面优化创新生态环境，完善科技创新治理体系，构建支持全面创新的基础制度",
                    "三、建设高水平国际科技创新中心的对策建议"]:
        assert heading in lines


def test_every_evidence_string_survives(seed_clean, seed_dev):
    _, c = seed_clean
    for q in seed_dev:
        for ev in q["evidence"]:
            assert ev in c.text, q["id"]


def test_numbers_and_spaced_out_characters_repaired(seed_clean):
    _, c = seed_clean
    for fixed in ["能级定位进一步升级", "8536.9亿元", "1000家", "5000家", "17330.2亿元",
                  "20.3万件", "“科技-产业-金融”", "《北京市“十四五”时期国际科技创新中心建设规划》",
                  "国际科技创新中心（Global Innovation Hubs）"]:
        assert fixed in c.text, fixed


def test_the_issue_examples_alone_on_a_line():
    # A line of short spaced-out pieces must not be taken for an author line.
    assert clean("能级 定 位 进 一 步 升 级").text == "能级定位进一步升级"
    assert clean("8 536.9 亿元").text == "8536.9亿元"
    assert clean("1 000 家").text == "1000家"
    assert clean("庄芹芹  吴沁沁  谭  畅").text == "庄芹芹 吴沁沁 谭畅"
    assert clean("the Beijing Municipal Government").text == "the Beijing Municipal Government"


def test_footnote_marks_kept_and_not_glued(seed_clean):
    _, c = seed_clean
    assert "16.6%，①鼓励" in c.text and "13.9%。①数字经济" in c.text and "基础。[9]一是" in c.text
    assert clean("见注释① 2023 年增长").text == "见注释① 2023年增长"
    assert clean("如前所述[1] 2035 年").text == "如前所述[1] 2035年"


def test_source_offsets_point_at_the_same_characters(seed_clean):
    raw, c = seed_clean
    assert len(c.source) == len(c.text)
    for i, ch in enumerate(c.text):
        if ch not in " \n":
            assert raw[c.source[i]] == ch
    assert list(c.source) == sorted(c.source)


def test_english_spaces_kept():
    text = "The Government will  keep the deficit at 3 percent of GDP.\nIt will cut taxes."
    assert clean(text).text == "The Government will keep the deficit at 3 percent of GDP.\nIt will cut taxes."


def test_page_numbers_and_running_headers_dropped():
    pages, raw, start = [], [], 0
    for n in range(1, 6):
        body = f"《科技与政策》2024年第{n}期\n第{n}段正文，内容完整。\n- {n} -\n"
        raw.append(body)
        pages.append(PageSpan(start, start + len(body), n))
        start += len(body)
    c = clean("".join(raw), pages)
    assert "科技与政策" not in c.text and "- 3 -" not in c.text
    assert c.text.split("\n") == [f"第{n}段正文，内容完整。" for n in range(1, 6)]


def test_cleaned_paragraphs_split_into_sentences(seed_clean):
    _, c = seed_clean
    spans = split_sentences(c.text)
    assert all("\n" not in c.text[s:e] for s, e in spans)
    assert any(c.text[s:e] == "同时，2022年北京全年专利授权量20.3万件，比上年增长1.98%。②" for s, e in spans)


def test_seed_section_paths(seed_clean):
    _, c = seed_clean
    secs = find_sections(c.text)
    at = c.text.index("专利授权量20.3万件")
    sec = next(s for s in secs if s.start <= at < s.end)
    assert sec.path.startswith("二、国际科技创新中心建设的成就与挑战：基于北京的调研 > "
                               "（二）北京国际科技创新中心建设的主要成就")


def test_structure_levels_of_a_regulation():
    text = ("第一章 总则\n第一条 为了促进创新，制定本条例。\n（一）第一项；\n（二）第二项。\n"
            "第二条 本条例适用于本市。\n第二章 创新主体\n第一节 企业\n第三条 企业是主体。")
    secs = find_sections(text)
    paths = [s.path for s in secs if s.path]
    assert paths == ["第一章 总则", "第一章 总则 > 第一条", "第一章 总则 > 第二条", "第二章 创新主体",
                     "第二章 创新主体 > 第一节 企业", "第二章 创新主体 > 第一节 企业 > 第三条"]
    article = next(s for s in secs if s.path.endswith("第一条"))
    assert "（二）第二项。" in text[article.start:article.end] and article.kind == "article"


def test_structure_of_report_and_markdown_headings():
    text = ("# 总览\n一、2025年工作回顾\n一是经济平稳增长，成效明显。\n二是改革深化。\n"
            "（一）着力扩大内需。把恢复消费摆在优先位置。\n1. 促消费\n（1）汽车\n## 附录\n正文")
    paths = [s.path for s in find_sections(text)]
    assert "总览 > 一、2025年工作回顾 > 一是经济平稳增长" in paths
    assert "总览 > 一、2025年工作回顾 > （一）着力扩大内需。 > 1. 促消费 > （1）汽车" in paths
    assert paths[-1] == "总览 > 附录"
