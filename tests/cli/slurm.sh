#!/usr/bin/env bash
# Slurm support end to end.
# 0. Without Slurm: `eprunner run --cell I`, `eprunner merge` (idempotent, other
#    settings refused, missing cells named), and the stop signals: USR1 to mpirun
#    (forwarded to both ranks) and SIGTERM to a single eprunner end the run at a cell
#    boundary with exit status 75; the rerun computes the rest.
# Then on a one-node Slurm cluster this test starts in a temporary folder
# (tests/slurm/local_cluster.sh) and stops on exit:
# 1. a grid job (srun --mpi=pmix, 2 ranks) written by `eprunner slurm`, submitted with
#    `sbatch --wait`: every cell done.
# 2. `scontrol requeue` of the running job after >= 1 cell: the job runs again and
#    finishes the grid; the cells written before are untouched, none is computed twice.
# 3. USR1, as `--signal=B:USR1@S` sends it before the time limit (here `scancel
#    --signal=USR1 --batch`), mpirun launcher, one group of 2 ranks: eprunner stops
#    at a cell boundary and exits 75, the script requeues the job, the grid completes.
# 4. --array --submit: one array task per cell + the merge job (afterany) -> the grid's
#    file holds every cell, each pointing at the run (array task) that computed it.
# Parts 1-4 are skipped (exit 0, with a message) only when Slurm or munge is not
# installed. EP_SLURM_TEST_KEEP=1 keeps the folder (scripts, logs, results, the
# cluster's logs) for a look afterwards.
# Usage: slurm.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$(realpath "$1"); SRC=$(realpath "$2")
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
export PYTHONPATH="$SRC/tests/cli/lib${PYTHONPATH:+:$PYTHONPATH}"
export PATH=$PATH:/usr/sbin:/sbin
start=$SECONDS
# 2 ranks per job (the cluster has one slot per core; a 1-core machine gets 1).
RANKS=2; [ "$(nproc)" -ge 2 ] || RANKS=1
tmp=$(mktemp -d)
cleanup() {
  if [ -n "${SLURM_CONF:-}" ]; then scancel --user="$(id -un)" 2>/dev/null || true; sleep 1; fi
  [ -d "$tmp/cluster" ] && { bash "$SRC/tests/slurm/local_cluster.sh" stop "$tmp/cluster" || true; }
  if [ -n "${EP_SLURM_TEST_KEEP:-}" ]; then echo "slurm.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

fail() { echo "slurm.sh: FAILED: $*" >&2; for f in "$tmp"/*.slurm/logs/*.out; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 40 "$f" >&2; }; done; exit 1; }

model() {  # $1 = name, $2 = seed
  printf '[[models]]\nname = "%s"\ntokenizer = "%s/examples/gpt2-tokenizer"\n[models.init]\narch = "gpt2"\nlayers = 2\nhidden = 32\nheads = 2\nmax_positions = 16\nseed = %s\n' "$1" "$SRC" "$2"
}
grid() {  # $1 = name, $2 = number of models, $3 = ranks_per_cell: a tiny random GPT-2 x int-mult grid
  { echo 'seed = 3'; echo "output = \"$1.h5\""; printf '[layout]\nranks_per_cell = %s\n' "$3"
    for i in $(seq 1 "$2"); do model "m$i" "$i"; done
    printf '[[tasks]]\nkind = "int-mult"\n[eigenprune]\np = [0.1]\nbatch_size = 8\n'; } > "$tmp/$1.toml"
}
cells_done() {  # $1 = results file
  [ -f "$1" ] && $PY - "$1" <<'PY' 2>/dev/null || echo 0
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
with open_results(sys.argv[1]) as f:
    print(sum(1 for c in f["cells"].values() if text(c.attrs["status"]) == "done"))
PY
}
job_state() { scontrol show job "$1" -o 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_for_cells() {  # $1 = results file, $2 = count, $3 = job id: poll until written (or the job ended)
  for _ in $(seq 1 600); do
    [ "$(cells_done "$1")" -ge "$2" ] && return 0
    case $(job_state "$3") in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) fail "job $3 ended before $2 cell(s) were written" ;; esac
    sleep 0.2
  done
  fail "no $2 cell(s) in $1 after 120 s"
}
wait_for_end() {  # $1 = job id, $2 = timeout (s): poll until the job is finished (requeues included)
  local s
  for _ in $(seq 1 $(( $2 * 2 ))); do
    s=$(job_state "$1")
    case $s in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "$s"; return 0 ;; esac
    sleep 0.5
  done
  fail "job $1 still $s after $2 s"
}
snapshot() {  # $1 = results file: the done cells, as they are now
  $PY - "$1" <<'PY'
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
with open_results(sys.argv[1]) as f:
    for n, c in sorted(f["cells"].items()):
        if text(c.attrs["status"]) == "done":
            print(n, text(c.attrs["written_at"]), c.attrs["run"])
PY
}
# The grid is complete, the snapshot's cells are untouched, and the log shows each
# cell written once (rank 0's progress line) and a second run that skipped them.
check_resumed() {  # $1 = results file, $2 = snapshot, $3 = cells, $4 = log
  $PY - "$1" "$2" "$3" <<'PY' || fail "results after the requeue"
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
path, snap, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
before = [l.split() for l in open(snap)]
with open_results(path) as f:
    cells = f["cells"]
    assert len(cells) == n and all(text(c.attrs["status"]) == "done" for c in cells.values()), \
        {k: text(c.attrs["status"]) for k, c in cells.items()}
    for name, written, run in before:
        c = cells[name]
        assert str(text(c.attrs["written_at"])) == written and str(c.attrs["run"]) == run, (name, written, run, dict(c.attrs))
    runs = sorted({int(c.attrs["run"]) for c in cells.values()})
    assert len(f["runs"]) >= 2 and runs[-1] >= 1, (len(f["runs"]), runs)
print(f"  {len(before)} cell(s) from before the requeue untouched; runs used: {runs}")
PY
  grep -q "restart 1" "$4" || fail "no second run in $4"
  grep -qE "[1-9][0-9]* finished earlier" "$4" || fail "the second run skipped nothing ($4)"
  local dup
  dup=$(grep -oE 'cell [A-Za-z0-9_.+-]+ done in' "$4" | sort | uniq -d)
  [ -z "$dup" ] || fail "cells computed twice: $dup"
  [ "$(grep -cE 'cell [A-Za-z0-9_.+-]+ done in' "$4")" -eq "$3" ] || fail "expected $3 cells written in $4"
}

cd "$tmp"

# ---- 0. --cell, merge and the stop signals, without Slurm ---------------------------
t=$SECONDS
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
grid local 3 1
for c in 0 2; do
  "$BIN" run local.toml --cell $c --out cells/cell_$c.h5 --threads 1 > cell$c.log 2>&1 || fail "run --cell $c: $(tail -5 cell$c.log)"
done
$PY - cells/cell_2.h5 <<'PY' || fail "run --cell 2 wrote more or less than cell 2"
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
with open_results(sys.argv[1]) as f:
    assert list(f["cells"]) == ["m3__int-mult"] and f["cells/m3__int-mult"].attrs["index"] == 2, list(f["cells"])
PY
"$BIN" run local.toml --cell 3 --out x.h5 > bad.log 2>&1 && fail "--cell 3 of a 3-cell grid was accepted"
grep -q "the grid has cells 0..2" bad.log || fail "no clear message for --cell 3: $(cat bad.log)"
# A cell file of other settings (another seed) must not enter this grid's file.
sed 's/^seed = 3/seed = 4/' local.toml > other.toml
"$BIN" run other.toml --cell 1 --out cells/other_1.h5 --threads 1 > other.log 2>&1 || fail "run other.toml"
rc=0; "$BIN" merge local.h5 --from cells --grid local.toml > merge1.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "merge with cell 1 missing: exit $rc, expected 1: $(cat merge1.log)"
grep -q "2 cell(s) copied" merge1.log && grep -q "m2__int-mult in cells/other_1.h5 is from other settings" merge1.log \
  && grep -q "cell 1 (m2__int-mult) is not done" merge1.log || fail "merge 1: $(cat merge1.log)"
"$BIN" run local.toml --cell 1 --out cells/cell_1.h5 --threads 1 > cell1.log 2>&1 || fail "run --cell 1"
"$BIN" merge local.h5 --from cells --grid local.toml > merge2.log 2>&1 || fail "merge 2: $(cat merge2.log)"
grep -q "1 cell(s) copied .* 2 already there" merge2.log || fail "merge 2 copied: $(cat merge2.log)"
"$BIN" merge local.h5 cells/cell_0.h5 cells/cell_1.h5 --grid local.toml > merge3.log 2>&1 || fail "merge 3"
grep -q "0 cell(s) copied .* 2 already there" merge3.log || fail "merge 3 is not idempotent: $(cat merge3.log)"
$PY - local.h5 <<'PY' || fail "merged file"
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
with open_results(sys.argv[1]) as f:
    cells = f["cells"]
    assert sorted(cells) == ["m1__int-mult", "m2__int-mult", "m3__int-mult"], sorted(cells)
    assert [cells[n].attrs["index"] for n in sorted(cells)] == [0, 1, 2]
    for n, c in cells.items():
        run = f["runs"][str(c.attrs["run"])]
        assert f"--cell {c.attrs['index']} " in text(run.attrs["command_line"]), (n, text(run.attrs["command_line"]))
    # runs: merge 1 (cells 0 and 2 + the merge), merge 2 (cell 1 + the merge); merge 3 added nothing
    assert len(f["runs"]) == 5, list(f["runs"])
    assert text(f.attrs["command_line"]).startswith("eprunner merge"), text(f.attrs["command_line"])
PY
"$BIN" report local.h5 | grep -q "m3" || fail "report of the merged file"

# USR1 to mpirun: both ranks stop after their cells in progress; exit 75; the rerun finishes.
grid sig 6 1
mpirun -np "$RANKS" --oversubscribe "$BIN" run sig.toml --threads 1 > sig1.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ "$(cells_done sig.h5)" -ge 1 ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.2; done
kill -USR1 $pid
rc=0; wait $pid || rc=$?
[ "$rc" -eq 75 ] || fail "mpirun after USR1: exit $rc, expected 75: $(tail -20 sig1.log)"
n=$(cells_done sig.h5)
[ "$n" -lt 6 ] && grep -q "not started (rerun to continue)" sig1.log || fail "USR1 did not stop the run early ($n cells)"
mpirun -np "$RANKS" --oversubscribe "$BIN" run sig.toml --threads 1 > sig2.log 2>&1 || fail "rerun after USR1"
grep -q "$n finished earlier, $((6 - n)) to run" sig2.log && [ "$(cells_done sig.h5)" -eq 6 ] || fail "rerun after USR1: $(grep -E 'finished earlier' sig2.log)"
# SIGTERM to a lone eprunner (no mpirun): the same.
grid term 4 1
"$BIN" run term.toml --threads 1 > term.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ "$(cells_done term.h5)" -ge 1 ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.2; done
kill -TERM $pid
rc=0; wait $pid || rc=$?
[ "$rc" -eq 75 ] && [ "$(cells_done term.h5)" -lt 4 ] || fail "eprunner after SIGTERM: exit $rc, $(cells_done term.h5) cells"
echo "slurm.sh: 0. --cell, merge, USR1 via mpirun (stopped after $n of 6 cells), SIGTERM: exit 75 ($((SECONDS - t)) s)"
unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM  # the mpirun job script must set them itself

for p in slurmctld slurmd munged sbatch srun scontrol; do
  command -v "$p" >/dev/null || { echo "slurm.sh: SKIPPED parts 1-4: $p is not installed (scripts/setup installs slurm-wlm and munge)"; exit 0; }
done
# shellcheck source=../slurm/local_cluster.sh
source "$SRC/tests/slurm/local_cluster.sh" start "$tmp/cluster"
set -euo pipefail
echo "slurm.sh: local cluster up ($SLURM_CONF)"

# ---- 1. sbatch --wait -----------------------------------------------------------------
t=$SECONDS
grid basic 3 1
"$BIN" slurm basic.toml --ntasks-per-node "$RANKS" --time 10 --signal-before 60 > basic.out
script=$(sed -n 's/^wrote //p' basic.out)
[ -x "$script" ] || fail "no script: $(cat basic.out)"
grep -q -- '--signal=B:USR1@60' "$script" && grep -q 'srun --mpi=pmix' "$script" || fail "script lacks directives"
sbatch --wait "$script" > /dev/null || fail "sbatch --wait: the job failed"
[ "$(cells_done basic.h5)" -eq 3 ] || fail "basic.h5 has $(cells_done basic.h5) of 3 cells"
grep -q "the grid is finished" basic.slurm/logs/*.out || fail "no end line in the log"
grep -q "$RANKS rank(s), srun" basic.slurm/logs/*.out || fail "not $RANKS ranks under srun"
echo "slurm.sh: 1. sbatch --wait: 3 of 3 cells done ($((SECONDS - t)) s)"

# ---- 2. scontrol requeue of the running job ------------------------------------------
t=$SECONDS
grid requeue 8 1
id=$("$BIN" slurm requeue.toml --ntasks-per-node "$RANKS" --submit | sed -n 's/^submitted job //p')
[ -n "$id" ] || fail "--submit printed no job id"
wait_for_cells requeue.h5 1 "$id"
snapshot requeue.h5 > requeue.before
[ "$(wc -l < requeue.before)" -lt 8 ] || fail "the grid finished before the requeue; make its cells slower"
scontrol requeue "$id"
state=$(wait_for_end "$id" 150)
[ "$state" = COMPLETED ] || fail "job $id ended $state after the requeue"
check_resumed requeue.h5 requeue.before 8 "requeue.slurm/logs/ep-requeue-$id.out"
echo "slurm.sh: 2. scontrol requeue after $(wc -l < requeue.before) cell(s): grid complete, nothing lost or repeated ($((SECONDS - t)) s)"

# ---- 3. USR1 -> stop at a cell boundary -> exit 75 -> requeue (mpirun, one group of 2) --
t=$SECONDS
grid usr1 8 2
id=$("$BIN" slurm usr1.toml --ntasks-per-node "$RANKS" --launcher mpirun --time 10 --signal-before 120 --submit | sed -n 's/^submitted job //p')
wait_for_cells usr1.h5 1 "$id"
snapshot usr1.h5 > usr1.before
[ "$(wc -l < usr1.before)" -lt 8 ] || fail "the grid finished before the signal"
scancel --signal=USR1 --batch "$id"
state=$(wait_for_end "$id" 150)
[ "$state" = COMPLETED ] || fail "job $id ended $state after USR1"
log="usr1.slurm/logs/ep-usr1-$id.out"
grep -q "USR1: the time limit is near" "$log" || fail "the batch script did not see USR1"
grep -q "not started (rerun to continue)" "$log" || fail "eprunner did not stop early"
grep -q "eprunner stopped before the end: requeueing job $id" "$log" || fail "no requeue after exit 75"
grep -q "$RANKS rank(s), mpirun" "$log" || fail "not $RANKS ranks under mpirun"
check_resumed usr1.h5 usr1.before 8 "$log"
echo "slurm.sh: 3. USR1 after $(wc -l < usr1.before) cell(s): stopped, requeued, grid complete ($((SECONDS - t)) s)"

# ---- 3b. eprunner still busy GRACE s after USR1: the script requeues anyway ------------
# A stand-in for eprunner that ignores USR1, as a cell longer than the grace period would.
t=$SECONDS
printf '#!/bin/bash\ntrap "echo stand-in: USR1 ignored" USR1\necho "stand-in eprunner $*"\nfor i in $(seq 1 600); do sleep 0.1; done\n' > stubborn.sh
chmod +x stubborn.sh
id=$("$BIN" slurm basic.toml --eprunner stubborn.sh --signal-before 10 --job-name ep-stubborn --submit 2>/dev/null | sed -n 's/^submitted job //p')
log="basic.slurm/logs/ep-stubborn-$id.out"
for _ in $(seq 1 300); do grep -q "stand-in eprunner run" "$log" 2>/dev/null && break; sleep 0.2; done
scancel --signal=USR1 --batch "$id"
for _ in $(seq 1 200); do grep -q "restart 1" "$log" 2>/dev/null && break; sleep 0.2; done
grep -q "eprunner still runs 8s after USR1 (its cells in progress are abandoned): requeueing job $id" "$log" \
  && grep -q "restart 1" "$log" || fail "no requeue after the grace period in $log"
scancel "$id"
echo "slurm.sh: 3b. eprunner outlasting the grace period: requeued anyway ($((SECONDS - t)) s)"

# ---- 4. --array: one task per cell, then the merge job --------------------------------
t=$SECONDS
grid array 3 1
"$BIN" slurm array.toml --array --time 10 --signal-before 60 --submit > array.out || fail "$(cat array.out)"
read -r array_id merge_id < <(sed -n 's/^submitted array job \([0-9]*\) and merge job \([0-9]*\).*/\1 \2/p' array.out)
[ -n "$merge_id" ] || fail "no job ids: $(cat array.out)"
scontrol show job "$merge_id" -o | grep -q "Dependency=afterany:${array_id}" || fail "merge job not afterany:$array_id"
state=$(wait_for_end "$merge_id" 150)
[ "$state" = COMPLETED ] || fail "merge job ended $state"
$PY - array.h5 <<'PY' || fail "merged results"
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
with open_results(sys.argv[1]) as f:
    cells = f["cells"]
    assert sorted(cells) == ["m1__int-mult", "m2__int-mult", "m3__int-mult"], sorted(cells)
    for name, c in cells.items():
        assert text(c.attrs["status"]) == "done", (name, text(c.attrs["status"]))
        run = f["runs"][str(c.attrs["run"])]
        # Provenance kept: the cell's run is the array task that computed it.
        assert f"--cell {c.attrs['index']} " in text(run.attrs["command_line"]), (name, text(run.attrs["command_line"]))
    assert "eprunner merge" in text(f.attrs["command_line"]), text(f.attrs["command_line"])
print("  3 cells merged, each pointing at its array task's run")
PY
"$BIN" slurm array.toml --array | grep -q "nothing to submit" || fail "a finished grid should need no array"
echo "slurm.sh: 4. array + merge: 3 of 3 cells in array.h5 ($((SECONDS - t)) s)"

echo "slurm.sh: OK ($((SECONDS - start)) s)"
