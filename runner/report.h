// The grid's accuracy table from a results file: rows model x task, columns the
// unpruned model ("base") and each p. Markdown for people (the best of each row in
// bold, as the paper's Table 2), CSV for tools.
//
// The Markdown table follows docs/analysis.md ("The accuracy-by-p table") rule by
// rule; analysis/report.py builds the same table from the same file in Python, and
// tests/cli/analysis.sh checks that both print the same bytes.
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "runner/mcnemar.h"
#include "runner/results_file.h"

namespace ep::runner {

// One measured split of one model state.
struct ReportValue {
  double accuracy = 0;  // fraction in [0, 1]
  double macro_f1 = std::numeric_limits<double>::quiet_NaN();  // classification tasks (CB); NaN otherwise
};

struct ReportRow {
  std::string model, task, metric;  // metric: the base split's ("" when not recorded)
  CellStatus status = CellStatus::Done;
  std::string error;
  std::optional<ReportValue> base;               // empty when not measured
  std::vector<std::optional<ReportValue>> by_p;  // one per ReportTable::ps; empty when not measured
};

// One row of "Methods side by side" (docs/analysis.md; analysis/methods.py): a method
// of a finished cell that has comparisons, at the setting its own accuracy chose.
struct MethodRow {
  std::string model, task;
  std::string label;      // "base", "eigenpruning", "highest", "random (3 seeds)", "laser"
  std::string chosen_on;  // "validation", "test" (the cell has no validation split) or "-" (base)
  std::string setting;    // "p=0.05", "mlp_in.5 rho=0.1", "-"
  std::optional<double> test_accuracy;  // random: the mean over its seeds
  // McNemar's exact test on the test examples (random: the least significant of its
  // seeds); empty where a side has no per-example results ("-").
  std::optional<McNemar> vs_base, vs_eigenpruning;
};

struct ReportTable {
  std::string split = "test";
  std::vector<double> ps;  // every p of a finished cell, ascending
  std::vector<ReportRow> rows;  // every cell (error cells too), in index order
  std::vector<MethodRow> methods;  // empty when no finished cell has comparisons
};

// `split`: "test" or "validation".
ReportTable load_report(const ResultsReader& reader, const std::string& split);

// How a p is printed in a column name: the shortest text that reads back as the same
// double ("0.05", "1e-05", "1"); analysis/text.py p_label matches it.
std::string p_label(double p);

// The caption line, then | model | task | metric | base | p=0.01 | ... | with one row
// per finished cell that has a measured value on the split, accuracy in percent with
// two decimals, each row's best value(s) as printed in **bold**; error cells listed
// below the table (message on one line); then, when the file has comparisons
// ([controls], [laser]), the "Methods side by side" table with McNemar's p-values.
std::string format_markdown(const ReportTable& table);

// Header exactly `model,task,p,metric,accuracy,macro_f1`; p = 0 is the unpruned model;
// accuracy and macro_f1 are fractions in [0, 1], macro_f1 empty where NaN (not a
// classification task, or a file written before it was recorded). Error cells are left
// out (no number to give).
std::string format_csv(const ReportTable& table);

}  // namespace ep::runner
