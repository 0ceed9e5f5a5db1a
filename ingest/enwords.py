"""English word folding for dictionary lookups and term matching: inflections (policies ->
policy, took -> take), British spellings (centre -> center) and, for a word a dictionary
lacks, the words it may be derived from (deduction -> deduct)."""
from __future__ import annotations

import re


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
            if len(stem) >= 4 and stem[-1] == stem[-2]:      # bigger -> big
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
