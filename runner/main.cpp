// eprunner: eigenpruning experiments. A thin main: build the CLI, parse, run one
// subcommand, and turn an ep::Error into one clear line and a non-zero exit.
#include <cstdio>
#include <algorithm>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/util/error.h"
#include "runner/commands.h"
#include "runner/version.h"

int main(int argc, char** argv) {
  CLI::App app{std::string("eprunner ") + ep::version() + " (" + ep::git_commit() + "): eigenpruning experiments"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::function<std::string()>(ep::cli::info_text));
  ep::cli::add_tokenize_command(app);
  ep::cli::add_plan_command(app);
  ep::cli::add_report_command(app);
  ep::cli::add_merge_command(app);
  ep::cli::add_slurm_command(app);
  ep::cli::add_info_command(app);
#ifdef EPRUNNER_WITH_MODELS
  ep::cli::add_logits_command(app);
  ep::cli::add_export_command(app);
  ep::cli::add_run_command(app, argc, argv);
#endif
  // `eprunner grid.toml` (as in `mpirun -np 8 eprunner grid.toml`) means `eprunner run grid.toml`.
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0].size() > 5 && args[0].substr(args[0].size() - 5) == ".toml") args.insert(args.begin(), "run");
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ep::cli::ExitCode& e) {
    return e.code;
  } catch (const ep::Error& e) {
    std::fprintf(stderr, "eprunner: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eprunner: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
