// Running a grid's cells on all ranks: the skeleton the cell executor plugs into.
//
//   world ──split──> groups of ranks_per_cell ranks (schedule.h)
//   world rank 0: reads the results file (skips finished cells), opens the writer,
//                 serves the cell queue from a thread (distributed/work_queue.h)
//   each group:   leader asks for a cell (preferring its current model), tells its
//                 members, all run the executor, the leader sends the result to 0
//   world rank 0: writes each result as it arrives (crash-safe), shows progress
//
// The executor (model + fine-tune + score + freeze + evaluate) is not here: it gets
// the cell and its group and returns a CellResult. Group members' return values
// are ignored; the leader's is the cell's result.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include <mpi.h>

#include "runner/grid.h"
#include "runner/results_file.h"
#include "runner/schedule.h"

namespace ep::runner {

class Progress;

// What one rank knows about its group while it runs a cell.
struct GroupContext {
  MPI_Comm world = MPI_COMM_NULL;
  MPI_Comm group = MPI_COMM_NULL;  // this group's ranks; make the device communicator from it
  int world_rank = 0;
  int world_size = 1;
  int group_index = 0;
  int n_groups = 1;
  int group_rank = 0;
  int group_size = 1;
  Progress* progress = nullptr;  // world rank 0 only: add_examples() for the live rate
};

using CellExecutor = std::function<CellResult(const grid::Grid&, const Cell&, const GroupContext&)>;

struct LoopOptions {
  bool restart = false;    // recompute every cell (the old file becomes <output>.bak)
  Provenance provenance;   // grid text, versions, devices... (world rank 0's is written)
  // Only this cell (grid index), e.g. one Slurm array task per cell; the others
  // are neither run nor counted as skipped.
  std::optional<int> only_cell;
  // Stop request, set asynchronously (cmd_run.cpp's SIGUSR1/SIGTERM handler). Read
  // at cell boundaries only: a group finishes (and the writer saves) the cell it
  // is computing, then starts no new one. A group stops when any of its ranks saw
  // the flag, and its leader drains the queue, so every other group stops at its
  // next boundary too: the signal may reach only some ranks, and no rank is left
  // waiting in a collective. The cells not started count as `interrupted`.
  const std::atomic<bool>* stop = nullptr;
};

struct LoopSummary {
  int cells = 0;        // in the grid (1 with only_cell)
  int skipped = 0;      // finished in an earlier run
  int done = 0;         // computed now, status "done"
  int failed = 0;       // computed now, status "error"
  int interrupted = 0;  // not started because of a stop request; a rerun computes them
};

// Collective over `world`. Needs MPI_THREAD_MULTIPLE when world has more than one
// rank (an ep::Error with a hint otherwise). An executor exception on every rank of
// a group becomes an "error" cell and the run goes on; the executor must keep its
// collectives consistent (a rank failing alone inside a collective hangs its group,
// so such failures should MPI_Abort).
LoopSummary run_cells(const grid::Grid& grid, MPI_Comm world, const CellExecutor& execute, const LoopOptions& opts);

}  // namespace ep::runner
