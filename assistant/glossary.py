"""Term lookup across Chinese and English: the policy glossary, a general dictionary
fallback (CC-CEDICT) and a concordance over the index.

`lookup_all(term, data)` is what `policyqa lookup` and `Assistant.lookup` return:

- `entries`: glossary entries (assistant/data/glossary.jsonl), best match first:
  exact key > variant > contains. Each has a source note saying where its English
  rendering is attested (the official 2017 report translation, an official title, ...).
- `dictionary`: CC-CEDICT senses, always returned but marked `kind="dictionary"`: a
  general sense, not a policy rendering. For a Chinese term missing from CC-CEDICT the
  senses of its jieba words are given instead (`part` says which word).
- `concordance`: every occurrence, per document, of the term, plus the translations and
  variants of the glossary entries that match it exactly (or as a variant). Entries that
  only *contain* the term do not widen the concordance. When the glossary has no such
  entry, an English term is also searched as its top dictionary headwords, so an English
  word still finds Chinese passages.

Traditional characters and full-width forms are normalised as in `normalize_query`.
"""
from __future__ import annotations

import bisect
import json
import re
import threading
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.errors import BadQuery
from ingest.zhtext import HAN, HAN_CHAR, is_chinese

from .lemmas import content_lemmas, singular
from .normalize import normalize_query, to_simplified

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "glossary.jsonl"
REQUIRED = ("zh", "en", "zh_variants", "en_variants", "source", "note")
_CJK = HAN_CHAR
_ZH_KEEP = re.compile(f"[^0-9a-z+{HAN}]")   # quotes, 、, spaces go
_EN_TOKEN = re.compile(r"[0-9a-z&+]+")
_MATCH_RANK = {"exact": 0, "variant": 1, "words": 2, "contains": 3}


# ---------------------------------------------------------------- results

@dataclass(frozen=True)
class GlossaryEntry:
    """A checked policy term with its English rendering and where that rendering comes from."""
    zh: str
    en: str
    zh_variants: tuple[str, ...]
    en_variants: tuple[str, ...]
    source: str
    note: str
    category: str = ""
    kind: str = "glossary"

    def forms(self) -> tuple[str, ...]:
        """Every way of writing the term, in either language."""
        return tuple(dict.fromkeys((self.zh, *self.zh_variants, self.en, *self.en_variants)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["zh_variants"], d["en_variants"] = list(self.zh_variants), list(self.en_variants)
        return d


@dataclass(frozen=True)
class GlossaryMatch:
    """An entry and how the looked-up term matched it (`matched` is the form it matched)."""
    entry: GlossaryEntry
    match: str          # exact | variant | contains
    matched: str

    def to_dict(self) -> dict:
        return {**self.entry.to_dict(), "match": self.match, "matched": self.matched}


@dataclass(frozen=True)
class DictSense:
    """One CC-CEDICT entry: a general dictionary sense, not a policy rendering."""
    headword: str                 # simplified
    traditional: str
    pinyin: str                   # CC-CEDICT numbered pinyin ("zhuan1 li4")
    definitions: tuple[str, ...]
    part: str                     # the piece of the looked-up term it explains (the term itself when whole)
    direction: str                # "zh-en" or "en-zh"
    exact_gloss: bool = False     # en-zh: one of its definitions is exactly the English term
    kind: str = "dictionary"
    source: str = "CC-CEDICT"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["definitions"] = list(self.definitions)
        return d


@dataclass(frozen=True)
class DocCount:
    doc_id: str
    title: str
    count: int
    per_form: dict = field(default_factory=dict)      # form -> occurrences in this document

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ConcordancePassage:
    """A passage (chunk) holding the term. `text == document.text[start:end]`;
    `text[match_start:match_end]` is its first occurrence there."""
    doc_id: str
    title: str
    section: str
    ordinal: int
    text: str
    start: int
    end: int
    page: int | None
    match_start: int
    match_end: int
    form: str                 # the form found at match_start
    occurrences: int          # occurrences in this passage (an overlap sentence shared with
                              # the previous passage counts in both)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Concordance:
    """Occurrences of any of `forms`, counted per document over the cleaned texts.

    A passage is listed when it is the first to hold some occurrence whole, so a sentence
    repeated by the next passage (chunk overlap) does not list that passage for it again."""
    forms: tuple[str, ...]
    total: int
    documents: tuple[DocCount, ...]           # most occurrences first
    passages: tuple[ConcordancePassage, ...]  # in the order of `documents`, then of the text
    passages_total: int                       # before the max_passages cut

    def to_dict(self) -> dict:
        return {"forms": list(self.forms), "total": self.total,
                "documents": [d.to_dict() for d in self.documents],
                "passages": [p.to_dict() for p in self.passages],
                "passages_total": self.passages_total}


@dataclass(frozen=True)
class LookupResult:
    """What `policyqa lookup TERM --json` prints."""
    term: str
    normalized: str
    lang: str                                  # zh | en
    entries: tuple[GlossaryMatch, ...]
    dictionary: tuple[DictSense, ...]
    concordance: Concordance
    form_origins: dict = field(default_factory=dict)   # concordance form -> query | glossary | dictionary
    by_year: object = None                     # trend.Trend, when asked for

    @property
    def glossary_found(self) -> bool:
        return any(m.match != "contains" for m in self.entries)

    def to_dict(self) -> dict:
        return {"term": self.term, "normalized": self.normalized, "lang": self.lang,
                "glossary_found": self.glossary_found,
                "entries": [m.to_dict() for m in self.entries],
                "dictionary": [s.to_dict() for s in self.dictionary],
                "concordance": self.concordance.to_dict(),
                "form_origins": dict(self.form_origins),
                "by_year": self.by_year.to_dict() if self.by_year is not None else None}


# ---------------------------------------------------------------- glossary

def _zh_key(text: str) -> str:
    """Chinese comparison key: width-folded, Simplified, without quotes, spaces and 、."""
    return _ZH_KEEP.sub("", normalize_query(text).lower())


def en_key(text: str) -> tuple[str, ...]:
    """English comparison key: lower-case word tokens, simple plurals folded."""
    t = unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("\u2019", "")
    return tuple(singular(w) for w in _EN_TOKEN.findall(t))


def _contains(outer: tuple, inner: tuple) -> bool:
    n = len(inner)
    return 0 < n < len(outer) and any(outer[i:i + n] == inner for i in range(len(outer) - n + 1))


class Glossary:
    """The policy glossary; `Glossary.load()` reads the bundled file once per process."""

    _cache: dict[str, "Glossary"] = {}
    _lock = threading.Lock()

    def __init__(self, entries: list[GlossaryEntry]):
        self.entries = tuple(entries)
        self._zh: dict[str, list[tuple[int, str, str]]] = {}   # key -> (entry, exact|variant, form)
        self._en: dict[tuple, list[tuple[int, str, str]]] = {}
        self._lemmas: list[tuple[int, str, frozenset[str]]] = []    # (entry, English form, its content lemmas)
        for i, e in enumerate(self.entries):
            for form, how in [(e.zh, "exact")] + [(v, "variant") for v in e.zh_variants]:
                self._zh.setdefault(_zh_key(form), []).append((i, how, form))
            for form, how in [(e.en, "exact")] + [(v, "variant") for v in e.en_variants]:
                self._en.setdefault(en_key(form), []).append((i, how, form))
                self._lemmas.append((i, form, frozenset(content_lemmas(form))))

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Glossary":
        key = str(Path(path or DEFAULT_PATH).resolve())
        with cls._lock:
            if key not in cls._cache:
                cls._cache[key] = cls(read_entries(key))
            return cls._cache[key]

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, term: str) -> list[GlossaryEntry]:
        """Entries for a term in either language, best first (exact > variant > contains)."""
        return [m.entry for m in self.matches(term)]

    def matches(self, term: str) -> list[GlossaryMatch]:
        """Like `lookup`, saying how each entry matched."""
        q = normalize_query(term)
        best: dict[int, tuple[tuple, str, str]] = {}

        def offer(i: int, how: str, form: str, closeness: int) -> None:
            rank = (_MATCH_RANK[how], closeness, i)
            if i not in best or rank < best[i][0]:
                best[i] = (rank, how, form)

        if _CJK.search(q):
            k = _zh_key(q)
            for i, how, form in self._zh.get(k, []):
                offer(i, how, form, 0)
            for key, rows in self._zh.items():
                if key != k and len(key) >= 2 and (k in key or key in k):
                    for i, _, form in rows:
                        offer(i, "contains", form, abs(len(key) - len(k)))
        else:
            k = en_key(q)
            for i, how, form in self._en.get(k, []):
                offer(i, how, form, 0)
            for i, form, closeness in self.by_words(q):
                offer(i, "words", form, closeness)
            for key, rows in self._en.items():
                if key != k and (_contains(key, k) or (len("".join(key)) >= 4 and _contains(k, key))):
                    for i, _, form in rows:
                        offer(i, "contains", form, abs(len(key) - len(k)))
        ranked = sorted(best.items(), key=lambda kv: kv[1][0])
        return [GlossaryMatch(self.entries[i], how, form) for i, (_, how, form) in ranked]


    def by_words(self, text: str, inside: bool = False) -> list[tuple[int, str, int]]:
        """Entries whose English form says what `text` says in its own words: (entry, form,
        closeness), closest first. A term matches a form holding all its content words
        (lemmas: `self-reliance in science and technology` finds `greater self-reliance
        and strength in science and technology`); with `inside`, `text` is a question and
        a form matches when the question holds all of the form's content words, in any
        order and form (looser matching inside questions lowered seed_dev's English R@5)."""
        have = content_lemmas(text)
        if not have:
            return []
        out = []
        for i, form, need in self._lemmas:
            both = need & have
            if inside:
                ok = len(need) >= 2 and both == need
            else:
                ok = both == have and (len(have) >= 2 or len(need) == 1)
            if ok:
                out.append((i, form, len(need ^ have) if not inside else len(need - both)))
        return sorted(out, key=lambda x: (x[2], x[0]))


def read_entries(path: str | Path) -> list[GlossaryEntry]:
    """Parse a glossary JSONL file; ValueError naming the line on a malformed entry."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                missing = [k for k in REQUIRED if not d.get(k) and k not in ("zh_variants", "en_variants")]
                if missing:
                    raise ValueError(f"missing {', '.join(missing)}")
                out.append(GlossaryEntry(d["zh"], d["en"], tuple(d.get("zh_variants") or ()),
                                         tuple(d.get("en_variants") or ()), d["source"], d["note"],
                                         d.get("category", "")))
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"{path}:{n}: bad glossary entry ({e})") from e
    return out


# ---------------------------------------------------------------- dictionary

def dictionary_senses(term: str, limit: int = 12) -> list[DictSense]:
    """General CC-CEDICT senses: English definitions of a Chinese term (of its jieba words
    when the whole is not a headword), or Chinese headwords glossed by an English term."""
    q = normalize_query(term)
    if _CJK.search(q):
        return _zh_senses(q, limit)
    return _en_senses(q, limit)


_VARIANT_ONLY = re.compile(r"^(?:old )?variant of ", re.I)


def _entry_senses(fwd: dict, word: str, part: str, direction: str, exact: bool = False) -> list[DictSense]:
    entries = fwd.get(word, [])
    real = [e for e in entries if not all(_VARIANT_ONLY.match(d) for d in e["definitions"])]
    return [DictSense(e["simplified"], e["traditional"], e["pinyin"],
                      tuple(d for d in e["definitions"] if not d.startswith("CL:")) or tuple(e["definitions"]),
                      part, direction, exact)
            for e in real or entries]


def _zh_senses(q: str, limit: int) -> list[DictSense]:
    from ingest.tokenize import jieba_tokenizer

    from .crosslingual import forward_dictionary
    fwd = forward_dictionary()
    word = _ZH_KEEP.sub("", q.lower())
    if word in fwd:
        return _entry_senses(fwd, word, word, "zh-en")[:limit]
    jieba = jieba_tokenizer()
    out: list[DictSense] = []
    for part in jieba.lcut(word):
        if part in fwd:
            out.extend(_entry_senses(fwd, part, part, "zh-en"))
        elif len(part) > 1:
            # jieba knows the word but CC-CEDICT does not: its sub-words, else its characters
            subs = [s for s in jieba.lcut_for_search(part) if s != part and s in fwd and len(s) > 1]
            for s in subs or [c for c in part if c in fwd]:
                out.extend(_entry_senses(fwd, s, s, "zh-en"))
    return out[:limit]


def _en_senses(q: str, limit: int) -> list[DictSense]:
    from .crosslingual import dictionary_senses, forward_dictionary, reverse_dictionary
    rev, fwd = reverse_dictionary(), forward_dictionary()
    words = re.findall(r"[a-z]+", q.lower())
    while words and words[0] in ("to", "a", "an", "the"):
        words = words[1:]
    if not words:
        return []
    groups = [(" ".join(words), dictionary_senses(rev, words) if len(words) <= 3 else {})]
    if not groups[0][1] and len(words) > 1:
        from ingest.zhtext import EN_STOP
        groups = [(w, dictionary_senses(rev, [w])) for w in words if w not in EN_STOP and len(w) > 2]
    out: list[DictSense] = []
    per_group = max(2, limit // max(1, len(groups)))
    for part, senses in groups:
        target = " ".join(en_key(part))

        def exact(zh: str) -> bool:      # a definition that is exactly the term ranks first
            return any(" ".join(en_key(re.sub(r"^(?:to|a|an|the) ", "", g.strip().lower()))) == target
                       for e in fwd.get(zh, []) for d in e["definitions"] for g in re.split(r"[;,]", d))

        flags = {z: exact(z) for z in senses}
        ranked = sorted(senses, key=lambda z: (-senses[z], not flags[z], len(z), z))[:per_group]
        for zh in ranked:
            out.extend(_entry_senses(fwd, zh, part, "en-zh", flags[zh])[:1])
    return out[:limit]


# ---------------------------------------------------------------- concordance

def _form_regex(form: str) -> str:
    if _CJK.search(form):
        return re.escape(form)
    words = form.split()
    body = r"\s+".join(re.escape(w) for w in words)
    if words[-1][-1].isalpha():
        body += "(?:s|es)?"         # simple plurals: "patent" also finds "patents"
    return rf"(?i:(?<![A-Za-z0-9]){body}(?![A-Za-z0-9]))"


def concordance(term_forms: list[str], data, max_passages: int = 50) -> Concordance:
    """Occurrences of any of `term_forms` in the cleaned documents of `data` (an IndexData).

    Chinese forms match literally (a form in Traditional characters also as its Simplified
    equivalent); English forms case-insensitively on word boundaries. Counts are of
    non-overlapping occurrences, longer forms winning where forms overlap."""
    seen: dict[str, str] = {}
    for f in term_forms:                  # English forms differing only in case are one form
        f = (f or "").strip()
        if f and _CJK.search(f):
            seen.setdefault(f, f)
            simplified = to_simplified(f)
            seen.setdefault(simplified, simplified)
        elif f:
            seen.setdefault(f.lower(), f)
    forms = tuple(seen.values())
    if not forms:
        raise BadQuery("nothing to look up: give a term in Chinese or English")
    order = sorted(range(len(forms)), key=lambda i: -len(forms[i]))
    pattern = re.compile("|".join(f"(?P<f{i}>{_form_regex(forms[i])})" for i in order))

    chunks_by_doc: dict[str, list] = {}
    for c in data.chunks:
        chunks_by_doc.setdefault(c.doc_id, []).append(c)
    docs: list[DocCount] = []
    found: dict[str, list[ConcordancePassage]] = {}
    zh_forms = [f for f in forms if _CJK.search(f)]
    en_probes = [f.split()[0].lower() for f in forms if not _CJK.search(f)]
    for doc_id, doc in data.docs.items():
        # a plain substring test first: most documents hold none of the forms, and the
        # regex (case-insensitive, with boundaries) is the slow part
        if not any(f in doc.text for f in zh_forms):
            lower = doc.text.lower() if en_probes else ""
            if not any(w in lower for w in en_probes):
                continue
        hits = [(m.start(), m.end(), forms[int(m.lastgroup[1:])]) for m in pattern.finditer(doc.text)]
        if not hits:
            continue
        title = str(doc.metadata.get("title") or doc_id)
        per_form: dict[str, int] = {}
        for _, _, f in hits:
            per_form[f] = per_form.get(f, 0) + 1
        docs.append(DocCount(doc_id, title, len(hits), per_form))
        found[doc_id] = _passages(hits, sorted(chunks_by_doc.get(doc_id, []), key=lambda c: c.start),
                                  doc, title)
    docs.sort(key=lambda d: (-d.count, d.doc_id))
    passages = [p for d in docs for p in found[d.doc_id]]
    return Concordance(forms, sum(d.count for d in docs), tuple(docs),
                       tuple(passages[:max_passages]), len(passages))


def _passages(hits: list[tuple[int, int, str]], chunks: list, doc, title: str) -> list[ConcordancePassage]:
    """The chunks that are the first to hold some occurrence whole, each pointing at the
    first occurrence inside it."""
    starts = [c.start for c in chunks]
    hit_starts = [h[0] for h in hits]
    owned: dict[int, list[tuple[int, int, str]]] = {}
    for s, e, f in hits:
        j = bisect.bisect_right(starts, s) - 1      # the last chunk starting at or before it
        while j > 0 and chunks[j - 1].end >= e:     # overlapping chunks: the earliest holding it
            j -= 1
        if j >= 0 and e <= chunks[j].end:
            owned.setdefault(j, []).append((s, e, f))
    out = []
    for j in sorted(owned):
        c = chunks[j]
        inside = [h for h in hits[bisect.bisect_left(hit_starts, c.start):] if h[0] < c.end and h[1] <= c.end]
        s, e, f = inside[0]
        out.append(ConcordancePassage(c.doc_id, title, c.section, c.ordinal, c.text, c.start, c.end,
                                      doc.page_at(c.start), s - c.start, e - c.start, f, len(inside)))
    return out


# ---------------------------------------------------------------- all together

def lookup_all(term: str, data, *, glossary: Glossary | None = None, max_passages: int = 50,
               max_entries: int = 20) -> LookupResult:
    """Glossary entries, dictionary senses and concordance for `term` (see the module doc).

    Raises BadQuery for an empty or punctuation-only term."""
    q = normalize_query(term)
    glossary = glossary or Glossary.load()
    matches = glossary.matches(q)[:max_entries]
    senses = dictionary_senses(q)
    origins: dict[str, str] = {q: "query"}
    lang = "zh" if is_chinese(q) else "en"
    if lang == "en":
        origins.setdefault(" ".join(singular(w) for w in q.split()), "query")
    strong = [m for m in matches if m.match in ("exact", "variant")] or \
        [m for m in matches if m.match == "words"][:1]       # the user's own phrasing of one entry
    for m in strong:
        for f in m.entry.forms():
            origins.setdefault(f, "glossary")
    if not strong and lang == "en":
        # the best headword, and any other whose definition is exactly the term
        whole = [s for s in senses if s.part == q.lower()]
        for s in whole[:1] + [s for s in whole[1:] if s.exact_gloss]:
            origins.setdefault(s.headword, "dictionary")
    conc = concordance(list(origins), data, max_passages=max_passages)
    return LookupResult(term, q, lang, tuple(matches), tuple(senses), conc, origins)
