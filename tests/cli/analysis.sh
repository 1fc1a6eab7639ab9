#!/usr/bin/env bash
# The analysis package (python -m analysis.tables / .report / .plots) end to end, on up
# to three results files: one from `eprunner run` on a tiny grid (when the binary has a
# `run` command), one from tests/analysis/make_results.py (the layout of
# runner/results_h5.cpp, made-up numbers: two models, CB with macro-F1, a validation
# split, an error cell), and the same without macro_f1 (a file written before it was
# recorded). For each:
#  - `eprunner report` and `python -m analysis.report` print the same bytes (test and
#    validation split): the accuracy-by-p table has one definition, docs/analysis.md;
#  - Table 2 of analysis.tables, McNemar brackets out, is that table byte for byte; its
#    accuracies (Markdown and LaTeX, test and validation), Table 1's base -> best p, the
#    p chosen on validation and macro-F1 agree with `eprunner report --format csv`;
#    printed McNemar p-values match an independent exact computation; error cells are
#    listed, not tabulated (tests/analysis/check_tables.py);
#  - every PNG is a valid, non-empty, not flat image, one set per finished cell.
# Plus the unit tests (tests/analysis/test_analysis.py) and one clear line for a bad file.
# EP_ANALYSIS_GENERATED=1 skips `eprunner run`.
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
# `analysis` is a package at the repository root: found through PYTHONPATH from any folder.
export PYTHONPATH="$SRC${PYTHONPATH:+:$PYTHONPATH}"
status=0

echo "== unit tests (tests/analysis/test_analysis.py)"
"$PY" "$SRC/tests/analysis/test_analysis.py" || status=1

# ---- results files --------------------------------------------------------------------
FILES=()
if [ "${EP_ANALYSIS_GENERATED:-0}" != 1 ] && "$BIN" --help 2>/dev/null | grep -qE '^ +run( |$)'; then
  echo "== results file: eprunner run on a tiny grid"
  mkdir -p "$TMP/run"
  cat > "$TMP/run/grid.toml" <<EOF
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
  if ! (cd "$TMP/run" && OMP_WAIT_POLICY=PASSIVE timeout 600 "$BIN" run "$TMP/run/grid.toml") >"$TMP/run.log" 2>&1; then
    echo "FAIL: eprunner run on the tiny grid failed:"; tail -20 "$TMP/run.log"; exit 1
  fi
  FILES+=("$TMP/run/results.h5")
else
  echo "== no \`eprunner run\` in $BIN (or EP_ANALYSIS_GENERATED=1): generated files only"
fi
echo "== results files: tests/analysis/make_results.py (with and without macro_f1)"
"$PY" "$SRC/tests/analysis/make_results.py" "$TMP/generated.h5" --seed 3
"$PY" "$SRC/tests/analysis/make_results.py" "$TMP/generated-before-f1.h5" --seed 4 --no-macro-f1
FILES+=("$TMP/generated.h5" "$TMP/generated-before-f1.h5")

check_file() {  # RESULTS.h5: the tables and report checks; OUT: a folder for what they print
  local results=$1 out=$2 split
  mkdir -p "$out"
  for split in test validation; do
    "$BIN" report "$results" --split $split >"$out/$split.md" || { echo "FAIL: eprunner report --split $split"; status=1; }
    "$BIN" report "$results" --split $split --format csv >"$out/$split.csv" \
      || { echo "FAIL: eprunner report --split $split --format csv"; status=1; }
    "$PY" -m analysis.report "$results" --split $split >"$out/$split.py.md" \
      || { echo "FAIL: python -m analysis.report --split $split"; status=1; }
    if cmp -s "$out/$split.md" "$out/$split.py.md"; then
      echo "ok   eprunner report and python -m analysis.report ($split): the same $(wc -c <"$out/$split.md") bytes"
    else
      echo "FAIL: eprunner report and python -m analysis.report differ ($split split):"
      diff "$out/$split.md" "$out/$split.py.md" || true
      status=1
    fi
  done
  "$PY" -m analysis.tables "$results" --format both >"$out/tables.txt" || { echo "FAIL: analysis.tables"; status=1; }
  "$PY" "$SRC/tests/analysis/check_tables.py" "$out/tables.txt" "$out" "$results" \
    || { status=1; echo "--- analysis.tables output:"; cat "$out/tables.txt"; echo "--- report CSV:"; cat "$out/test.csv"; }
  local f
  for f in md latex; do
    "$PY" -m analysis.tables "$results" --format $f >"$out/tables.$f" || { echo "FAIL: analysis.tables --format $f"; status=1; }
  done
}

plot_file() {  # RESULTS.h5 OUT
  local results=$1 out=$2
  "$PY" -m analysis.plots "$results" --out "$out/png" >"$out/plots.txt" 2>"$out/plots.err" \
    || { echo "FAIL: analysis.plots exited non-zero:"; cat "$out/plots.err"; status=1; }
  cat "$out/plots.err"
  "$PY" "$SRC/tests/analysis/check_pngs.py" "$out/plots.txt" "$results" || status=1
}

for results in "${FILES[@]}"; do
  [ -f "$results" ] || { echo "FAIL: no results file at $results"; status=1; continue; }
  echo "== tables and report: ${results#"$TMP"/}"
  check_file "$results" "$results.out"
done
for results in "${FILES[@]:0:${#FILES[@]}-1}"; do  # the file without macro_f1 draws the same figures
  echo "== plots: ${results#"$TMP"/}"
  plot_file "$results" "$results.out"
done

# A bad input gives one clear line (naming the file) and a non-zero exit, from any folder.
echo "not hdf5" >"$TMP/bad.h5"
for m in tables plots report; do
  args=("$TMP/bad.h5"); [ $m = plots ] && args+=(--out "$TMP/bad-png")
  if (cd "$TMP" && "$PY" -m analysis.$m "${args[@]}") >"$TMP/err.txt" 2>&1; then
    echo "FAIL: analysis.$m accepted a file that is not HDF5"; status=1
  elif [ "$(wc -l <"$TMP/err.txt")" -eq 1 ] && grep -q "^analysis.$m: $TMP/bad.h5: cannot open" "$TMP/err.txt"; then
    echo "ok   analysis.$m on a bad file: $(cat "$TMP/err.txt")"
  else echo "FAIL: analysis.$m on a bad file printed: $(cat "$TMP/err.txt")"; status=1; fi
done

if [ $status -eq 0 ]; then echo "analysis.sh: all checks passed"; else echo "analysis.sh: FAILED"; fi
exit $status
