// `eprunner report results.h5 [--format md|csv] [--split test|validation]`: the
// grid's accuracy table from a results file (also one still being written).
#include <iostream>

#include "runner/commands.h"
#include "runner/report.h"
#include "runner/results_file.h"

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
    auto reader = runner::open_results_reader(*file);
    const runner::ReportTable table = runner::load_report(*reader, *split);
    std::cout << (*format == "csv" ? runner::format_csv(table) : runner::format_markdown(table));
  });
}

}  // namespace ep::cli
