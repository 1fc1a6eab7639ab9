#!/usr/bin/env python3
"""Write a demo-sized eprunner results file with made-up numbers, in the exact layout
of runner/results_h5.cpp (h5_util.cpp for types, chunking and compression).

For the analysis tests while `eprunner run` cannot produce a file; tests/cli/analysis.sh
prefers the real runner when it has one. The file holds a 2 x 3 grid (models tiny and
tiny-ft, tasks int-mult, int-sum, cb) on matrices k (per head) and mlp_in (whole
matrix), p = 0.01, 0.05, 0.1, 0.3; int-mult has a validation split; tiny-ft x cb is
an error cell. Everything is drawn from a seeded generator and is self-consistent:
accuracy = sum(correct) / n, predicted == target exactly where correct, macro_f1 is
the macro F1 of predicted vs target over CB's 3 classes (experiments/class_metrics.cpp;
NaN for the integer tasks), masks freeze the int(N p) lowest ΔL of all N components
(ties to the lower flat index).

Usage: make_results.py OUT.h5 [--seed N] [--layers L --heads H --hidden D] [--no-macro-f1]
       (default 2, 2, 32; bigger shapes, e.g. 48, 25, 1600 as GPT2-XL, check that the plots
       stay readable; --no-macro-f1: a file as written before splits had macro_f1)
"""

import argparse
import datetime
import os

import h5py
import numpy as np

FORMAT = "eprunner-results"
FORMAT_VERSION = 1
COMPRESS_ABOVE = 64 * 1024  # h5_util.cpp kCompressAbove
CHUNK_BYTES = 1 << 20       # h5_util.cpp kChunkBytes
VOCAB = 50257

GRID = """# made by tests/analysis/make_results.py
seed = {seed}
output = "results.h5"

[[models]]
name = "tiny"
tokenizer = "examples/gpt2-tokenizer"
[models.init]
arch = "gpt2"
layers = 2
hidden = 32
heads = 2
max_positions = 32

[[models]]
name = "tiny-ft"
tokenizer = "examples/gpt2-tokenizer"
[models.init]
arch = "gpt2"
layers = 2
hidden = 32
heads = 2
max_positions = 32
[models.finetune]
lr = 1e-3
batch_size = 8

[[tasks]]
kind = "int-mult"
[tasks.split]
validation_fraction = 0.1

[[tasks]]
kind = "int-sum"

[[tasks]]
kind = "cb"
data_dir = "superglue/CB"
metric = "choices"

[eigenprune]
matrices = ["k", "mlp_in"]
p = [0.01, 0.05, 0.1, 0.3]
"""

# (task, examples in all, test n, validation n, metric, answer classes)
TASKS = [("int-mult", 400, 80, 32, "full-vocab", None), ("int-sum", 10000, 2000, 0, "full-vocab", None),
         ("cb", 306, 56, 0, "choices", 3)]
MODELS = ["tiny", "tiny-ft"]
PS = [0.01, 0.05, 0.1, 0.3]
L, HEADS, HIDDEN, INTER, P = 2, 2, 32, 128, 8


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- h5_util.cpp, in h5py --------------------------------------------------------

def attr(obj, name, value):
    if isinstance(value, str):
        obj.attrs.create(name, value, dtype=h5py.string_dtype("utf-8"))  # scalar, variable length, UTF-8
    elif isinstance(value, (bool, int, np.integer)):
        obj.attrs.create(name, np.int64(value), dtype="<i8")
    else:
        obj.attrs.create(name, np.float64(value), dtype="<f8")


def array(parent, name, a, dtype):
    a = np.ascontiguousarray(a, dtype=dtype)
    if a.size == 0:  # empty arrays are not written
        return
    kw = {}
    if a.nbytes > COMPRESS_ABOVE and a.ndim > 0:
        row = a.nbytes // a.shape[0]
        chunk = (max(1, min(a.shape[0], CHUNK_BYTES // max(row, 1))),) + a.shape[1:]
        kw = dict(chunks=chunk, shuffle=True, compression="gzip", compression_opts=4)
    parent.create_dataset(name, data=a, dtype=dtype, **kw)


# ---- results_h5.cpp ----------------------------------------------------------------

WITH_MACRO_F1 = True  # False: the layout before macro_f1 was added


def write_split(parent, name, s):
    g = parent.create_group(name)
    attr(g, "metric", s["metric"])
    attr(g, "accuracy", float(s["accuracy"]))
    if WITH_MACRO_F1:
        attr(g, "macro_f1", float(s["macro_f1"]))
    attr(g, "loss", float(s["loss"]))
    attr(g, "n", int(s["n"]))
    array(g, "predicted", s["predicted"], "<i8")
    array(g, "correct", s["correct"], "u1")


def empty_split():
    return dict(metric="", accuracy=float("nan"), macro_f1=float("nan"), loss=float("nan"), n=0, predicted=[],
                correct=[])


def write_cell(cells, c, run):
    g = cells.create_group(c["name"])
    for k in ["index", "name", "model", "task", "fingerprint", "error", "ran_on"]:
        attr(g, k, c[k])
    attr(g, "run", run)
    attr(g, "examples", c["examples"])
    attr(g, "written_at", now())
    ex = g.create_group("examples")
    for k in ["test_ids", "test_targets", "validation_ids", "validation_targets"]:
        array(ex, k, c[k], "<i8")
    base = g.create_group("base")
    write_split(base, "test", c["base"]["test"])
    write_split(base, "validation", c["base"]["validation"])
    pruned = g.create_group("pruned")
    for i, r in enumerate(c["pruned"]):
        rg = pruned.create_group(str(i))
        attr(rg, "p", float(r["p"]))
        attr(rg, "n_frozen", r["n_frozen"])
        write_split(rg, "test", r["test"])
        write_split(rg, "validation", r["validation"])
        mg = rg.create_group("masks")
        for m in sorted(r["masks"]):
            array(mg, m, r["masks"][m], "u1")
    array(g, "p", [r["p"] for r in c["pruned"]], "<f8")
    sg = g.create_group("scores")
    for m in sorted(c["scores"]):
        s = sg.create_group(m)
        array(s, "delta_loss", c["scores"][m]["delta_loss"], "<f4")
        array(s, "singular_values", c["scores"][m]["singular_values"], "<f4")
        array(s, "activation_mean", c["scores"][m]["activation_mean"], "<f4")
        array(s, "position_count", c["scores"][m]["position_count"], "<i8")
    array(g, "finetune_loss", c["finetune_loss"], "<f4")
    t = g.create_group("timings")
    for k in sorted(c["timings"]):
        attr(t, k, float(c["timings"][k]))
    attr(g, "status", c["status"])


def provenance(obj, prov):
    for k in ["grid", "grid_path", "eprunner_version", "git_commit", "command_line"]:
        attr(obj, k, prov[k])
    attr(obj, "world_size", prov["world_size"])
    for k in ["devices", "hosts", "torch_version", "mpi_version", "hdf5_version", "started_at", "ended_at"]:
        attr(obj, k, prov[k])


# ---- made-up but self-consistent cells ---------------------------------------------

def make_split(rng, metric, n, targets, u, acc, classes):
    if n == 0:
        return empty_split()
    correct = (np.clip(u + rng.normal(0, 0.15, n), 0, 1) < acc).astype(np.uint8)
    wrong = rng.integers(0, classes or VOCAB, n)
    wrong = np.where(wrong == targets, (wrong + 1) % (classes or VOCAB), wrong)
    predicted = np.where(correct == 1, targets, wrong)
    return dict(metric=metric, accuracy=int(correct.sum()) / n,
                macro_f1=macro_f1(predicted, targets, classes) if classes else float("nan"),
                loss=float(rng.uniform(1.5, 6.0)), n=n, predicted=predicted, correct=correct)


def macro_f1(predicted, targets, classes):
    """Mean over classes of the one-vs-rest F1 (0 for a class never predicted nor true)."""
    f1 = []
    for c in range(classes):
        tp = int(np.sum((predicted == c) & (targets == c)))
        fp = int(np.sum((predicted == c) & (targets != c)))
        fn = int(np.sum((predicted != c) & (targets == c)))
        f1.append(2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0)
    return sum(f1) / classes


def make_scores(rng, layer_shift):
    out = {}
    for m, B, R, I in [("k", HEADS, HIDDEN // HEADS, HIDDEN), ("mlp_in", 1, HIDDEN, HIDDEN)]:
        sv = np.sort(np.exp(rng.normal(0, 0.7, (L, B, R))), axis=-1)[..., ::-1] * (1 + np.arange(L))[:, None, None]
        dl = rng.normal(0, 0.02, (L, B, R)) - 0.01 * layer_shift * np.arange(L)[:, None, None] - 0.005 / sv
        out[m] = dict(delta_loss=dl.astype(np.float32), singular_values=sv.astype(np.float32),
                      activation_mean=rng.normal(0, 1, (L, P, I)).astype(np.float32),
                      position_count=np.array([40] * (P - 2) + [38, 12], dtype=np.int64))
    return out


def masks_for(scores, p):
    names = sorted(scores)
    flat = np.concatenate([scores[m]["delta_loss"].ravel() for m in names])
    N = flat.size
    n_frozen = int(N * p)
    frozen = np.zeros(N, dtype=np.uint8)
    frozen[np.argsort(flat, kind="stable")[:n_frozen]] = 1
    masks, at = {}, 0
    for m in names:
        shape = scores[m]["delta_loss"].shape
        size = int(np.prod(shape))
        masks[m] = frozen[at:at + size].reshape(shape)
        at += size
    return n_frozen, masks


def make_cell(rng, index, model, task):
    name = f"{model}__{task[0]}"
    kind, total, n_test, n_val, metric, classes = task
    c = dict(index=index, name=name, model=model, task=kind, fingerprint=f"{rng.integers(1 << 62):016x}",
             status="done", error="", ran_on="group 0: rank 0 on localhost", examples=0, finetune_loss=[],
             timings={})
    if model == "tiny-ft" and kind == "cb":
        c.update(status="error", examples=0, test_ids=[], test_targets=[], validation_ids=[], validation_targets=[],
                 base=dict(test=empty_split(), validation=empty_split()), pruned=[], scores={},
                 error="task cb: cannot read 'superglue/CB/val.jsonl': No such file or directory",
                 timings={"total": 0.25})
        return c
    ids = rng.permutation(total)
    c["test_ids"] = np.sort(ids[:n_test])
    c["validation_ids"] = np.sort(ids[n_test:n_test + n_val])
    c["test_targets"] = rng.integers(0, classes or VOCAB, n_test)
    c["validation_targets"] = rng.integers(0, classes or VOCAB, n_val)
    u_test, u_val = rng.uniform(0, 1, n_test), rng.uniform(0, 1, n_val)
    base_acc = rng.uniform(0.05, 0.5)
    c["base"] = dict(test=make_split(rng, metric, n_test, c["test_targets"], u_test, base_acc, classes),
                     validation=make_split(rng, metric, n_val, c["validation_targets"], u_val, base_acc, classes))
    c["scores"] = make_scores(rng, 1 + index % 3)
    c["pruned"] = []
    peak = rng.choice(PS)
    for p in PS:
        n_frozen, masks = masks_for(c["scores"], p)
        acc = base_acc + (0.3 if p == peak else rng.uniform(-0.1, 0.1))
        c["pruned"].append(dict(
            p=p, n_frozen=n_frozen, masks=masks,
            test=make_split(rng, metric, n_test, c["test_targets"], u_test, acc, classes),
            validation=make_split(rng, metric, n_val, c["validation_targets"], u_val, acc, classes)))
    if model == "tiny-ft":
        steps = 40
        c["finetune_loss"] = (4.0 * np.exp(-np.arange(steps) / 12) + 1 + rng.normal(0, 0.1, steps)).astype(np.float32)
    c["examples"] = int(n_test + n_val) * (1 + len(PS)) + 64
    c["timings"] = {"load": 0.1, "score": 0.8, "evaluate": 0.6, "total": 1.6}
    if model == "tiny-ft":
        c["timings"]["finetune"] = 2.0
    return c


def set_shape(layers, heads, hidden):
    global L, HEADS, HIDDEN
    L, HEADS, HIDDEN = layers, heads, hidden


def write_file(out, seed=1, with_macro_f1=True):
    """The demo file at `out` (the shape set by set_shape)."""
    global WITH_MACRO_F1
    WITH_MACRO_F1 = with_macro_f1
    rng = np.random.default_rng(seed)
    started = now()
    prov = dict(grid=GRID.format(seed=seed), grid_path=os.path.abspath("grid.toml"),
                eprunner_version="0.1.0", git_commit="make_results.py",
                command_line=f"tests/analysis/make_results.py {out} --seed {seed}", world_size=1,
                devices="cpu x 1 rank", hosts="localhost", torch_version="", mpi_version="",
                hdf5_version=".".join(map(str, h5py.version.hdf5_version_tuple)), started_at=started, ended_at="")
    tmp = out + ".tmp"
    with h5py.File(tmp, "w") as f:
        attr(f, "format", FORMAT)
        attr(f, "format_version", FORMAT_VERSION)
        attr(f, "created_at", started)
        cells = f.create_group("cells")
        runs = f.create_group("runs")
        provenance(f, prov)
        attr(f, "updated_at", now())
        provenance(runs.create_group("0"), prov)
        index = 0
        for model in MODELS:
            for task in TASKS:
                write_cell(cells, make_cell(rng, index, model, task), 0)
                index += 1
        ended = now()
        attr(f, "ended_at", ended)
        attr(runs["0"], "ended_at", ended)
        attr(f, "updated_at", ended)
    os.replace(tmp, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--layers", type=int, default=L)
    ap.add_argument("--heads", type=int, default=HEADS)
    ap.add_argument("--hidden", type=int, default=HIDDEN)
    ap.add_argument("--no-macro-f1", action="store_true", help="the layout before splits had macro_f1")
    args = ap.parse_args()
    set_shape(args.layers, args.heads, args.hidden)
    write_file(args.out, args.seed, with_macro_f1=not args.no_macro_f1)


if __name__ == "__main__":
    main()
