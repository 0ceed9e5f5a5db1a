"""English word folding for matching a user's own phrasing against fixed renderings:
plurals, British spellings (centre, programme), and a few derivations (promoting ->
promote, scientific -> science) so that content words, not exact strings, decide."""
from __future__ import annotations

import re

from ingest.enwords import american, singular
from ingest.zhtext import EN_STOP

__all__ = ["singular", "lemma", "content_lemmas"]

_WORD = re.compile(r"[a-z]+(?:&[a-z]+)?")
# Derivations that official renderings and users swap freely.
_DERIVED = {"scientific": "science", "technological": "technology", "technologies": "technology",
            "promoting": "promote", "promotion": "promote", "innovative": "innovation", "innovate": "innovation",
            "reformed": "reform", "reforming": "reform", "developing": "development", "develop": "development",
            "economic": "economy", "financial": "finance", "fiscal": "fiscal", "regulations": "regulation",
            "regulatory": "regulation", "transforming": "transformation", "transform": "transformation",
            "s&t": "science", "sci": "science", "tech": "technology", "r&d": "research"}


def lemma(word: str) -> str:
    w = american(word)
    w = _DERIVED.get(w, w)
    w = singular(w)
    return _DERIVED.get(w, w)


def content_lemmas(text: str) -> set[str]:
    """Lemmas of the content words of English text (stop words and one-letter words dropped)."""
    return {lemma(w) for w in _WORD.findall(text.lower().replace("\u2019", "'"))
            if w not in EN_STOP and len(w) > 1}
