#!/usr/bin/env bash
# Results files under stress, end to end (docs/results-format.md):
# 1. two runs into one results file at once: the second stops at once naming the
#    first (pid, host, since); the first finishes every cell.
# 2. a damaged cell (a value changed on disk, so its checksum fails): `report` prints
#    the good cells and names the damaged one (exit 1); `merge NEW DAMAGED` copies
#    every good cell and names the one skipped (exit 1); a rerun of the grid stops
#    before computing anything, naming the cell and the way out.
# 3. a cell whose reading crashes libhdf5 (EPRUNNER_TEST_READ_FAULT, a test hook of
#    runner/results_guard.cpp): report, merge and a rerun under mpirun (whose reader is
#    a fresh process, not a fork) all name the cell and survive it.
# Usage: results_damage.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d); trap 'pkill -9 -f "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT
fail() { echo "results_damage.sh: $*" >&2; exit 1; }
expect_rc() {  # $1 = got, $2 = wanted, $3 = log
  [ "$1" -eq "$2" ] || { tail -n 20 "$3" >&2; fail "exit $1, expected $2 ($3)"; }
}

grid() {  # $1 = file, $2 = output, $3 = models
  {
    echo "seed = 3"; echo "output = \"$2\""
    for i in $(seq 1 "$3"); do
      printf '[[models]]\nname = "m%d"\ntokenizer = "%s/examples/gpt2-tokenizer"\n' "$i" "$SRC"
      printf '[models.init]\narch = "gpt2"\nlayers = 2\nhidden = 32\nheads = 2\nmax_positions = 16\nseed = %d\n' "$i"
    done
    printf '[[tasks]]\nkind = "int-sum"\n[eigenprune]\np = [0.1]\nbatch_size = 8\n'
  } > "$1"
}

# ---- 1. two writers ---------------------------------------------------------------
grid "$tmp/two.toml" "$tmp/two.h5" 4
"$BIN" run "$tmp/two.toml" --threads 1 > "$tmp/first.log" 2>&1 &
first=$!
for _ in $(seq 1 300); do [ -s "$tmp/two.h5.lock" ] && break; sleep 0.1; done
rc=0; "$BIN" run "$tmp/two.toml" --threads 1 > "$tmp/second.log" 2>&1 || rc=$?
expect_rc "$rc" 1 "$tmp/second.log"
grep -q "is being written by another eprunner (pid $first on host $(hostname), since 20" "$tmp/second.log" \
  || fail "the second writer's message does not name the first: $(grep -m1 error "$tmp/second.log")"
rc=0; wait $first || rc=$?
expect_rc "$rc" 0 "$tmp/first.log"
n=$("$BIN" report "$tmp/two.h5" --format csv | grep -c "^m[0-9]") || true
[ "$n" -eq 8 ] || fail "the first run lost cells: $n rows in its report"
echo "two writers: the second refused naming pid $first; the first finished 4 cells"

# ---- 2. a changed value: the checksum --------------------------------------------
cp "$tmp/two.h5" "$tmp/bad.h5"
"$PY" - "$tmp/bad.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    d = f["cells/m2__int-sum/base/test/correct"]
    v = d[()]
    v[0] ^= 1
    d[...] = v
PY
rc=0; "$BIN" report "$tmp/bad.h5" --format csv > "$tmp/report.csv" 2> "$tmp/report.err" || rc=$?
# The metrics checksum does not cover `correct`: report reads the metrics, so it is clean.
expect_rc "$rc" 0 "$tmp/report.err"
rc=0; "$BIN" merge "$tmp/salvaged.h5" "$tmp/bad.h5" > "$tmp/merge.log" 2>&1 || rc=$?
expect_rc "$rc" 1 "$tmp/merge.log"
grep -q "skipping cell 'm2__int-sum' of $tmp/bad.h5: .*fail their checksum" "$tmp/merge.log" \
  || fail "merge does not name the damaged cell: $(cat "$tmp/merge.log")"
grep -q "3 cell(s) copied .* 1 damaged cell(s) skipped" "$tmp/merge.log" || fail "merge summary: $(tail -n 1 "$tmp/merge.log")"
[ "$("$BIN" report "$tmp/salvaged.h5" --format csv | grep -c "^m[0-9]")" -eq 6 ] || fail "salvaged.h5 lacks the good cells"
sed -i "s|$tmp/two.h5|$tmp/bad.h5|" "$tmp/two.toml"
before=$(md5sum < "$tmp/bad.h5")
rc=0; mpirun -np 2 --oversubscribe "$BIN" run "$tmp/two.toml" --threads 1 > "$tmp/rerun.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a rerun accepted a damaged results file"
grep -q "the results file '$tmp/bad.h5' is damaged (cell 'm2__int-sum': .*checksum.*eprunner merge NEW.h5" "$tmp/rerun.log" \
  || fail "the rerun does not say what is damaged and what to do: $(grep -m2 error "$tmp/rerun.log")"
[ "$(md5sum < "$tmp/bad.h5")" = "$before" ] || fail "the refused rerun changed the file"
echo "checksum: merge salvaged 3 cells and named the 4th; the rerun refused before computing"

# ---- 3. a cell whose reading crashes libhdf5 ----------------------------------------
export EPRUNNER_TEST_READ_FAULT="crash:m3__int-sum"
rc=0; "$BIN" report "$tmp/two.h5" > "$tmp/crash.md" 2> "$tmp/crash.err" || rc=$?
expect_rc "$rc" 1 "$tmp/crash.err"
grep -q "cell 'm3__int-sum' of '$tmp/two.h5' is damaged and left out: reading it crashed libhdf5 (signal 11" "$tmp/crash.err" \
  || fail "report: $(cat "$tmp/crash.err")"
grep -q "^| m4 " "$tmp/crash.md" && grep -q "^| m2 " "$tmp/crash.md" || fail "report lost the good cells: $(cat "$tmp/crash.md")"
rc=0; "$BIN" merge "$tmp/crash-merge.h5" "$tmp/two.h5" > "$tmp/crash-merge.log" 2>&1 || rc=$?
expect_rc "$rc" 1 "$tmp/crash-merge.log"
grep -q "3 cell(s) copied" "$tmp/crash-merge.log" || fail "merge: $(cat "$tmp/crash-merge.log")"
sed -i "s|$tmp/bad.h5|$tmp/two.h5|" "$tmp/two.toml"
rc=0; mpirun -np 2 --oversubscribe "$BIN" run "$tmp/two.toml" --threads 1 > "$tmp/crash-run.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a rerun accepted a file whose reading crashed"
grep -q "is damaged (cell 'm3__int-sum': reading it crashed libhdf5" "$tmp/crash-run.log" \
  || fail "rerun: $(grep -m2 error "$tmp/crash-run.log")"
unset EPRUNNER_TEST_READ_FAULT
echo "crash in libhdf5: report, merge and the rerun named the cell; nothing else lost"
echo "results_damage.sh: all passed"
