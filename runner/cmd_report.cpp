// `eprunner report results.h5 [--format md|csv] [--split test|validation]`: the
// grid's accuracy table from a results file (also one still being written). The
// file is read guarded (results_guard.h): a damaged cell is left out of the table
// and named on stderr, and the exit status is then 1.
#include <iostream>

#include <fmt/format.h>

#include "runner/commands.h"
#include "runner/report.h"
#include "runner/results_guard.h"

namespace ep::cli {

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Print the accuracy table (model x task, base and each p) of a results file");
  auto file = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("md");
  auto split = std::make_shared<std::string>("test");
  cmd->add_option("results", *file, "results .h5 file written by `eprunner run`")->required();
  cmd->add_option("--format", *format, "md (a Markdown table, best per row in bold) or csv")
      ->check(CLI::IsMember({"md", "csv"}));
  cmd->add_option("--split", *split, "which split's accuracy to show")->check(CLI::IsMember({"test", "validation"}));
  cmd->callback([file, format, split] {
    auto snapshot = runner::read_results_guarded(*file, runner::ReadDepth::Metrics);
    const runner::ReportTable table = runner::load_report(*snapshot, *split);
    std::cout << (*format == "csv" ? runner::format_csv(table) : runner::format_markdown(table));
    for (const auto& d : snapshot->damaged)
      std::cerr << fmt::format("eprunner: report: cell '{}' of '{}' is damaged and left out: {}\n", d.name, *file, d.why);
    if (!snapshot->damaged.empty()) throw ExitCode(1);
  });

  // The child of a guarded read started by `eprunner run` (results_guard.h); hidden.
  auto* child = app.add_subcommand(runner::kGuardedReaderCommand, "")->group("");
  auto args = std::make_shared<std::vector<std::string>>();
  child->add_option("args", *args)->required();
  child->allow_extras();
  child->callback([args] {
    std::vector<std::string> all = {"eprunner", runner::kGuardedReaderCommand};
    all.insert(all.end(), args->begin(), args->end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    throw ExitCode(runner::guarded_reader_main(static_cast<int>(argv.size()), argv.data()));
  });
}

}  // namespace ep::cli
