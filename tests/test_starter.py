"""The starter library of corpus/ (issue 18): what a fresh clone indexes and what its chat
examples show. Runs without ../shared."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from assistant import Assistant

from .conftest import ROOT

pytestmark = pytest.mark.slow

CORPUS = ROOT / "corpus"


def test_every_document_has_a_sidecar_with_its_source_and_licence():
    docs = sorted(p for p in CORPUS.iterdir() if p.suffix == ".txt")
    assert len(docs) == 21
    for p in docs:
        meta = json.loads(p.with_name(p.name + ".meta.json").read_text("utf-8"))
        assert meta["title"] and meta["language"] in ("zh", "en"), p.name
        if p.name.startswith("beijing-international"):
            continue                                    # the seed article: its authors instead
        assert {"issuer", "date", "source_url", "provenance", "licence"} <= set(meta), p.name
        assert meta["source_url"].startswith(("https://github.com/", "http://www.gov.cn/")), p.name
        assert "Art. 5" in meta["licence"], p.name
    # The library's README describes it and stays out of the index.
    assert json.loads((CORPUS / "README.md.meta.json").read_text("utf-8"))["index"] is False


def test_every_chat_example_is_answered_and_cited(full_index, cache_dir):
    from app import gradio_app as ui
    _, _, data = full_index
    a = Assistant.open(data.path.parent, cache_path=cache_dir / "embeddings.sqlite")
    for q in ui.EXAMPLES:
        ans = a.ask(q)
        assert ans.found and ans.citations, q
        for c in ans.citations:
            assert a.document(c.doc_id).text[c.start:c.end] == c.text
        if ans.table is not None:                       # the comparison: every side answered
            assert all(r.found and r.citations for r in ans.table.rows), q


def test_a_fresh_clone_ingests_the_starter_library_and_answers(tmp_path, cache_dir):
    """A copy of the repository with no ../shared beside it: `policyqa ingest corpus` (the
    first step of `make run`) and the examples, run from the copy's own code."""
    clone = tmp_path / "clone" / "policyqa"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = [f for f in listed.decode().split("\0") if f]
    if not files:
        pytest.skip("not a git checkout")
    for f in files:
        if (ROOT / f).is_file():
            (clone / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, clone / f)
    # Files of this change that are not committed yet count too (a test run before a commit).
    for p in CORPUS.iterdir():
        if not (clone / "corpus" / p.name).exists():
            shutil.copy2(p, clone / "corpus" / p.name)
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "PYTHONPATH": str(clone), "POLICYQA_CACHE_DIR": str(cache_dir)}
    cli = [sys.executable, "-m", "cli"]
    p = subprocess.run(cli + ["ingest", "corpus", "--index", "idx", "--quiet"], cwd=clone, env=env,
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stderr[-2000:]
    script = ("import json, os\nfrom app import gradio_app as ui\nfrom assistant import Assistant\nimport assistant\n"
              "from ingest.settings import Settings, configure\n"
              "s = configure(Settings.from_env(os.environ))\n"
              "a = Assistant.open('idx', cache_path=s.cache_path)\n"
              "print(json.dumps({'module': assistant.__file__, 'docs': len(a.documents()),"
              " 'answers': [a.ask(q).found for q in ui.EXAMPLES]}))\n")
    p = subprocess.run([sys.executable, "-c", script], cwd=clone, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got["module"].startswith(str(clone))          # the copy's code, not this checkout's
    assert got["docs"] == 21 and all(got["answers"]), got
