// The batch scripts' text (see sbatch.h for the requeue protocol). The scripts are
// plain bash with #SBATCH directives; everything a user may want to change by hand
// (paths, thread counts, the grace period) is a variable near the top.
#include "slurm/sbatch.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/util/error.h"

namespace ep::slurm {
namespace {

namespace fs = std::filesystem;

// A single-quoted shell word: safe for any path.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool has_space(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

int to_int(std::string_view s, std::string_view whole) {
  EP_CHECK(!s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }),
           "time limit '{}': expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS", whole);
  return std::stoi(std::string(s));
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::string launcher_name(Launcher l) { return l == Launcher::Srun ? "srun" : "mpirun"; }

// The #SBATCH lines every compute job shares.
std::string resource_directives(const Layout& lay, const JobOptions& o) {
  std::string s;
  s += fmt::format("#SBATCH --nodes={}\n", lay.nodes);
  s += fmt::format("#SBATCH --ntasks-per-node={}\n", lay.ranks_per_node);
  if (lay.gpus_per_node > 0) s += fmt::format("#SBATCH --gpus-per-node={}\n", lay.gpus_per_node);
  s += fmt::format("#SBATCH --cpus-per-task={}\n", lay.cpus_per_task);
  if (!o.time.empty()) s += fmt::format("#SBATCH --time={}\n", o.time);
  if (!o.partition.empty()) s += fmt::format("#SBATCH --partition={}\n", o.partition);
  if (!o.account.empty()) s += fmt::format("#SBATCH --account={}\n", o.account);
  return s;
}

// Requeue on USR1, keep one log across requeues.
std::string requeue_directives(const JobOptions& o) {
  return fmt::format(
      "#SBATCH --open-mode=append\n"
      "#SBATCH --requeue\n"
      "#SBATCH --signal=B:USR1@{}\n",
      o.signal_seconds);
}

std::string environment(const Layout& lay, const JobOptions& o) {
  std::string s;
  s += fmt::format("# Threads per rank = --cpus-per-task (torch, OpenMP and BLAS pools).\n"
                   "export OMP_NUM_THREADS={0} MKL_NUM_THREADS={0} OPENBLAS_NUM_THREADS={0}\n",
                   lay.cpus_per_task);
  if (lay.cuda)
    s += "# NCCL: a failed or stuck collective raises an error instead of hanging the job.\n"
         "export NCCL_ASYNC_ERROR_HANDLING=1 TORCH_NCCL_ASYNC_ERROR_HANDLING=1\n"
         "export NCCL_DEBUG=${NCCL_DEBUG:-WARN}\n";
  if (o.launcher == Launcher::Mpirun)
    s += "# Open MPI refuses to start as root unless told (containers, test clusters).\n"
         "if [ \"$(id -u)\" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi\n";
  return s;
}

// The launcher line that starts every rank of the job in the background.
std::string launch_line(const Layout& lay, const JobOptions& o, const std::string& eprunner_args) {
  if (o.launcher == Launcher::Srun)
    // srun 22.05+ does not pass the job's --cpus-per-task on to its tasks: repeat it.
    // --kill-on-bad-exit: a rank that dies must not leave the others waiting in a
    // collective until the time limit.
    return fmt::format("srun --mpi=pmix --cpus-per-task={} --kill-on-bad-exit=1 \"$EPRUNNER\" {} &\n",
                       lay.cpus_per_task, eprunner_args);
  std::string env = " -x OMP_NUM_THREADS -x MKL_NUM_THREADS -x OPENBLAS_NUM_THREADS";
  if (lay.cuda) env += " -x NCCL_ASYNC_ERROR_HANDLING -x TORCH_NCCL_ASYNC_ERROR_HANDLING -x NCCL_DEBUG";
  // Open MPI reads the allocation from Slurm; each rank's threads stay within the
  // job's cores (--bind-to none: the default core binding would pin them to one).
  return fmt::format("mpirun -np \"$SLURM_NTASKS\" --bind-to none{} \"$EPRUNNER\" {} &\n", env, eprunner_args);
}

// Runs the step, forwards USR1, decides: finished, requeue, or failed.
std::string run_and_requeue(const Layout& lay, const JobOptions& o, const std::string& eprunner_args,
                            const std::string& finished_text) {
  std::string s;
  s += fmt::format(
      "say() {{ echo \"[$(date -u +%Y-%m-%dT%H:%M:%SZ)] $*\"; }}\n"
      "requeue() {{\n"
      "  if [ \"${{SLURM_RESTART_COUNT:-0}}\" -ge \"$MAX_REQUEUES\" ]; then\n"
      "    say \"$1; requeued $MAX_REQUEUES times already: giving up (submit the script again to go on)\"\n"
      "    exit {0}\n"
      "  fi\n"
      "  say \"$1: requeueing job $SLURM_JOB_ID; its next run skips the finished cells\"\n"
      "  scontrol requeue \"$SLURM_JOB_ID\" || {{ say \"scontrol requeue failed: submit the script again to go on\"; exit {0}; }}\n"
      "  exit 0\n"
      "}}\n\n",
      kRunExitInterrupted);
  s += "say \"job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on $SLURM_JOB_NODELIST: $SLURM_NTASKS rank(s), "
       + launcher_name(o.launcher) + "\"\n";
  s += launch_line(lay, o, eprunner_args);
  s += fmt::format(
      "step=$!\n"
      "watchdog=\n"
      "# USR1 (--signal, or `scancel --signal=USR1 --batch`): ask every rank to stop after\n"
      "# its cell in progress; requeue anyway should it still run GRACE seconds later.\n"
      "on_usr1() {{\n"
      "  say \"USR1: the time limit is near; eprunner stops after the cells in progress\"\n"
      "  kill -USR1 \"$step\" 2>/dev/null\n"
      "  if [ -z \"$watchdog\" ]; then\n"
      "    ( sleep \"$GRACE\"; requeue \"eprunner still runs ${{GRACE}}s after USR1 (its cells in progress are "
      "abandoned)\" ) &\n"
      "    watchdog=$!\n"
      "  fi\n"
      "}}\n"
      "trap on_usr1 USR1\n"
      "# `wait` returns early when the trapped USR1 arrives: wait until the step has\n"
      "# ended, then once more for its exit status (bash keeps it).\n"
      "while wait \"$step\"; kill -0 \"$step\" 2>/dev/null; do :; done\n"
      "wait \"$step\"; rc=$?\n"
      "[ -n \"$watchdog\" ] && kill \"$watchdog\" 2>/dev/null\n"
      "case $rc in\n"
      "  0) say \"{1}\" ;;\n"
      "  {0}) requeue \"eprunner stopped before the end\" ;;\n"
      "  *) say \"eprunner exited with status $rc (1: a cell failed, its error is in the results file); not requeued\"\n"
      "     exit \"$rc\" ;;\n"
      "esac\n",
      kRunExitInterrupted, finished_text);
  return s;
}

std::string common_variables(const JobOptions& o) {
  return fmt::format(
      "EPRUNNER={}\n"
      "GRID={}\n"
      "RESULTS={}\n"
      "{:<17} # seconds to wait for eprunner after USR1 before requeueing anyway\n"
      "{:<17} # then give up (e.g. a cell longer than the time limit)\n",
      quote(o.eprunner.string()), quote(o.grid.string()), quote(o.results.string()),
      fmt::format("GRACE={}", grace_seconds(o.signal_seconds)), fmt::format("MAX_REQUEUES={}", o.max_requeues));
}

std::string ranks_text(const grid::Grid& g, const Layout& lay, bool one_group) {
  std::string s = fmt::format("{} node{} x {} = {} rank{}", lay.nodes, lay.nodes == 1 ? "" : "s", lay.ranks_per_node,
                              lay.ranks(), lay.ranks() == 1 ? "" : "s");
  if (lay.cuda)
    s += lay.ranks_per_node == lay.gpus_per_node ? ", one per GPU"
                                                 : fmt::format(" on {} GPU(s) per node", lay.gpus_per_node);
  else
    s += fmt::format(", {} core{} each", lay.cpus_per_task, lay.cpus_per_task == 1 ? "" : "s");
  if (one_group) return s + "; all in one group";
  const int k = std::min(std::max(1, g.layout.ranks_per_cell), lay.ranks());
  const int groups = lay.ranks() / k;
  s += fmt::format("; {} group{} of {} (ranks_per_cell {})", groups, groups == 1 ? "" : "s", k,
                   g.layout.ranks_per_cell);
  if (lay.ranks() % k) s += fmt::format(", {} rank(s) idle", lay.ranks() % k);
  return s;
}

std::string grid_text(const grid::Grid& g, const JobOptions& o) {
  return fmt::format("{}: {} cells ({} model{} x {} task{})", o.grid.string(), g.models.size() * g.tasks.size(),
                     g.models.size(), g.models.size() == 1 ? "" : "s", g.tasks.size(), g.tasks.size() == 1 ? "" : "s");
}

void check_log_dir(const JobOptions& o) {
  EP_CHECK(!o.log_dir.empty(), "no folder for the job logs");
  EP_CHECK(!has_space(o.log_dir.string()), "the log folder '{}' has white space, which #SBATCH --output cannot take",
           o.log_dir.string());
}

}  // namespace

long parse_time_limit(std::string_view text) {
  if (text == "UNLIMITED" || text == "INFINITE" || text == "unlimited" || text == "infinite") return -1;
  long days = 0;
  std::string_view rest = text;
  const size_t dash = text.find('-');
  if (dash != std::string_view::npos) {
    days = to_int(text.substr(0, dash), text);
    rest = text.substr(dash + 1);
  }
  const auto parts = split(rest, ':');
  EP_CHECK(parts.size() <= 3, "time limit '{}': too many fields", text);
  std::vector<long> v;
  for (auto p : parts) v.push_back(to_int(p, text));
  if (dash != std::string_view::npos) {  // D-H, D-H:M, D-H:M:S
    long h = v[0], m = v.size() > 1 ? v[1] : 0, s = v.size() > 2 ? v[2] : 0;
    return ((days * 24 + h) * 60 + m) * 60 + s;
  }
  if (v.size() == 1) return v[0] * 60;                        // M
  if (v.size() == 2) return v[0] * 60 + v[1];                 // M:S
  return (v[0] * 60 + v[1]) * 60 + v[2];                      // H:M:S
}

std::string array_spec(const std::vector<int>& indices, int max_parallel) {
  EP_CHECK(!indices.empty(), "an array job needs at least one task");
  std::string s;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (!s.empty()) s += ",";
    s += j == i ? fmt::format("{}", indices[i]) : fmt::format("{}-{}", indices[i], indices[j]);
    i = j + 1;
  }
  if (max_parallel > 0) s += fmt::format("%{}", max_parallel);
  return s;
}

int grace_seconds(int signal_seconds) { return std::max(1, signal_seconds * 4 / 5); }

std::string default_job_name(const grid::Grid& grid) {
  return "ep-" + (grid.source.empty() ? std::string("grid") : grid.source.stem().string());
}

Layout plan_layout(const grid::Grid& g, const JobOptions& o) {
  Layout lay;
  lay.cuda = g.eigenprune.uses_cuda();
  EP_CHECK(o.nodes >= 1, "--nodes {}: at least 1", o.nodes);
  lay.nodes = o.nodes;
  if (lay.cuda) {
    lay.gpus_per_node = o.gpus_per_node >= 0 ? o.gpus_per_node
                                             : (g.layout.gpus_per_node > 0 ? g.layout.gpus_per_node : 1);
    EP_CHECK(lay.gpus_per_node >= 1, "--gpus-per-node {}: the grid runs on cuda ([eigenprune] device), so each node "
             "needs at least one GPU", lay.gpus_per_node);
  } else {
    EP_CHECK(o.gpus_per_node <= 0, "--gpus-per-node {}: the grid runs on the CPU ([eigenprune] device = \"{}\"); set "
             "device = \"cuda\" in the grid to use GPUs", o.gpus_per_node, g.eigenprune.device);
    lay.gpus_per_node = 0;
  }
  lay.ranks_per_node = o.ntasks_per_node > 0 ? o.ntasks_per_node : (lay.cuda ? lay.gpus_per_node : 1);
  EP_CHECK(o.ntasks_per_node != 0, "--ntasks-per-node 0: at least 1");
  lay.cpus_per_task = o.cpus_per_task > 0 ? o.cpus_per_task : (lay.cuda ? 4 : 1);
  EP_CHECK(o.cpus_per_task != 0, "--cpus-per-task 0: at least 1");
  EP_CHECK(o.signal_seconds >= 10, "--signal-before {}: at least 10 seconds (eprunner needs time to stop)",
           o.signal_seconds);
  EP_CHECK(o.max_requeues >= 0, "--max-requeues {}: 0 or more", o.max_requeues);
  EP_CHECK(o.max_parallel >= 0, "--max-parallel {}: 0 (no limit) or more", o.max_parallel);
  if (!o.time.empty()) {
    const long limit = parse_time_limit(o.time);
    // A minute at least between the start and the signal: eprunner must be up (its
    // handler installed) when USR1 comes, or the signal would kill it.
    EP_CHECK(limit < 0 || limit >= o.signal_seconds + 60,
             "--time {} ({} s) leaves less than a minute before the signal (--signal-before {} s); give a longer "
             "--time or a shorter --signal-before", o.time, limit, o.signal_seconds);
  }
  return lay;
}

fs::path cell_file(const JobOptions& opts, int cell) { return opts.cell_dir / fmt::format("cell_{}.h5", cell); }

std::string grid_job_script(const grid::Grid& g, const JobOptions& o) {
  const Layout lay = plan_layout(g, o);
  check_log_dir(o);
  const std::string name = o.job_name.empty() ? default_job_name(g) : o.job_name;
  std::string s = "#!/bin/bash\n";
  s += "# eprunner grid job, written by `eprunner slurm` (docs/slurm.md).\n";
  s += fmt::format("#   grid     {}\n", grid_text(g, o));
  s += fmt::format("#   results  {}\n", o.results.string());
  s += fmt::format("#   ranks    {}\n", ranks_text(g, lay, false));
  s += fmt::format("# {} s before the time limit Slurm sends USR1 to this script, which passes it on to\n"
                   "# eprunner: the cells in progress finish, no new one starts, eprunner exits {}\n"
                   "# and the script requeues the job; the next run skips every finished cell.\n",
                   o.signal_seconds, kRunExitInterrupted);
  s += fmt::format("#SBATCH --job-name={}\n", name);
  s += resource_directives(lay, o);
  s += fmt::format("#SBATCH --output={}/%x-%j.out\n", o.log_dir.string());
  s += requeue_directives(o);
  s += "\n" + common_variables(o) + "\n" + environment(lay, o) + "\n";
  s += run_and_requeue(lay, o, "run \"$GRID\" --out \"$RESULTS\" --threads \"$OMP_NUM_THREADS\"",
                       "the grid is finished: $RESULTS");
  return s;
}

std::string array_job_script(const grid::Grid& g, const JobOptions& o, const std::vector<int>& cells) {
  const Layout lay = plan_layout(g, o);
  check_log_dir(o);
  EP_CHECK(!o.cell_dir.empty(), "no folder for the cell files");
  const int n_cells = static_cast<int>(g.models.size() * g.tasks.size());
  for (int c : cells) EP_CHECK(c >= 0 && c < n_cells, "cell {}: the grid has cells 0..{}", c, n_cells - 1);
  const std::string name = (o.job_name.empty() ? default_job_name(g) : o.job_name) + "-cells";
  std::string s = "#!/bin/bash\n";
  s += "# eprunner array job, written by `eprunner slurm --array` (docs/slurm.md): one task\n"
       "# per cell, each writing its own results file; merge.sbatch, submitted with\n"
       "# --dependency=afterany on this array, merges them into the grid's results file.\n";
  s += fmt::format("#   grid     {}; {} to run here\n", grid_text(g, o), cells.size());
  s += fmt::format("#   cells    {}/cell_<index>.h5, merged into {}\n", o.cell_dir.string(), o.results.string());
  s += fmt::format("#   ranks    {} per task\n", ranks_text(g, lay, true));
  s += fmt::format("# {} s before a task's time limit Slurm sends USR1; a task whose cell has not\n"
                   "# finished {} s later is requeued (the cell starts again).\n",
                   o.signal_seconds, grace_seconds(o.signal_seconds));
  s += fmt::format("#SBATCH --job-name={}\n", name);
  s += fmt::format("#SBATCH --array={}\n", array_spec(cells, o.max_parallel));
  s += resource_directives(lay, o);
  s += fmt::format("#SBATCH --output={}/%x-%A_%a.out\n", o.log_dir.string());
  s += requeue_directives(o);
  s += "\n" + common_variables(o);
  s += fmt::format("CELLS={}\n", quote(o.cell_dir.string()));
  s += "CELL=$SLURM_ARRAY_TASK_ID\n\n" + environment(lay, o) + "\n";
  s += run_and_requeue(lay, o,
                       "run \"$GRID\" --cell \"$CELL\" --out \"$CELLS/cell_$CELL.h5\" --threads \"$OMP_NUM_THREADS\"",
                       "cell $CELL is finished: $CELLS/cell_$CELL.h5");
  return s;
}

std::string merge_job_script(const grid::Grid& g, const JobOptions& o) {
  check_log_dir(o);
  EP_CHECK(!o.cell_dir.empty(), "no folder for the cell files");
  const std::string name = (o.job_name.empty() ? default_job_name(g) : o.job_name) + "-merge";
  std::string s = "#!/bin/bash\n";
  s += "# Merges the array's cell files into the grid's results file, written by\n"
       "# `eprunner slurm --array` (docs/slurm.md). Submitted with\n"
       "# --dependency=afterany:<array job>: it runs once every array task has ended, in\n"
       "# whatever state, so the cells that did finish are merged even if one task failed\n"
       "# (afterok would leave this job pending forever). It exits 1 and names the cells\n"
       "# still missing; `eprunner slurm --array` again then runs only those.\n";
  s += fmt::format("#SBATCH --job-name={}\n", name);
  s += "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n";
  if (!o.time.empty()) s += fmt::format("#SBATCH --time={}\n", o.time);
  if (!o.partition.empty()) s += fmt::format("#SBATCH --partition={}\n", o.partition);
  if (!o.account.empty()) s += fmt::format("#SBATCH --account={}\n", o.account);
  s += fmt::format("#SBATCH --output={}/%x-%j.out\n", o.log_dir.string());
  s += "\n" + fmt::format("EPRUNNER={}\nGRID={}\nRESULTS={}\nCELLS={}\n\n", quote(o.eprunner.string()),
                          quote(o.grid.string()), quote(o.results.string()), quote(o.cell_dir.string()));
  s += "\"$EPRUNNER\" merge \"$RESULTS\" --grid \"$GRID\" --from \"$CELLS\"\n";
  return s;
}

}  // namespace ep::slurm
