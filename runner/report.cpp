// Building and printing the accuracy table. The Markdown follows docs/analysis.md
// ("The accuracy-by-p table"); analysis/report.py is the same rules in Python.
#include "runner/report.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

// ---- methods side by side (docs/analysis.md; analysis/methods.py is the same rules) ----

struct Candidate {
  std::string setting;
  std::vector<const SplitResult*> test, validation;  // one per seed (one for the others)
};

std::string setting_of(const MethodResult& m) {
  if (m.method == "laser") return fmt::format("{}.{} rho={}", m.matrix, fmt::join(m.layers, "+"), p_label(m.fraction));
  return "p=" + p_label(m.fraction);
}

// Each method's candidates, in the order of analysis/methods.py ORDER; random's seeds
// of one p are one candidate.
std::vector<std::pair<std::string, std::vector<Candidate>>> candidates(const CellResult& c) {
  std::vector<std::pair<std::string, std::vector<Candidate>>> out;
  for (const char* method : {"eigenpruning", "highest", "random", "laser"}) out.push_back({method, {}});
  for (const auto& r : c.pruned) out[0].second.push_back({"p=" + p_label(r.p), {&r.eval.test}, {&r.eval.validation}});
  for (const auto& m : c.methods) {
    auto group = std::find_if(out.begin(), out.end(), [&](const auto& g) { return g.first == m.method; });
    if (group == out.end()) continue;  // a method this build does not know
    const std::string setting = setting_of(m);
    auto same = std::find_if(group->second.begin(), group->second.end(),
                             [&](const Candidate& k) { return m.method == "random" && k.setting == setting; });
    if (same == group->second.end()) {
      group->second.push_back({setting, {&m.eval.test}, {&m.eval.validation}});
    } else {
      same->test.push_back(&m.eval.test);
      same->validation.push_back(&m.eval.validation);
    }
  }
  return out;
}

// The mean accuracy (summed in order, as Python's sum), or nothing when one is unmeasured.
std::optional<double> mean_accuracy(const std::vector<const SplitResult*>& splits) {
  if (splits.empty()) return std::nullopt;
  double sum = 0;
  for (const SplitResult* s : splits) {
    auto v = measured(*s);
    if (!v) return std::nullopt;
    sum += v->accuracy;
  }
  return sum / static_cast<double>(splits.size());
}

// McNemar's test of `after` against `before` on the same test examples; nothing when a
// side has no per-example results, was not measured, or they differ in n.
std::optional<McNemar> mcnemar_or_none(const SplitResult& before, const SplitResult& after) {
  if (before.correct.empty() || after.correct.size() != before.correct.size()) return std::nullopt;
  if (!measured(before) || !measured(after)) return std::nullopt;
  return mcnemar(before.correct, after.correct);
}

// Random's seeds: the least significant of their tests (all must exist).
std::optional<McNemar> least_significant(const std::vector<const SplitResult*>& after, const SplitResult& before) {
  std::optional<McNemar> least;
  for (const SplitResult* s : after) {
    auto t = mcnemar_or_none(before, *s);
    if (!t) return std::nullopt;
    if (!least || std::pair(t->log10_pvalue, t->pvalue) > std::pair(least->log10_pvalue, least->pvalue)) least = t;
  }
  return least;
}

std::vector<MethodRow> method_rows(const CellResult& c) {
  std::vector<MethodRow> rows;
  const std::string on = measured(c.base.validation) ? "validation" : "test";
  auto base = measured(c.base.test);
  rows.push_back({c.model, c.task, "base", "-", "-", base ? std::optional<double>(base->accuracy) : std::nullopt,
                  std::nullopt, std::nullopt});
  const SplitResult* eigen_test = nullptr;  // eigenpruning's test split at its own choice
  for (const auto& [method, group] : candidates(c)) {
    const Candidate* best = nullptr;
    std::optional<double> best_value;
    for (const Candidate& k : group) {
      auto v = mean_accuracy(on == "validation" ? k.validation : k.test);
      if (v && (!best_value || *v > *best_value)) {
        best = &k;
        best_value = v;
      }
    }
    if (!best) continue;
    const size_t seeds = best->test.size();
    const std::string label =
        method == "random" ? fmt::format("random ({} seed{})", seeds, seeds != 1 ? "s" : "") : method;
    MethodRow row{c.model, c.task, label, on, best->setting, mean_accuracy(best->test), std::nullopt, std::nullopt};
    row.vs_base = least_significant(best->test, c.base.test);
    if (method == "eigenpruning")
      eigen_test = best->test.front();
    else if (eigen_test)
      row.vs_eigenpruning = least_significant(best->test, *eigen_test);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string pvalue_text(const std::optional<McNemar>& t) { return t ? format_pvalue(*t) : "-"; }

std::string format_methods(const std::vector<MethodRow>& rows) {
  if (rows.empty()) return "";
  std::string out =
      "\nMethods side by side: test accuracy (%) at the setting each method's own validation accuracy chooses "
      "(ties: the first in grid order; \"test\": the cell has no validation split, so it chose on test). random: "
      "the mean over its seeds. McNemar: exact two-sided p-value on the test examples against base and against "
      "eigenpruning (random: the largest over its seeds).\n\n"
      "| model | task | method | chosen on | setting | test | vs base | vs eigenpruning |\n"
      "|---|---|---|---|---|---:|---:|---:|\n";
  for (const auto& r : rows)
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", r.model, r.task, r.label, r.chosen_on,
                       r.setting, r.test_accuracy ? percent(*r.test_accuracy) : "-", pvalue_text(r.vs_base),
                       pvalue_text(r.vs_eigenpruning));
  return out;
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
    // The methods table's McNemar tests need the per-example results: only cells with
    // comparisons are read whole (a guarded snapshot at ReadDepth::Metrics holds them so).
    if (cells.back().status == CellStatus::Done && !cells.back().methods.empty())
      cells.back() = reader.read_cell(summary.name);
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
    if (c.status == CellStatus::Done && !c.methods.empty())
      for (MethodRow& m : method_rows(c)) table.methods.push_back(std::move(m));
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
  return out + format_methods(t.methods);
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
