#!/usr/bin/env bash
# analysis/tables.py and analysis/plots.py end to end on a demo-sized results file:
#  - the tables' accuracies (Markdown and LaTeX, test and validation) agree with
#    `eprunner report --format csv` to the printed precision; Table 1's base -> best p
#    and the p chosen on validation follow from the CSV; printed McNemar p-values match
#    an independent exact computation; error cells are listed, not tabulated;
#  - every PNG is a valid, non-empty, not flat image, one set per finished cell;
#  - the unit tests of the McNemar test and of choosing p (tests/analysis/test_analysis.py).
# The results file comes from `eprunner run` on a tiny grid when the binary has a `run`
# command, else from tests/analysis/make_results.py (the layout of runner/results_h5.cpp,
# made-up numbers). EP_ANALYSIS_GENERATED=1 forces the generator.
# Usage: analysis.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The project's Python (.venv: h5py, numpy, matplotlib); ctest passes it as EP_PYTHON.
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
"$PY" -c "import h5py, numpy, matplotlib" || { echo "analysis.sh: $PY lacks h5py, numpy or matplotlib (run scripts/setup)" >&2; exit 1; }
export MPLBACKEND=Agg
status=0

echo "== unit tests (tests/analysis/test_analysis.py)"
"$PY" "$SRC/tests/analysis/test_analysis.py" || status=1

# ---- a results file -------------------------------------------------------------------
RESULTS="$TMP/results.h5"
if [ "${EP_ANALYSIS_GENERATED:-0}" != 1 ] && "$BIN" --help 2>/dev/null | grep -qE '^ +run( |$)'; then
  echo "== results file: eprunner run on a tiny grid"
  cat > "$TMP/grid.toml" <<EOF
# A seeded random 2-layer GPT-2 (hidden 32, 2 heads) on INT-MULT, no fine-tuning.
seed = 7
output = "results.h5"

[[models]]
name = "tiny"
tokenizer = "$SRC/examples/gpt2-tokenizer"
[models.init]
arch = "gpt2"
layers = 2
hidden = 32
heads = 2
max_positions = 32
seed = 11

[[tasks]]
kind = "int-mult"
[tasks.split]
validation_fraction = 0.1

[eigenprune]
p = [0.05, 0.3]
batch_size = 8
EOF
  if ! (cd "$TMP" && timeout 600 "$BIN" run "$TMP/grid.toml") >"$TMP/run.log" 2>&1; then
    echo "FAIL: eprunner run on the tiny grid failed:"; tail -20 "$TMP/run.log"; exit 1
  fi
else
  echo "== results file: tests/analysis/make_results.py (no \`eprunner run\` in $BIN)"
  "$PY" "$SRC/tests/analysis/make_results.py" "$RESULTS" --seed 3
fi
[ -f "$RESULTS" ] || { echo "FAIL: no results file at $RESULTS"; exit 1; }

# ---- tables vs eprunner report ----------------------------------------------------------
echo "== tables.py vs eprunner report --format csv"
"$PY" "$SRC/analysis/tables.py" "$RESULTS" --format both >"$TMP/tables.txt"
"$BIN" report "$RESULTS" --format csv >"$TMP/test.csv"
"$BIN" report "$RESULTS" --format csv --split validation >"$TMP/validation.csv"
"$PY" "$SRC/tests/analysis/check_tables.py" "$TMP/tables.txt" "$TMP/test.csv" "$TMP/validation.csv" "$RESULTS" \
  || { status=1; echo "--- tables.py output:"; cat "$TMP/tables.txt"; echo "--- report CSV:"; cat "$TMP/test.csv"; }
for f in md latex; do
  "$PY" "$SRC/analysis/tables.py" "$RESULTS" --format $f >"$TMP/tables.$f" || { echo "FAIL: tables.py --format $f"; status=1; }
done

# ---- plots ------------------------------------------------------------------------------
echo "== plots.py"
"$PY" "$SRC/analysis/plots.py" "$RESULTS" --out "$TMP/png" >"$TMP/plots.txt" 2>"$TMP/plots.err" \
  || { echo "FAIL: plots.py exited non-zero:"; cat "$TMP/plots.err"; status=1; }
cat "$TMP/plots.err"
"$PY" "$SRC/tests/analysis/check_pngs.py" "$TMP/plots.txt" "$RESULTS" || status=1

# A bad input gives one clear line and a non-zero exit.
echo "not hdf5" >"$TMP/bad.h5"
if "$PY" "$SRC/analysis/tables.py" "$TMP/bad.h5" >"$TMP/err.txt" 2>&1; then
  echo "FAIL: tables.py accepted a file that is not HDF5"; status=1
elif grep -q "cannot open" "$TMP/err.txt"; then echo "ok   bad file: $(head -1 "$TMP/err.txt")"
else echo "FAIL: tables.py on a bad file printed: $(cat "$TMP/err.txt")"; status=1; fi

if [ $status -eq 0 ]; then echo "analysis.sh: all checks passed"; else echo "analysis.sh: FAILED"; fi
exit $status
