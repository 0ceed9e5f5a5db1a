"""Every tuned number of the query path, in one place, each with what chose it.

- Fusion (`FusionConfig`): `benchmarks/retrieval.py` (grid over seed_dev + corpus_dev,
  checked on cmrc2018); the figures are in the README's retrieval section.
- The found decision (`Thresholds`): `benchmarks/calibrate.py` (k-fold over
  seed_dev + corpus_dev; held-out figures in the README).
- Sentence scoring (`AnswerWeights`): fixed by hand; the calibration keeps them.
- The LLM answer's citation check (`CitationCheck`): fixed by hand on the claims of
  tests/test_llm.py (supported, unsupported, a changed number, a short follow-on clause);
  `python benchmarks/llm.py` reports how many claims of real model answers pass.
- LLM mode's limits (`LLMRules`): fixed by hand; the rewrite deadline bounds a follow-up's
  extra call, the language shares were checked on the answers of `python benchmarks/llm.py`
  and the language cases of tests/test_llm.py.
- Chunking (`ingest.chunk.ChunkSettings`: 350 characters, one sentence of overlap):
  `python benchmarks/retrieval.py --chunks` (the README's chunk-size table).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FusionConfig:
    """How dense and BM25 rankings are combined."""
    method: str = "rrf"          # "rrf" | "dense" | "bm25"
    rrf_k: int = 10
    w_dense: float = 1.0
    # ... for a passage in the other language than the question's: a 350-character passage
    # ranks its translation poorly (bitext_dev R@5 .19 alone; its best sentence: .73), and
    # every fold of the grid set this to 0.
    w_dense_other: float = 0.0
    w_bm25_zh: float = 1.5       # Chinese questions
    w_bm25_en: float = 1.5       # questions without Chinese characters
    depth: int = 50              # candidates taken from each ranking
    expand_en: bool = True       # add CC-CEDICT Chinese terms to English questions' BM25 side
    expand_glossary: bool = True # add the glossary's forms in the other language to BM25
    translate_dense: bool = True # English questions: also rank Chinese passages by a Chinese rendering
    w_translated: float = 0.5    # weight of that ranking
    w_translated_sentence: float = 1.0   # the rendering against each Chinese passage's best sentence
    w_model_rendered: float = 1.0        # the configured LLM's Chinese rendering, when there is one
    render_numbers: bool = True  # numbers the Chinese way in the rendering and BM25 (5 percent -> 5%)
    render_places: bool = True   # place names as the documents write them (Shanghai -> 上海, not 崇明)
    render_together: bool = True # each word's sense: the one found in passages with the other words' senses
    # Passages ranked by their best sentence, each sentence embedded on its own at ingest.
    w_sentence_zh: float = 1.0
    w_sentence_en: float = 1.5
    # ... over the passages in the other language than the question's only. An English
    # question has better ways into Chinese text (the renderings' rankings): with the
    # coverage rerank, this one lowered cross-lingual MRR .964 -> .855 and changed no other
    # dev figure. A Chinese question has no rendering into English; no dev question
    # measures that direction, so it keeps its ranking.
    w_sentence_other_zh: float = 1.0
    w_sentence_other_en: float = 0.0
    # Per constraint dimension a passage matches (its year, its document's place, the named
    # law): added to the fused score, so that among the passages that contradict nothing the
    # ones that match what the question names come first.
    w_match: float = 0.1
    w_same_language: float = 0.03     # passages in the question's language, over their translation
    # Rerank the best `rerank_depth` by the share of the question's key terms that one
    # sentence of the passage holds (names and numbers weigh double). English questions'
    # terms count through their translations; since a dictionary phrase is one term
    # (come into force -> 施行/生效) every fold of the grid sets 0.2 for them (bitext_dev
    # held-out MRR .815 -> .863, cross-lingual .804 -> .855).
    w_coverage_zh: float = 0.1
    w_coverage_en: float = 0.2
    rerank_depth: int = 20


@dataclass(frozen=True)
class Thresholds:
    """The found / not-found decision.

    A question answered from a passage in its own language uses the first pair. An English
    question over a Chinese passage is measured through dictionary translations, which find
    fewer of its terms and score lower in meaning, hence its own, lower values."""
    # `python benchmarks/calibrate.py --index A` over seed_dev + corpus_dev + the off-topic
    # questions of benchmarks/data (137): held-out accuracy .891 (5-fold); see the README.
    # Its plateau also holds min_semantic_zh .84 (one wrong answer fewer, one refusal more
    # in its model), but the bar also decides which version of a bilingual report is
    # quoted, and at .84 an English question's English passage (.81) no longer qualifies.
    min_semantic_zh: float = 0.80     # cosine of the best sentence with the question
    min_coverage_zh: float = 0.30     # share of the question's key terms in its passage, weighted by rarity
    min_semantic_en: float = 0.76     # English question, Chinese passage
    min_coverage_en: float = 0.15


@dataclass(frozen=True)
class AnswerWeights:
    """How candidate sentences are scored and chosen (answer.py)."""
    lexical: float = 0.15        # key-term share, against the cosine (meaning dominates)
    rank_step: float = 0.01      # per rank of the passage it comes from
    select_margin: float = 0.04  # sentences this close to the best are quoted too
    select_lexical: float = 0.6  # ... when they share this share of its key terms
    max_sentences: int = 4
    number: float = 0.03         # holds a number (a date) when the question asks for one; minus when not
    unit: float = 0.05           # holds a number in the unit asked for (多少斤 -> 1.37万亿斤)
    listing: float = 0.03        # a list (；-separated items, or a head ending in ：) for 哪些 questions
    heading: float = 0.03        # a heading names its section; its sentences usually answer
    pair: float = 0.01           # two sentences of a paragraph quoted together, against one
    pair_chars: int = 220
    whole_article_chars: int = 400     # a law article up to this long is quoted whole
    whole_paragraph_chars: int = 300   # a list paragraph up to this long, for 哪些 questions
    max_subsections: int = 8           # headings quoted for a list question answered by their parent


@dataclass(frozen=True)
class CitationCheck:
    """When a cited source's best sentence supports an LLM answer's claim (verify.py).
    The sentence is chosen by cosine + `AnswerWeights.lexical` x key-term share, as in the
    extractive answer."""
    zh_semantic_alone: float = 0.95     # a Chinese claim this close in meaning is supported
    zh_semantic: float = 0.90           # ... or this close with this share of its key terms
    zh_lexical: float = 0.70
    zh_semantic_short: float = 0.85     # a short follow-on clause ("比上年增长1.98%") whose every term is there
    zh_lexical_short: float = 0.90
    en_score: float = 0.89              # English claim: cosine + en_lexical x key-term share
    en_lexical: float = 0.1


@dataclass(frozen=True)
class LLMRules:
    """LLM mode's own limits (llm_answer.py)."""
    rewrite_seconds: float = 20.0        # at most this of the deadline rewrites a follow-up
    rewrite_growth: int = 4              # a rewrite longer than growth x the question + slack is not one
    rewrite_slack: int = 200
    letters_per_word: float = 4.0        # Latin letters counted as words, against Han characters
    zh_min_han: float = 0.3              # a Chinese answer under this share of Han is in the wrong language
    en_max_han: float = 0.5              # an English answer over this share is
