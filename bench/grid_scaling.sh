#!/usr/bin/env bash
# One cell's scoring pass with 1 and 2 MPI ranks (one torch thread each), same grid,
# same run: the speed-up of data-parallel scoring. Prints the stage timings that the
# results file records (timings/score, timings/evaluate, timings/total).
# Usage: bench/grid_scaling.sh [BIN=build/runner/eprunner]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/runner/eprunner}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/grid.toml" <<GRID
seed = 11
output = "scaling.h5"
[layout]
ranks_per_cell = 2
[[models]]
name = "gpt2-4x128"
tokenizer = "$PWD/examples/gpt2-tokenizer"
[models.init]
arch = "gpt2"
layers = 4
hidden = 128
heads = 4
max_positions = 16
[[tasks]]
kind = "int-sum"          # 8,000 training examples scored
[eigenprune]
matrices = ["k"]
p = [0.05]
batch_size = 32
eval_batch_size = 256
GRID
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ranks  score_s  evaluate_s  total_s  score_speedup"
base=""
for np in 1 2; do
  mpirun -np $np "$BIN" run "$tmp/grid.toml" --out "$tmp/np$np.h5" --threads 1 > "$tmp/np$np.log" 2>&1 \
    || { tail -20 "$tmp/np$np.log"; exit 1; }
  read -r score ev total < <(.venv/bin/python - "$tmp/np$np.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    c = next(iter(f["cells"].values()))
    t = c["timings"].attrs
    print(t["score"], t["evaluate"], t["total"])
PY
)
  [ -z "$base" ] && base=$score
  printf "  %-5s  %7.2f  %10.2f  %7.2f  %13.2f\n" $np "$score" "$ev" "$total" "$(echo "$base / $score" | bc -l)"
done
