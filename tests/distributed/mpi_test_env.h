// MPI for the test binary. The MPI tests run when the binary is started by mpirun
// (tests/cli/grid_mpi.sh runs it with -np 2 and -np 4); under plain ctest they
// skip, so the rest of the suite needs no MPI launcher.
#pragma once

#include <gtest/gtest.h>
#include <mpi.h>

namespace ep::testing {

// True when started by mpirun; MPI is then initialized (MPI_THREAD_MULTIPLE asked)
// before the first test and finalized after the last.
bool under_mpirun();

}  // namespace ep::testing

#define EP_SKIP_UNLESS_MPIRUN()                                                          \
  do {                                                                                   \
    if (!::ep::testing::under_mpirun())                                                  \
      GTEST_SKIP() << "needs mpirun (tests/cli/grid_mpi.sh runs it with -np 2 and -np 4)"; \
  } while (0)
