// eprunner: eigenpruning experiments. A thin main: build the CLI, parse, run one
// subcommand, and turn an ep::Error into one clear line and a non-zero exit.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "core/util/error.h"
#include "runner/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"eprunner " EPRUNNER_VERSION " (" EPRUNNER_GIT_COMMIT "): eigenpruning experiments"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "eprunner " EPRUNNER_VERSION " (" EPRUNNER_GIT_COMMIT ")");
  ep::cli::add_tokenize_command(app);
  ep::cli::add_plan_command(app);
  ep::cli::add_report_command(app);
#ifdef EPRUNNER_WITH_MODELS
  ep::cli::add_logits_command(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ep::Error& e) {
    std::fprintf(stderr, "eprunner: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eprunner: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
