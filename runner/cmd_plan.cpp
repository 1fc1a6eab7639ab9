// `eprunner plan grid.toml [--np N]`: prints the cells and rank groups a run would
// use, and which cells an existing results file already holds. Runs nothing.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runner/commands.h"
#include "runner/plan.h"
#include "runner/results_guard.h"
#include "runner/schedule.h"

namespace ep::runner {
namespace {

int launcher_world_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(var)) return std::atoi(v);
  return 1;
}


}  // namespace
}  // namespace ep::runner

namespace ep::cli {

void add_plan_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("plan", "Print the cells and rank groups of a grid without running anything");
  auto grid_file = std::make_shared<std::string>();
  auto np = std::make_shared<int>(0);
  cmd->add_option("grid", *grid_file, "grid.toml")->required();
  cmd->add_option("--np", *np, "number of MPI ranks to plan for (default: the launcher's, else 1)")
      ->check(CLI::Range(static_cast<int>(1), static_cast<int>(grid::kMaxRanks)));
  cmd->callback([grid_file, np] {
    const grid::Grid g = grid::load(*grid_file);
    std::map<std::string, std::string> finished, failed;
    if (std::filesystem::exists(g.output)) {
      auto reader = runner::read_results_guarded(g.output, runner::ReadDepth::Summaries);
      for (const auto& c : reader->cells()) (c.status == runner::CellStatus::Done ? finished : failed)[c.name] = c.fingerprint;
    }
    const int world = *np > 0 ? *np : runner::launcher_world_size();
    std::cout << runner::format_plan(g, world, finished, failed);
  });
}

}  // namespace ep::cli
