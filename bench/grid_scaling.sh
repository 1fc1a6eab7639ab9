#!/usr/bin/env bash
# One cell with 1, 2 (and 4) MPI ranks in one group (one torch thread each), same grid,
# same run: the speed-up of data-parallel scoring and of the whole cell. Prints the
# stage timings the results file records (timings/*).
# Usage: bench/grid_scaling.sh [BIN=build/runner/eprunner] [MODEL=tiny|smollm2] [RANKS="1 2"]
#   tiny:    a random-init GPT-2 architecture (4 layers, hidden 128), INT-SUM (8,000 scored)
#   smollm2: the pretrained SmolLM2-135M-Instruct (data/, scripts/setup), INT-SUM subsampled
#            (1,024 scored, 256 evaluated), keys per KV head
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/runner/eprunner}
MODEL=${2:-tiny}
RANKS=${3:-1 2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if [ "$MODEL" = smollm2 ]; then
  cat > "$tmp/grid.toml" <<GRID
seed = 11
output = "scaling.h5"
[layout]
ranks_per_cell = 1
[[models]]
name = "smollm2-135m"
path = "$PWD/data/SmolLM2-135M-Instruct.Q4_1.gguf"
[[tasks]]
kind = "int-sum"
[tasks.split]
max_train = 1024
max_test = 256
[eigenprune]
matrices = ["k"]
p = [0.05]
batch_size = 16
eval_batch_size = 64
GRID
else
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
fi
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# model $MODEL; every rank of one group works on the cell (ranks_per_cell = ranks)"
echo "# ranks  load_s  task_s  decompose_s  score_s  evaluate_s  total_s  score_speedup  cell_speedup"
base=""; base_total=""
for np in $RANKS; do
  sed "s/^ranks_per_cell = .*/ranks_per_cell = $np/" "$tmp/grid.toml" > "$tmp/grid$np.toml"
  mpirun -np "$np" --oversubscribe "$BIN" run "$tmp/grid$np.toml" --out "$tmp/np$np.h5" --threads 1 \
    > "$tmp/np$np.log" 2>&1 || { tail -20 "$tmp/np$np.log"; exit 1; }
  read -r load task dec score ev total < <(.venv/bin/python - "$tmp/np$np.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    c = next(iter(f["cells"].values()))
    t = c["timings"].attrs
    print(t["load"], t["task"], t["decompose"], t["score"], t["evaluate"], t["total"])
PY
)
  [ -z "$base" ] && { base=$score; base_total=$total; }
  printf "  %-5s  %6.2f  %6.2f  %11.2f  %7.2f  %10.2f  %7.2f  %13.2f  %12.2f\n" "$np" "$load" "$task" "$dec" "$score" "$ev" \
    "$total" "$(echo "$base / $score" | bc -l)" "$(echo "$base_total / $total" | bc -l)"
done
