// Building and printing the accuracy table. The Markdown follows docs/analysis.md
// ("The accuracy-by-p table"); analysis/report.py is the same rules in Python.
#include "runner/report.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/util/error.h"

namespace ep::runner {
namespace {

const SplitResult& pick(const Evaluation& e, const std::string& split) {
  return split == "test" ? e.test : e.validation;
}

std::optional<ReportValue> measured(const SplitResult& s) {
  if (s.n == 0 || std::isnan(s.accuracy)) return std::nullopt;
  return ReportValue{s.accuracy, s.macro_f1};
}

// Percent with two decimals: fmt rounds the exact binary value, as Python's `.2f`.
std::string percent(double fraction) { return fmt::format("{:.2f}", 100.0 * fraction); }

// The value of a printed percent, independent of the C locale (std::stod is not).
double printed_value(const std::string& text) {
  double v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

// Runs of ASCII whitespace become one space, so a message stays one Markdown list item.
std::string one_line(const std::string& message) {
  std::string out;
  bool space = false;
  for (char ch : message) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r') {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      out += ch;
      space = false;
    }
  }
  return out.empty() ? "(no message)" : out;
}

// One Markdown row of a finished cell: each value as printed, the best in bold.
std::string markdown_row(const ReportRow& row) {
  std::vector<std::string> texts{row.base ? percent(row.base->accuracy) : "-"};
  for (const auto& v : row.by_p) texts.push_back(v ? percent(v->accuracy) : "-");
  std::optional<double> top;
  for (const auto& t : texts)
    if (t != "-" && (!top || printed_value(t) > *top)) top = printed_value(t);
  std::string out = fmt::format("| {} | {} | {} |", row.model, row.task, row.metric.empty() ? "-" : row.metric);
  for (const auto& t : texts) {
    // Compared as printed, so a tie on the page is bold on both.
    const bool bold = t != "-" && printed_value(t) == *top;
    out += bold ? fmt::format(" **{}** |", t) : fmt::format(" {} |", t);
  }
  return out + "\n";
}

bool any_measured(const ReportRow& row) {
  return row.base || std::any_of(row.by_p.begin(), row.by_p.end(), [](const auto& v) { return v.has_value(); });
}

std::string csv_line(const ReportRow& row, const std::string& p, const ReportValue& v) {
  const std::string f1 = std::isnan(v.macro_f1) ? "" : fmt::format("{}", v.macro_f1);
  return fmt::format("{},{},{},{},{},{}\n", row.model, row.task, p, row.metric, v.accuracy, f1);
}

}  // namespace

std::string p_label(double p) { return fmt::format("{}", p); }

ReportTable load_report(const ResultsReader& reader, const std::string& split) {
  EP_CHECK(split == "test" || split == "validation", "report: split must be test or validation, got '{}'", split);
  ReportTable table;
  table.split = split;
  std::vector<CellResult> cells;
  std::set<double> ps;
  for (const auto& summary : reader.cells()) {
    cells.push_back(reader.read_metrics(summary.name));
    if (cells.back().status == CellStatus::Done)
      for (const auto& r : cells.back().pruned) ps.insert(r.p);
  }
  table.ps.assign(ps.begin(), ps.end());
  for (const auto& c : cells) {
    ReportRow row;
    row.model = c.model;
    row.task = c.task;
    row.status = c.status;
    row.error = c.error;
    row.metric = pick(c.base, split).metric;
    row.base = measured(pick(c.base, split));
    row.by_p.resize(table.ps.size());
    for (const auto& r : c.pruned) {
      auto at = std::lower_bound(table.ps.begin(), table.ps.end(), r.p);
      if (at != table.ps.end() && *at == r.p)  // an error cell's p need not be a column
        row.by_p[static_cast<size_t>(at - table.ps.begin())] = measured(pick(r.eval, split));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::string format_markdown(const ReportTable& t) {
  std::string out = fmt::format("Accuracy (%) on the {} split; the best of each row in bold.\n\n", t.split);
  out += "| model | task | metric | base |";
  for (double p : t.ps) out += fmt::format(" p={} |", p_label(p));
  out += "\n|---|---|---|---:|";
  for (size_t i = 0; i < t.ps.size(); ++i) out += "---:|";
  out += "\n";
  std::vector<const ReportRow*> failed;
  for (const auto& row : t.rows) {
    if (row.status != CellStatus::Done)
      failed.push_back(&row);
    else if (any_measured(row))  // e.g. no validation split in this cell
      out += markdown_row(row);
  }
  if (!failed.empty()) {
    out += "\nCells that failed:\n";
    for (const auto* row : failed) out += fmt::format("- {} x {}: {}\n", row->model, row->task, one_line(row->error));
  }
  return out;
}

std::string format_csv(const ReportTable& t) {
  std::string out = "model,task,p,metric,accuracy,macro_f1\n";
  for (const auto& row : t.rows) {
    if (row.status != CellStatus::Done) continue;
    if (row.base) out += csv_line(row, "0", *row.base);
    for (size_t i = 0; i < t.ps.size(); ++i)
      if (row.by_p[i]) out += csv_line(row, p_label(t.ps[i]), *row.by_p[i]);
  }
  return out;
}

}  // namespace ep::runner
