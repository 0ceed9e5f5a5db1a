"""The evaluation harness against a real index of the seed article.

The expected metrics are worked out here from the index's actual search results and
answers (with the hit rule written out independently), so the arithmetic is checked
exactly without pinning retrieval quality.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant import Assistant
from cli.main import EXIT_ERROR, EXIT_OK, main
from assistant.evaluate import (BadEvalFile, EvalReport, evaluate, format_table, is_hit,
                                load_questions)
from ingest.errors import PolicyQAError


QUESTIONS = [
    # Evidence written with stray spaces: whitespace is ignored on both sides.
    {"id": "t1", "lang": "zh", "question": "2022年北京专利授权量是多少？", "answerable": True,
     "evidence": ["专利授权量 20.3万件"], "answer_contains": ["20.3万"], "doc": "seed"},
    {"id": "t2", "lang": "en", "question": "How many patents were granted in Beijing in 2022?",
     "answerable": True, "evidence": ["专利授权量20.3万件"], "answer_contains": ["20.3 万"], "doc": "seed"},
    # Evidence that appears nowhere: never a hit, whatever is retrieved.
    {"id": "t3", "lang": "zh", "question": "北京研发经费投入强度是多少？", "answerable": True,
     "evidence": ["这句话在文章里根本不存在"], "answer_contains": ["6%"], "doc": "seed"},
    {"id": "t4", "lang": "zh", "question": "火星上有多少只企鹅？", "answerable": False,
     "evidence": [], "answer_contains": [], "doc": None},
    # "北京" is in nearly every passage, so the first hit is (almost surely) rank 1.
    {"id": "t5", "lang": "en", "question": "Beijing international science and technology innovation center",
     "answerable": True, "evidence": ["北京", "no such text"], "answer_contains": [], "doc": "seed"},
]


@pytest.fixture(scope="module")
def index(seed_index) -> Path:
    return seed_index


@pytest.fixture(scope="module")
def assistant(seed_assistant) -> Assistant:
    return seed_assistant


@pytest.fixture(scope="module")
def observed(assistant) -> dict:
    """id -> (first hit rank in the top 10, found, answer text), from the assistant directly."""
    out = {}
    for q in QUESTIONS:
        ev = [re.sub(r"\s", "", e) for e in q["evidence"]]
        rank = None
        if q["answerable"]:
            for h in assistant.search(q["question"], 10):
                if any(e in re.sub(r"\s", "", h.text) for e in ev):
                    rank = h.rank
                    break
        ans = assistant.ask(q["question"])
        out[q["id"]] = (rank, ans.found, ans.text)
    return out


@pytest.fixture(scope="module")
def report(assistant) -> EvalReport:
    return evaluate(assistant, QUESTIONS, k=5)


def _right(qid: str, observed: dict) -> bool:
    q = next(q for q in QUESTIONS if q["id"] == qid)
    _, found, text = observed[qid]
    if not q["answerable"]:
        return not found
    t = re.sub(r"\s", "", text)
    return found and all(re.sub(r"\s", "", s) in t for s in q["answer_contains"])


def test_per_question_details_match_the_assistant(report, observed):
    assert [r.id for r in report.questions] == ["t1", "t2", "t3", "t4", "t5"]
    for r in report.questions:
        rank, found, _ = observed[r.id]
        assert (r.rank, r.found, r.answer_ok) == (rank, found, _right(r.id, observed)), r.id
        assert r.search_ms > 0 and r.ask_ms > 0 and r.error == ""
    by_id = {r.id: r for r in report.questions}
    assert by_id["t3"].rank is None            # evidence found nowhere
    assert by_id["t4"].rank is None and not by_id["t4"].answerable
    assert by_id["t1"].rank is not None        # spaces in the evidence do not prevent a hit


def test_metric_arithmetic(report, observed):
    ranks = {qid: observed[qid][0] for qid in observed}
    found = {qid: observed[qid][1] for qid in observed}
    right = {qid: _right(qid, observed) for qid in observed}

    def recall(ids, at):
        return sum(1 for i in ids if ranks[i] is not None and ranks[i] <= at) / len(ids)

    def mrr(ids):
        return sum(1 / ranks[i] for i in ids if ranks[i] is not None) / len(ids)

    o = report.overall
    answerable = ["t1", "t2", "t3", "t5"]
    assert (o.questions, o.answerable, o.unanswerable) == (5, 4, 1)
    assert o.recall_at_1 == recall(answerable, 1)
    assert o.recall_at_5 == o.recall_at_k == recall(answerable, 5)
    assert o.recall_at_10 == recall(answerable, 10)
    assert o.recall_at_10 <= 0.75              # t3 can never be a hit
    assert o.mrr_at_10 == pytest.approx(mrr(answerable))
    assert o.answer_accuracy == sum(right.values()) / 5
    assert o.refusal_accuracy == (0.0 if found["t4"] else 1.0)
    assert o.false_refusals == sum(1 for i in answerable if not found[i])
    assert o.false_refusal_rate == o.false_refusals / 4

    assert sorted(report.by_lang) == ["en", "zh"]
    zh, en = report.by_lang["zh"], report.by_lang["en"]
    assert (zh.questions, zh.answerable, zh.unanswerable) == (3, 2, 1)
    assert (en.questions, en.answerable, en.unanswerable) == (2, 2, 0)
    assert zh.recall_at_1 == recall(["t1", "t3"], 1)
    assert zh.recall_at_10 == recall(["t1", "t3"], 10)
    assert en.recall_at_5 == recall(["t2", "t5"], 5)
    assert zh.mrr_at_10 == pytest.approx(mrr(["t1", "t3"]))
    assert en.mrr_at_10 == pytest.approx(mrr(["t2", "t5"]))
    assert en.refusal_accuracy is None          # no unanswerable English question to count
    assert en.answer_accuracy == (right["t2"] + right["t5"]) / 2
    assert zh.answer_accuracy == (right["t1"] + right["t3"] + right["t4"]) / 3


def test_latency_and_report_shape(report):
    lat = report.latency
    assert 0 < lat.search_median_ms <= lat.search_p95_ms
    assert 0 < lat.ask_median_ms <= lat.ask_p95_ms
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["k"] == 5 and set(d["by_lang"]) == {"en", "zh"} and len(d["questions"]) == 5
    assert d["questions"][2] == {**d["questions"][2], "id": "t3", "rank": None}
    with pytest.raises(AttributeError):
        report.k = 3                              # frozen
    table = format_table(report)
    for needle in ("Recall@1", "Recall@10", "MRR@10", "answer accuracy", "refusal accuracy",
                   "false refusals", "latency ms", "zh", "en", "t3"):
        assert needle in table


def test_headline_k_other_than_1_5_10(assistant, observed):
    rep = evaluate(assistant, QUESTIONS[:3], k=2)
    ranks = [observed[i][0] for i in ("t1", "t2", "t3")]
    assert rep.overall.recall_at_k == sum(1 for r in ranks if r is not None and r <= 2) / 3
    assert "Recall@2" in format_table(rep)
    with pytest.raises(ValueError):
        evaluate(assistant, QUESTIONS, k=0)


def test_hit_rule_ignores_all_whitespace():
    assert is_hit("专利授权量\n20.3 万件，比上年", ["专利授权量20.3万件"])
    assert is_hit("专利授权量20.3万件", ["专利\u3000授权量 20.3\t万件"])
    assert not is_hit("专利授权量20.3万件", ["专利授权量20.4万件"])
    assert not is_hit("anything", ["", "  "])        # an empty evidence string matches nothing


def test_cli_json_is_the_report(tmp_path, index, cache_dir, capsys, monkeypatch):
    monkeypatch.setenv("POLICYQA_CACHE_DIR", str(cache_dir))
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS) + "\n\n", encoding="utf-8")
    assert main(["eval", str(path), "--index", str(index), "--json", "-k", "5"]) == EXIT_OK
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    printed = json.loads(out)
    expected = evaluate(Assistant.open(index, cache_path=cache_dir / "embeddings.sqlite"),
                        load_questions(path), k=5).to_dict()

    def timeless(d):
        d = json.loads(json.dumps(d))
        d.pop("latency")
        for q in d["questions"]:
            q.pop("search_ms"), q.pop("ask_ms")
        return d
    assert timeless(printed) == timeless(expected)
    assert main(["eval", str(path), "--index", str(index)]) == EXIT_OK
    assert "MRR@10" in capsys.readouterr().out


@pytest.mark.parametrize("lines, where, words", [
    (['{"id": "a", "lang": "zh", "question": "x", "answerable": false}', '{"id": "b", "question": '],
     ":2:", "not valid JSON"),
    (['', '{"id": "a", "lang": "zh", "question": "x", "answerable": "yes"}'], ":2:", "answerable"),
    (['{"id": "a", "lang": "zh", "question": "x", "answerable": true, "evidence": []}'], ":1:", "evidence"),
    (['{"id": "a", "question": "x", "answerable": true, "evidence": "专利"}'], ":1:", "list of strings"),
    (['[1, 2]'], ":1:", "JSON object"),
    (['{"id": "a", "question": "x", "answerable": false}'] * 2, ":2:", "already used on line 1"),
])
def test_malformed_lines_are_named(tmp_path, lines, where, words):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BadEvalFile) as e:
        load_questions(path)
    assert isinstance(e.value, PolicyQAError)
    assert f"{path}{where}" in str(e.value) and words in str(e.value)


def test_missing_or_empty_file(tmp_path):
    with pytest.raises(BadEvalFile, match="no such question file"):
        load_questions(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(BadEvalFile, match="no questions"):
        load_questions(tmp_path / "empty.jsonl")


def test_cli_reports_the_bad_line(tmp_path, index, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "question": "x", "answerable": false}\nnot json\n', encoding="utf-8")
    assert main(["eval", str(path), "--index", str(index)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and err.startswith("policyqa: ")


class _Scripted:
    """Fixed results through the interface evaluate() uses (search, ask), so every metric
    below is worked out by hand. The real assistant is measured by the tests above."""
    def __init__(self, passages: dict[str, list[str]], answers: dict[str, tuple[bool, str]]):
        self.passages, self.answers = passages, answers

    def search(self, question, k=10):
        from assistant.types import Hit
        return [Hit(i, 1.0 / i, "d", "t", "", text, 0, len(text), None)
                for i, text in enumerate(self.passages.get(question, [])[:k], 1)]

    def ask(self, question):
        from assistant.types import Answer
        found, text = self.answers[question]
        return Answer(question, text, found, "extractive")


def test_metrics_of_a_hand_made_file():
    filler = [f"无关段落{i}" for i in range(12)]
    qs = [  # answerable: ranks 1, 3, 12 (beyond 10: a miss) and none; 2 unanswerable
        {"id": "a", "lang": "zh", "question": "qa", "answerable": True, "evidence": ["甲乙"], "answer_contains": ["甲"]},
        {"id": "b", "lang": "zh", "question": "qb", "answerable": True, "evidence": ["丙 丁"], "answer_contains": ["丙"]},
        {"id": "c", "lang": "en", "question": "qc", "answerable": True, "evidence": ["戊己"], "answer_contains": ["戊"]},
        {"id": "d", "lang": "en", "question": "qd", "answerable": True, "evidence": ["庚辛"], "answer_contains": ["庚"]},
        {"id": "u", "lang": "zh", "question": "qu", "answerable": False, "evidence": [], "answer_contains": []},
        {"id": "v", "lang": "en", "question": "qv", "answerable": False, "evidence": [], "answer_contains": []},
    ]
    passages = {"qa": ["这里有甲乙两字"] + filler, "qb": filler[:2] + ["丙丁"] + filler,
                "qc": filler[:11] + ["戊己"], "qd": filler}
    answers = {"qa": (True, "甲[1]"), "qb": (True, "答非所问[1]"), "qc": (True, "戊[1]"),
               "qd": (False, "没有"), "qu": (False, "没有"), "qv": (True, "瞎说[1]")}
    r = evaluate(_Scripted(passages, answers), qs, k=5, warm_up=False)
    o = r.overall
    assert (o.questions, o.answerable, o.unanswerable) == (6, 4, 2)
    assert (o.recall_at_1, o.recall_at_5, o.recall_at_10) == (1 / 4, 2 / 4, 2 / 4)
    assert o.mrr_at_10 == pytest.approx((1 + 1 / 3) / 4)
    # right: a (found, contains 甲), c (戊), u (refused); wrong: b, d (refused), v (answered)
    assert o.answer_accuracy == pytest.approx(3 / 6)
    assert o.refusal_accuracy == 1 / 2 and o.false_refusals == 1 and o.false_refusal_rate == 1 / 4
    zh, en = r.by_lang["zh"], r.by_lang["en"]
    assert (zh.recall_at_1, zh.recall_at_5, zh.mrr_at_10) == (1 / 2, 1.0, pytest.approx((1 + 1 / 3) / 2))
    assert (en.recall_at_10, en.mrr_at_10, en.false_refusals, en.refusal_accuracy) == (0.0, 0.0, 1, 0.0)
    assert zh.answer_accuracy == pytest.approx(2 / 3) and en.answer_accuracy == pytest.approx(1 / 3)
    assert [q.rank for q in r.questions] == [1, 3, None, None, None, None]
