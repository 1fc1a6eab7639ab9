#!/usr/bin/env bash
# LibTorch C++ (bench/torch_forward_backward) vs eager PyTorch (bench/forward_backward.py)
# on the same GPT-2-small-sized forward + backward, same thread count, alternating runs
# so both see the same machine load; then peak RSS while loading a GPT-2-small
# checkpoint vs its size on disk. Results: bench/README.md, "Models".
# Usage: bench/torch_forward_backward.sh [BUILD_DIR]   (env: THREADS=2 ROUNDS=3 ITERS=5 BATCH=8 SEQ=64 MODES="train probe")
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bench/torch_forward_backward
THREADS=${THREADS:-2} ROUNDS=${ROUNDS:-3} ITERS=${ITERS:-5} BATCH=${BATCH:-8} SEQ=${SEQ:-64}
MODES=${MODES:-"train probe"}
[ -x "$BIN" ] || { echo "no $BIN: cmake --build $BUILD --target torch_forward_backward" >&2; exit 1; }
PY=.venv/bin/python   # the project's torch wheel: the same LibTorch as the C++ build
"$PY" -c "import torch" 2>/dev/null || { echo "$PY cannot import torch (run scripts/setup)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "# machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# threads $THREADS, B $BATCH, T $SEQ, $ITERS timed iterations (+2 warm-up) per run, $ROUNDS rounds"
args=(--threads "$THREADS" --batch "$BATCH" --seq "$SEQ" --iters "$ITERS")
for mode in $MODES; do
  for r in $(seq "$ROUNDS"); do
    "$BIN" "${args[@]}" --mode "$mode" | tee -a "$TMP/cpp.$mode"
    "$PY" bench/forward_backward.py "${args[@]}" --mode "$mode" | tee -a "$TMP/py.$mode"
  done
done
"$PY" - "$TMP" $MODES <<'PYEOF'
import json, statistics, sys
tmp, modes = sys.argv[1], sys.argv[2:]
# Wall-clock tokens/s (median of rounds); the best iteration of all rounds (least disturbed
# by other load on the machine); CPU seconds per iteration (all threads).
print("# mode    C++ tok/s  Py tok/s  C++/Py | best s/iter C++  Py  Py/C++ | cpu s/iter C++  Py  Py/C++")
runs = lambda f: [json.loads(l) for l in open(f)]
for m in modes:
    c, p = runs(f"{tmp}/cpp.{m}"), runs(f"{tmp}/py.{m}")
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    best = lambda rs: min(r["s_per_iter_min"] for r in rs)
    ct, pt = med(c, "tokens_per_s"), med(p, "tokens_per_s")
    cb, pb = best(c), best(p)
    cc, pc = med(c, "cpu_s_per_iter_median"), med(p, "cpu_s_per_iter_median")
    print(f"  {m:6s} {ct:9.1f} {pt:9.1f} {ct / pt:7.3f} | {cb:15.3f} {pb:5.3f} {pb / cb:6.3f} | {cc:14.3f} {pc:5.3f} {pc / cc:6.3f}")
PYEOF

echo "# peak resident memory while loading a GPT-2-small checkpoint (fresh process each)"
"$BIN" --write-checkpoint "$TMP/gpt2-small" >/dev/null
"$BIN" --threads "$THREADS" --load "$TMP/gpt2-small"
"$BIN" --threads "$THREADS" --load "$TMP/gpt2-small" --dtype bf16
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
