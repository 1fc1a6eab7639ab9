// `eprunner slurm grid.toml [--nodes N] [--gpus-per-node G] [--ntasks-per-node K]
// [--cpus-per-task C] [--time T] [--partition P] [--account A] [--launcher srun|mpirun]
// [--signal-before S] [--array] [--submit] [--dry-run] ...`: writes the sbatch
// script(s) for a grid (slurm/sbatch.h has the text and the requeue protocol), says
// where, and with --submit hands them to sbatch. docs/slurm.md is the user's guide.
//
// Files go to one folder per results file, by default next to it:
//   <results stem>.slurm/run.sbatch              the one-job script
//   <results stem>.slurm/cells.sbatch, merge.sbatch   --array
//   <results stem>.slurm/logs/%x-%j.out           job output (%x-%A_%a for array tasks)
//   <results stem>.slurm/cells/cell_<I>.h5        --array: one results file per cell
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "core/util/error.h"
#include "runner/commands.h"
#include "runner/grid.h"
#include "runner/results_guard.h"
#include "runner/schedule.h"
#include "slurm/sbatch.h"

namespace ep::cli {
namespace {

namespace fs = std::filesystem;

struct SlurmArgs {
  std::string grid;
  std::string out;
  std::string dir;
  std::string eprunner;
  std::string launcher = "srun";
  bool array = false;
  bool submit = false;
  bool dry_run = false;
  slurm::JobOptions job;
};

fs::path this_executable() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  EP_CHECK(!ec, "cannot find the eprunner binary (/proc/self/exe: {}); give --eprunner PATH", ec.message());
  return p;
}

void write_script(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream f(path);
  f << text;
  f.close();
  EP_CHECK(f.good(), "could not write '{}'", path.string());
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);
}

// Runs a command, returns its stdout; an error with its exit status otherwise.
std::string run_capture(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  EP_CHECK(p != nullptr, "cannot run '{}'", command);
  std::string out;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int status = pclose(p);
  EP_CHECK(status == 0, "'{}' failed ({}); is Slurm's sbatch on PATH and the cluster reachable?", command,
           WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status)) : std::string("killed"));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// `sbatch --parsable` prints "jobid" or "jobid;cluster".
std::string sbatch(const fs::path& script, const std::string& extra = "") {
  std::string id = run_capture("sbatch --parsable " + extra + (extra.empty() ? "" : " ") + shell_quote(script.string()));
  id = id.substr(0, id.find(';'));
  EP_CHECK(!id.empty(), "sbatch printed no job id for '{}'", script.string());
  return id;
}

// Array mode runs only what the results file does not hold yet (done, same settings).
std::vector<int> unfinished_cells(const grid::Grid& g, const fs::path& results, int* finished_count) {
  std::map<std::string, std::string> finished;
  if (fs::exists(results)) finished = runner::read_results_guarded(results, runner::ReadDepth::Summaries)->finished();
  std::vector<int> out;
  for (const auto& c : runner::cells_to_run(runner::make_cells(g), finished, false)) out.push_back(c.index);
  *finished_count = static_cast<int>(runner::make_cells(g).size() - out.size());
  return out;
}

void run_slurm(SlurmArgs& a) {
  EP_CHECK(!(a.submit && a.dry_run), "--submit and --dry-run exclude each other");
  grid::Grid g = grid::load(a.grid);
  if (!a.out.empty()) g.output = fs::absolute(a.out);
  slurm::JobOptions& o = a.job;
  o.launcher = parse_name<slurm::Launcher>(a.launcher, "--launcher");
  o.eprunner = a.eprunner.empty() ? this_executable() : fs::absolute(a.eprunner);
  o.grid = fs::absolute(g.source);
  o.results = fs::absolute(g.output);
  const fs::path dir = a.dir.empty() ? fs::path(o.results).replace_extension(".slurm") : fs::absolute(a.dir);
  o.log_dir = dir / "logs";
  o.cell_dir = dir / "cells";

  const slurm::Layout lay = slurm::plan_layout(g, o);
  if (!a.array) {
    std::vector<std::string> notes;
    runner::plan_groups(lay.ranks(), g.layout.ranks_per_cell, &notes);
    for (const auto& n : notes) std::cerr << "note: " << n << "\n";
  }
  if (!lay.cuda && o.ntasks_per_node <= 0)
    std::cerr << "note: a CPU grid gets 1 rank per node unless told: give --ntasks-per-node = the nodes' cores for "
                 "one rank per core\n";

  if (!a.array) {
    const std::string script = slurm::grid_job_script(g, o);
    if (a.dry_run) {
      std::cout << script;
      return;
    }
    const fs::path path = dir / "run.sbatch";
    fs::create_directories(o.log_dir);
    write_script(path, script);
    std::cout << fmt::format("wrote {}\n  {} cells, {} rank(s); logs in {}\n", path.string(),
                             g.models.size() * g.tasks.size(), lay.ranks(), o.log_dir.string());
    if (a.submit) {
      const std::string id = sbatch(path);
      std::cout << fmt::format("submitted job {}\n  watch: squeue -j {}; tail -f {}/{}-{}.out\n", id, id,
                               o.log_dir.string(), o.job_name.empty() ? slurm::default_job_name(g) : o.job_name, id);
    } else {
      std::cout << fmt::format("submit with: sbatch {}\n", path.string());
    }
    return;
  }

  int finished = 0;
  const std::vector<int> cells = unfinished_cells(g, o.results, &finished);
  if (cells.empty()) {
    std::cout << fmt::format("all {} cells are finished in {}; nothing to submit\n", finished, o.results.string());
    return;
  }
  if (finished > 0)
    std::cerr << fmt::format("note: {} cell(s) are finished in {}; the array runs the other {}\n", finished,
                             o.results.string(), cells.size());
  const std::string cells_script = slurm::array_job_script(g, o, cells);
  const std::string merge_script = slurm::merge_job_script(g, o);
  if (a.dry_run) {
    std::cout << cells_script << "\n# ---- merge.sbatch (after the array: --dependency=afterany:<array job id>)\n"
              << merge_script;
    return;
  }
  const fs::path cells_path = dir / "cells.sbatch", merge_path = dir / "merge.sbatch";
  fs::create_directories(o.log_dir);
  fs::create_directories(o.cell_dir);
  write_script(cells_path, cells_script);
  write_script(merge_path, merge_script);
  std::cout << fmt::format("wrote {} ({} array task(s), one per cell, {} rank(s) each) and {}\n  cell files in {}; "
                           "logs in {}\n",
                           cells_path.string(), cells.size(), lay.ranks(), merge_path.string(), o.cell_dir.string(),
                           o.log_dir.string());
  if (a.submit) {
    const std::string array_id = sbatch(cells_path);
    const std::string merge_id = sbatch(merge_path, "--dependency=afterany:" + array_id);
    std::cout << fmt::format("submitted array job {} and merge job {} (after it)\n  watch: squeue -j {},{}\n",
                             array_id, merge_id, array_id, merge_id);
  } else {
    std::cout << fmt::format("submit with:\n  jid=$(sbatch --parsable {}) && sbatch --dependency=afterany:$jid {}\n",
                             cells_path.string(), merge_path.string());
  }
}

}  // namespace

void add_slurm_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("slurm", "Write (and with --submit, submit) Slurm batch scripts that run a grid");
  auto a = std::make_shared<SlurmArgs>();
  slurm::JobOptions& o = a->job;
  cmd->add_option("grid", a->grid, "the grid file (docs/grid-format.md)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--nodes", o.nodes, "nodes per job (default 1)");
  cmd->add_option("--gpus-per-node", o.gpus_per_node,
                  "GPUs per node (cuda grids; default the grid's [layout] gpus_per_node, or 1)");
  cmd->add_option("--ntasks-per-node", o.ntasks_per_node,
                  "ranks per node (default one per GPU; CPU grids: 1, give the cores for one rank per core)");
  cmd->add_option("--cpus-per-task", o.cpus_per_task, "cores (= threads) per rank (default 4 on GPU, 1 on CPU)");
  cmd->add_option("--time", o.time, "time limit per job, Slurm's format (e.g. 24:00:00, 1-12:00:00)");
  cmd->add_option("--partition", o.partition, "partition");
  cmd->add_option("--account", o.account, "account to charge");
  cmd->add_option("--job-name", o.job_name, "job name (default ep-<grid file name>)");
  cmd->add_option("--launcher", a->launcher, "how ranks start: srun (srun --mpi=pmix, default) or mpirun")
      ->check([](const std::string& s) { return find_name<slurm::Launcher>(s) ? "" : "expected one of: " + known_names<slurm::Launcher>(); });
  cmd->add_option("--signal-before", o.signal_seconds,
                  "seconds before the time limit at which eprunner is told to stop and the job requeues (default 300)");
  cmd->add_option("--max-requeues", o.max_requeues, "stop requeueing after this many restarts (default 20)");
  cmd->add_flag("--array", a->array, "one array task per unfinished cell, then a job that merges the cell files");
  cmd->add_option("--max-parallel", o.max_parallel, "--array: at most this many tasks at once (default no limit)");
  cmd->add_option("--out", a->out, "results file (overrides the grid's output)");
  cmd->add_option("--dir", a->dir, "folder for the scripts, logs/ and cells/ (default <results stem>.slurm)");
  cmd->add_option("--eprunner", a->eprunner, "the eprunner binary the jobs run (default this one)");
  cmd->add_flag("--submit", a->submit, "submit with sbatch and print the job id(s)");
  cmd->add_flag("--dry-run", a->dry_run, "print the script(s) instead of writing them");
  cmd->callback([a] { run_slurm(*a); });
}

}  // namespace ep::cli
