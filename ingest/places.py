"""Chinese jurisdictions: provincial-level divisions and large cities, with short and
English names, so that a question's `北京`, `Beijing's` or `深圳市` and a document's issuer
`北京市人民政府` name the same place. `全国` stands for national documents."""
from __future__ import annotations

import re
from dataclasses import dataclass

NATIONAL = "全国"


@dataclass(frozen=True)
class Place:
    name: str                 # canonical: 北京市, 广东省, 深圳市, 全国
    short: str                # 北京, 广东, 深圳
    english: tuple[str, ...]  # lower-case English names


_PROVINCES = """
北京市 北京 beijing|peking
天津市 天津 tianjin
上海市 上海 shanghai
重庆市 重庆 chongqing
河北省 河北 hebei
山西省 山西 shanxi
辽宁省 辽宁 liaoning
吉林省 吉林 jilin
黑龙江省 黑龙江 heilongjiang
江苏省 江苏 jiangsu
浙江省 浙江 zhejiang
安徽省 安徽 anhui
福建省 福建 fujian
江西省 江西 jiangxi
山东省 山东 shandong
河南省 河南 henan
湖北省 湖北 hubei
湖南省 湖南 hunan
广东省 广东 guangdong
海南省 海南 hainan
四川省 四川 sichuan
贵州省 贵州 guizhou
云南省 云南 yunnan
陕西省 陕西 shaanxi
甘肃省 甘肃 gansu
青海省 青海 qinghai
台湾省 台湾 taiwan
内蒙古自治区 内蒙古 inner mongolia
广西壮族自治区 广西 guangxi
西藏自治区 西藏 tibet|xizang
宁夏回族自治区 宁夏 ningxia
新疆维吾尔自治区 新疆 xinjiang
香港特别行政区 香港 hong kong
澳门特别行政区 澳门 macao|macau
深圳市 深圳 shenzhen
广州市 广州 guangzhou|canton
杭州市 杭州 hangzhou
南京市 南京 nanjing
武汉市 武汉 wuhan
成都市 成都 chengdu
西安市 西安 xi'an|xian
苏州市 苏州 suzhou
厦门市 厦门 xiamen
青岛市 青岛 qingdao
大连市 大连 dalian
宁波市 宁波 ningbo
沈阳市 沈阳 shenyang
长春市 长春 changchun
哈尔滨市 哈尔滨 harbin
济南市 济南 jinan
郑州市 郑州 zhengzhou
长沙市 长沙 changsha
合肥市 合肥 hefei
福州市 福州 fuzhou
南昌市 南昌 nanchang
昆明市 昆明 kunming
贵阳市 贵阳 guiyang
南宁市 南宁 nanning
海口市 海口 haikou
兰州市 兰州 lanzhou
西宁市 西宁 xining
银川市 银川 yinchuan
乌鲁木齐市 乌鲁木齐 urumqi
拉萨市 拉萨 lhasa
呼和浩特市 呼和浩特 hohhot
太原市 太原 taiyuan
石家庄市 石家庄 shijiazhuang
雄安新区 雄安 xiong'an|xiongan
"""

PLACES: tuple[Place, ...] = tuple(
    Place(name, short, tuple(e.strip() for e in eng.split("|")))
    for name, short, eng in (
        (line.split(" ", 2)[0], line.split(" ", 2)[1], line.split(" ", 2)[2])
        for line in _PROVINCES.strip().splitlines()))
_BY_NAME = {p.name: p for p in PLACES}
# Longest first, so 内蒙古自治区 wins over 内蒙古 and 乌鲁木齐市 over nothing shorter.
_ZH_FORMS = sorted(((f, p) for p in PLACES for f in {p.name, p.short}), key=lambda fp: -len(fp[0]))
PLACE_PATTERN = "|".join(re.escape(f) for f, _ in _ZH_FORMS)
_ZH_RE = re.compile(PLACE_PATTERN)
_ZH_OF = dict(_ZH_FORMS)
_EN_RE = re.compile(r"\b(" + "|".join(re.escape(e) for p in PLACES for e in p.english) + r")(?:'s)?\b", re.I)
_EN_OF = {e: p for p in PLACES for e in p.english}
# Words that make a question national: 全国 / 我国 / China's / national.
_NATIONAL_ZH = re.compile(r"全国(?!人民代表大会|人大|政协|科技工作者日)|我国|中国(?!共产党|特色|式)|国家层面")
_NATIONAL_EN = re.compile(r"\b(?:China|China's|Chinese|national|nationwide|the country)\b", re.I)


def place(name: str) -> Place | None:
    return _BY_NAME.get(name)


_ORDER = {p.name: i for i, p in enumerate(PLACES)}


def place_order(name: str) -> tuple[int, str]:
    """Sort key: the country first, then the gazetteer's (official) order, 北京市 before 上海市."""
    return (-1 if name == NATIONAL else _ORDER.get(name, len(_ORDER)), name)


def places_in_chinese(text: str) -> list[tuple[int, int, str]]:
    """(start, end, canonical name) of the places named in Chinese text."""
    return [(m.start(), m.end(), _ZH_OF[m.group(0)].name) for m in _ZH_RE.finditer(text)]


def places_in_english(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), _EN_OF[m.group(1).lower()].name) for m in _EN_RE.finditer(text)]


def national_spans(text: str, zh: bool) -> list[tuple[int, int]]:
    """Where the text speaks of the whole country (全国, 我国, China's)."""
    return [m.span() for m in (_NATIONAL_ZH if zh else _NATIONAL_EN).finditer(text)]


def jurisdiction_of(issuer: str | None) -> str | None:
    """全国 for national bodies, the place for a local one (北京市人民代表大会 -> 北京市)."""
    if not issuer:
        return None
    if re.match(r"(?:国务院|全国人民代表大会|中国共产党(?:第.{1,4}届)?中央|中共中央|中华人民共和国|国家|State Council|"
                r"National People's Congress|Communist Party of China)", issuer):
        return NATIONAL
    m = _ZH_RE.match(issuer)
    if m:
        return _ZH_OF[m.group(0)].name
    m = _EN_RE.match(issuer)
    return _EN_OF[m.group(1).lower()].name if m else None
