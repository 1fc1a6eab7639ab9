// Cells in grid order, their fingerprints, and the split of ranks into groups.
#include "runner/schedule.h"

#include <fmt/format.h>

#include "core/util/error.h"

namespace ep::runner {
namespace {

// ref: FNV-1a 64-bit (Fowler, Noll, Vo): stable across platforms and libraries,
// unlike std::hash, so a results file written on one machine is resumable on another.
uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

std::string cell_name(const std::string& model, const std::string& task) { return model + "__" + task; }

std::string cell_fingerprint(const grid::Grid& grid, int model, int task) {
  std::string text = grid::describe(grid.models.at(model)) + "\n" + grid::describe(grid.tasks.at(task)) + "\n" +
                     grid::describe(grid.eigenprune) + "\nseed " + std::to_string(grid.seed);
  if (const std::string more = grid::describe_comparisons(grid); !more.empty()) text += "\n" + more;
  return fmt::format("{:016x}", fnv1a64(text));
}

std::vector<Cell> make_cells(const grid::Grid& grid) {
  std::vector<Cell> cells;
  for (int m = 0; m < static_cast<int>(grid.models.size()); ++m)
    for (int t = 0; t < static_cast<int>(grid.tasks.size()); ++t) {
      Cell c;
      c.index = static_cast<int>(cells.size());
      c.model = m;
      c.task = t;
      c.name = cell_name(grid.models[m].name, grid.tasks[t].name);
      c.fingerprint = cell_fingerprint(grid, m, t);
      cells.push_back(std::move(c));
    }
  return cells;
}

std::vector<Cell> cells_to_run(const std::vector<Cell>& cells, const std::map<std::string, std::string>& finished,
                               bool restart, std::vector<std::string>* changed) {
  std::vector<Cell> todo;
  for (const Cell& c : cells) {
    auto it = finished.find(c.name);
    if (restart || it == finished.end()) {
      todo.push_back(c);
    } else if (it->second != c.fingerprint) {
      if (changed) changed->push_back(c.name);
      todo.push_back(c);
    }
  }
  return todo;
}

int GroupLayout::group_of(int world_rank) const {
  int g = world_rank / ranks_per_cell;
  return g < n_groups ? g : -1;
}

int GroupLayout::rank_in_group(int world_rank) const {
  return group_of(world_rank) < 0 ? -1 : world_rank % ranks_per_cell;
}

GroupLayout plan_groups(int world_size, int ranks_per_cell, std::vector<std::string>* notes) {
  EP_CHECK(world_size >= 1, "world size must be >= 1, got {}", world_size);
  EP_CHECK(ranks_per_cell >= 1, "ranks_per_cell must be >= 1, got {}", ranks_per_cell);
  GroupLayout l;
  l.world_size = world_size;
  l.ranks_per_cell = ranks_per_cell;
  if (ranks_per_cell > world_size) {
    if (notes)
      notes->push_back(fmt::format("ranks_per_cell = {} but only {} rank(s): one group of {} (results do not "
                                   "depend on the group size, only the time does)",
                                   ranks_per_cell, world_size, world_size));
    l.ranks_per_cell = world_size;
  }
  l.n_groups = world_size / l.ranks_per_cell;
  l.idle_ranks = world_size % l.ranks_per_cell;
  if (l.idle_ranks > 0 && notes)
    notes->push_back(fmt::format("{} rank(s) stay idle: {} ranks do not split into groups of {}", l.idle_ranks,
                                 world_size, l.ranks_per_cell));
  return l;
}

}  // namespace ep::runner
