#!/usr/bin/env python3
"""A second opinion on the GGUF file from llama.cpp itself (llama-cpp-python, PyPI).

transformers (tests/reference/hf_live_parity.py) dequantizes the file to fp32 and runs the
same arithmetic as eprunner, so it agrees to 1e-5. llama.cpp runs the quantized weights
directly (Q4_1 / Q8_0 blocks times activations quantized to 8 bits), so its logits differ
by its rounding: this check is looser and asks what matters to eigenpruning: the same
argmax where the task's answers are read.

On task prompts (a seeded sample of INT-SUM and INT-MULT, each followed by its answer but
the last token, i.e. the teacher-forced input eprunner scores), tokenized by llama.cpp,
it runs `eprunner logits --model FILE.gguf` on one left-padded batch and llama.cpp on each
sequence, and compares the logits at every position that predicts an answer token:

  * relative error max|ours - llama.cpp| / max|llama.cpp| over a sequence's answer
    positions <= 8e-2 (measured: median 2.3e-2, max 5.2e-2);
  * the same top-1 token at every such position, except near ties: where llama.cpp's top
    two logits are closer than twice the largest |ours - llama.cpp| at that position,
    either order is within the two programs' rounding (counted and printed).

  llama_cpp_logits.py EPRUNNER_BIN GGUF WORKDIR [--n 96]
Prints the measured numbers; exits 1 on a failure.
"""
import argparse
import os
import random
import subprocess
import sys

import numpy as np
import torch
from safetensors.numpy import load_file
from safetensors.torch import save_file

from llama_cpp import Llama

# Measured on 200 sequences (676 answer positions): max 5.2e-2, median per sequence 2.3e-2;
# 28 near ties (llama.cpp's top-2 gap 0.01-0.2 logits at a scale of ~35), no clear difference.
REL_TOL = 8e-2


def task_sequences(rng, n):
    """(prompt, answer) text pairs: the paper's INT-SUM and INT-MULT templates."""
    pairs = [(f"{i} + {j} =", f" {i + j}") for i in range(100) for j in range(100)]
    mult = [(f"{i} x {j} =", f" {i * j}") for i in range(20) for j in range(20)]
    return rng.sample(pairs, n // 2) + rng.sample(mult, n - n // 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eprunner")
    ap.add_argument("gguf")
    ap.add_argument("workdir")
    ap.add_argument("--n", type=int, default=96)
    ap.add_argument("--seed", type=int, default=20261202)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    llm = Llama(model_path=a.gguf, n_ctx=64, n_batch=64, logits_all=True, n_threads=2, verbose=False)

    seqs, answer_lens = [], []
    for prompt, answer in task_sequences(random.Random(a.seed), a.n):
        p = llm.tokenize(prompt.encode(), add_bos=False, special=False)
        t = llm.tokenize(answer.encode(), add_bos=False, special=False)
        seqs.append(p + t[:-1])
        answer_lens.append(len(t))

    # eprunner: one left-padded batch (its padding is exact, tests/cli/hf_parity.sh).
    B, T = len(seqs), max(len(s) for s in seqs)
    ids = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, T - len(s):] = torch.tensor(s)
        mask[b, T - len(s):] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    inp, out = os.path.join(a.workdir, "input.safetensors"), os.path.join(a.workdir, "logits.safetensors")
    save_file({"input_ids": ids, "attention_mask": mask, "position_ids": pos}, inp)
    run = subprocess.run([a.eprunner, "logits", "--model", a.gguf, "--input", inp, "--output", out, "--threads", "2"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(f"FAIL eprunner logits exited {run.returncode}: {run.stderr.strip()}")
        sys.exit(1)
    ours_all = load_file(out)["logits"]  # [B, T, V]

    worst, positions, differ, near_ties = 0.0, 0, [], 0
    errs = []
    for b, s in enumerate(seqs):
        llm.reset()
        llm.eval(s)
        theirs = np.asarray(llm.scores[: len(s)], dtype=np.float64)  # [len, V]
        ours = ours_all[b, T - len(s):].astype(np.float64)
        k = answer_lens[b]
        rows = range(len(s) - k, len(s))  # the positions that predict the answer's tokens
        err = np.abs(ours[rows] - theirs[rows]).max() / np.abs(theirs[rows]).max()
        worst = max(worst, err)
        errs.append(err)
        for r in rows:
            positions += 1
            top2 = np.sort(theirs[r])[-2:]
            if ours[r].argmax() == theirs[r].argmax():
                continue
            # Each logit may move by up to this position's max |ours - llama.cpp|; a top-2
            # gap under twice that is a near tie either side may order either way.
            if top2[1] - top2[0] <= 2 * np.abs(ours[r] - theirs[r]).max():
                near_ties += 1
            else:
                differ.append((b, r, int(ours[r].argmax()), int(theirs[r].argmax()), float(top2[1] - top2[0])))

    print("per-sequence relative error: median %.2e, 90%% %.2e" % (np.median(errs), np.percentile(errs, 90)))
    print(f"llama.cpp vs eprunner on {B} task sequences, {positions} answer positions: max relative error "
          f"{worst:.2e} (tol {REL_TOL:g}); top-1 differs at {len(differ)} clear and {near_ties} near-tie positions")
    ok = worst <= REL_TOL and not differ
    for b, r, o, t, gap in differ:
        print(f"FAIL sequence {b} position {r}: eprunner top-1 {o}, llama.cpp {t} (llama.cpp's top-2 gap {gap:.3f})")
    print("llama_cpp_logits:", "ok" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
