// The provenance a run stores in its results file, gathered in one place.
#pragma once

#include <string>

#include "runner/grid.h"
#include "runner/results_file.h"

namespace ep::runner {

// Grid text and path, eprunner version and git commit, the command line, LibTorch
// and MPI versions, and the start time. `devices` is the caller's description
// ("cpu x 2 ranks", "cuda: NVIDIA H100 x 8"). world_size and hosts are filled by
// run_cells, the HDF5 version by the writer.
Provenance make_provenance(const grid::Grid& grid, int argc, const char* const* argv, const std::string& devices);

}  // namespace ep::runner
