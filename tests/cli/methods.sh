#!/usr/bin/env bash
# Eigenpruning beside its comparisons ([controls], [laser]; docs/methods.md), end to end:
# 1. one run of a seeded GPT-2 (2 layers) on INT-MULT with the highest and random
#    controls and LASER on two matrix kinds, every layer on its own and a set of two;
#    tests/reference/methods_check.py checks every choice from the file's own arrays
#    (highest = the largest stored ΔL; random nested in p; LASER's component counts);
# 2. the same grid on 2 ranks per cell (mpirun): the same choices and test predictions;
# 3. `eprunner report` and `python -m analysis.report` print the same bytes, with a
#    "Methods side by side" row per method; analysis.tables has Table 3 with McNemar;
#    analysis.plots draws methods_<cell>.png;
# 4. bad [laser]/[controls] keys are grid errors naming file:line; a LASER layer the
#    model lacks fails the cell before it is scored, naming the layer and the depth.
# Usage: methods.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

grid() {  # $1 = output, $2 = ranks per cell, then extra TOML for [laser]
  cat <<G
seed = 11
output = "$1"
[layout]
ranks_per_cell = $2
[[models]]
name = "tiny"
tokenizer = "$SRC/examples/gpt2-tokenizer"
[models.init]
arch = "gpt2"
layers = 2
hidden = 64
heads = 4
max_positions = 16
[[tasks]]
kind = "int-mult"
[tasks.split]
test_fraction = 0.2
validation_fraction = 0.1
[eigenprune]
matrices = ["k", "v"]   # alphabetical, as the file lists scores (methods_check.py relies on it)
p = [0.05, 0.3]
batch_size = 16
[controls]
random_seeds = [1, 2]
highest = true
[laser]
matrices = ["mlp_in", "k"]
${3:-layers = [0, 1, [0, 1]]}
rho = [0.5, 0.1]
G
}

# ---- 1. one rank ---------------------------------------------------------------------
grid one.h5 1 > "$tmp/one.toml"
"$BIN" plan "$tmp/one.toml" > "$tmp/plan.txt"
grep -q "^controls (docs/methods.md): highest ΔL, random with seeds 1, 2 at every p$" "$tmp/plan.txt" \
  && grep -q "^LASER (docs/methods.md): matrices mlp_in,k; layers 0, 1, 0+1; rho 0.5, 0.1$" "$tmp/plan.txt" \
  || { cat "$tmp/plan.txt"; fail "plan does not show the comparisons"; }
"$BIN" run "$tmp/one.toml" --threads 2 > "$tmp/one.log" 2>&1 || { cat "$tmp/one.log"; fail "the run failed"; }
# GPT-2 hidden 64: mlp_in is 256 x 64 (rank 64); a whole k is 64 x 64 (rank 64).
"$PY" "$SRC/tests/reference/methods_check.py" "$tmp/one.h5" tiny__int-mult '{"mlp_in": 64, "k": 64}' \
  || fail "methods_check.py"

# ---- 2. two ranks per cell: the same choices and predictions ----------------------------
grid two.h5 2 > "$tmp/two.toml"
mpirun --oversubscribe -np 2 "$BIN" run "$tmp/two.toml" --threads 1 > "$tmp/two.log" 2>&1 \
  || { cat "$tmp/two.log"; fail "the 2-rank run failed"; }
"$PY" "$SRC/tests/reference/methods_check.py" "$tmp/one.h5" tiny__int-mult '{"mlp_in": 64, "k": 64}' "$tmp/two.h5" \
  || fail "1 rank and 2 ranks differ"

# ---- 3. report, analysis.report, analysis.tables ------------------------------------------
"$BIN" report "$tmp/one.h5" > "$tmp/report.md"
(cd "$SRC" && "$PY" -m analysis.report "$tmp/one.h5") > "$tmp/report.py.md"
cmp -s "$tmp/report.md" "$tmp/report.py.md" || { diff "$tmp/report.md" "$tmp/report.py.md"; fail "report and analysis.report differ"; }
for method in "base" "eigenpruning" "highest" "random (2 seeds)" "laser"; do
  grep -q "^| tiny | int-mult | $method | " "$tmp/report.md" || { cat "$tmp/report.md"; fail "no '$method' row in the report"; }
done
echo "ok   eprunner report and python -m analysis.report: the same $(wc -c < "$tmp/report.md") bytes, every method"
(cd "$SRC" && "$PY" -m analysis.tables "$tmp/one.h5") > "$tmp/tables.md"
grep -q "^## Table 3: methods side by side" "$tmp/tables.md" || fail "analysis.tables has no Table 3"
[ "$(grep -c '^| tiny | int-mult | ' "$tmp/tables.md")" -ge 5 ] || fail "Table 3 lacks rows"
# The report's methods rows are Table 3's, McNemar included (the report reads the per-example
# results of cells with comparisons), and every method has a p-value against base.
methods_rows() { sed -n "/$2/,\$p" "$1" | grep '^| tiny | int-mult | '; }
methods_rows "$tmp/report.md" '^Methods side by side' > "$tmp/report.rows"
methods_rows "$tmp/tables.md" '^## Table 3' > "$tmp/table3.rows"
cmp -s "$tmp/report.rows" "$tmp/table3.rows" || { diff "$tmp/report.rows" "$tmp/table3.rows"; fail "the report's methods rows are not Table 3's"; }
awk -F' [|] ' '$3 != "base" && $7 !~ /^[0-9.e-]+$/ { bad = 1; print } END { exit bad }' "$tmp/report.rows" \
  || fail "a method without McNemar's p against base in the report"
echo "ok   analysis.tables: Table 3, its rows (McNemar included) those of the report"
(cd "$SRC" && "$PY" -m analysis.plots "$tmp/one.h5" --out "$tmp/plots") > "$tmp/plots.txt"
grep -q "methods_tiny__int-mult.png" "$tmp/plots.txt" && "$PY" "$SRC/tests/analysis/check_pngs.py" "$tmp/plots.txt" "$tmp/one.h5" \
  || { cat "$tmp/plots.txt"; fail "analysis.plots drew no methods figure"; }
echo "ok   analysis.plots: methods_tiny__int-mult.png"

# ---- 4. bad input ------------------------------------------------------------------------
expect_grid_error() {  # $1 = what, $2 = TOML, $3 = expected text
  printf '%s\n' "$2" > "$tmp/bad.toml"
  if "$BIN" plan "$tmp/bad.toml" > "$tmp/bad.log" 2>&1; then fail "$1: accepted"; fi
  grep -qF -- "$3" "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "$1: the message lacks '$3'"; }
  echo "ok   $1: $(tail -1 "$tmp/bad.log")"
}
base=$(grid bad.h5 1 | sed '/^\[controls\]/,$d')
expect_grid_error "[controls] asking for nothing" "$base
[controls]" "[controls]: asks for nothing"
expect_grid_error "rho out of range" "$base
[laser]
rho = [0.5, 1.5]" "rho (the fraction of the rank kept) must be in (0, 1), got 1.5"
expect_grid_error "layers of the wrong type" "$base
[laser]
layers = [0, \"last\"]
rho = [0.5]" "expected an integer or a non-empty array of integers"
grid late.h5 1 "layers = [0, [1, 5]]" > "$tmp/late.toml"
if "$BIN" run "$tmp/late.toml" --threads 2 > "$tmp/late.log" 2>&1; then fail "a LASER layer the model lacks: the run succeeded"; fi
grep -q "\[laser\] layers names layer 5, but model \"tiny\" has 2 layers (0..1)" "$tmp/late.log" \
  || { cat "$tmp/late.log"; fail "a LASER layer the model lacks: no clear error"; }
grep -q "cell tiny__int-mult: loading" "$tmp/late.log" && ! grep -q "scoring\|base test accuracy" "$tmp/late.log" \
  || { cat "$tmp/late.log"; fail "the cell was scored before the layer was checked"; }
echo "ok   a LASER layer the model lacks fails the cell before scoring"
echo "methods.sh: all passed"
