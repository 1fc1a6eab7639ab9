// `eprunner run grid.toml [--out FILE] [--restart] [--threads N] [--cell I]` (also
// plain `eprunner grid.toml`): runs every cell of a grid (or only cell I) on the MPI
// world this process belongs to and writes one results file. Exit status: 0 when
// every cell is done, 1 when any failed (its error is in the results file), as in
// the summary line; kExitInterrupted (75) when SIGUSR1 or SIGTERM stopped the run
// before the end, start-up included (finished cells are saved; rerun to continue).
#ifdef EPRUNNER_WITH_MODELS

#include <dlfcn.h>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include "core/util/error.h"
#include "distributed/mpi_env.h"
#include "runner/cell_executor.h"
#include "runner/cell_loop.h"
#include "runner/commands.h"
#include "runner/grid.h"
#include "runner/progress.h"
#include "runner/provenance.h"
#include "runner/results_guard.h"

namespace ep::cli {
namespace {

struct RunArgs {
  std::string grid;
  std::string out;
  bool restart = false;
  int threads = 0;
  int cell = -1;  // >= 0: only this cell (a Slurm array task)
};

// SIGUSR1 (Slurm's warning before the time limit, forwarded by the batch script
// through srun/mpirun) and SIGTERM (scancel, scontrol requeue, mpirun's abort) ask
// the run to stop at the next cell boundary (cell_loop.h LoopOptions::stop): the
// cells in progress finish and are saved, no new cell starts, exit 75. A request
// before the first cell (during start-up) stops the run before it starts any: every
// cell still to do counts as not started, exit 75 all the same. A second SIGTERM
// ends the process at once (the results file is crash-safe). SIGINT, SIGHUP and
// SIGKILL keep their default (the process ends; what is saved stays saved). What
// each signal to mpirun or to a rank gives: docs/slurm.md, "Signals".
// A lock-free atomic store is async-signal-safe.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_stop_signal(int sig) {
  if (sig == SIGTERM && g_stop.load()) {
    std::signal(SIGTERM, SIG_DFL);
    std::raise(SIGTERM);
    return;
  }
  g_stop.store(true);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // slow system calls resume instead of failing with EINTR
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// `eprunner run ...` or `eprunner grid.toml` (main.cpp's shorthand). C strings
// only: this runs before any library's constructors (below).
bool is_run_command(int argc, char** argv) {
  if (argc < 2 || argv == nullptr || argv[1] == nullptr) return false;
  const char* first = argv[1];
  const size_t n = std::strlen(first);
  return std::strcmp(first, "run") == 0 || (n > 5 && std::strcmp(first + n - 5, ".toml") == 0);
}

// The handlers must be in place before anything slow: a signal that comes before
// them kills the process with the signal's default (138 for USR1, 143 for TERM)
// instead of ending the run with 75, and a rank's start-up (LibTorch's and CUDA's
// library constructors, MPI_Init: about a second) is exactly when mpirun forwards a
// USR1 sent early. An entry in .preinit_array runs right after the dynamic loader
// has mapped the libraries and before any of their constructors run: the earliest
// point a program can reach (docs/slurm.md "Signals" has the measured times). Only
// for `run`: other commands keep the default (SIGTERM ends `merge` at once, which
// is crash-safe). glibc passes (argc, argv, envp) to these functions.
extern "C" void install_stop_handlers_at_exec(int argc, char** argv, char**) {
  if (is_run_command(argc, argv)) install_stop_handlers();
}
[[gnu::used, gnu::section(".preinit_array")]] void (*k_install_at_exec)(int, char**, char**) =
    install_stop_handlers_at_exec;

// Ranks on this node share its cores: each gets cores / local ranks torch threads.
int default_threads(MPI_Comm world) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int local = 1;
  if (const char* v = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local = std::max(1, std::atoi(v));
  else if (const char* s = std::getenv("SLURM_NTASKS_PER_NODE")) local = std::max(1, std::atoi(s));
  (void)world;
  return std::max(1, cores / local);
}

// LibTorch's set_num_threads does not reach OpenBLAS, whose own pool follows the
// cores a rank may run on (so it changes with mpirun's binding, which changes with
// the number of ranks). BLAS results can differ in the last bits with the thread
// count, so pin it to the torch count: the answer must not depend on -np.
void set_blas_threads(int n) {
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

std::string devices_text(const grid::Grid& g, int world) {
  return fmt::format("{} x {} rank{}", name_of(g.eigenprune.device), world, world == 1 ? "" : "s");
}

int run_grid(const RunArgs& a, int argc, char** argv) {
  dist::MpiSession mpi(&argc, &argv);
  const int world_rank = dist::comm_rank(MPI_COMM_WORLD);
  const int world_size = dist::comm_size(MPI_COMM_WORLD);
  (void)dist::local_rank(MPI_COMM_WORLD);  // every rank, now: it may be a collective (mpi_env.h)
  runner::setup_logging(world_rank);

  // Once more, in case the MPI library installed its own (Open MPI 4.1 does not:
  // `ompi_info --param opal all --level 9` lists opal_signal = 6,7,8,11 only, and it
  // never replaces a handler that is already installed).
  install_stop_handlers();

  grid::Grid g = grid::load(a.grid);
  if (!a.out.empty()) g.output = std::filesystem::absolute(a.out);
  // One cell: every rank joins one group (results do not depend on the group size).
  if (a.cell >= 0) g.layout.ranks_per_cell = world_size;

  runner::ExecutorOptions eo;
  eo.threads = a.threads > 0 ? a.threads : default_threads(MPI_COMM_WORLD);
  at::set_num_threads(eo.threads);
  set_blas_threads(eo.threads);
  if (world_rank == 0)
    spdlog::info("grid {}: {} model(s) x {} task(s), {} rank(s), {} torch thread(s) per rank, results in {}",
                 g.source.string(), g.models.size(), g.tasks.size(), world_size, eo.threads, g.output.string());

  runner::LoopOptions lo;
  lo.restart = a.restart;
  if (a.cell >= 0) lo.only_cell = a.cell;
  lo.stop = &g_stop;
  lo.provenance = runner::make_provenance(g, argc, argv, devices_text(g, world_size));
  // Rank 0 reads the existing results file in a child process (results_guard.h); an
  // MPI rank must not fork, so the child is this executable started afresh.
  runner::set_guarded_reader_executable("/proc/self/exe");
  const runner::LoopSummary s = runner::run_cells(g, MPI_COMM_WORLD, runner::make_cell_executor(eo), lo);
  if (world_rank == 0)
    spdlog::info("{} cell(s): {} done now, {} skipped (finished before), {} failed{}; results in {}", s.cells, s.done,
                 s.skipped, s.failed,
                 s.interrupted ? fmt::format(", {} not started (stopped by a signal; rerun to continue)", s.interrupted)
                               : "",
                 g.output.string());
  // Only world rank 0 reports failed cells in its exit status: a non-zero exit of
  // another rank makes mpirun kill the rest, possibly rank 0 while it writes.
  if (world_rank != 0) return 0;
  if (s.interrupted > 0) return kExitInterrupted;
  return s.failed > 0 ? 1 : 0;
}

}  // namespace

void add_run_command(CLI::App& app, int argc, char** argv) {
  auto* cmd = app.add_subcommand("run", "Run a grid (under mpirun for several ranks) into one HDF5 file");
  auto a = std::make_shared<RunArgs>();
  cmd->add_option("grid", a->grid, "the grid file (docs/grid-format.md)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", a->out, "results file (overrides the grid's output)");
  cmd->add_flag("--restart", a->restart, "recompute every cell (the old file is kept as FILE.bak)");
  cmd->add_option("--threads", a->threads, "torch threads per rank (default: cores / ranks on the node)")
      ->check(CLI::Range(0, 1024));  // more would only oversubscribe; a typo must not hang the start
  cmd->add_option("--cell", a->cell, "only this cell (grid index, as `eprunner plan` lists; all ranks in one group)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([a, argc, argv] {
    const int rc = run_grid(*a, argc, argv);
    if (rc != 0) throw ExitCode(rc);
  });
}

}  // namespace ep::cli

#endif  // EPRUNNER_WITH_MODELS
