// Slurm batch scripts for a grid: text only. `eprunner slurm` (runner/cmd_slurm.cpp)
// fills JobOptions from its command line, writes these scripts and may submit them;
// the scripts run `eprunner run` / `eprunner merge`. Nothing here links the runner:
// the only project type used is grid::Grid (runner/grid.h, plain data).
//
// Two shapes (docs/slurm.md):
//   one job       all ranks run the whole grid (`eprunner run grid.toml`), one rank
//                 per GPU (or per core on CPU grids); requeued before its time limit
//                 until the grid is finished.
//   array + merge one array task per unfinished cell (`eprunner run --cell I --out
//                 cells/cell_I.h5`), then a job that depends on the array
//                 (afterany) and merges the cell files into the grid's results file.
//
// Requeue protocol, the same in both: `#SBATCH --signal=B:USR1@S` makes Slurm send
// USR1 to the batch shell S seconds before the time limit. The shell forwards it to
// the launcher (srun and mpirun pass USR1 on to every rank); eprunner finishes the
// cells in progress, starts no new one and exits ep::kExitInterrupted (75,
// core/util/exit_codes.h); the shell then runs `scontrol requeue $SLURM_JOB_ID`.
// The requeued job runs the same command, which skips every cell the results file
// holds (runner/cell_loop.h): nothing is lost and nothing is computed twice. Should
// eprunner still run `grace` seconds after the signal (a long cell), the shell
// requeues anyway: the cells in progress are abandoned and computed again by the
// next run.
//
// The scripts' text is in slurm/templates/*.sh.in (embedded at build time); sbatch.cpp
// fills in their @NAME@ placeholders.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "runner/grid.h"

namespace ep::slurm {

enum class Launcher { Srun, Mpirun };
inline constexpr Named<Launcher> kLauncherNames[] = {{Launcher::Srun, "srun"}, {Launcher::Mpirun, "mpirun"}};
constexpr const auto& names(Launcher) { return kLauncherNames; }

// What `eprunner slurm` was asked for. Negative numbers mean "choose from the grid"
// (see plan_layout).
struct JobOptions {
  int nodes = 1;
  int gpus_per_node = -1;    // cuda grids: [layout] gpus_per_node, else 1; cpu grids: 0
  int ntasks_per_node = -1;  // one rank per GPU; cpu grids: 1 (give the node's cores for one rank per core)
  int cpus_per_task = -1;    // cuda: 4; cpu: 1 (a rank per core)
  std::string time;          // Slurm time limit ("HH:MM:SS", "D-HH:MM", minutes...); "" = partition default
  std::string partition;     // "" = the cluster's default
  std::string account;
  std::string job_name;      // "" = "ep-<grid file stem>"
  int signal_seconds = 300;  // USR1 this long before the time limit
  int max_requeues = 20;     // give up after this many requeues (SLURM_RESTART_COUNT)
  Launcher launcher = Launcher::Srun;
  int max_parallel = 0;      // array mode: at most this many tasks at once (0 = no limit)

  std::filesystem::path eprunner;  // the binary the jobs run (absolute)
  std::filesystem::path grid;      // the grid file (absolute)
  std::filesystem::path results;   // the results file (absolute)
  std::filesystem::path log_dir;   // per-job output files go here
  std::filesystem::path cell_dir;  // array mode: one results file per cell
};

// Resources of one job (of one array task in array mode).
struct Layout {
  int nodes = 1;
  int ranks_per_node = 1;
  int gpus_per_node = 0;
  int cpus_per_task = 1;
  bool cuda = false;
  int ranks() const { return nodes * ranks_per_node; }
};

// Fills the defaults from the grid (eigenprune.device, layout.gpus_per_node) and
// checks the options: counts >= 1, no GPUs for a cpu grid, at least one for a cuda
// grid, a valid time limit at least a minute longer than the signal lead. Throws
// ep::Error.
Layout plan_layout(const grid::Grid& grid, const JobOptions& opts);

// Slurm's time formats ("M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S") in
// seconds; "UNLIMITED"/"INFINITE" give -1. Throws ep::Error on anything else.
long parse_time_limit(std::string_view text);

// "0-3,5,7-9" (plus "%M" when max_parallel > 0) from sorted, unique indices.
std::string array_spec(const std::vector<int>& indices, int max_parallel);

// Seconds the batch shell waits for eprunner after USR1 before it requeues anyway:
// 80% of the lead, leaving the rest for eprunner to exit and the requeue itself.
int grace_seconds(int signal_seconds);

std::string default_job_name(const grid::Grid& grid);

// The one-job script: every rank runs `eprunner run GRID --out RESULTS`.
std::string grid_job_script(const grid::Grid& grid, const JobOptions& opts);

// The array script: task I runs `eprunner run GRID --cell I --out CELL_DIR/cell_I.h5`.
// `cells`: the grid indices to run (sorted, unique, non-empty).
std::string array_job_script(const grid::Grid& grid, const JobOptions& opts, const std::vector<int>& cells);

// The merge script: `eprunner merge RESULTS --grid GRID --from CELL_DIR`, one task.
std::string merge_job_script(const grid::Grid& grid, const JobOptions& opts);

// Where a cell's file goes in array mode (CELL_DIR/cell_I.h5).
std::filesystem::path cell_file(const JobOptions& opts, int cell);

}  // namespace ep::slurm
