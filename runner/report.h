// The grid's accuracy table from a results file: rows model x task, columns the
// unpruned model ("base") and each p. Markdown for people (the best of each row in
// bold, as the paper's Table 2), CSV for tools.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runner/results_file.h"

namespace ep::runner {

struct ReportRow {
  std::string model, task, metric;
  std::string status;  // "done" or "error"
  std::string error;
  std::optional<double> base;                 // accuracy in [0, 1]
  std::vector<std::optional<double>> by_p;    // one per ReportTable::ps; empty when not measured
};

struct ReportTable {
  std::string split = "test";
  std::vector<double> ps;  // every p any cell has, ascending
  std::vector<ReportRow> rows;  // in cell order
};

// `split`: "test" or "validation".
ReportTable load_report(const ResultsReader& reader, const std::string& split);

// | model | task | metric | base | p=0.01 | ... |, accuracy in percent with two
// decimals, each row's best value(s) in **bold**; error cells listed below.
std::string format_markdown(const ReportTable& table);

// Header exactly `model,task,p,metric,accuracy`; p = 0 is the unpruned model;
// accuracy is a fraction in [0, 1]. Error cells are left out (no number to give).
std::string format_csv(const ReportTable& table);

}  // namespace ep::runner
