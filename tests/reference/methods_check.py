"""Checks the comparisons of a results file (tests/cli/methods.sh) from its own arrays,
with numpy, against the definitions in docs/methods.md — not against eprunner's code:

- highest: its mask at p is the int(N·p) largest stored ΔL scores (ties: the smaller
  global index), and it never overlaps eigenpruning's (the lowest) at p <= 0.5;
- random: int(N·p) components; one seed's choices are nested in p; seeds differ;
- laser: it removed, in each layer of its set, rank - max(1, int(rho·rank)) components,
  rank = min(out, in) of the whole matrix (shapes given on the command line);
- each method's evaluation has per-example predictions for every test example;
- a second results file (computed on another number of ranks) holds the same choices and
  predictions, when given.

Usage: methods_check.py RESULTS CELL RANKS_JSON [OTHER_RESULTS]
  RANKS_JSON: {"mlp_in": 64, "k": 16} — the rank of one whole matrix of each LASER kind.
"""
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli" / "lib"))
from results_view import open_results, text  # noqa: E402


def read(path, cell):
    with open_results(path) as f:
        g = f["cells"][cell]
        assert text(g.attrs["status"]) == "done", text(g.attrs["error"])
        kinds = list(g["scores"].keys())
        out = {
            "scores": {k: g["scores"][k]["delta_loss"][()] for k in kinds},
            "pruned": [(float(r.attrs["p"]), {k: r["masks"][k][()] for k in r["masks"]}, r["test/predicted"][()])
                       for r in (g["pruned"][i] for i in sorted(g["pruned"], key=int))],
            "methods": [],
            "n_test": int(g["base/test"].attrs["n"]),
        }
        for i in sorted(g["methods"], key=int):
            m = g["methods"][i]
            out["methods"].append({
                "method": text(m.attrs["method"]), "fraction": float(m.attrs["fraction"]),
                "seed": int(m.attrs["seed"]), "matrix": text(m.attrs["matrix"]),
                "layers": [int(x) for x in m["layers"][()]] if "layers" in m else [], "n_removed": int(m.attrs["n_removed"]),
                "masks": {k: m["masks"][k][()] for k in m["masks"]} if "masks" in m else {},
                "predicted": m["test/predicted"][()], "label": text(m.attrs["label"])})
        return out


def flat(masks_or_scores, kinds):
    return np.concatenate([np.asarray(masks_or_scores[k]).reshape(-1) for k in kinds])


def main():
    path, cell, ranks = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    r = read(path, cell)
    # The grid's matrix order is the kinds' order in the masks; the file lists scores by
    # name, so take the order from the eigenpruning masks' keys as the grid wrote them.
    kinds = list(r["scores"].keys())
    scores = flat(r["scores"], kinds).astype(np.float64)
    n = scores.size
    order_high = sorted(range(n), key=lambda i: (-scores[i], i))
    lowest = {p: flat(m, kinds).astype(bool) for p, m, _ in r["pruned"]}
    failures = []
    seen = {"highest": 0, "random": 0, "laser": 0}
    by_seed = {}
    for m in r["methods"]:
        seen[m["method"]] += 1
        if len(m["predicted"]) != r["n_test"]:
            failures.append(f"{m['label']}: {len(m['predicted'])} test predictions, expected {r['n_test']}")
        if m["method"] in ("highest", "random"):
            k = math.floor(n * m["fraction"])
            mask = flat(m["masks"], kinds).astype(bool)
            if m["n_removed"] != k or mask.sum() != k:
                failures.append(f"{m['label']}: removed {m['n_removed']} (mask {mask.sum()}), expected int({n}·p) = {k}")
            if m["method"] == "highest":
                want = np.zeros(n, bool)
                want[order_high[:k]] = True
                if not np.array_equal(mask, want):
                    failures.append(f"{m['label']}: not the {k} highest ΔL scores ({(mask != want).sum()} differ)")
                if m["fraction"] <= 0.5 and (mask & lowest[m["fraction"]]).any():
                    failures.append(f"{m['label']}: overlaps eigenpruning's choice at the same p")
            else:
                by_seed.setdefault(m["seed"], []).append((m["fraction"], mask))
        elif m["method"] == "laser":
            rank = ranks[m["matrix"]]
            want = len(m["layers"]) * (rank - max(1, math.floor(rank * m["fraction"])))
            if m["n_removed"] != want:
                failures.append(f"{m['label']}: removed {m['n_removed']} components, expected {want}")
    for seed, choices in by_seed.items():
        choices.sort(key=lambda c: c[0])
        for (p1, a), (p2, b) in zip(choices, choices[1:]):
            if (a & ~b).any():
                failures.append(f"random seed={seed}: p={p1}'s choice is not inside p={p2}'s")
    masks = [tuple(np.flatnonzero(c[1])) for s in by_seed.values() for c in s]
    if len(by_seed) > 1 and len(set(masks)) != len(masks):
        failures.append("two random seeds chose the same components")
    print(f"methods_check: {cell}: {seen['highest']} highest, {seen['random']} random, {seen['laser']} laser "
          f"evaluations over N = {n} components")
    if len(sys.argv) > 4:
        o = read(sys.argv[4], cell)
        for a, b in zip(r["methods"], o["methods"]):
            same = a["label"] == b["label"] and a["n_removed"] == b["n_removed"] and \
                np.array_equal(a["predicted"], b["predicted"]) and \
                all(np.array_equal(a["masks"][k], b["masks"][k]) for k in a["masks"])
            if not same:
                failures.append(f"{a['label']}: differs between {path} and {sys.argv[4]}")
        if len(r["methods"]) != len(o["methods"]):
            failures.append(f"{len(r['methods'])} methods in one file, {len(o['methods'])} in the other")
        else:
            print(f"methods_check: the same {len(r['methods'])} choices and test predictions in {Path(sys.argv[4]).name}")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
