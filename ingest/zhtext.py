"""Rules for reading the library's two languages, in one place: Chinese character classes,
numerals and heading numbering, "is this text Chinese?", the words of a text and stop
words (English word folding: `ingest/enwords.py`). Ingest and the assistant both read them
from here.
"""
from __future__ import annotations

import re

# -- character classes (for use inside [...]) ------------------------------------------
HAN_URO = "\u4e00-\u9fff"                     # CJK Unified Ideographs
HAN_BMP = "\u3400-\u4dbf" + HAN_URO           # ... with Extension A
HAN = HAN_BMP + "\uf900-\ufaff"               # ... and the compatibility ideographs
CJK_PUNCT = "\u3000-\u303f"                   # ideographic space, 。、「」《》 ...
FULLWIDTH = "\uff00-\uffef"                   # full-width and half-width forms (，！？（）０-９)
FULLWIDTH_MARKS = "\uff01-\uffef"             # ... without the code point before ！
CIRCLED_NUMBERS = "\u2460-\u2473"             # ① ... ⑳, footnote marks
FOOTNOTE_MARKS = CIRCLED_NUMBERS + "\u2776-\u277f"   # ① … ⑳, ❶ … ❿
# Everything set in a CJK context: ideographs, kana, CJK and full-width punctuation, and the
# curly quotes, dash, ellipsis and middle dot Chinese text uses (no spaces belong between them).
CJK_CONTEXT = ("\u2e80-\u2fdf" + CJK_PUNCT + "\u3040-\u30ff\u3100-\u312f\u3200-\u33ff" + HAN
               + "\ufe30-\ufe4f" + FULLWIDTH + "\u2018\u2019\u201c\u201d\u2014\u2026\u00b7")

HAN_CHAR = re.compile(f"[{HAN}]")
# A word: a run of Latin letters or digits (3.5%, 5G), or a run of Han characters.
WORD = re.compile(rf"[0-9A-Za-z\u00c0-\u024f]+(?:[.%][0-9A-Za-z]+)*%?|[{HAN}]+")
CONTENT_CHAR = re.compile(f"[0-9A-Za-z{HAN}]")   # a letter, digit or Han character

# -- numerals and heading numbering ----------------------------------------------------
NUMERALS_TO_TEN = "一二三四五六七八九十"
NUMERALS = NUMERALS_TO_TEN + "百千零〇"        # 第一百零二条
NUMERALS_ANY = NUMERALS + "两"

# Each level of numbered headings, outermost first: (rank, kind, pattern); structure.py
# ranks sections by them. Inside an article (第X条), numbered items belong to the article.
HEADING_LEVELS: tuple[tuple[int, str, re.Pattern], ...] = (
    (10, "part", re.compile(rf"^第[{NUMERALS_ANY}\d]+编")),
    (11, "chapter", re.compile(rf"^第[{NUMERALS_ANY}\d]+章")),
    (12, "section", re.compile(rf"^第[{NUMERALS_ANY}\d]+节")),
    (13, "article", re.compile(rf"^第[{NUMERALS_ANY}\d]+条")),
    (20, "h1", re.compile(rf"^[{NUMERALS_TO_TEN}]+、")),
    (21, "h2", re.compile(rf"^[（(][{NUMERALS_TO_TEN}]+[）)]")),
    (22, "h3", re.compile(r"^\d{1,2}(?:[.．](?!\d)|、)")),
    (23, "h4", re.compile(r"^[（(]\d{1,2}[）)]")),
    (30, "enum", re.compile(rf"^[{NUMERALS_TO_TEN}]+是")),
)
# A line opening with a heading's numbering or a Markdown marker: clean.py never joins it
# to the line before.
HEADING_START = re.compile(
    rf"^(?:#{{1,6}}\s|第[{NUMERALS}\d]+[编章节条]|[{NUMERALS_TO_TEN}]+、"
    rf"|[（(][{NUMERALS_TO_TEN}]+[）)]|\d{{1,2}}[.、．](?!\d)|[（(]\d{{1,2}}[）)])")
# A paragraph opening an enumeration (一是…, 二要…): a line of its own too.
ENUM_START = re.compile(rf"^[{NUMERALS_TO_TEN}]+[是要]")
# A DOCX/HTML heading already numbered the Chinese way: load.py adds no Markdown marker,
# so that the structure stage reads the numbering itself.
NUMBERED_HEADING = re.compile(
    rf"\s*(?:[{NUMERALS}]+[、．.]|[（(][{NUMERALS}\d]+[）)]"
    rf"|第[{NUMERALS}\d]+[编章节条部款]|\d+[、．.](?!\d))")

# Footnote marks closing a title or heading line (*, †, ①, [1], ¹): not part of the title.
FOOTNOTE_TAIL = re.compile(rf"(?:\s*(?:[*＊†‡]+|[{CIRCLED_NUMBERS}]|[\[［]\d+[\]］]|[¹²³⁰-⁹]+))+$")

def chinese_share(text: str) -> float:
    """The share of Han characters among the letters and digits (0 when there are none)."""
    letters = len(CONTENT_CHAR.findall(text))
    return len(HAN_CHAR.findall(text)) / letters if letters else 0.0


def is_chinese(text: str) -> bool:
    """True when Han characters make up at least a fifth of the letters and digits."""
    return chinese_share(text) >= 0.2


# -- stop words --------------------------------------------------------------------------
# Question words and function words: they match everywhere and carry no content.
ZH_STOP = frozenset("""
什么 哪些 哪个 哪种 哪里 哪儿 哪 多少 几 几个 几年 如何 怎么 怎样 怎么样 为什么 为何 是否 是不是 有没有 吗 呢 吧 啊
的 了 是 在 和 与 及 或 对 于 把 被 从 向 有 中 上 下 等 也 都 还 又 并 而 其 之 该 这 那 这个 那个 这些 那些
我 我们 你 你们 他 她 它 他们 请问 请 一下 文章 本文 文中 提到 提出 指出 认为 方面 主要 哪几 多大 情况 什么样
各 各是 分别 哪一天 哪天 时候 何时 最迟 一共 具体 多长 多久 哪一年 哪年 里 到 间 又是 怎样 一样
对比 比较 相比 变化 有何 区别 差异 不同 两地 两者 各自 历年 这些年 多长时间 多少钱
""".split())
EN_STOP = frozenset("""
a an the of in on at to for from by with about as into over under and or not no is are was were be been being
do does did what which who whom whose when where why how many much there their this that these those it its
they them he she we you i me my our your his her can could should would will shall may might must has have had
than then so such any some all each per also according did during between within
compare compared comparison change changed changes versus vs difference differ differed respectively
""".split())
