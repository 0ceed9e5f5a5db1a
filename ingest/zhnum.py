"""Chinese numerals: 四十二 <-> 42, 一百一十七 <-> 117 (article numbers, counts, plans)."""
from __future__ import annotations

DIGITS = dict(zip("零〇一二两三四五六七八九", [0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9]))
_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL_CHARS = "零〇一二两三四五六七八九十百千"


def zh_to_int(s: str) -> int | None:
    """十四 -> 14, 三 -> 3, 一百二十 -> 120, 一百零五 -> 105; digits pass through; None if not a numeral."""
    if not s:
        return None
    if s.isdigit():
        return int(s)
    total, cur = 0, 0
    for ch in s:
        if ch in DIGITS:
            cur = DIGITS[ch]
        elif ch in _UNITS:
            total += (cur or 1) * _UNITS[ch]
            cur = 0
        else:
            return None
    return total + cur


def int_to_zh(n: int) -> str:
    """42 -> 四十二, 10 -> 十, 105 -> 一百零五, 117 -> 一百一十七 (as laws number their articles)."""
    if n < 0 or n >= 10000:
        raise ValueError(n)
    if n == 0:
        return "零"
    d = "零一二三四五六七八九"
    parts, zero = [], False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        q, n = divmod(n, value)
        if q:
            if zero:
                parts.append("零")
            parts.append(d[q] + unit)
            zero = False
        elif parts:
            zero = True
    s = "".join(parts)
    return s[1:] if s.startswith("一十") else s
