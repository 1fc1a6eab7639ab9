#!/usr/bin/env bash
# Failures a grid run must survive:
# 1. kill -9 of one rank in the middle of a cell: mpirun exits non-zero; the rerun
#    finishes the grid with every earlier cell intact and none computed twice.
# 2. a grid naming a missing checkpoint: that cell records its error, the other
#    cells finish, and the exit code is non-zero.
# 3. one rank of a group failing (a test-only hook, EPRUNNER_TEST_FAIL) while loading,
#    scoring or evaluating, with groups of 2 ranks out of 2 and of 4: the cell ends on
#    every rank of its group with that error in the results file, within seconds,
#    nobody hangs in a collective, and the other cells finish.
# 4. a cell that cannot fit its device (a seeded model of 6 TB): refused before it
#    loads anything, with the estimate and the free memory in its error; `plan` shows
#    the estimate; the other cell finishes.
# Usage: grid_failures.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
export PYTHONPATH="$SRC/tests/cli/lib${PYTHONPATH:+:$PYTHONPATH}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d); trap 'pkill -9 -f "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT

model() {  # $1 = name, $2 = seed
  cat <<M
[[models]]
name = "$1"
tokenizer = "$SRC/examples/gpt2-tokenizer"
[models.init]
arch = "gpt2"
layers = 2
hidden = 32
heads = 2
max_positions = 16
seed = $2
M
}

# ---- 1. kill -9 in the middle of a cell --------------------------------------------
{
  echo 'seed = 3'; echo 'output = "kill.h5"'
  model a 1; model b 2; model c 3
  printf '[[tasks]]\nkind = "int-sum"\n[eigenprune]\np = [0.1]\nbatch_size = 8\n'
} > "$tmp/kill.toml"
out="$tmp/kill.h5"
mpirun -np 2 "$BIN" run "$tmp/kill.toml" --threads 1 > "$tmp/kill1.log" 2>&1 &
mpirun_pid=$!
cells_done() { [ -f "$out" ] && $PY - "$out" <<'PY' 2>/dev/null || echo 0
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
with open_results(sys.argv[1]) as f:
    print(sum(1 for c in f["cells"].values() if text(c.attrs["status"]) == "done"))
PY
}
for _ in $(seq 1 600); do
  [ "$(cells_done)" -ge 1 ] && break
  kill -0 $mpirun_pid 2>/dev/null || break
  sleep 0.2
done
first=$(cells_done)
[ "$first" -ge 1 ] && [ "$first" -lt 3 ] || { cat "$tmp/kill1.log"; echo "grid_failures.sh: expected a partly done grid, found $first cell(s)" >&2; exit 1; }
# A rank that is computing a cell right now: kill -9 the last eprunner process.
victim=$(pgrep -f "eprunner run $tmp/kill.toml" | tail -n 1)
kill -9 "$victim"
rc=0; wait $mpirun_pid || rc=$?
[ "$rc" -ne 0 ] || { echo "grid_failures.sh: mpirun exited 0 after a rank was killed" >&2; exit 1; }
# Another cell may have finished between the count and the kill: count again now.
first=$(cells_done)
[ "$first" -lt 3 ] || { echo "grid_failures.sh: every cell finished before the kill; nothing to resume" >&2; exit 1; }
echo "killed rank pid $victim with $first cell(s) done; mpirun exited $rc"
# Remember the finished cells exactly as they were.
$PY - "$out" > "$tmp/before.txt" <<'PY'
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
with open_results(sys.argv[1]) as f:
    for n, c in sorted(f["cells"].items()):
        if text(c.attrs["status"]) == "done":
            print(n, text(c.attrs["written_at"]), c.attrs["run"], c["base/test"].attrs["accuracy"])
PY
timeout 600 mpirun -np 2 "$BIN" run "$tmp/kill.toml" --threads 1 > "$tmp/kill2.log" 2>&1 \
  || { tail -n 30 "$tmp/kill2.log"; echo "grid_failures.sh: the rerun failed" >&2; exit 1; }
grep -q "$first finished earlier" "$tmp/kill2.log" || { grep "finished earlier" "$tmp/kill2.log"; echo "grid_failures.sh: the rerun did not skip the $first finished cell(s)" >&2; exit 1; }
$PY - "$out" "$tmp/before.txt" <<'PY'
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
before = [l.split() for l in open(sys.argv[2])]
with open_results(sys.argv[1]) as f:
    cells = f["cells"]
    assert len(cells) == 3 and all(text(c.attrs["status"]) == "done" for c in cells.values()), \
        {n: text(c.attrs["status"]) for n, c in cells.items()}
    for n, written, run, acc in before:
        c = cells[n]
        # Written once, by the first run, and untouched by the rerun.
        assert str(text(c.attrs["written_at"])) == written and str(c.attrs["run"]) == run, (n, written, text(c.attrs["written_at"]))
        assert repr(c["base/test"].attrs["accuracy"]) == acc or str(c["base/test"].attrs["accuracy"]) == acc
    reruns = [n for n, c in cells.items() if c.attrs["run"] == 1]
    assert len(reruns) == 3 - len(before), reruns
print("kill -9: earlier cells intact, the rest computed once by the rerun")
PY

# ---- 2. a missing checkpoint ----------------------------------------------------------
{
  echo 'seed = 3'; echo 'output = "missing.h5"'
  printf '[[models]]\nname = "ghost"\npath = "%s/no-such-model"\ntokenizer = "%s/examples/gpt2-tokenizer"\n' "$tmp" "$SRC"
  model a 1
  printf '[[tasks]]\nkind = "int-mult"\n[eigenprune]\np = [0.1]\nbatch_size = 8\n'
} > "$tmp/missing.toml"
rc=0; timeout 600 mpirun -np 2 "$BIN" run "$tmp/missing.toml" --threads 1 > "$tmp/missing.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || { echo "grid_failures.sh: a failed cell must make the exit code non-zero" >&2; exit 1; }
$PY - "$tmp/missing.h5" "$tmp/no-such-model" <<'PY'
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
with open_results(sys.argv[1]) as f:
    ghost, ok = f["cells/ghost__int-mult"], f["cells/a__int-mult"]
    assert text(ghost.attrs["status"]) == "error", text(ghost.attrs["status"])
    assert sys.argv[2] in text(ghost.attrs["error"]) and "checkpoint" in text(ghost.attrs["error"]) \
        and "does not exist" in text(ghost.attrs["error"]), text(ghost.attrs["error"])
    assert text(ok.attrs["status"]) == "done", text(ok.attrs["error"])
    print("missing checkpoint: error recorded:", text(ghost.attrs["error"]))
PY
# ---- 3. one rank of a group fails ------------------------------------------------------
{
  echo 'seed = 3'; echo 'output = "inject.h5"'
  printf '[layout]\nranks_per_cell = 2\n'
  model a 1; model b 2; model c 3
  printf '[[tasks]]\nkind = "int-mult"\n[eigenprune]\np = [0.1]\nbatch_size = 8\n'
} > "$tmp/inject.toml"
for np in 2 4; do
  fail_spec="a__int-mult:1:score,c__int-mult:0:load"
  [ "$np" -eq 4 ] && fail_spec="a__int-mult:1:evaluate,b__int-mult:0:score"
  start=$(date +%s)
  rc=0
  EPRUNNER_TEST_FAIL=$fail_spec timeout 300 mpirun -np "$np" --oversubscribe -x EPRUNNER_TEST_FAIL "$BIN" run \
    "$tmp/inject.toml" --out "$tmp/inject$np.h5" --threads 1 > "$tmp/inject$np.log" 2>&1 || rc=$?
  took=$(( $(date +%s) - start ))
  [ "$rc" -ne 124 ] || { tail -n 30 "$tmp/inject$np.log"; echo "grid_failures.sh: -np $np hung after an injected failure" >&2; exit 1; }
  [ "$rc" -ne 0 ] || { echo "grid_failures.sh: -np $np: failed cells must make the exit code non-zero" >&2; exit 1; }
  $PY - "$tmp/inject$np.h5" "$fail_spec" <<'PY' || { tail -n 30 "$tmp/inject$np.log"; exit 1; }
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
failing = {s.split(":")[0]: s for s in sys.argv[2].split(",")}
with open_results(sys.argv[1]) as f:
    cells = f["cells"]
    assert sorted(cells) == ["a__int-mult", "b__int-mult", "c__int-mult"], sorted(cells)
    for name, c in cells.items():
        if name in failing:
            cell, rank, stage = failing[name].split(":")
            want = f"rank {rank} of the group failed: injected failure (EPRUNNER_TEST_FAIL) at {stage} of cell {cell}"
            assert text(c.attrs["status"]) == "error" and want in text(c.attrs["error"]), (name, text(c.attrs["status"]), text(c.attrs["error"]))
            print(f"  {name}: error recorded: {c.attrs['error']}")
        else:
            assert text(c.attrs["status"]) == "done", (name, text(c.attrs["error"]))
            print(f"  {name}: done")
PY
  echo "injected failures with -np $np ($fail_spec): run ended in $took s, exit $rc"
done
# ---- 4. a cell too big for its device ----------------------------------------------
{
  echo 'seed = 3'; echo 'output = "big.h5"'
  model small 1
  printf '[[models]]\nname = "huge"\ntokenizer = "%s/examples/gpt2-tokenizer"\n[models.init]\narch = "gpt2"\n' "$SRC"
  printf 'layers = 2000\nhidden = 8192\nheads = 64\nmax_positions = 16\n'
  printf '[[tasks]]\nkind = "int-mult"\n[eigenprune]\np = [0.1]\nbatch_size = 8\n'
} > "$tmp/big.toml"
"$BIN" plan "$tmp/big.toml" > "$tmp/big-plan.txt"
grep -E "^ +1  huge__int-mult +[0-9]+ +[0-9.]+ GiB" "$tmp/big-plan.txt" > /dev/null \
  || { cat "$tmp/big-plan.txt"; echo "grid_failures.sh: plan shows no memory estimate for the huge cell" >&2; exit 1; }
rc=0
start=$(date +%s)
timeout 300 "$BIN" run "$tmp/big.toml" --threads 1 > "$tmp/big.log" 2>&1 || rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" -eq 1 ] || { tail -n 20 "$tmp/big.log"; echo "grid_failures.sh: a refused cell must exit 1, got $rc" >&2; exit 1; }
$PY - "$tmp/big.h5" <<'PY' || { tail -n 20 "$tmp/big.log"; exit 1; }
import sys, h5py
from results_view import open_results, text  # the file and its journal (tests/cli/lib)
with open_results(sys.argv[1]) as f:
    small, huge = f["cells/small__int-mult"], f["cells/huge__int-mult"]
    assert text(small.attrs["status"]) == "done", text(small.attrs["error"])
    err = text(huge.attrs["error"])
    assert text(huge.attrs["status"]) == "error" and "cannot fit on cpu: it needs at least" in err and "is free" in err, err
    print(f"  huge__int-mult: {err}")
PY
echo "a cell too big for the device: refused in a $took s run, the other cell done"
echo "grid_failures.sh: OK"
