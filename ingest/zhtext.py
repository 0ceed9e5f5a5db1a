"""Rules for reading the library's two languages, in one place: Chinese character classes,
numerals and heading numbering, "is this text Chinese?", the words of a text, stop words,
and the English word folding the bilingual matching uses. Ingest and the assistant both
read them from here.
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


# -- English word folding ------------------------------------------------------------------
def lemma_candidates(word: str) -> list[str]:
    """The word and the forms its simple suffixes may stand for (policies -> policy, granted
    -> grant / grante, promoting -> promot / promote), its American spelling (centre ->
    center, organisation -> organization: CC-CEDICT spells the American way) and, for an
    irregular verb, its base form (took -> take), for dictionary lookups that try each."""
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("ing", ""),
                         ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) + len(repl) >= 3:     # used -> use, not us
            out.append(word[: -len(suffix)] + repl)
    # Doubled final consonants: cancelled -> cancel, planned -> plan, transferring -> transfer.
    m = re.fullmatch(r"([a-z]{2,}([bdglmnprt]))\2(?:ed|ing)", word)
    if m:
        out.append(m.group(1))
    out += [w for w in (american(f) for f in list(out)) if w not in out]
    base = _IRREGULAR.get(word)
    if base:
        out += [b for b in base.split("/") if b not in out]
    return out


def derived_candidates(word: str) -> list[str]:
    """Words `word` may be derived from (stronger -> strong, deduction -> deduct, taxable
    -> tax, appropriately -> appropriate, certification -> certify): for a word the
    dictionary does not hold itself; stripped blindly they would turn number into numb."""
    out: list[str] = []
    for suffix, repls in (("iest", ("y",)), ("ier", ("y",)), ("est", ("", "e")), ("er", ("", "e")),
                          ("ily", ("y",)), ("ly", ("",)), ("ification", ("ify",)), ("isation", ("ise", "ize")),
                          ("ization", ("ize",)), ("ation", ("e", "")), ("ion", ("", "e")), ("ment", ("",)),
                          ("ability", ("able",)), ("able", ("", "e")), ("ible", ("", "e")), ("ness", ("",)),
                          ("ity", ("", "e"))):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            out += [stem + r for r in repls]
            if len(stem) >= 4 and stem[-1] == stem[-2]:      # bigger -> big, halving (not here)
                out.append(stem[:-1])
    if word.startswith("re") and len(word) >= 7:            # reexamination -> examination
        out += [word[2:].lstrip("-")]
    return [w for w in dict.fromkeys(out) if w != word]


# British spellings the dictionaries write the American way (a rule would also turn four
# into for and hour into hor).
_BRITISH = {"centre": "center", "metre": "meter", "litre": "liter", "theatre": "theater", "fibre": "fiber",
            "programme": "program", "labour": "labor", "favour": "favor", "honour": "honor", "colour": "color",
            "behaviour": "behavior", "neighbour": "neighbor", "harbour": "harbor", "endeavour": "endeavor",
            "defence": "defense", "licence": "license", "offence": "offense", "catalogue": "catalog",
            "analyse": "analyze", "paralyse": "paralyze", "enrol": "enroll", "fulfil": "fulfill",
            "ageing": "aging", "judgement": "judgment", "tonne": "ton", "storey": "story", "cheque": "check"}


def american(word: str) -> str:
    """The American spelling of a British one (centres -> centers, modernisation ->
    modernization, labour -> labor), the word itself otherwise."""
    for suffix in ("", "s"):
        stem = word[: len(word) - len(suffix)]
        if suffix and not word.endswith(suffix):
            continue
        if stem in _BRITISH:
            return _BRITISH[stem] + suffix
    # -ise/-isation -> -ize/-ization, after a stem of three letters or more (not rise, wise).
    return re.sub(r"(?<=[a-z]{3})is(e|es|ed|ing|ation|ations|er|ers)$", r"iz\1", word)


# Irregular verbs' past forms and participles (and a few plurals) -> their base forms.
_IRREGULAR = {
    "made": "make", "took": "take", "taken": "take", "came": "come", "grew": "grow", "grown": "grow",
    "stood": "stand", "rose": "rise", "risen": "rise", "fell": "fall", "fallen": "fall", "won": "win",
    "built": "build", "brought": "bring", "bought": "buy", "held": "hold", "kept": "keep", "led": "lead",
    "left": "leave", "lost": "lose", "met": "meet", "paid": "pay", "sent": "send", "spent": "spend",
    "sought": "seek", "sold": "sell", "taught": "teach", "thought": "think", "told": "tell",
    "understood": "understand", "went": "go", "gone": "go", "gave": "give", "given": "give", "got": "get",
    "gotten": "get", "saw": "see", "seen": "see", "began": "begin", "begun": "begin", "broke": "break",
    "broken": "break", "chose": "choose", "chosen": "choose", "drew": "draw", "drawn": "draw",
    "drove": "drive", "driven": "drive", "fed": "feed", "felt": "feel", "found": "find", "laid": "lay",
    "lent": "lend", "meant": "mean", "ran": "run", "said": "say", "shown": "show", "spoke": "speak",
    "spoken": "speak", "struck": "strike", "undertook": "undertake", "undertaken": "undertake",
    "withdrew": "withdraw", "withdrawn": "withdraw", "wrote": "write", "written": "write",
    "overcame": "overcome", "upheld": "uphold", "arose": "arise", "arisen": "arise", "dealt": "deal",
    "foresaw": "foresee", "foreseen": "foresee", "shrank": "shrink", "shrunk": "shrink", "sank": "sink",
    "sunk": "sink", "swept": "sweep", "became": "become", "bore": "bear", "borne": "bear", "fought": "fight",
    "caught": "catch", "heard": "hear", "knew": "know", "known": "know", "sprang": "spring", "stuck": "stick",
    "tore": "tear", "torn": "tear", "wore": "wear", "worn": "wear", "bound": "bind", "bred": "breed",
    "dug": "dig", "flew": "fly", "flown": "fly", "froze": "freeze", "frozen": "freeze", "hung": "hang",
    "proven": "prove", "shook": "shake", "shaken": "shake", "shot": "shoot", "slept": "sleep",
    "stole": "steal", "stolen": "steal", "strove": "strive", "striven": "strive", "threw": "throw",
    "thrown": "throw", "woven": "weave", "forbade": "forbid", "forbidden": "forbid", "forgave": "forgive",
    "forgiven": "forgive", "mistook": "mistake", "mistaken": "mistake", "oversaw": "oversee",
    "overseen": "oversee", "overtook": "overtake", "overtaken": "overtake", "rebuilt": "rebuild",
    "outgrew": "outgrow", "sped": "speed", "spun": "spin", "lit": "light", "fled": "flee", "clung": "cling",
    "wound": "wind", "better": "good/well", "best": "good/well", "worse": "bad", "worst": "bad",
    "children": "child", "people": "person", "women": "woman", "men": "man", "feet": "foot",
    "teeth": "tooth", "mice": "mouse", "criteria": "criterion", "phenomena": "phenomenon", "data": "datum",
}


def singular(word: str) -> str:
    """Simple plural folding (policies -> policy, taxes -> tax, patents -> patent)."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
