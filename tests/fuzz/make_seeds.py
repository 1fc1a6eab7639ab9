#!/usr/bin/env python3
"""Remakes the fuzzers' seed corpora in tests/fuzz/corpus/<parser>/ (tests/fuzz/README.md says
where each seed comes from). Deterministic: running it again gives the same files (except the
HDF5 results files, whose timestamps differ).

  make_seeds.py [PARSER...]     default: every parser

Copies of test fixtures need nothing; `gguf` needs the gguf package and `results` needs
h5py and numpy (the project's .venv has all three: .venv/bin/python tests/fuzz/make_seeds.py).
Seeds stay small (a few KB; libFuzzer mutates faster on small inputs): big fixtures are cut
down to a few of their tensors, results files to a 2 x 2 grid of a few examples.
"""
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")
CORPUS = os.path.join(HERE, "corpus")


def out(parser, name, content):
    d = os.path.join(CORPUS, parser)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(content.encode() if isinstance(content, str) else content)


def copy(parser, name, src):
    with open(os.path.join(ROOT, src), "rb") as f:
        out(parser, name, f.read())


# ---- safetensors ------------------------------------------------------------------

def st_bytes(header, data):
    """A safetensors file: u64 header length, the header padded with spaces to 8 bytes, data."""
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def st_cut(path, keep):
    """The tensors named in `keep` of a real safetensors file, their bytes unchanged."""
    with open(os.path.join(ROOT, path), "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    new, data = {}, b""
    if "__metadata__" in header:
        new["__metadata__"] = header["__metadata__"]
    for name in keep:
        t = header[name]
        b, e = t["data_offsets"]
        new[name] = dict(dtype=t["dtype"], shape=t["shape"], data_offsets=[len(data), len(data) + e - b])
        data += raw[base + b:base + e]
    return st_bytes(new, data)


def safetensors():
    out("safetensors", "tiny-gpt2-ln_f", st_cut("tests/data/fixtures/tiny-gpt2/model.safetensors",
                                                ["transformer.ln_f.bias", "transformer.ln_f.weight"]))
    out("safetensors", "tiny-phi-fp16-norms", st_cut(
        "tests/data/fixtures/tiny-phi-fp16-sharded/model-00002-of-00002.safetensors",
        ["model.final_layernorm.bias", "model.final_layernorm.weight"]))
    out("safetensors", "tiny-gpt2-reference-ids", st_cut("tests/data/fixtures/tiny-gpt2/reference.safetensors",
                                                         ["input_ids", "targets", "loss"]))
    out("safetensors", "empty-header", st_bytes({}, b""))
    out("safetensors", "dtypes", st_bytes({
        "__metadata__": {"format": "pt"},
        "b": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]},
        "bf": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [3, 7]},
        "e": {"dtype": "F32", "shape": [0, 4], "data_offsets": [7, 7]},
        "s": {"dtype": "I64", "shape": [], "data_offsets": [7, 15]},
        "f8": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [15, 16]}}, bytes(range(16))))


def safetensors_index():
    copy("safetensors_index", "tiny-phi-fp16-sharded", "tests/data/fixtures/tiny-phi-fp16-sharded/model.safetensors.index.json")
    # The shards fuzz_safetensors_index.cpp writes beside the index: a right index and two wrong ones.
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    out("safetensors_index", "matching", json.dumps(
        {"metadata": {"total_size": 28}, "weight_map": {"a": s1, "b": s2, "c": s2}}, indent=2))
    out("safetensors_index", "wrong-shard", json.dumps({"weight_map": {"a": s2, "b": s2, "c": s2}}))
    out("safetensors_index", "path-outside", json.dumps({"weight_map": {"a": "../" + s1, "b": s2, "c": s2}}))


# ---- config.json ------------------------------------------------------------------

SMOLLM2_LIKE = {  # tests/core/io_hf_config_test.cpp smollm2_like()
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576,
    "intermediate_size": 1536, "num_attention_heads": 9, "num_key_value_heads": 3,
    "num_hidden_layers": 30, "max_position_embeddings": 8192, "vocab_size": 49152,
    "hidden_act": "silu", "rms_norm_eps": 1e-05, "rope_theta": 100000, "rope_scaling": None,
    "tie_word_embeddings": True, "attention_bias": False, "mlp_bias": False,
    "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}


def hf_config():
    copy("hf_config", "tiny-gpt2", "tests/data/fixtures/tiny-gpt2/config.json")
    copy("hf_config", "tiny-phi", "tests/data/fixtures/tiny-phi/config.json")
    out("hf_config", "smollm2-like", json.dumps(SMOLLM2_LIKE, indent=2))
    out("hf_config", "mistral-like", json.dumps(dict(SMOLLM2_LIKE, model_type="mistral", sliding_window=4096,
                                                     architectures=["MistralForCausalLM"])))


# ---- tokenizer files --------------------------------------------------------------

def byte_tokens():
    """GPT-2's bytes_to_unicode (openai/gpt-2 src/encoder.py): byte b's token string."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, (chr(c) for c in cs)))
    return [table[b] for b in range(256)]


def small_bpe():
    """256 byte tokens + the results of the first merges of GPT-2's merges.txt that build on them."""
    vocab = {t: i for i, t in enumerate(byte_tokens())}
    merges = []
    with open(os.path.join(ROOT, "examples", "gpt2-tokenizer", "merges.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#version") or not line.strip():
                continue
            a, b = line.rstrip("\n").split(" ")
            if a in vocab and b in vocab and a + b not in vocab:
                vocab[a + b] = len(vocab)
                merges.append((a, b))
            if len(merges) == 24:
                break
    return vocab, merges


def tokenizer_files():
    vocab, merges = small_bpe()
    eot = len(vocab)
    vj = json.dumps(vocab, ensure_ascii=False)
    mt = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    added = json.dumps({"<|endoftext|>": eot})
    config = json.dumps({"added_tokens_decoder": {str(eot): {"content": "<|endoftext|>", "special": True},
                                                  str(eot + 1): {"content": "<pad>", "special": False}}})
    # Layout (fuzz_tokenizer_files.cpp): a mode byte (even: vocab.json + merges.txt, odd: tokenizer.json),
    # then the files separated by NUL bytes.
    out("tokenizer_files", "slow", "\x00" + vj + "\x00" + mt)
    out("tokenizer_files", "slow-added", "\x00" + vj + "\x00" + mt + "\x00" + added + "\x00" + config)
    fast = {"version": "1.0", "added_tokens": [{"id": eot, "content": "<|endoftext|>", "special": True}],
            "model": {"type": "BPE", "vocab": vocab, "merges": [[a, b] for a, b in merges]}}
    out("tokenizer_files", "fast-pairs", "\x01" + json.dumps(fast, ensure_ascii=False))
    fast["model"]["merges"] = [f"{a} {b}" for a, b in merges]
    out("tokenizer_files", "fast-strings-config", "\x01" + json.dumps(fast, ensure_ascii=False) + "\x00" + added + "\x00" + config)
    # Once overflowed the stack (at 200000 levels) when the error message printed the entry; now
    # refused while parsing (core/io/strict_json.h kMaxJsonDepth). 70 levels keep the seed small.
    out("tokenizer_files", "regression-deep-merge-entry",
        '\x01{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [' + "[" * 70 + "]" * 70 + "]}}")


def bpe_encode():
    with open(os.path.join(DATA, "gpt2-bpe-reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    cases = ref["cases"] if isinstance(ref, dict) and "cases" in ref else ref
    texts = [c["text"] if isinstance(c, dict) else c[0] for c in cases]
    picked = [t for t in texts if 0 < len(t.encode()) <= 200][:8]
    for i, t in enumerate(picked):
        out("bpe_encode", f"gpt2-reference-{i}", t)


# ---- grid, jsonl ------------------------------------------------------------------

def grid():
    for name in ["good", "minimal", "bad_syntax", "bad_unknown_key", "bad_p_range"]:
        copy("grid", name, f"tests/data/grids/{name}.toml")
    copy("grid", "tiny-gpt2", "examples/tiny-gpt2.toml")
    copy("grid", "demo", "examples/demo.toml")


def jsonl_regressions():
    # nlohmann throws out_of_range (not parse_error) for a number no double holds: it escaped
    # parse_jsonl as an internal error (experiments/jsonl.cpp now catches every json exception).
    out("jsonl", "regression-number-overflow",
        '{"idx": 0, "premise": "p", "hypothesis": "h", "label": "neutral"}\n'
        '{"idx": 1e999, "premise": "p", "hypothesis": "h", "label": "neutral"}\n')


def jsonl():
    copy("jsonl", "cb-val", "tests/data/superglue/CB/val.jsonl")
    copy("jsonl", "copa-val", "tests/data/superglue/COPA/val.jsonl")
    copy("jsonl", "rte-val", "tests/data/superglue/RTE/val.jsonl")
    copy("jsonl", "invalid-utf8", "tests/data/superglue/malformed/invalid-utf8.jsonl")
    copy("jsonl", "not-object", "tests/data/superglue/malformed/not-object.jsonl")
    jsonl_regressions()


# ---- GGUF -------------------------------------------------------------------------

def gguf_seeds():
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as Q

    d = os.path.join(CORPUS, "gguf")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(5)

    def write(name, fill, arch="llama"):
        path = os.path.join(d, name)
        w = gguf.GGUFWriter(path, arch)
        fill(w)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()

    def tokenizer(w, pre):
        vocab, merges = small_bpe()
        tokens = sorted(vocab, key=vocab.get) + ["<|im_start|>", "<|im_end|>"]
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types([1] * (len(tokens) - 2) + [3, 3])
        w.add_token_merges([f"{a} {b}" for a, b in merges])
        w.add_bos_token_id(len(tokens) - 2)
        w.add_eos_token_id(len(tokens) - 1)
        w.add_add_bos_token(False)

    def llama(w):  # a 1-layer Llama shaped like SmolLM2's keys (gguf_config.cpp)
        w.add_context_length(64)
        w.add_embedding_length(32)
        w.add_block_count(1)
        w.add_feed_forward_length(64)
        w.add_head_count(4)
        w.add_head_count_kv(2)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_rope_freq_base(10000.0)
        w.add_rope_dimension_count(8)
        tokenizer(w, "smollm")
        w.add_tensor("token_embd.weight", gguf.quants.quantize(rng.normal(size=(2, 32)).astype(np.float32), Q.Q4_1),
                     raw_dtype=Q.Q4_1)
        w.add_tensor("blk.0.attn_norm.weight", rng.normal(size=32).astype(np.float32))
        w.add_tensor("blk.0.attn_k.weight", rng.normal(size=(2, 32)).astype(np.float16))
        w.add_tensor("blk.0.attn_q.weight", gguf.quants.quantize(rng.normal(size=(1, 32)).astype(np.float32), Q.Q8_0),
                     raw_dtype=Q.Q8_0)

    def metadata_only(w):
        w.add_string("general.name", "fuzz seed")
        w.add_uint32("general.alignment", 64)
        w.add_array("x.ints", [1, 2, 3])
        w.add_array("x.strings", ["a", "bc"])
        w.add_float64("x.f64", 0.5)
        w.add_bool("x.flag", True)
        w.add_tensor("t", np.arange(8, dtype=np.float32))

    write("llama-tiny.gguf", llama)
    write("metadata-align64.gguf", metadata_only, arch="none")
    write("gpt2-tokenizer-only.gguf", lambda w: tokenizer(w, "gpt-2"), arch="gpt2")


# ---- results files ----------------------------------------------------------------

def results():
    """Two small files in the results layout of docs/results-format.md (version 1), written by
    tests/analysis/make_results.py (the analysis tests' generator) cut down to a few examples
    and one layer: a fine-tuned model's done cell and its error cell; and one done cell without
    macro_f1 (the older layout)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "analysis"))
    import make_results as mr
    mr.TASKS = [("int-sum", 20, 4, 2, "full-vocab", None), ("cb", 12, 3, 0, "choices", 3)]
    mr.PS = [0.1, 0.3]
    mr.P = 2
    mr.set_shape(1, 1, 4)
    d = os.path.join(CORPUS, "results")
    os.makedirs(d, exist_ok=True)
    mr.MODELS = ["tiny-ft"]
    mr.write_file(os.path.join(d, "finetuned-and-error-cell.h5"), seed=1)
    mr.MODELS, mr.TASKS = ["tiny"], mr.TASKS[:1]
    one = os.path.join(d, "one-cell-no-macro-f1.h5")
    mr.write_file(one, seed=2, with_macro_f1=False)
    # Attributes that are arrays where the reader expects one value: runner/h5_util.cpp's
    # read_*_attr read them into a one-value buffer (a stack-buffer-overflow in the reading child).
    import h5py
    import numpy as np
    bad = os.path.join(d, "regression-attribute-arrays.h5")
    shutil.copyfile(one, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs.create("world_size", np.arange(64, dtype="<i8"))
        f.attrs.create("git_commit", np.array([b"abcdefgh"] * 64, dtype="S8"))
        next(iter(f["cells"].values())).attrs.create("index", np.arange(64, dtype="<i8"))


ALL = dict(safetensors=safetensors, safetensors_index=safetensors_index, hf_config=hf_config,
           tokenizer_files=tokenizer_files, bpe_encode=bpe_encode, grid=grid, jsonl=jsonl, gguf=gguf_seeds,
           results=results)

if __name__ == "__main__":
    for name in sys.argv[1:] or ALL:
        ALL[name]()
        print(f"{name}: {len(os.listdir(os.path.join(CORPUS, name)))} seeds")
