"""Query normalisation: width forms, Traditional -> Simplified, content words for BM25."""
from __future__ import annotations

import re
import threading
import unicodedata

from ingest.errors import BadQuery
from ingest.tokenize import tokenize_for_index

MAX_QUERY_CHARS = 1000
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

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

_ZH_STOP, _EN_STOP = ZH_STOP, EN_STOP     # older private names, still imported elsewhere

_t2s = None
_t2s_lock = threading.Lock()


def _to_simplified(text: str) -> str:
    global _t2s
    with _t2s_lock:
        if _t2s is None:
            import opencc
            _t2s = opencc.OpenCC("t2s")
    return _t2s.convert(text)


def normalize_query(query: str) -> str:
    """Half-width letters and digits, Simplified characters, single spaces.

    Raises BadQuery for empty, over-long or content-free questions.
    """
    if query is None or not query.strip():
        raise BadQuery("the question is empty: type a question or a few words to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise BadQuery(f"the question is {len(query)} characters long; keep it under {MAX_QUERY_CHARS} "
                       "(ask about one thing at a time)")
    q = unicodedata.normalize("NFKC", query)
    if not _CONTENT.search(q):
        raise BadQuery("the question has no words in it (only punctuation, symbols or emoji)")
    if _CJK.search(q):
        q = _to_simplified(q)
    return re.sub(r"\s+", " ", q).strip()


def chinese_share(text: str) -> float:
    """The share of CJK characters among the letters and digits (0 when there are none)."""
    letters = len(_CONTENT.findall(text))
    return len(_CJK.findall(text)) / letters if letters else 0.0


def is_chinese(text: str) -> bool:
    """True when CJK characters make up at least a fifth of the letters."""
    return chinese_share(text) >= 0.2


def content_terms(query: str) -> list[str]:
    """BM25 tokens of a (normalised) query without question and function words."""
    out = []
    for t in tokenize_for_index(query):
        if t in ZH_STOP or t in EN_STOP:
            continue
        out.append(t)
    return out
