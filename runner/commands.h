// Each `eprunner` subcommand registers itself on the CLI11 app; main() only
// builds the app, parses and runs the chosen command. One file per subcommand.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "core/util/exit_codes.h"

namespace ep::cli {

// Each add_* adds one subcommand whose callback does the work and may throw ep::Error.
void add_tokenize_command(CLI::App& app);
void add_plan_command(CLI::App& app);    // runner/cmd_plan.cpp
void add_report_command(CLI::App& app);  // runner/cmd_report.cpp
void add_slurm_command(CLI::App& app);   // runner/cmd_slurm.cpp: sbatch scripts (slurm/)
void add_merge_command(CLI::App& app);   // runner/cmd_merge.cpp: cell files into one results file
void add_info_command(CLI::App& app);    // runner/cmd_info.cpp: versions, CUDA/NCCL compiled in and loaded
std::string info_text();                 // what `info` and `--version` print
#ifdef EPRUNNER_WITH_MODELS
void add_logits_command(CLI::App& app);
void add_export_command(CLI::App& app);  // runner/cmd_export.cpp: a cell's pruned model as an HF folder
// runner/cmd_run.cpp; argc/argv go to MPI_Init and the provenance.
void add_run_command(CLI::App& app, int argc, char** argv);
#endif

// `eprunner run` stopped by a signal, rerun to continue (75): defined once in
// core/util/exit_codes.h, which the Slurm scripts (slurm/) use too.
using ep::kExitInterrupted;

// A command's non-error exit status other than 0 (e.g. "some cells failed").
struct ExitCode {
  int code;
  explicit ExitCode(int c) : code(c) {}
};

}  // namespace ep::cli
