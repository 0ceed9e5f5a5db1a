"""Document identity read off the document's own lines: title, date, issuer, jurisdiction,
document type and number (文号).

`infer_identity(text, filename)` is a pure function over the cleaned text. Every field
may be None: a field is filled only from what the text says (the delivery line
`——2024年3月5日在第十四届全国人民代表大会第二次会议上`, an adoption line `2020年1月20日
上海市第十五届人民代表大会第三次会议通过`, the date under a notice's signature, the
English `Delivered at … on March 5, 2017`); the year in the file name is the last resort
and is marked as such (`date_source: "file name"`). A sidecar still wins (meta.py).
"""
from __future__ import annotations

import datetime as dt
import re

from .places import NATIONAL, PLACE_PATTERN, jurisdiction_of
from .zhtext import FOOTNOTE_TAIL, HAN_URO

# Document types, with labels for citations and filters.
DOC_TYPES = {
    "work_report": ("政府工作报告", "government work report"),
    "congress_report": ("党代会报告", "Party congress report"),
    "law": ("法律", "law"),
    "regulation": ("法规", "regulation"),
    "notice": ("通知", "notice"),
    "opinion": ("意见", "opinion"),
    "plan": ("规划/方案", "plan"),
    "decision": ("决定", "decision"),
    "article": ("研究文章", "research article"),
    "other": ("其他", "other"),
}
_HEAD_LINES = 14          # the identity of a document is stated in its first lines
_TITLE_MAX = 60
_DATE = r"((?:19|20)\d\d)\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
_DELIVERED = re.compile(rf"^[—\-－]+\s*{_DATE}\s*在(.+?)上")
_BRACKET_DATE = re.compile(rf"^[（(]\s*{_DATE}\s*[）)]$")
_ADOPTED = re.compile(rf"^[（(]?\s*{_DATE}\s*(.*?)(通过|修正|修订|公布|批准)")
_SIGNED = re.compile(rf"^{_DATE}$")
_EN_DELIVERED = re.compile(
    r"Delivered at (.+?) on (January|February|March|April|May|June|July|August|September|October|"
    r"November|December) (\d{1,2}), ((?:19|20)\d\d)", re.I)
_EN_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
              "october", "november", "december"]
_SALUTATION = re.compile(r"^(?:各位代表|同志们|各位委员|Esteemed Deputies|Fellow Deputies|Comrades)[，,：:！!]?$", re.I)
_ADDRESSEES = re.compile(r"^各(?:省|有关|区|市|部门|单位)[^。]{0,60}[：:]$")
# 国办发〔2018〕126号: also read from questions (assistant/constraints.py)
DOC_NUMBER = re.compile(rf"[{HAN_URO}]{{1,8}}\s*[〔\[［(（]\s*((?:19|20)\d\d)\s*[〕\]］)）]\s*\d{{1,4}}\s*号")
_SOURCE_LINE = re.compile(r"^(?:来源|时间|发布时间|作者|编辑|责任编辑|发布日期|字号|Source|Date)\s*[：:]")
_ROLE = r"(?:国务院总理|总理|市长|省长|主席|总书记|书记|副市长|Premier|Mayor)"
_AUTHOR_LINE = re.compile(rf"^(?:[{HAN_URO}]{{0,12}}{_ROLE})?\s*[{HAN_URO}](?:[\s\u3000]*[{HAN_URO}]){{1,3}}$"
                          rf"|^[{HAN_URO}·]{{2,4}}(?:[\s\u3000]+[{HAN_URO}·]{{1,4}})+$")
_REPORT_ON = re.compile(r"在(中国共产党第(.{1,4})次全国代表大会)上的报告")
_ON_BEHALF = re.compile(rf"我代表([{HAN_URO}]{{0,12}}?(?:人民政府|国务院))")
_CC = re.compile(r"代表(第.{1,4}届中央委员会)向大会作报告")
_BODY = re.compile(rf"({PLACE_PATTERN})?(?:第[一二三四五六七八九十]{{1,4}}届)?((?:全国)?人民代表大会(?:常务委员会)?)")
_LAW_TITLE = re.compile(rf"^(?:中华人民共和国)?[{HAN_URO}]{{2,30}}法$")
_REG_TITLE = re.compile(rf"[{HAN_URO}]{{2,40}}(?:条例|办法|规定|细则)$")
_TYPE_WORD = re.compile(r"(通知|意见|方案|规划|纲要|决定|办法|规定|条例|法|报告|公告|通报|批复|函)$")
_ARTICLE_MARKS = re.compile(r"【?(?:内容提要|摘\s*要|关键词|关键字)】?|参考文献|Abstract|Keywords")
_YEAR_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_CONGRESS_SHORT = re.compile(r"第?([一二三四五六七八九十]{1,3})次")


def infer_identity(text: str, filename: str = "", language: str | None = None) -> dict:
    """Title, display title, date (+ source), issuer, jurisdiction, doc_type, doc_number."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    head = lines[:_HEAD_LINES]
    title, title_lines = _title(head)
    doc_number = _doc_number(head)
    date, date_source = _date(lines, head)
    doc_type = _doc_type(text, head, title)
    issuer = _issuer(text, head, title, doc_type)
    if title is None and doc_type == "work_report":
        title = "政府工作报告" if language != "en" else "Report on the Work of the Government"
    if date is None:
        m = _YEAR_IN_NAME.match(filename) or _YEAR_IN_NAME.search(filename)
        if m:
            date, date_source = m.group(1), "file name"
    out = {"title": title, "date": date, "date_source": date_source, "issuer": issuer,
           "jurisdiction": jurisdiction_of(issuer), "doc_type": doc_type, "doc_number": doc_number,
           "congress": _congress(head)}
    out["display_title"] = display_title({**out, "language": language})
    return out


def year_of(date: str | None) -> int | None:
    return int(date[:4]) if date and re.match(r"\d{4}", date) else None


def display_title(meta: dict) -> str | None:
    """The title a citation shows: recurring documents get their year and issuer
    (2024年政府工作报告（国务院）), versions of laws their year, notices their number."""
    title, year, kind = meta.get("title"), year_of(meta.get("date")), meta.get("doc_type")
    issuer, en = meta.get("issuer"), meta.get("language") == "en"
    if kind == "work_report" and year:
        if en:
            return f"Report on the Work of the Government {year} ({_EN_ISSUER.get(issuer, issuer) or 'unknown issuer'})"
        place = meta.get("jurisdiction")
        if place and place != NATIONAL:
            return f"{year}年{place}政府工作报告"
        return f"{year}年政府工作报告（{issuer}）" if issuer else f"{year}年政府工作报告"
    if kind == "congress_report" and meta.get("congress"):
        return f"党的{meta['congress']}大报告（{year}年）" if year else f"党的{meta['congress']}大报告"
    if not title:
        return None
    if kind in ("law", "regulation") and year and meta.get("date_source") in _VERSION_WORD:
        return f"{title}（{year}年{_VERSION_WORD[meta['date_source']]}）"
    if meta.get("doc_number") and meta["doc_number"] not in title:
        return f"{title}（{meta['doc_number']}）"
    return title


# How a law's version is dated: (date_source, the word of its display title).
_VERBS = {"通过": ("adopted", "通过"), "修正": ("amended", "修正"), "修订": ("revised", "修订"),
          "公布": ("promulgated", "公布"), "批准": ("approved", "批准")}
_VERSION_WORD = {source: word for source, word in _VERBS.values()}

_EN_ISSUER = {"国务院": "State Council", "北京市人民政府": "Beijing Municipal People's Government",
              "上海市人民政府": "Shanghai Municipal People's Government"}


# -- title -----------------------------------------------------------------------------

def _not_title(line: str) -> bool:
    return bool(_SALUTATION.match(line) or _ADDRESSEES.match(line) or _DELIVERED.match(line)
                or _BRACKET_DATE.match(line) or _ADOPTED.match(line) or _SIGNED.match(line)
                or _SOURCE_LINE.match(line) or DOC_NUMBER.fullmatch(line) or _EN_DELIVERED.search(line)
                or re.match(r"^第[一二三四五六七八九十百\d]+[编章节条]|^[一二三四五六七八九十]+、", line)
                or re.search(r"[。；！？.;!?]$|[，,]", line))


def _title(head: list[str]) -> tuple[str | None, int]:
    """The title lines at the top, joined; (None, 0) when the text opens with a salutation."""
    parts: list[str] = []
    for line in head:
        line = FOOTNOTE_TAIL.sub("", line.lstrip("#").strip()).strip()
        if _not_title(line) or len(line) > _TITLE_MAX or (parts and _AUTHOR_LINE.match(line)):
            break
        if parts and line.startswith("——"):
            break
        parts.append(line)
        if len(parts) == 3 or (_TYPE_WORD.search(line) and len(parts) >= 1 and not _continues(parts)):
            break
    if not parts:
        return None, 0
    title = _join_title(parts)
    if title.isupper():          # REPORT ON THE WORK OF THE GOVERNMENT
        title = re.sub(r"\b(On|The|Of|And|For|In|To|A|An)\b", lambda m: m.group(1).lower(), title.title())
        title = title[0].upper() + title[1:]
    return title, len(parts)


def _continues(parts: list[str]) -> bool:
    """A notice title broken after 关于… continues until its type word (通知, 意见, ...)."""
    return "关于" in parts[0] and not _TYPE_WORD.search(parts[-1])


# A line ending in one of these cannot end a title: the title goes on (视角下 | 国际…研究).
_OPEN_ENDINGS = set("下的与和及对在中之于以为从")


def _join_title(parts: list[str]) -> str:
    """Broken lines of one title join without a space (国务院办公厅关于推广第二批 + 支持创新…的通知);
    a two-line slogan title keeps them apart (决胜全面建成小康社会 夺取…)."""
    if all(re.fullmatch(r"[A-Za-z0-9 ,'’()\-]+", p) for p in parts):
        return " ".join(parts)
    out = parts[0]
    for p in parts[1:]:
        broken = ("关于" in parts[0] or out[-1] in _OPEN_ENDINGS
                  or bool(_TYPE_WORD.search(p)) and not _TYPE_WORD.search(out))
        out += ("" if broken else " ") + p
    return out


# -- date --------------------------------------------------------------------------------

def _iso(y: str, m: str, d: str) -> str | None:
    try:
        return dt.date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def _date(lines: list[str], head: list[str]) -> tuple[str | None, str | None]:
    for line in head:
        m = _DELIVERED.match(line) or _BRACKET_DATE.match(line)
        if m:
            return _iso(*m.groups()[:3]), "delivered"
        m = _EN_DELIVERED.search(line)
        if m:
            return _iso(m.group(4), str(_EN_MONTHS.index(m.group(2).lower()) + 1), m.group(3)), "delivered"
    adopted = [(m, line) for line in head if (m := _ADOPTED.match(line))]
    if adopted:
        m, _ = max(adopted, key=lambda ml: _iso(*ml[0].groups()[:3]) or "")
        return _iso(*m.groups()[:3]), _VERBS[m.group(5)][0]
    # A notice is dated under its signature: an issuer line, then a line that is only a date.
    for prev, line in zip(lines, lines[1:]):
        m = _SIGNED.match(line)
        if m and len(prev) <= 30 and re.search(r"(?:国务院|办公厅|委员会|人民政府|部|局|厅|院|会)$", prev):
            return _iso(*m.groups()), "signed"
    return None, None


# -- type, issuer, number ----------------------------------------------------------------

def _doc_type(text: str, head: list[str], title: str | None) -> str:
    top = "\n".join(head)
    start = text[:3000]
    t = title or ""
    if _REPORT_ON.search(top):
        return "congress_report"
    if "政府工作报告" in t or re.search(r"report on the work of the government", top, re.I) \
            or re.search(r"向大会报告(?:政府)?工作", start):
        return "work_report"
    if _LAW_TITLE.match(t) and re.search(r"全国人民代表大会", top):
        return "law"
    if _REG_TITLE.search(t) and re.search(r"人民代表大会|人民政府令|国务院令", top):
        return "regulation"
    for word, kind in (("通知", "notice"), ("意见", "opinion"), ("决定", "decision"), ("方案", "plan"),
                       ("规划", "plan"), ("纲要", "plan")):
        if t.endswith(word):
            return kind
    if _ARTICLE_MARKS.search(start):
        return "article"
    return "other"


def _issuer(text: str, head: list[str], title: str | None, doc_type: str) -> str | None:
    if doc_type == "congress_report":
        m = _CC.search(text[:5000])
        return f"中国共产党{m.group(1)}" if m else "中国共产党中央委员会"
    if doc_type == "work_report":
        m = _ON_BEHALF.search(text[:2000])
        if m:
            return m.group(1)
        if re.search(r"On behalf of the State Council|Premier of the State Council", text[:3000]):
            return "国务院"
        return None
    if doc_type in ("law", "regulation"):
        # The body of the latest adoption or amendment line: 北京市第十三届人民代表大会常务委员会
        # -> 北京市人民代表大会常务委员会; 第六届全国人民代表大会常务委员会 stays national.
        bodies = [(m.group(1) or "") + m.group(2) for line in head if _ADOPTED.match(line)
                  for m in [_BODY.search(line)] if m]
        return bodies[-1] if bodies else None
    if title and "关于" in title:
        who = title.split("关于", 1)[0]
        if 2 <= len(who) <= 20:
            return who
    return None


def _doc_number(head: list[str]) -> str | None:
    for line in head:
        m = DOC_NUMBER.search(line)
        if m:
            return re.sub(r"\s+", "", m.group(0)).replace("[", "〔").replace("]", "〕").replace("［", "〔").replace("］", "〕")
    return None


def _congress(head: list[str]) -> str | None:
    """十九 for a report to the 19th Party Congress (its common name: 十九大报告)."""
    m = _REPORT_ON.search("\n".join(head))
    if not m:
        return None
    n = _CONGRESS_SHORT.search(m.group(1))
    return n.group(1) if n else None


def is_national(meta: dict) -> bool:
    return meta.get("jurisdiction") == NATIONAL
