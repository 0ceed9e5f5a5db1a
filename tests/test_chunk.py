"""Sentence splitting and chunking: properties on generated text, rules, a real law."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ingest.chunk import ChunkSettings, chunk_document, pages_for
from ingest.sentences import split_sentences
from ingest.types import PageSpan, Section

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


# --- generated text ----------------------------------------------------------------

_HAN = "政策创新科技发展北京专利中心国际人才研究建设𠀀"
_NUMBERS = ["20.3", "1.98%", "8536.9", "2035", "3.5", "8,536"]


@st.composite
def zh_sentence(draw) -> str:
    body = draw(st.text(alphabet=_HAN + "，、：", min_size=1, max_size=draw(st.sampled_from([20, 80, 500]))))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.sampled_from(_NUMBERS)) + body[cut:]
    end = draw(st.sampled_from(["。", "！", "？", "；", "……", "…", "!", "?", ""]))
    close = draw(st.sampled_from(["", "", "”", "」", "）"]))
    note = draw(st.sampled_from(["", "", "①", "⑳", "[9]", "［12］"]))
    return body + end + close + note


@st.composite
def en_sentence(draw) -> str:
    words = draw(st.lists(st.sampled_from(
        ["the", "patent", "grew", "by", "20.3", "percent", "Mr.", "Smith", "U.S.", "e.g.", "1.98%",
         "innovation", "Beijing", "centre", "i.e.", "No.", "5"]), min_size=1, max_size=40))
    return "The " + " ".join(words) + draw(st.sampled_from([".", "!", "?", ""]))


_piece = st.one_of(
    zh_sentence(), zh_sentence(), en_sentence(),
    st.sampled_from(["\n", "\n\n", " ", "\u3000", "\t", "  \n  "]),
)


@st.composite
def document(draw):
    text = "".join(draw(st.lists(_piece, max_size=30)))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=6))) | {0, len(text)})
    kinds = st.sampled_from(["", "", "article"])
    sections = [Section(a, b, f"§{i}", draw(kinds)) for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    if not text:
        sections = []
    cfg = ChunkSettings(max_chars=draw(st.integers(30, 400)), overlap_sentences=draw(st.integers(0, 2)))
    return text, sections, cfg


@settings(max_examples=200, deadline=None)
@given(st.lists(_piece, max_size=30).map("".join))
def test_sentence_spans_are_stripped_ordered_and_cover_text(text):
    spans = split_sentences(text)
    covered = set()
    last_end = 0
    for a, b in spans:
        s = text[a:b]
        assert s and not s[0].isspace() and not s[-1].isspace()
        assert "\n" not in s
        assert a >= last_end
        last_end = b
        covered.update(range(a, b))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@settings(max_examples=200, deadline=None)
@given(document())
def test_chunk_properties(doc):
    text, sections, cfg = doc
    chunks = chunk_document("d", text, sections, settings=cfg)
    bounds = sections or [Section(0, len(text), "")]

    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert len(chunks) <= sum(not ch.isspace() for ch in text)  # bounded: no runaway loop
    covered = set()
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert c.text and not c.text[0].isspace() and not c.text[-1].isspace()
        assert len(c.text) <= cfg.max_chars
        home = [s for s in bounds if s.start <= c.start and c.end <= s.end]
        assert home and home[0].path == c.section
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    for prev, cur in zip(chunks, chunks[1:]):
        assert prev.start <= cur.start
        assert cur.end > prev.end  # every chunk adds text the previous one lacked


@settings(max_examples=200, deadline=None)
@given(document())
def test_chunks_follow_sentences_when_sentences_fit(doc):
    text, sections, cfg = doc
    for s in sections or [Section(0, len(text), "")]:
        spans = split_sentences(text, s.start, s.end)
        if any(b - a > cfg.max_chars for a, b in spans):
            continue
        starts, ends = {a for a, _ in spans}, {b for _, b in spans}
        for c in chunk_document("d", text, [Section(s.start, s.end, "x", s.kind)], settings=cfg):
            assert c.start in starts and c.end in ends


# --- the splitter on real patterns ----------------------------------------------------

def test_footnote_bracket_stays_with_sentence():
    assert sentences("基础。[9] 一是持续营造良好环境。") == ["基础。[9]", "一是持续营造良好环境。"]


def test_circled_footnote_and_decimal():
    assert sentences("增长1.98%。②") == ["增长1.98%。②"]
    assert sentences("占GDP比重16.6%。①数字经济规模") == ["占GDP比重16.6%。①", "数字经济规模"]


def test_closing_quote_stays_and_colon_does_not_split():
    assert sentences("他说：“好。”然后离开了") == ["他说：“好。”", "然后离开了"]
    assert sentences("问：是否？」答：是！）好") == ["问：是否？」", "答：是！）", "好"]


def test_chinese_terminators():
    assert sentences("一；二！三？四……五…六") == ["一；", "二！", "三？", "四……", "五…", "六"]
    assert sentences("什么?然后!好") == ["什么?", "然后!", "好"]


def test_english_abbreviations_and_numbers():
    text = "Mr. Smith reported growth of 20.3 percent. Next year the U.S. rate was 3.5% e.g. in No. 5 cases."
    assert sentences(text) == [
        "Mr. Smith reported growth of 20.3 percent.",
        "Next year the U.S. rate was 3.5% e.g. in No. 5 cases.",
    ]
    assert sentences("It rose! Why? Because 2020 was hard.") == ["It rose!", "Why?", "Because 2020 was hard."]
    # a list number is not a sentence; a space lost in extraction still splits
    assert sentences("3. Stable growth") == ["3. Stable growth"]
    assert sentences("home and abroad.However, the U.S.Army etc.The end") == [
        "home and abroad.", "However, the U.S.Army etc.The end"]


def test_heading_line_is_its_own_sentence():
    text = "一、总体要求\n坚持创新驱动发展。加快建设科技强国\n1. 基本原则\n"
    assert sentences(text) == ["一、总体要求", "坚持创新驱动发展。", "加快建设科技强国", "1. 基本原则"]


def test_range_offsets_are_absolute():
    text = "前文。甲句。乙句。后文。"
    assert split_sentences(text, 3, 9) == [(3, 6), (6, 9)]


# --- chunking rules --------------------------------------------------------------------

def _article(n_sentences: int, length: int = 20) -> str:
    """A 第X条 article whose sentences are each `length` characters long."""
    body = "".join(("科技成果转化应当遵循自愿互利公平诚实信用原则"[: length - 1]) + "。" for _ in range(n_sentences))
    return "第十条 " + body


def test_short_article_is_one_chunk():
    text = _article(10)[:200]
    assert len(text) == 200
    sec = [Section(0, len(text), "第十条", "article")]
    chunks = chunk_document("law", text, sec, settings=ChunkSettings(max_chars=350))
    assert [(c.start, c.end) for c in chunks] == [(0, 200)]


def test_long_article_is_split_on_sentences():
    text = _article(10)
    sec = [Section(0, len(text), "第十条", "article")]
    chunks = chunk_document("law", text, sec, settings=ChunkSettings(max_chars=100))
    assert len(chunks) > 1
    assert all(len(c.text) <= 100 and c.text.endswith("。") for c in chunks)
    assert all(c.section == "第十条" for c in chunks)


def test_overlap_repeats_exactly_one_sentence():
    text = "".join(f"第{i}句话的内容比较简单而且明确。" for i in range(1, 13))
    spans = split_sentences(text)
    chunks = chunk_document("d", text, [], settings=ChunkSettings(max_chars=100, overlap_sentences=1))
    assert len(chunks) > 2
    for prev, cur in zip(chunks, chunks[1:]):
        assert cur.start < prev.end
        assert (cur.start, prev.end) in spans  # the shared text is one whole sentence
    plain = chunk_document("d", text, [], settings=ChunkSettings(max_chars=100, overlap_sentences=0))
    assert all(a.end <= b.start for a, b in zip(plain, plain[1:]))


def test_overlap_never_crosses_sections():
    text = "甲句很短。乙句很短。丙句很短。丁句很短。"
    secs = [Section(0, 10, "一"), Section(10, 20, "二")]
    chunks = chunk_document("d", text, secs, settings=ChunkSettings(max_chars=8))
    assert [(c.text, c.section) for c in chunks] == [
        ("甲句很短。", "一"), ("乙句很短。", "一"), ("丙句很短。", "二"), ("丁句很短。", "二")]


def test_overlong_sentence_is_cut_at_commas_not_in_numbers():
    text = "，".join(["全市技术合同成交额8536.9亿元"] * 30) + "。"
    chunks = chunk_document("d", text, [], settings=ChunkSettings(max_chars=60))
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == text
    assert all(c.text.endswith("，") for c in chunks[:-1])
    for c in chunks:
        assert len(c.text) <= 60
        assert "8536.9" in c.text and c.text.count("8536.9") == c.text.count("亿元")


def test_overlong_sentence_without_commas_is_hard_cut_safely():
    text = "𠀀" * 50 + "12345.678" * 3 + "创" * 50
    chunks = chunk_document("d", text, [], settings=ChunkSettings(max_chars=40, overlap_sentences=0))
    assert "".join(c.text for c in chunks) == text
    assert all(len(c.text) <= 40 for c in chunks)


def test_whitespace_sections_and_empty_text():
    assert chunk_document("d", "", []) == []
    text = "  \n\u3000 正文。"
    chunks = chunk_document("d", text, [Section(0, 4, "空"), Section(4, len(text), "正")])
    assert [(c.text, c.section, c.ordinal) for c in chunks] == [("正文。", "正", 0)]


def test_pages():
    pages = [PageSpan(0, 10, 1), PageSpan(10, 20, 2), PageSpan(20, 30, 3)]
    assert pages_for(5, 15, pages) == (1, 2)
    assert pages_for(10, 20, pages) == (2,)
    assert pages_for(19, 21, list(reversed(pages))) == (2, 3)
    text = "甲" * 9 + "。" + "乙" * 9 + "。"
    chunks = chunk_document("d", text, [], pages[:2], ChunkSettings(max_chars=10, overlap_sentences=0))
    assert [c.pages for c in chunks] == [(1,), (2,)]


def test_settings_to_dict():
    assert ChunkSettings().to_dict() == {"max_chars": 350, "overlap_sentences": 1}
    with pytest.raises(ValueError):
        ChunkSettings(max_chars=0)


# --- a real law ----------------------------------------------------------------------

_HEADING = re.compile(r"^(第[一二三四五六七八九十百零〇]+条)|^第[一二三四五六七八九十]+章.*$", re.M)


def law_sections(text: str) -> list[Section]:
    """Sections from 第X条 / 第X章 lines (a stand-in for the real structure stage)."""
    marks = [(m.start(), m.group(1) or m.group(0), "article" if m.group(1) else "chapter")
             for m in _HEADING.finditer(text)]
    out, prev = [], (0, "", "")
    for start, path, kind in marks:
        if start > prev[0]:
            out.append(Section(prev[0], start, prev[1], prev[2]))
        prev = (start, path, kind)
    out.append(Section(prev[0], len(text), prev[1], prev[2]))
    return out


@pytest.mark.parametrize("max_chars", [350, 150])
def test_patent_law_articles(max_chars):
    path = SHARED / "corpus-extra" / "2020_npcsc_patent-law_zh.txt"
    if not path.exists():
        pytest.skip("../shared not present: the real-corpus test needs the shared folder")
    text = path.read_text(encoding="utf-8")
    sections = law_sections(text)
    articles = [s for s in sections if s.kind == "article"]
    assert len(articles) >= 80

    chunks = chunk_document("patent-law", text, sections, settings=ChunkSettings(max_chars=max_chars))
    assert all(text[c.start:c.end] == c.text and len(c.text) <= max_chars for c in chunks)
    by_section: dict[str, list] = {}
    for c in chunks:
        by_section.setdefault(c.section, []).append(c)
    n_whole = 0
    for s in articles:
        trimmed = text[s.start:s.end].strip()
        got = by_section[s.path]
        if len(trimmed) <= max_chars:
            assert [c.text for c in got] == [trimmed]
            n_whole += 1
        else:
            assert len(got) > 1
            assert all(s.start <= c.start and c.end <= s.end for c in got)
    assert n_whole > 0
