// The sbatch scripts `eprunner slurm` writes (slurm/sbatch.h): the directives for GPU
// and CPU layouts, both launchers, array + merge mode, the option checks, that every
// script is valid bash and that shellcheck finds nothing in any variant; and the
// placeholder rules of the templates they come from (slurm/text_template.h).
// tests/cli/slurm.sh runs them on a real (local) Slurm.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "core/util/error.h"
#include "core/util/exit_codes.h"
#include "runner/grid.h"
#include "slurm/sbatch.h"
#include "slurm/text_template.h"

namespace fs = std::filesystem;
using ep::slurm::JobOptions;

namespace {

// Two models x three tasks = 6 cells; `extra` goes into [eigenprune], `layout` into [layout].
ep::grid::Grid make_grid(const std::string& extra = "", const std::string& layout = "") {
  std::string text = "output = \"res/results.h5\"\n";
  if (!layout.empty()) text += "[layout]\n" + layout + "\n";
  text += "[[models]]\nname = \"a\"\npath = \"ckpt-a\"\n[[models]]\nname = \"b\"\npath = \"ckpt-b\"\n";
  text += "[[tasks]]\nkind = \"int-sum\"\n[[tasks]]\nkind = \"int-mult\"\n[[tasks]]\nkind = \"cb\"\ndata_dir = \"cb\"\n";
  text += "[eigenprune]\np = [0.1, 0.3]\n" + extra + "\n";
  return ep::grid::parse(text, "/proj/grids/paper.toml");
}

JobOptions options() {
  JobOptions o;
  o.eprunner = "/opt/ep/bin/eprunner";
  o.grid = "/proj/grids/paper.toml";
  o.results = "/proj/grids/res/results.h5";
  o.log_dir = "/proj/grids/res/results.slurm/logs";
  o.cell_dir = "/proj/grids/res/results.slurm/cells";
  return o;
}

bool has(const std::string& text, const std::string& piece) { return text.find(piece) != std::string::npos; }

#define EXPECT_HAS(text, piece) EXPECT_TRUE(has(text, piece)) << "missing: " << (piece) << "\nin:\n" << (text)
#define EXPECT_LACKS(text, piece) EXPECT_FALSE(has(text, piece)) << "unexpected: " << (piece) << "\nin:\n" << (text)

// `bash -n`: the script parses.
bool bash_parses(const std::string& script) {
  const fs::path f = fs::temp_directory_path() / ("ep_slurm_test_" + std::to_string(::getpid()) + ".sh");
  std::ofstream(f) << script;
  const int rc = std::system(("bash -n '" + f.string() + "'").c_str());
  fs::remove(f);
  return rc == 0;
}

// Runs `command` through the shell: its exit status and its stdout + stderr.
std::pair<int, std::string> run_capture(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  return {::pclose(p), out};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ep::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SlurmScript, GpuJobTwoNodesFourGpus) {
  const auto g = make_grid("device = \"cuda\"", "ranks_per_cell = 2");
  JobOptions o = options();
  o.nodes = 2;
  o.gpus_per_node = 4;
  o.time = "24:00:00";
  o.partition = "gpu";
  o.account = "proj42";
  const std::string s = ep::slurm::grid_job_script(g, o);
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  for (const char* d : {"#SBATCH --job-name=ep-paper\n", "#SBATCH --nodes=2\n", "#SBATCH --ntasks-per-node=4\n",
                        "#SBATCH --gpus-per-node=4\n", "#SBATCH --cpus-per-task=4\n", "#SBATCH --time=24:00:00\n",
                        "#SBATCH --partition=gpu\n", "#SBATCH --account=proj42\n",
                        "#SBATCH --output=/proj/grids/res/results.slurm/logs/%x-%j.out\n",
                        "#SBATCH --open-mode=append\n", "#SBATCH --requeue\n", "#SBATCH --signal=B:USR1@300\n"})
    EXPECT_HAS(s, d);
  EXPECT_HAS(s, "export OMP_NUM_THREADS=4 MKL_NUM_THREADS=4 OPENBLAS_NUM_THREADS=4\n");
  EXPECT_HAS(s, "NCCL_ASYNC_ERROR_HANDLING=1");
  EXPECT_HAS(s, "TORCH_NCCL_ASYNC_ERROR_HANDLING=1");
  EXPECT_HAS(s, "srun --mpi=pmix --cpus-per-task=4 --kill-on-bad-exit=1 \"$EPRUNNER\" run \"$GRID\" --out \"$RESULTS\"");
  EXPECT_HAS(s, "EPRUNNER='/opt/ep/bin/eprunner'\n");
  EXPECT_HAS(s, "RESULTS='/proj/grids/res/results.h5'\n");
  EXPECT_HAS(s, "GRACE=240 ");
  EXPECT_HAS(s, "trap on_usr1 USR1\n");
  EXPECT_HAS(s, "kill -USR1 \"$step\"");
  EXPECT_HAS(s, "  " + std::to_string(ep::kExitInterrupted) + ") requeue ");  // 75
  EXPECT_HAS(s, "    exit " + std::to_string(ep::kExitInterrupted) + "\n");
  EXPECT_HAS(s, "scontrol requeue \"$SLURM_JOB_ID\"");
  EXPECT_HAS(s, "8 ranks, one per GPU; 4 groups of 2 (ranks_per_cell 2)");
  EXPECT_LACKS(s, "mpirun");
  EXPECT_LACKS(s, "OMPI_ALLOW_RUN_AS_ROOT");
  EXPECT_LACKS(s, "--array");
  EXPECT_TRUE(bash_parses(s));
}

TEST(SlurmScript, GpuDefaultsComeFromTheGrid) {
  const auto g = make_grid("device = \"cuda\"", "gpus_per_node = 8");
  const auto lay = ep::slurm::plan_layout(g, options());
  EXPECT_TRUE(lay.cuda);
  EXPECT_EQ(lay.gpus_per_node, 8);
  EXPECT_EQ(lay.ranks_per_node, 8);  // one rank per GPU
  EXPECT_EQ(lay.cpus_per_task, 4);
  const auto one = ep::slurm::plan_layout(make_grid("device = \"cuda\""), options());
  EXPECT_EQ(one.gpus_per_node, 1);
  EXPECT_EQ(one.ranks(), 1);
}

TEST(SlurmScript, CpuJobOneRankPerCore) {
  const auto g = make_grid();
  JobOptions o = options();
  o.ntasks_per_node = 32;
  const std::string s = ep::slurm::grid_job_script(g, o);
  EXPECT_HAS(s, "#SBATCH --ntasks-per-node=32\n");
  EXPECT_HAS(s, "#SBATCH --cpus-per-task=1\n");
  EXPECT_HAS(s, "export OMP_NUM_THREADS=1 ");
  EXPECT_HAS(s, "--threads \"$OMP_NUM_THREADS\"");
  EXPECT_LACKS(s, "--gpus-per-node");
  EXPECT_LACKS(s, "NCCL");
  EXPECT_LACKS(s, "#SBATCH --time");       // the partition's default
  EXPECT_LACKS(s, "#SBATCH --partition");
  EXPECT_TRUE(bash_parses(s));

  JobOptions gpus = options();
  gpus.gpus_per_node = 2;
  EXPECT_TRUE(has(error_of([&] { ep::slurm::plan_layout(g, gpus); }), "runs on the CPU"));
  JobOptions none = options();
  none.gpus_per_node = 0;
  EXPECT_TRUE(has(error_of([&] { ep::slurm::plan_layout(make_grid("device = \"cuda\""), none); }), "at least one GPU"));
}

TEST(SlurmScript, MpirunLauncher) {
  const auto g = make_grid("device = \"cuda\"");
  JobOptions o = options();
  o.launcher = ep::slurm::Launcher::Mpirun;
  o.gpus_per_node = 2;
  o.cpus_per_task = 6;
  const std::string s = ep::slurm::grid_job_script(g, o);
  EXPECT_HAS(s, "mpirun -np \"$SLURM_NTASKS\" --bind-to none -x OMP_NUM_THREADS");
  EXPECT_HAS(s, "-x NCCL_ASYNC_ERROR_HANDLING");
  EXPECT_HAS(s, "if [ \"$(id -u)\" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi");
  EXPECT_HAS(s, "export OMP_NUM_THREADS=6 ");
  EXPECT_LACKS(s, "srun ");
  EXPECT_TRUE(bash_parses(s));
}

TEST(SlurmScript, ArrayAndMerge) {
  const auto g = make_grid();
  JobOptions o = options();
  o.max_parallel = 2;
  o.time = "2:00:00";
  o.signal_seconds = 120;
  const std::string s = ep::slurm::array_job_script(g, o, {0, 1, 2, 5});
  EXPECT_HAS(s, "#SBATCH --array=0-2,5%2\n");
  EXPECT_HAS(s, "#SBATCH --job-name=ep-paper-cells\n");
  EXPECT_HAS(s, "#SBATCH --output=/proj/grids/res/results.slurm/logs/%x-%A_%a.out\n");
  EXPECT_HAS(s, "#SBATCH --signal=B:USR1@120\n");
  EXPECT_HAS(s, "#SBATCH --requeue\n");
  EXPECT_HAS(s, "CELL=$SLURM_ARRAY_TASK_ID\n");
  EXPECT_HAS(s, "CELLS='/proj/grids/res/results.slurm/cells'\n");
  EXPECT_HAS(s, "run \"$GRID\" --cell \"$CELL\" --out \"$CELLS/cell_$CELL.h5\"");
  EXPECT_LACKS(s, "RESULTS=");  // the merge job writes the results file, not a task
  EXPECT_TRUE(bash_parses(s));
  EXPECT_EQ(ep::slurm::cell_file(o, 5), fs::path("/proj/grids/res/results.slurm/cells/cell_5.h5"));
  EXPECT_TRUE(has(error_of([&] { ep::slurm::array_job_script(g, o, {6}); }), "cells 0..5"));

  const std::string m = ep::slurm::merge_job_script(g, o);
  EXPECT_HAS(m, "#SBATCH --job-name=ep-paper-merge\n");
  EXPECT_HAS(m, "#SBATCH --ntasks=1\n");
  EXPECT_HAS(m, "#SBATCH --time=2:00:00\n");
  EXPECT_HAS(m, "afterany");
  EXPECT_HAS(m, "\"$EPRUNNER\" merge \"$RESULTS\" --grid \"$GRID\" --from \"$CELLS\"\n");
  EXPECT_LACKS(m, "--gpus");
  EXPECT_LACKS(m, "--requeue");
  EXPECT_TRUE(bash_parses(m));
}

TEST(SlurmScript, ArraySpec) {
  EXPECT_EQ(ep::slurm::array_spec({0}, 0), "0");
  EXPECT_EQ(ep::slurm::array_spec({0, 1, 2, 3}, 0), "0-3");
  EXPECT_EQ(ep::slurm::array_spec({1, 3, 4, 7, 8, 9}, 4), "1,3-4,7-9%4");
  EXPECT_THROW(ep::slurm::array_spec({}, 0), ep::Error);
}

TEST(SlurmScript, TimeLimits) {
  using ep::slurm::parse_time_limit;
  EXPECT_EQ(parse_time_limit("90"), 90 * 60);
  EXPECT_EQ(parse_time_limit("10:30"), 10 * 60 + 30);
  EXPECT_EQ(parse_time_limit("24:00:00"), 24 * 3600);
  EXPECT_EQ(parse_time_limit("2-12"), (2 * 24 + 12) * 3600);
  EXPECT_EQ(parse_time_limit("1-02:03"), ((24 + 2) * 60 + 3) * 60);
  EXPECT_EQ(parse_time_limit("1-02:03:04"), ((24 + 2) * 60 + 3) * 60 + 4);
  EXPECT_EQ(parse_time_limit("UNLIMITED"), -1);
  for (const char* bad : {"", "1h", "1:2:3:4", "a-1", "-5", "1:"}) EXPECT_THROW(parse_time_limit(bad), ep::Error) << bad;

  JobOptions o = options();
  o.time = "5";  // 300 s, no longer than the default 300 s signal lead
  EXPECT_TRUE(has(error_of([&] { ep::slurm::plan_layout(make_grid(), o); }), "less than a minute before the signal"));
  o.time = "6";  // 360 s: the signal comes a minute after the start
  EXPECT_NO_THROW(ep::slurm::plan_layout(make_grid(), o));
  o.signal_seconds = 5;
  EXPECT_TRUE(has(error_of([&] { ep::slurm::plan_layout(make_grid(), o); }), "at least 10 seconds"));
}

TEST(SlurmScript, PathsAreQuoted) {
  JobOptions o = options();
  o.grid = "/proj/it's here/paper.toml";
  const std::string s = ep::slurm::grid_job_script(make_grid(), o);
  EXPECT_HAS(s, "GRID='/proj/it'\\''s here/paper.toml'\n");
  EXPECT_TRUE(bash_parses(s));
  o.log_dir = "/proj/with space/logs";
  EXPECT_TRUE(has(error_of([&] { ep::slurm::grid_job_script(make_grid(), o); }), "white space"));
}

// shellcheck (Debian: apt-get install shellcheck; scripts/setup installs it) on every
// shape of script: one job / array / merge, srun / mpirun, CPU / GPU, one node / two,
// with and without the optional directives, no requeue allowed, quoted paths. Any
// finding, style notes included, fails; a deliberate pattern gets a
// `# shellcheck disable=SCxxxx` with its reason in the template.
TEST(SlurmScript, ShellcheckFindsNothing) {
  if (std::system("command -v shellcheck > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "shellcheck is not installed (Debian: apt-get install shellcheck; scripts/setup installs it)";
  std::vector<std::pair<std::string, std::string>> scripts;  // (file name, text)
  for (const auto launcher : {ep::slurm::Launcher::Srun, ep::slurm::Launcher::Mpirun})
    for (const bool cuda : {false, true})
      for (const int nodes : {1, 2}) {
        const auto g = cuda ? make_grid("device = \"cuda\"", "ranks_per_cell = 2") : make_grid();
        JobOptions o = options();
        o.launcher = launcher;
        o.nodes = nodes;
        if (nodes > 1) {  // the optional directives too
          o.time = "1-00:00:00";
          o.partition = "batch";
          o.account = "proj42";
          o.max_parallel = 3;
          o.gpus_per_node = cuda ? 4 : -1;
        }
        const std::string name = std::string(launcher == ep::slurm::Launcher::Srun ? "srun" : "mpirun") +
                                 (cuda ? "-cuda-" : "-cpu-") + std::to_string(nodes) + "nodes";
        scripts.emplace_back("run-" + name + ".sh", ep::slurm::grid_job_script(g, o));
        scripts.emplace_back("cells-" + name + ".sh", ep::slurm::array_job_script(g, o, {0, 2, 3, 5}));
        scripts.emplace_back("merge-" + name + ".sh", ep::slurm::merge_job_script(g, o));
      }
  JobOptions no_requeue = options();
  no_requeue.max_requeues = 0;
  no_requeue.signal_seconds = 100000;  // GRACE and MAX_REQUEUES wider than their padding
  scripts.emplace_back("run-no-requeue.sh", ep::slurm::grid_job_script(make_grid(), no_requeue));
  scripts.emplace_back("cells-no-requeue.sh", ep::slurm::array_job_script(make_grid(), no_requeue, {1}));
  JobOptions quoted = options();
  quoted.grid = "/proj/it's here/paper.toml";
  quoted.cell_dir = "/proj/cells \"A\"";
  scripts.emplace_back("run-quoted.sh", ep::slurm::grid_job_script(make_grid(), quoted));
  scripts.emplace_back("cells-quoted.sh", ep::slurm::array_job_script(make_grid(), quoted, {4}));
  scripts.emplace_back("merge-quoted.sh", ep::slurm::merge_job_script(make_grid(), quoted));

  const fs::path dir = fs::temp_directory_path() / ("ep_slurm_shellcheck_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string files;
  for (const auto& [name, text] : scripts) {
    std::ofstream(dir / name) << text;
    files += " '" + (dir / name).string() + "'";
  }
  // One run for all (shellcheck starts slowly); --norc: no user or project config.
  const auto [rc, out] = run_capture("shellcheck --norc --format=gcc" + files);
  fs::remove_all(dir);
  EXPECT_EQ(rc, 0) << "shellcheck on " << scripts.size() << " scripts:\n" << out;
}

namespace {

ep::slurm::TextTemplate text(std::string_view t) { return {"test.sh.in", t}; }

}  // namespace

TEST(SlurmTemplate, InlineAndBlockPlaceholders) {
  using ep::slurm::render;
  EXPECT_EQ(render(text("a=@A@ b=@B_2@\n"), {{"A", "1"}, {"B_2", "x y"}}), "a=1 b=x y\n");
  // A line that is just @NAME@ takes whole lines, or vanishes for an empty value.
  EXPECT_EQ(render(text("1\n@BLOCK@\n2\n"), {{"BLOCK", "x\ny\n"}}), "1\nx\ny\n2\n");
  EXPECT_EQ(render(text("1\n@BLOCK@\n2\n"), {{"BLOCK", ""}}), "1\n2\n");
  // '@' not followed by a capital is text; values are not scanned again.
  EXPECT_EQ(render(text("USR1@@S@ a@b @ x@1 %@\n"), {{"S", "300"}}), "USR1@300 a@b @ x@1 %@\n");
  EXPECT_EQ(render(text("@A@\n"), {{"A", "@A@\n"}}), "@A@\n");
  EXPECT_EQ(render(text(""), {}), "");
}

TEST(SlurmTemplate, MistakesAreErrors) {
  using ep::slurm::render;
  EXPECT_TRUE(has(error_of([] { render(text("ok\nx=@MISSING@\n"), {}); }),
                  "test.sh.in:2: placeholder @MISSING@ has no value"));
  EXPECT_TRUE(has(error_of([] { render(text("x\n"), {{"UNUSED", "1"}}); }),
                  "@UNUSED@, which the template does not have"));
  EXPECT_TRUE(has(error_of([] { render(text("x=@OPEN\n"), {{"OPEN", "1"}}); }), "'@OPEN' does not close"));
  EXPECT_TRUE(has(error_of([] { render(text("x=@A@\n"), {{"A", "1\n2"}}); }), "@A@ is inline"));
  EXPECT_TRUE(has(error_of([] { render(text("@A@\n"), {{"A", "no newline"}}); }), "whole lines"));
  EXPECT_TRUE(has(error_of([] { render(text("x"), {}); }), "does not end with a newline"));
}
