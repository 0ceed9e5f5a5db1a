"""Document identity read off the text, the years a passage speaks about, and the
constraints a question carries (issue 11)."""
from __future__ import annotations

import pytest

from ingest.clean import clean
from ingest.identity import infer_identity
from ingest.load import load_file
from ingest.meta import guess_language
from ingest.timeref import format_years, passage_years, point_years, year_groups, years_in

from .conftest import ROOT, SEED, need_shared

# file -> (title, display title, date, date_source, issuer, jurisdiction, doc_type, doc_number)
IDENTITIES = {
    "2010_beijing-peoples-congress-sc_zhongguancun-national-innovation-demonstration-zone-regulation_zh.txt":
        ("中关村国家自主创新示范区条例", "中关村国家自主创新示范区条例（2010年通过）", "2010-12-23", "adopted",
         "北京市人民代表大会常务委员会", "北京市", "regulation", None),
    "2015_npcsc_law-on-promoting-transformation-of-sci-tech-achievements_zh.txt":
        ("中华人民共和国促进科技成果转化法", "中华人民共和国促进科技成果转化法（2015年修正）", "2015-08-29", "amended",
         "全国人民代表大会常务委员会", "全国", "law", None),
    "2017_cpc_19th-national-congress-report_zh.txt":
        ("决胜全面建成小康社会 为夺取新时代中国特色社会主义伟大胜利", "党的十九大报告（2017年）", "2017-10-18",
         "delivered", "中国共产党第十八届中央委员会", "全国", "congress_report", None),
    "2017_state-council_government-work-report_en.txt":
        ("Report on the Work of the Government", "Report on the Work of the Government 2017 (State Council)",
         "2017-03-05", "delivered", "国务院", "全国", "work_report", None),
    "2017_state-council_government-work-report_zh.txt":
        ("2017政府工作报告", "2017年政府工作报告（国务院）", "2017-03-05", "delivered", "国务院", "全国",
         "work_report", None),
    "2018_state-council-office_guobanfa-2018-126_second-batch-innovation-reform-measures_zh.txt":
        ("国务院办公厅关于推广第二批支持创新相关改革举措的通知",
         "国务院办公厅关于推广第二批支持创新相关改革举措的通知（国办发〔2018〕126号）", "2018-12-23", "signed",
         "国务院办公厅", "全国", "notice", "国办发〔2018〕126号"),
    "2018_state-council-office_guobanfa-2018-127_research-institutions-autonomy_zh.txt":
        ("国务院办公厅关于抓好赋予科研机构和人员更大自主权有关文件贯彻落实工作的通知",
         "国务院办公厅关于抓好赋予科研机构和人员更大自主权有关文件贯彻落实工作的通知（国办发〔2018〕127号）",
         "2018-12-26", "signed", "国务院办公厅", "全国", "notice", "国办发〔2018〕127号"),
    "2019_state-council_guofa-2019-4_national-vocational-education-reform-plan_zh.txt":
        ("国务院关于印发国家职业教育改革实施方案的通知", "国务院关于印发国家职业教育改革实施方案的通知（国发〔2019〕4号）",
         "2019-01-24", "signed", "国务院", "全国", "notice", "国发〔2019〕4号"),
    "2020_npcsc_patent-law_zh.txt":
        ("中华人民共和国专利法", "中华人民共和国专利法（2020年修正）", "2020-10-17", "amended",
         "全国人民代表大会常务委员会", "全国", "law", None),
    "2020_shanghai-peoples-congress-sc_sci-tech-innovation-center-regulation_zh.txt":
        ("上海市推进科技创新中心建设条例", "上海市推进科技创新中心建设条例（2020年通过）", "2020-01-20", "adopted",
         "上海市人民代表大会", "上海市", "regulation", None),
    "2021_npcsc_science-and-technology-progress-law_zh.txt":
        ("中华人民共和国科学技术进步法", "中华人民共和国科学技术进步法（2021年修订）", "2021-12-24", "revised",
         "全国人民代表大会常务委员会", "全国", "law", None),
    "2021_state-council_government-work-report_zh.txt":
        ("政府工作报告", "2021年政府工作报告（国务院）", "2021-03-05", "delivered", "国务院", "全国", "work_report", None),
    "2022_cpc_20th-national-congress-report_zh.txt":
        ("高举中国特色社会主义伟大旗帜 为全面建设社会主义现代化国家而团结奋斗", "党的二十大报告（2022年）", "2022-10-16",
         "delivered", "中国共产党第十九届中央委员会", "全国", "congress_report", None),
    "2022_state-council_government-work-report_zh.txt":
        ("政府工作报告", "2022年政府工作报告（国务院）", "2022-03-05", "delivered", "国务院", "全国", "work_report", None),
    "2023_state-council_government-work-report_zh.txt":
        ("政府工作报告", "2023年政府工作报告（国务院）", "2023-03-05", "delivered", "国务院", "全国", "work_report", None),
    "2024_beijing-peoples-congress_international-sci-tech-innovation-center-regulation_zh.txt":
        ("北京国际科技创新中心建设条例", "北京国际科技创新中心建设条例（2024年通过）", "2024-01-25", "adopted",
         "北京市人民代表大会", "北京市", "regulation", None),
    "2024_state-council_government-work-report_zh.txt":
        ("政府工作报告", "2024年政府工作报告（国务院）", "2024-03-05", "delivered", "国务院", "全国", "work_report", None),
    # The 2025 report opens with 各位代表：, so it names neither its title nor its date.
    "2025_state-council_government-work-report_zh.txt":
        ("政府工作报告", "2025年政府工作报告（国务院）", "2025", "file name", "国务院", "全国", "work_report", None),
    "2026_beijing_government-work-report_zh.txt":
        ("2026年北京市政府工作报告", "2026年北京市政府工作报告", "2026-01-25", "delivered", "北京市人民政府", "北京市",
         "work_report", None),
    "2026_shanghai_government-work-report_zh.txt":
        ("2026年上海市政府工作报告", "2026年上海市政府工作报告", "2026-02-03", "delivered", "上海市人民政府", "上海市",
         "work_report", None),
    "SOURCES.md": ("corpus-extra—provenance", "corpus-extra—provenance", None, None, None, None, "other", None),
}
FIELDS = ("title", "display_title", "date", "date_source", "issuer", "jurisdiction", "doc_type", "doc_number")


def _identity(path) -> dict:
    raw = load_file(path)
    text = clean(raw.text, raw.pages).text
    return infer_identity(text, path.name, guess_language(text))


@pytest.mark.parametrize("name", sorted(IDENTITIES))
def test_identity_of_every_corpus_document(name):
    # The starter library holds the texts of corpus-extra; its SOURCES.md stays there.
    got = _identity(need_shared() / "corpus-extra" / name if name == "SOURCES.md" else ROOT / "corpus" / name)
    assert tuple(got[f] for f in FIELDS) == IDENTITIES[name]


def test_identity_of_the_seed_article():
    got = _identity(SEED)
    # A research article: the two title lines join without a space (视角下 cannot end a title);
    # it states no date, issuer or place, and none is guessed.
    assert (got["title"], got["doc_type"], got["date"], got["issuer"], got["jurisdiction"]) == \
        ("科技自立自强视角下国际科技创新中心建设研究", "article", None, None, None)


def test_title_is_never_a_salutation_author_or_date_line():
    text = "各位代表：\n现在，我代表北京市人民政府，向大会报告政府工作。"
    assert infer_identity(text, "report.txt")["title"] == "政府工作报告"
    text = "国务院关于加快\n某项工作的意见\n国发〔2023〕9号\n各省、自治区、直辖市人民政府：\n正文。\n国务院\n2023年5月6日"
    got = infer_identity(text, "x.txt")
    assert (got["title"], got["doc_type"], got["date"], got["doc_number"]) == \
        ("国务院关于加快某项工作的意见", "opinion", "2023-05-06", "国发〔2023〕9号")
    text = "决胜全面建成小康社会\n——在中国共产党第十九次全国代表大会上的报告\n（2017年10月18日）\n习　近　平\n同志们：\n正文。"
    got = infer_identity(text, "report.txt")
    assert (got["title"], got["date"], got["display_title"]) == ("决胜全面建成小康社会", "2017-10-18", "党的十九大报告（2017年）")


# -- years of passages ---------------------------------------------------------------------

@pytest.mark.parametrize("text, ref, years", [
    ("今年发展主要预期目标是：国内生产总值增长5%左右", 2024, "2024"),
    ("本年度任务", 2024, "2024"),
    ("过去一年，我国发展面临", 2024, "2023"),
    ("去年粮食产量1.4万亿斤", 2025, "2024"),
    ("上年增长5.2%", 2025, "2024"),
    ("明年继续实施", 2024, "2025"),
    ("过去五年，国内生产总值增加到121万亿元", 2023, "2018–2022"),
    ("五年来，我们坚持", 2022, "2017–2021"),
    ("近五年累计", 2026, "2021–2025"),
    ("一、过去一年和五年工作回顾", 2023, "2018–2022"),
    ("“十四五”时期主要目标任务", None, "2021–2025"),
    ("十三五规划圆满收官", 2021, "2016–2020"),
    ("2019—2022年北京研发经费投入保持在6%左右", None, "2019–2022"),
    ("到二〇三五年基本实现社会主义现代化", 2022, "2035"),
    ("GDP grew by 6.7 percent last year", 2017, "2016"),
    ("This year, we will keep", 2017, "2017"),
    ("over the past five years", 2017, "2012–2016"),
    ("during the 13th Five-Year Plan period", None, "2016–2020"),
    ("2,000 yuan per person, up 2016 yuan", None, ""),
    ("一百年来", 2021, ""),
])
def test_years_a_passage_speaks_about(text, ref, years):
    assert format_years(years_in(text, ref)) == years


@pytest.mark.parametrize("text", ["We will implement the Made in China 2025 initiative.",
                                  "We will make full preparations for the 2022 Winter Olympic Games.",
                                  "uphold the 1992 Consensus"])
def test_a_year_inside_a_name_is_no_time(text):
    assert years_in(text) == set() and year_groups(text) == []


def test_years_before_places_and_after_prepositions_stay_years():
    assert years_in("In 2016 China's GDP grew 6.7 percent") == {2016}
    assert years_in("How many patents did Beijing grant in 2022?") == {2022}
    assert year_groups("What were the GDP growth targets for 2021 and 2022?") == [(2021,), (2022,)]


def test_relative_years_need_the_documents_date():
    assert years_in("今年赤字率拟按3%安排；去年增长6.7%", None) == set()
    assert years_in("今年赤字率拟按3%安排；去年增长6.7%", 2017) == {2016, 2017}


def test_heading_years_count_for_the_passages_under_it():
    assert passage_years("过去一年，国内生产总值超过126万亿元。", "一、2023年工作回顾", 2024) == (2023,)
    assert passage_years("大力推进现代化产业体系建设。", "三、2024年政府工作任务", 2024) == (2024,)


def test_point_years_leave_out_periods():
    assert point_years("“十三五”时期，2019年经济增长", 2021) == {2019}
    assert point_years("过去五年，今年", 2023) == {2023}
