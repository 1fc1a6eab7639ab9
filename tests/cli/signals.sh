#!/usr/bin/env bash
# What each signal to `mpirun -np 2 eprunner run` or to one of its ranks gives, where
# the outcome is deterministic (the table with every case: docs/slurm.md, "Signals").
# One grid of small cells is run again and again, each run stopped a different way;
# after every run the results file must open (`eprunner report`) and hold every cell
# the run reported done, and the last run must complete the grid.
#  1. start-up, to the ranks: USR1 once their handlers are in place, before MPI_Init
#     has finished (the handlers come before the libraries' constructors run, ~50 ms
#     after exec): exit 75, no cell started. TERM, the same.
#  2. start-up, to mpirun: TERM within 50 ms: mpirun aborts, exit 1 (mpirun's own status).
#  3. mid-run, to a rank: TERM: the cells in progress finish, exit 75.
#  4. mid-run, to mpirun: USR1 (forwarded to the ranks): exit 75. TERM, INT, HUP: mpirun
#     sends the ranks TERM, then KILL one second later; exit 1 (mpirun's own status).
#  5. mid-run, to a rank: INT, HUP: the rank ends at once (default action); mpirun
#     ends the others and exits 128 + the signal.
#  6. a rerun completes the grid, skipping every cell the file holds.
#  7. after the grid has finished (mpirun tearing down): USR1 to mpirun changes nothing (exit 0).
# SIGKILL to a rank or to mpirun (exit 137, the file intact) is tests/cli/grid_failures.sh's.
# Usage: signals.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$(realpath "$1"); SRC=$(realpath "$2")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
mpirun_pid=
log=
cleanup() {
  [ -n "$mpirun_pid" ] && kill -9 "$mpirun_pid" 2>/dev/null
  for p in $(pgrep -f -- "$tmp/" || true); do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
start_all=$SECONDS
fail() { echo "signals.sh: FAILED: $*" >&2; [ -f "$log" ] && tail -n 25 "$log" >&2; exit 1; }

CELLS=30
{ echo 'seed = 3'; echo 'output = "sig.h5"'; printf '[layout]\nranks_per_cell = 1\n'
  for i in $(seq 1 $CELLS); do
    printf '[[models]]\nname = "m%s"\ntokenizer = "%s/examples/gpt2-tokenizer"\n[models.init]\narch = "gpt2"\nlayers = 1\nhidden = 16\nheads = 2\nmax_positions = 16\nseed = %s\n' "$i" "$SRC" "$i"
  done
  printf '[[tasks]]\nkind = "int-mult"\n[eigenprune]\np = [0.1]\nbatch_size = 8\n'; } > "$tmp/sig.toml"
out=$tmp/sig.h5

run=0
launch() {  # starts mpirun in the background: $mpirun_pid, its log $log
  run=$((run + 1))
  log=$tmp/run$run.log
  mpirun -np 2 --oversubscribe "$BIN" run "$tmp/sig.toml" --threads 1 > "$log" 2>&1 &
  mpirun_pid=$!
}
ranks() { pgrep -f -- "^$BIN run $tmp/sig.toml" || true; }
# Both ranks exist and have their SIGUSR1 (bit 10) and SIGTERM (bit 15) handlers.
handlers_ready() {
  local pids p mask n=0
  pids=$(ranks)
  for p in $pids; do
    mask=$(awk '/^SigCgt:/ {print $2}' "/proc/$p/status" 2>/dev/null) || return 1
    [ -n "$mask" ] && (( (16#$mask & 0x4200) == 0x4200 )) || return 1
    n=$((n + 1))
  done
  [ "$n" -eq 2 ]
}
cells_logged() { grep -cE '\] cell [A-Za-z0-9_.+-]+ done in' "$log" || true; }
wait_for() {  # $1 = what (a command), $2 = seconds
  local i
  for i in $(seq 1 $(($2 * 100))); do
    "$1" && return 0
    kill -0 "$mpirun_pid" 2>/dev/null || fail "run $run ended before: $1"
    sleep 0.01
  done
  fail "run $run: no $1 after $2 s"
}
new_cell_done() { [ "$(cells_logged)" -ge 1 ]; }
finish() {  # $1 = the expected exit status of mpirun, $2 = what was done
  local rc=0
  wait "$mpirun_pid" || rc=$?
  mpirun_pid=
  [ "$rc" -eq "$1" ] || fail "run $run ($2): exit $rc, expected $1"
  check_saved
  echo "signals.sh: run $run: $2: exit $rc as expected; $(cells_logged) cell(s) done in this run, $(saved) in the file"
}
# Every cell a run reported done is in the file, and the file opens.
saved() {  # the number of done cells in the file
  if [ -f "$out" ]; then "$BIN" report "$out" --format csv | tail -n +2 | cut -d, -f1 | sort -u | wc -l; else echo 0; fi
}
check_saved() {
  [ -f "$out" ] || { [ "$(cells_logged)" -eq 0 ] && return 0; fail "no results file"; }
  "$BIN" report "$out" --format csv > "$tmp/report.csv" 2> "$tmp/report.err" || fail "report: $(cat "$tmp/report.err")"
  local c
  grep -oE '\] cell [A-Za-z0-9_.+-]+ done in' "$log" | awk '{print $3}' | sed 's/__int-mult$//' > "$tmp/logged.txt" || true
  while read -r c; do
    grep -q "^$c,int-mult," "$tmp/report.csv" || fail "cell $c reported done by run $run is not in the file"
  done < "$tmp/logged.txt"
}

# ---- 1. start-up, to a rank ---------------------------------------------------------------
# Both ranks (as mpirun forwards it), so that no group starts a cell. Open MPI's shared
# memory segment (vader) in a rank's maps means MPI_Init is (nearly) done: the
# handlers must come long before.
for sig in USR1 TERM; do
  launch
  wait_for handlers_ready 60
  for p in $(ranks); do
    grep -q vader_segment "/proc/$p/maps" && fail "the handlers came only after MPI_Init"
  done
  # shellcheck disable=SC2046 # one argument per rank
  kill -"$sig" $(ranks)
  finish 75 "$sig to both ranks at start-up"
  if ! grep -q "0 done now" "$log" || ! grep -q "$CELLS not started" "$log"; then fail "a cell started after the stop request"; fi
done

# ---- 2. start-up, to mpirun -----------------------------------------------------------------
launch
sleep 0.05
kill -TERM "$mpirun_pid"
finish 1 "TERM to mpirun at start-up"

# ---- 3. mid-run, to a rank --------------------------------------------------------------------
launch
wait_for new_cell_done 120
kill -TERM "$(ranks | tail -n 1)"
finish 75 "TERM to a rank mid-run"

# ---- 4. mid-run, to mpirun -----------------------------------------------------------------------
for case in USR1:75 TERM:1 INT:1 HUP:1; do
  launch
  wait_for new_cell_done 120
  kill -"${case%:*}" "$mpirun_pid"
  finish "${case#*:}" "${case%:*} to mpirun mid-run"
done

# ---- 5. mid-run, to a rank: INT and HUP keep their default --------------------------------------
for case in INT:130 HUP:129; do
  launch
  wait_for new_cell_done 120
  kill -"${case%:*}" "$(ranks | tail -n 1)"
  finish "${case#*:}" "${case%:*} to a rank mid-run"
done

# ---- 6. the rerun completes ------------------------------------------------------------------------
before=$(saved)
[ "$before" -lt "$CELLS" ] || fail "every cell was done before the last run: nothing was interrupted"
launch
finish 0 "rerun"
grep -q "$before finished earlier, $((CELLS - before)) to run" "$log" || fail "the rerun: $(grep 'to run' "$log")"
[ "$(saved)" -eq "$CELLS" ] || fail "the file holds $(saved) of $CELLS cells after the rerun"

# ---- 7. after the grid has finished ---------------------------------------------------------------
launch
finished() { grep -q "run finished" "$log"; }
wait_for finished 60
kill -USR1 "$mpirun_pid" 2>/dev/null || true
finish 0 "USR1 to mpirun after the grid finished"
echo "signals.sh: OK ($((SECONDS - start_all)) s)"
