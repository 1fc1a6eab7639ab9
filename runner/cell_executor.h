// The cell executor: one grid cell (model, fine-tuning, task) end to end, on the
// ranks of one group. The data flow reads top-down in cell_executor.cpp:
//
//   load model (once per group and model) ─> build task splits ─> fine-tune (data
//   parallel) ─> decompose ─> score this rank's batches ─> all-reduce (max, sum)
//   ─> rank components ─> evaluate base and every p (sharded, gathered) ─> result
//
// Every rank of the group returns the same CellResult; cell_loop.h takes the leader's.
#pragma once

#include <memory>

#include "runner/cell_loop.h"

namespace ep::runner {

struct ExecutorOptions {
  int threads = 0;  // torch intra-op threads per rank; 0 = cores / ranks on this node
};

// A CellExecutor that keeps the group's loaded model (and tokenizer) between cells,
// so a group that takes several cells of one model loads it once.
CellExecutor make_cell_executor(const ExecutorOptions& opts);

}  // namespace ep::runner
