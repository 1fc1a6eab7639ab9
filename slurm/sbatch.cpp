// The batch scripts (see sbatch.h for the requeue protocol): the templates in
// slurm/templates/ (run.sh.in, cells.sh.in, merge.sh.in and the pieces they share,
// embedded at build time) with their @NAME@ placeholders filled in here
// (slurm/text_template.h). The scripts are plain bash with #SBATCH directives;
// everything a user may want to change by hand (paths, thread counts, the grace
// period) is a variable near the top.
#include "slurm/sbatch.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/util/error.h"
#include "core/util/exit_codes.h"
#include "slurm/embedded_templates.h"
#include "slurm/text_template.h"

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

// "#SBATCH --NAME=VALUE\n" for a block placeholder; nothing for "" (the cluster's default).
std::string optional_directive(std::string_view name, const std::string& value) {
  return value.empty() ? "" : fmt::format("#SBATCH --{}={}\n", name, value);
}

// --time, --partition, --account: every script has them, when given.
void add_site_directives(TemplateValues& v, const JobOptions& o) {
  v["TIME_DIRECTIVE"] = optional_directive("time", o.time);
  v["PARTITION_DIRECTIVE"] = optional_directive("partition", o.partition);
  v["ACCOUNT_DIRECTIVE"] = optional_directive("account", o.account);
}

// The value after `assignment` ("GRACE=") in the templates' `GRACE=@GRACE_PADDED@ # ...`
// lines, padded so that their comments line up in column 19.
std::string padded_after(std::string_view assignment, long value) {
  return fmt::format("{:<{}}", value, 17 - assignment.size());
}

// The command (@LAUNCH@) that starts every rank of the job; the templates add
// `"$EPRUNNER" run ... &`.
std::string launch_command(const Layout& lay, const JobOptions& o) {
  if (o.launcher == Launcher::Srun)
    // srun 22.05+ does not pass the job's --cpus-per-task on to its tasks: repeat it.
    // --kill-on-bad-exit: a rank that dies must not leave the others waiting in a
    // collective until the time limit.
    return fmt::format("srun --mpi=pmix --cpus-per-task={} --kill-on-bad-exit=1", lay.cpus_per_task);
  std::string env = " -x OMP_NUM_THREADS -x MKL_NUM_THREADS -x OPENBLAS_NUM_THREADS";
  if (lay.cuda) env += " -x NCCL_ASYNC_ERROR_HANDLING -x TORCH_NCCL_ASYNC_ERROR_HANDLING -x NCCL_DEBUG";
  // Open MPI reads the allocation from Slurm; each rank's threads stay within the
  // job's cores (--bind-to none: the default core binding would pin them to one).
  return "mpirun -np \"$SLURM_NTASKS\" --bind-to none" + env;
}

// What run.sh.in and cells.sh.in both take: resources, the variables at the top, the
// environment, the launcher and the requeue code (finished_message: what the step
// says when eprunner exits 0).
TemplateValues compute_job_values(const grid::Grid& g, const Layout& lay, const JobOptions& o,
                                  std::string_view finished_message) {
  TemplateValues v;
  v["GRID_SUMMARY"] = fmt::format("{}: {} cells ({} model{} x {} task{})", o.grid.string(),
                                  g.models.size() * g.tasks.size(), g.models.size(), g.models.size() == 1 ? "" : "s",
                                  g.tasks.size(), g.tasks.size() == 1 ? "" : "s");
  v["RESULTS_PATH"] = o.results.string();
  v["SIGNAL_SECONDS"] = std::to_string(o.signal_seconds);
  v["NODES"] = std::to_string(lay.nodes);
  v["NTASKS_PER_NODE"] = std::to_string(lay.ranks_per_node);
  v["GPUS_PER_NODE_DIRECTIVE"] =
      optional_directive("gpus-per-node", lay.gpus_per_node > 0 ? std::to_string(lay.gpus_per_node) : "");
  v["CPUS_PER_TASK"] = std::to_string(lay.cpus_per_task);
  add_site_directives(v, o);
  v["LOG_DIR"] = o.log_dir.string();
  v["EPRUNNER_QUOTED"] = quote(o.eprunner.string());
  v["GRID_QUOTED"] = quote(o.grid.string());
  v["GRACE_PADDED"] = padded_after("GRACE=", grace_seconds(o.signal_seconds));
  v["MAX_REQUEUES_PADDED"] = padded_after("MAX_REQUEUES=", o.max_requeues);
  v["NCCL_ENVIRONMENT"] = lay.cuda ? render(templates::nccl_environment, {}) : "";
  v["MPIRUN_ENVIRONMENT"] = o.launcher == Launcher::Mpirun ? render(templates::mpirun_environment, {}) : "";
  const std::string exit_interrupted = std::to_string(kExitInterrupted);
  v["REQUEUE_FUNCTIONS"] = render(templates::requeue_functions, {{"EXIT_INTERRUPTED", exit_interrupted}});
  v["LAUNCHER"] = launcher_name(o.launcher);
  v["LAUNCH"] = launch_command(lay, o);
  v["WAIT_AND_REQUEUE"] = render(templates::wait_and_requeue, {{"EXIT_INTERRUPTED", exit_interrupted},
                                                               {"FINISHED_MESSAGE", std::string(finished_message)}});
  return v;
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
             "device = \"cuda\" in the grid to use GPUs", o.gpus_per_node, name_of(g.eigenprune.device));
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
  TemplateValues v = compute_job_values(g, lay, o, "the grid is finished: $RESULTS");
  v["RANKS_SUMMARY"] = ranks_text(g, lay, false);
  v["EXIT_INTERRUPTED"] = std::to_string(kExitInterrupted);
  v["JOB_NAME"] = o.job_name.empty() ? default_job_name(g) : o.job_name;
  v["RESULTS_QUOTED"] = quote(o.results.string());
  return render(templates::run, v);
}

std::string array_job_script(const grid::Grid& g, const JobOptions& o, const std::vector<int>& cells) {
  const Layout lay = plan_layout(g, o);
  check_log_dir(o);
  EP_CHECK(!o.cell_dir.empty(), "no folder for the cell files");
  const int n_cells = static_cast<int>(g.models.size() * g.tasks.size());
  for (int c : cells) EP_CHECK(c >= 0 && c < n_cells, "cell {}: the grid has cells 0..{}", c, n_cells - 1);
  TemplateValues v = compute_job_values(g, lay, o, "cell $CELL is finished: $CELLS/cell_$CELL.h5");
  v["RANKS_SUMMARY"] = ranks_text(g, lay, true);
  v["CELL_COUNT"] = std::to_string(cells.size());
  v["CELL_DIR"] = o.cell_dir.string();
  v["GRACE"] = std::to_string(grace_seconds(o.signal_seconds));
  v["JOB_NAME"] = (o.job_name.empty() ? default_job_name(g) : o.job_name) + "-cells";
  v["ARRAY"] = array_spec(cells, o.max_parallel);
  v["CELLS_QUOTED"] = quote(o.cell_dir.string());
  return render(templates::cells, v);
}

std::string merge_job_script(const grid::Grid& g, const JobOptions& o) {
  check_log_dir(o);
  EP_CHECK(!o.cell_dir.empty(), "no folder for the cell files");
  TemplateValues v;
  v["JOB_NAME"] = (o.job_name.empty() ? default_job_name(g) : o.job_name) + "-merge";
  add_site_directives(v, o);
  v["LOG_DIR"] = o.log_dir.string();
  v["EPRUNNER_QUOTED"] = quote(o.eprunner.string());
  v["GRID_QUOTED"] = quote(o.grid.string());
  v["RESULTS_QUOTED"] = quote(o.results.string());
  v["CELLS_QUOTED"] = quote(o.cell_dir.string());
  return render(templates::merge, v);
}

}  // namespace ep::slurm
