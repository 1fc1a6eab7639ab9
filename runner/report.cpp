// Building and printing the accuracy table.
#include "runner/report.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/util/error.h"

namespace ep::runner {
namespace {

const SplitResult& pick(const Evaluation& e, const std::string& split) {
  return split == "test" ? e.test : e.validation;
}

std::optional<double> measured(const SplitResult& s) {
  if (s.n == 0 || std::isnan(s.accuracy)) return std::nullopt;
  return s.accuracy;
}

std::string percent(double accuracy) { return fmt::format("{:.2f}", 100.0 * accuracy); }

}  // namespace

ReportTable load_report(const ResultsReader& reader, const std::string& split) {
  EP_CHECK(split == "test" || split == "validation", "report: split must be test or validation, got '{}'", split);
  ReportTable table;
  table.split = split;
  std::vector<CellResult> cells;
  std::set<double> ps;
  for (const auto& summary : reader.cells()) {
    cells.push_back(reader.read_metrics(summary.name));
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
      auto at = std::lower_bound(table.ps.begin(), table.ps.end(), r.p) - table.ps.begin();
      row.by_p[static_cast<size_t>(at)] = measured(pick(r.eval, split));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::string format_markdown(const ReportTable& t) {
  std::string out = fmt::format("Accuracy (%) on the {} split; the best of each row in bold.\n\n", t.split);
  out += "| model | task | metric | base |";
  for (double p : t.ps) out += fmt::format(" p={} |", p);
  out += "\n|---|---|---|---:|";
  for (size_t i = 0; i < t.ps.size(); ++i) out += "---:|";
  out += "\n";
  std::vector<const ReportRow*> failed;
  for (const auto& row : t.rows) {
    out += fmt::format("| {} | {} | {} |", row.model, row.task, row.metric.empty() ? "-" : row.metric);
    if (row.status != "done") {
      out += " error |";
      for (size_t i = 0; i < t.ps.size(); ++i) out += " |";
      out += "\n";
      failed.push_back(&row);
      continue;
    }
    // Compare the printed (rounded) values, so a tie on the page is bold on both.
    std::vector<std::optional<double>> values{row.base};
    values.insert(values.end(), row.by_p.begin(), row.by_p.end());
    std::string best;
    for (const auto& v : values)
      if (v && (best.empty() || std::stod(percent(*v)) > std::stod(best))) best = percent(*v);
    for (const auto& v : values) {
      if (!v)
        out += " - |";
      else if (percent(*v) == best)
        out += fmt::format(" **{}** |", percent(*v));
      else
        out += fmt::format(" {} |", percent(*v));
    }
    out += "\n";
  }
  if (!failed.empty()) {
    out += "\nCells that failed:\n";
    for (const auto* row : failed) out += fmt::format("- {} x {}: {}\n", row->model, row->task, row->error);
  }
  return out;
}

std::string format_csv(const ReportTable& t) {
  std::string out = "model,task,p,metric,accuracy\n";
  for (const auto& row : t.rows) {
    if (row.status != "done") continue;
    if (row.base) out += fmt::format("{},{},0,{},{}\n", row.model, row.task, row.metric, *row.base);
    for (size_t i = 0; i < t.ps.size(); ++i)
      if (row.by_p[i]) out += fmt::format("{},{},{},{},{}\n", row.model, row.task, t.ps[i], row.metric, *row.by_p[i]);
  }
  return out;
}

}  // namespace ep::runner
