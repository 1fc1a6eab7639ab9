"""Compares two eprunner results files cell by cell (used by tests/cli/grid_ranks.sh).

usage: compare_results.py A.h5 B.h5 --sum-rtol R --score-rtol S [--acc-atol T]

Exact (unless a tolerance is given): every split's accuracy and per-example
predictions, the frozen masks, the ΔL maxima (score-rtol: 0 = exact), singular
values. Within sum-rtol: activation means (float64 sums, summed in another order
on another number of ranks). Prints the first difference and exits 1.
"""
import argparse
import sys

import h5py
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # format 2 strings are fixed-length (bytes)
import numpy as np


def fail(msg):
    print("compare_results: " + msg)
    sys.exit(1)


def close(name, a, b, rtol):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        fail(f"{name}: shape {a.shape} vs {b.shape}")
    if rtol == 0:
        if not np.array_equal(a, b):
            i = int(np.argmax(a.ravel() != b.ravel()))
            fail(f"{name}: differs at flat index {i}: {a.ravel()[i]!r} vs {b.ravel()[i]!r}")
        return
    scale = max(np.max(np.abs(b)) if b.size else 0.0, 1e-30)
    err = np.max(np.abs(a - b)) / scale if a.size else 0.0
    if err > rtol:
        i = int(np.argmax(np.abs(a - b).ravel()))
        fail(f"{name}: relative error {err:.3e} > {rtol:g} (worst at {i}: {a.ravel()[i]!r} vs {b.ravel()[i]!r})")


def compare_split(name, a, b, acc_atol):
    if abs(a.attrs["accuracy"] - b.attrs["accuracy"]) > acc_atol:
        fail(f"{name}: accuracy {a.attrs['accuracy']} vs {b.attrs['accuracy']}")
    if acc_atol == 0:
        close(name + "/predicted", a["predicted"][()], b["predicted"][()], 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--sum-rtol", type=float, required=True)
    ap.add_argument("--score-rtol", type=float, default=0.0)
    ap.add_argument("--acc-atol", type=float, default=0.0)
    args = ap.parse_args()
    with h5py.File(args.a, "r") as fa, h5py.File(args.b, "r") as fb:
        ca, cb = fa["cells"], fb["cells"]
        if sorted(ca) != sorted(cb):
            fail(f"cells {sorted(ca)} vs {sorted(cb)}")
        for name in ca:
            a, b = ca[name], cb[name]
            for k in ("status", "fingerprint"):
                if a.attrs[k] != b.attrs[k]:
                    fail(f"{name}: {k} {a.attrs[k]!r} vs {b.attrs[k]!r}")
            if text(a.attrs["status"]) != "done":
                fail(f"{name}: status {a.attrs['status']}: {a.attrs['error']}")
            for split in ("test", "validation"):
                if split in a["base"]:
                    compare_split(f"{name}/base/{split}", a["base"][split], b["base"][split], args.acc_atol)
            for i in a["pruned"]:
                pa, pb = a["pruned"][i], b["pruned"][i]
                for split in ("test", "validation"):
                    if split in pa:
                        compare_split(f"{name}/pruned/{i}/{split}", pa[split], pb[split], args.acc_atol)
                if args.score_rtol == 0:
                    for m in pa["masks"]:
                        close(f"{name}/pruned/{i}/masks/{m}", pa["masks"][m][()], pb["masks"][m][()], 0)
            for m in a["scores"]:
                sa, sb = a["scores"][m], b["scores"][m]
                close(f"{name}/scores/{m}/delta_loss", sa["delta_loss"][()], sb["delta_loss"][()], args.score_rtol)
                close(f"{name}/scores/{m}/singular_values", sa["singular_values"][()], sb["singular_values"][()],
                      args.score_rtol)
                close(f"{name}/scores/{m}/activation_mean", sa["activation_mean"][()], sb["activation_mean"][()],
                      max(args.sum_rtol, args.score_rtol))
                close(f"{name}/scores/{m}/position_count", sa["position_count"][()], sb["position_count"][()], 0)
    print(f"compare_results: {args.a} == {args.b}")


if __name__ == "__main__":
    main()
