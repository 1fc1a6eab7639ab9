// What a grid asks for, cut into units of work, and how ranks share them.
//
// A cell is (model, its fine-tuning, task): one model load, one optional fine-tune,
// one scoring pass, then every p of the grid is frozen and evaluated from that same
// pass. Ranks form groups of `ranks_per_cell` consecutive world ranks; each group
// works on one cell at a time (data parallel inside the group) and takes its next
// cell from a queue (runner/cell_loop.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runner/grid.h"

namespace ep::runner {

struct Cell {
  int index = 0;            // position in grid order (model-major)
  int model = 0;            // index into Grid::models
  int task = 0;             // index into Grid::tasks
  std::string name;         // "<model>__<task>", the results file's group name
  std::string fingerprint;  // hash of every setting the cell's result depends on
};

// Model-major order: consecutive cells share a model, so a group that asks for
// "another cell of the model I hold" (the queue's affinity) usually gets one.
std::vector<Cell> make_cells(const grid::Grid& grid);

std::string cell_name(const std::string& model, const std::string& task);

// 16 hex digits of FNV-1a over the cell's canonical description (grid::describe of
// model, task and eigenprune settings, plus the grid seed). Ranks and output path
// are left out: the result must not depend on them.
std::string cell_fingerprint(const grid::Grid& grid, int model, int task);

// The cells a run still has to compute. A finished cell (in `finished`: name ->
// fingerprint, from the results file) is skipped unless `restart`, or unless its
// fingerprint differs (the grid changed under it): then it is recomputed and
// `changed` (if given) lists it so the caller can say so.
std::vector<Cell> cells_to_run(const std::vector<Cell>& cells, const std::map<std::string, std::string>& finished,
                               bool restart, std::vector<std::string>* changed = nullptr);

// How world ranks split into groups: group g is ranks [g*k, (g+1)*k), k =
// ranks_per_cell. Consecutive ranks, because mpirun places consecutive ranks on the
// same node, which keeps a group's NCCL traffic inside a node when it can.
struct GroupLayout {
  int world_size = 1;
  int ranks_per_cell = 1;  // after clamping to world_size
  int n_groups = 1;
  int idle_ranks = 0;      // world_size % ranks_per_cell ranks that get no group

  int group_of(int world_rank) const;      // -1 for an idle rank
  int rank_in_group(int world_rank) const; // -1 for an idle rank
  int leader_of(int group) const { return group * ranks_per_cell; }
  bool is_leader(int world_rank) const { return rank_in_group(world_rank) == 0; }
};

// `notes` (if given) receives a line for each adjustment: fewer ranks than
// ranks_per_cell (one smaller group: results do not depend on group size), or
// ranks left idle because the world does not divide evenly.
GroupLayout plan_groups(int world_size, int ranks_per_cell, std::vector<std::string>* notes = nullptr);

}  // namespace ep::runner
