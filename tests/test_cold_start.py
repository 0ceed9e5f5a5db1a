"""What a short-lived process skips: jieba's full tables (the lexicon file) and bm25s's import
(the index read with numpy). Each shortcut must give exactly what the full path gives."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest import lexicon, store
from ingest.bm25_read import Bm25Index

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["2022年北京全年专利授权量是多少？", "国务院总理李强在十四届全国人大二次会议上作了什么报告",
             "《中华人民共和国科学技术进步法》第八条规定了什么？", "上海市浦东新区的营商环境怎么样",
             "非洲猪瘟疫情防控和生猪稳产保供", "What did the 2017 report say about steel capacity?"]

# A new process: which table jieba reads from, then cuts and tags of passages and questions.
PROBE = r"""
import json, os, sys
from ingest.settings import Settings, configure
configure(Settings.from_env(os.environ))          # a program of its own: its cache folder from the environment
from ingest.tokenize import tokenize_for_index, word_tags
texts = json.loads(sys.stdin.read())
out = {"cuts": [tokenize_for_index(t) for t in texts], "tags": [word_tags(t) for t in texts]}
import jieba
out["table"] = type(jieba.dt.FREQ).__name__
out["posseg_tags"] = type(sys.modules["jieba.posseg"].dt.word_tag_tab).__name__
print(json.dumps(out, ensure_ascii=False))
"""


def _probe(cache: Path, texts: list[str]) -> dict:
    env = dict(os.environ, POLICYQA_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", PROBE], input=json.dumps(texts), env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=120, check=True)
    return json.loads(r.stdout)


def _texts(seed_text: str) -> list[str]:
    return QUESTIONS + [seed_text[i:i + 400] for i in range(0, min(len(seed_text), 8000), 400)]


def test_second_process_reads_the_lexicon_and_cuts_and_tags_the_same(tmp_path):
    seed = (ROOT / "corpus" / "beijing-international-sci-tech-innovation-center_zh.txt").read_text("utf-8")
    texts = _texts(seed)
    first = _probe(tmp_path, texts)                 # loads jieba whole, writes the lexicon
    assert first["table"] == "dict" and first["posseg_tags"] == "dict"
    assert len(list(tmp_path.glob("jieba-lexicon-*.sqlite"))) == 1
    second = _probe(tmp_path, texts)
    assert second["table"] == "_Freq" and second["posseg_tags"] == "_Tags"
    assert second["cuts"] == first["cuts"] and second["tags"] == first["tags"]
    assert any(flag == "ns" for tags in second["tags"] for _, flag in tags)      # tags are real, not 'x'


def _real_jieba():
    import jieba

    from ingest import tokenize
    tokenize.jieba_tokenizer()
    real = jieba.Tokenizer()
    real.initialize()
    return jieba, real


def test_lexicon_promotes_to_the_full_table_and_keeps_cutting_the_same(tmp_path, monkeypatch):
    jieba, real = _real_jieba()
    path = tmp_path / "lex.sqlite"
    assert lexicon.write(path, real.FREQ, real.total, {"北京": "ns"})
    loads = []
    monkeypatch.setattr(lexicon, "PROMOTE_AFTER", 300)
    lex = lexicon.Lexicon(path, lambda: loads.append(True) or (real.FREQ, {"北京": "ns"}))
    lazy = jieba.Tokenizer()
    lazy.FREQ, lazy.total, lazy.initialized = lex.freq, lex.total, True
    seed = (ROOT / "corpus" / "beijing-international-sci-tech-innovation-center_zh.txt").read_text("utf-8")[:6000]
    assert lazy.lcut_for_search(seed) == real.lcut_for_search(seed)
    assert lazy.lcut(seed) == real.lcut(seed)
    assert loads == [True]                        # once, at the 300th distinct entry
    assert lex.tags.get("北京") == "ns" and lex.tags.get("不是一个词", "x") == "x"


def test_a_broken_lexicon_file_falls_back_to_the_full_table_and_is_removed(tmp_path, caplog):
    jieba, real = _real_jieba()
    path = tmp_path / "lex.sqlite"
    assert lexicon.write(path, real.FREQ, real.total, {})
    lex = lexicon.Lexicon(path, lambda: (real.FREQ, {"北京": "ns"}))
    with open(path, "r+b") as f:                  # the pages past the first overwritten
        f.seek(4096)
        f.write(b"\xff" * (path.stat().st_size - 4096))
    assert lex.freq.get("北京") == real.FREQ["北京"] and lex.tags.get("北京") == "ns"
    assert "unreadable" in caplog.text and not path.exists()


def test_lexicon_unwritable_folder_is_reported_not_raised(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert lexicon.write(blocker / "sub" / "lex.sqlite", {"a": 1}, 1, {}) is False


def test_bm25_read_with_numpy_scores_as_bm25s(seed_index):
    import bm25s
    data = store.load(seed_index)
    ours, theirs = Bm25Index(data.path / "bm25"), bm25s.BM25.load(str(data.path / "bm25"))
    assert ours.vocab_dict == theirs.vocab_dict
    for name in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(ours.scores[name], theirs.scores[name])
    columns = len(ours.scores["indptr"]) - 1
    vocab = [t for t, i in ours.vocab_dict.items() if i < columns]
    for terms in (["北京"], ["专利", "授权", "专利"], vocab[:40], vocab[-7:] + ["不在词表里的词"]):
        known = [t for t in terms if t in theirs.vocab_dict]
        np.testing.assert_array_equal(ours.get_scores(terms), theirs.get_scores(known))
    # a vocabulary entry without a column ("" in bm25s's) scores nothing instead of raising
    empty = [t for t, i in ours.vocab_dict.items() if i >= columns]
    assert not ours.get_scores(empty).any()


def test_bm25_reader_refuses_a_method_it_does_not_score(tmp_path):
    (tmp_path / "params.index.json").write_text(json.dumps({"method": "bm25+", "num_docs": 1}))
    with pytest.raises(ValueError, match="bm25"):
        Bm25Index(tmp_path)
