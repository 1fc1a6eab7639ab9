// `eprunner plan`: what a grid will do, without doing it.
#pragma once

#include <map>
#include <string>

#include "runner/grid.h"

namespace ep::runner {

// The grid's models, tasks and eigenpruning settings, its cells (with their state
// in an existing results file: `finished` maps name -> fingerprint of done cells,
// `failed` lists error cells), and how `world_size` ranks split into groups.
std::string format_plan(const grid::Grid& grid, int world_size, const std::map<std::string, std::string>& finished,
                        const std::map<std::string, std::string>& failed);

}  // namespace ep::runner
