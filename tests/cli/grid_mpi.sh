#!/usr/bin/env bash
# The MPI parts of ep_runner_tests (communicator, cell queue, cell loop) under
# mpirun with 2 and 4 ranks; under plain ctest those tests skip.
# Usage: grid_mpi.sh EPRUNNER_BIN SOURCE_DIR, with EP_RUNNER_TESTS = the test binary's
# path (ctest sets it from CMake).
set -euo pipefail
TESTS=${EP_RUNNER_TESTS:-}
[ -n "$TESTS" ] || { echo "grid_mpi.sh: EP_RUNNER_TESTS is not set (run it through ctest, or set it to ep_runner_tests' path)" >&2; exit 1; }
[ -x "$TESTS" ] || { echo "grid_mpi.sh: $TESTS not built (cmake --build ... --target ep_runner_tests)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "grid_mpi.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
FILTER='MpiCommunicator.*:WorkQueue.*:CellLoop.*'
for np in 2 4; do
  echo "== mpirun -np $np"
  # --oversubscribe: more ranks than cores is fine for these tests.
  log=$(timeout 300 mpirun -np "$np" --oversubscribe "$TESTS" --gtest_filter="$FILTER" --gtest_brief=1 2>&1) \
    || { echo "$log"; echo "grid_mpi.sh: failed with $np ranks" >&2; exit 1; }
  echo "$log" | grep -v "\[info\]\|\[error\]"
  # Every rank must have run (not skipped) the tests.
  if grep -q "SKIPPED" <<<"$log"; then echo "grid_mpi.sh: tests were skipped under mpirun" >&2; exit 1; fi
  passed=$(grep -c "PASSED" <<<"$log" || true)
  [ "$passed" -eq "$np" ] || { echo "grid_mpi.sh: $passed of $np ranks reported PASSED" >&2; exit 1; }
done
echo "grid_mpi.sh: OK"
