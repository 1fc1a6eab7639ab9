#!/usr/bin/env python3
"""GPT-2 token ids from an implementation independent of eprunner: Hugging Face `tokenizers`
(Rust, PyPI, pinned in requirements.txt), configured as HF's gpt2 tokenizer.json is:
BPE(vocab.json, merges.txt) with the byte-level pre-tokenizer (GPT-2's regex, no prefix
space) and <|endoftext|> as a special token.

  hf_gpt2_tokenizer.py encode TOKDIR CHUNKS OUT   CHUNKS: UTF-8 texts separated by NUL bytes;
                                                  OUT: one line per text, ids separated by spaces
  hf_gpt2_tokenizer.py bench TOKDIR TEXT N        cuts the file into paragraphs, encodes them all N
                                                  times on one thread, prints one JSON line of timings
"""
import json
import os
import sys
import time

# One thread: tokenizers' batch API fans out over a rayon pool; single encode() calls do not,
# and the benchmark compares single-thread speed.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers


def load(tokdir):
    tok = Tokenizer(models.BPE.from_file(os.path.join(tokdir, "vocab.json"), os.path.join(tokdir, "merges.txt")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    return tok


def encode(tokdir, chunks_path, out_path):
    tok = load(tokdir)
    texts = open(chunks_path, "rb").read().decode("utf-8").split("\0")
    with open(out_path, "w") as out:
        for text in texts:
            out.write(" ".join(map(str, tok.encode(text, add_special_tokens=False).ids)) + "\n")


def paragraphs(text):
    """Text up to and including each blank line (what the cross-check test compares; the
    benchmark's C++ side cuts the same way). One 20 MB string is a pathological input for
    tokenizers (offset bookkeeping over the whole string), not the way anyone calls it."""
    chunks, start = [], 0
    while start < len(text):
        blank = text.find("\n\n", start)
        end = len(text) if blank < 0 else blank + 2
        chunks.append(text[start:end])
        start = end
    return chunks


def bench(tokdir, text_path, iterations):
    text = open(text_path, "rb").read().decode("utf-8")
    nbytes = len(text.encode("utf-8"))
    chunks = paragraphs(text)
    tok = load(tokdir)  # fresh: its cache is empty for the first pass, as eprunner's
    walls, cpus, tokens = [], [], 0
    for _ in range(iterations):
        w0, c0 = time.perf_counter(), time.thread_time()
        tokens = sum(len(tok.encode(c, add_special_tokens=False).ids) for c in chunks)
        cpus.append(time.thread_time() - c0)
        walls.append(time.perf_counter() - w0)
    print(json.dumps({"implementation": "tokenizers " + tokenizers.__version__, "bytes": nbytes, "chunks": len(chunks),
                      "tokens": tokens,
                      "first_mb_per_s": nbytes / walls[0] / 1e6, "best_mb_per_s": nbytes / min(walls) / 1e6,
                      "best_cpu_mb_per_s": nbytes / min(cpus) / 1e6}))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "encode":
        encode(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "bench":
        bench(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
