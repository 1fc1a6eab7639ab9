// `eprunner report`: the table from a results file written here, as Markdown and
// CSV, through the functions and through the binary. The Markdown rules are those of
// docs/analysis.md ("The accuracy-by-p table"); tests/cli/analysis.sh checks that
// analysis/report.py prints the same bytes.
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <gtest/gtest.h>

#include "runner/report.h"
#include "runner/results_file.h"
#include "sample_cells.h"

namespace fs = std::filesystem;
using namespace ep::runner;

namespace {

SplitResult accuracy(double a, const std::string& metric = "full-vocab") {
  SplitResult s;
  s.metric = metric;
  s.accuracy = a;
  s.n = 80;
  return s;
}

CellResult cell(int index, const std::string& model, const std::string& task, double base,
                std::vector<std::pair<double, double>> by_p) {
  CellResult c;
  c.index = index;
  c.model = model;
  c.task = task;
  c.name = model + "__" + task;
  c.base.test = accuracy(base);
  c.base.validation = accuracy(base / 2);
  for (auto [p, a] : by_p) {
    PrunedResult r;
    r.p = p;
    r.eval.test = accuracy(a);
    r.eval.validation = accuracy(a / 2);
    c.pruned.push_back(r);
  }
  return c;
}

// A results file like the paper's Table 2 (Phi-2 rows), one error cell.
fs::path write_results(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path file = dir / "results.h5";
  auto w = open_results_h5(file, samples::sample_provenance(), true);
  w->write_cell(cell(0, "phi-2", "int-sum", 0.0145, {{0.01, 0.0085}, {0.05, 0.461}, {0.1, 0.0785}, {0.3, 0.083}}));
  w->write_cell(cell(1, "phi-2", "int-mult", 0.1375, {{0.01, 0.1375}, {0.05, 0.975}, {0.1, 0.65}, {0.3, 0.7375}}));
  w->write_cell(cell(2, "gpt2", "int-mult", 0.1375, {{0.01, 0.1375}, {0.05, 0.15}, {0.1, 0.15}, {0.3, 0.15}}));
  CellResult failed;
  failed.index = 3;
  failed.model = "gpt2";
  failed.task = "cb";
  failed.name = "gpt2__cb";
  failed.status = CellStatus::Error;
  failed.error = "CB/val.jsonl:\n  no such file";
  PrunedResult partial;  // a p no finished cell has: not a column
  partial.p = 0.5;
  failed.pruned.push_back(partial);
  w->write_cell(failed);
  return file;
}

class Report : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ep_report_" + std::to_string(::getpid()));
    file_ = write_results(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_, file_;
};

std::string run(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), pipe.get())) out.append(buf.data(), n);
  return out;
}

}  // namespace

TEST_F(Report, MarkdownMarksTheBestOfEachRow) {
  const std::string md = format_markdown(load_report(*open_results_reader(file_), "test"));
  EXPECT_NE(md.find("| model | task | metric | base | p=0.01 | p=0.05 | p=0.1 | p=0.3 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| phi-2 | int-sum | full-vocab | 1.45 | 0.85 | **46.10** | 7.85 | 8.30 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| phi-2 | int-mult | full-vocab | 13.75 | 13.75 | **97.50** | 65.00 | 73.75 |"),
            std::string::npos) << md;
  // Ties are all bold.
  EXPECT_NE(md.find("| gpt2 | int-mult | full-vocab | 13.75 | 13.75 | **15.00** | **15.00** | **15.00** |"),
            std::string::npos) << md;
  // Error cells are not rows (and their p no column); they are listed below, on one line each.
  EXPECT_EQ(md.find("| gpt2 | cb |"), std::string::npos) << md;
  EXPECT_EQ(md.find("p=0.5"), std::string::npos) << md;
  EXPECT_NE(md.find("\nCells that failed:\n- gpt2 x cb: CB/val.jsonl: no such file\n"), std::string::npos) << md;
  EXPECT_EQ(md.rfind("Accuracy (%) on the test split; the best of each row in bold.\n\n| model |", 0), 0u) << md;
}

TEST(ReportMarkdown, RowsWithoutAMeasuredValueAreLeftOut) {
  ReportTable t;
  t.split = "validation";
  t.ps = {0.05};
  ReportRow measured{"m", "with", "choices", CellStatus::Done, "", ReportValue{0.5}, {ReportValue{0.25}}};
  ReportRow none{"m", "without", "", CellStatus::Done, "", std::nullopt, {std::nullopt}};
  ReportRow gap{"m", "gap", "", CellStatus::Done, "", std::nullopt, {ReportValue{0.125}}};
  ReportRow failed{"m", "err", "", CellStatus::Error, "", std::nullopt, {std::nullopt}};
  t.rows = {measured, none, gap, failed};
  EXPECT_EQ(format_markdown(t),
            "Accuracy (%) on the validation split; the best of each row in bold.\n\n"
            "| model | task | metric | base | p=0.05 |\n"
            "|---|---|---|---:|---:|\n"
            "| m | with | choices | **50.00** | 25.00 |\n"
            "| m | gap | - | - | **12.50** |\n"
            "\nCells that failed:\n"
            "- m x err: (no message)\n");
}

TEST(ReportMarkdown, PLabelIsTheShortestRoundTrip) {
  // analysis/text.py p_label prints the same (Python's repr without a trailing ".0").
  EXPECT_EQ(p_label(0.05), "0.05");
  EXPECT_EQ(p_label(0.3), "0.3");
  EXPECT_EQ(p_label(1e-05), "1e-05");
  EXPECT_EQ(p_label(0.0001), "0.0001");
  EXPECT_EQ(p_label(1.0), "1");
  EXPECT_EQ(p_label(0.1 + 0.2), "0.30000000000000004");
}

TEST(ReportCsv, MacroF1IsTheLastColumnEmptyWhereNaN) {
  ReportTable t;
  t.ps = {0.1};
  t.rows = {{"m", "cb", "choices", CellStatus::Done, "", ReportValue{0.5, 0.375}, {ReportValue{0.75, 0.625}}},
            {"m", "int-sum", "full-vocab", CellStatus::Done, "", ReportValue{0.25}, {std::nullopt}}};
  EXPECT_EQ(format_csv(t),
            "model,task,p,metric,accuracy,macro_f1\n"
            "m,cb,0,choices,0.5,0.375\n"
            "m,cb,0.1,choices,0.75,0.625\n"
            "m,int-sum,0,full-vocab,0.25,\n");
}

TEST_F(Report, CsvHasOneRowPerModelTaskAndP) {
  const std::string csv = format_csv(load_report(*open_results_reader(file_), "test"));
  EXPECT_EQ(csv.rfind("model,task,p,metric,accuracy,macro_f1\n", 0), 0u) << csv;
  EXPECT_NE(csv.find("\nphi-2,int-sum,0,full-vocab,0.0145,\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nphi-2,int-mult,0.05,full-vocab,0.975,\n"), std::string::npos) << csv;
  EXPECT_EQ(csv.find("gpt2,cb"), std::string::npos) << "error cells have no accuracy to list";
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 3 * 5);
}

TEST_F(Report, ValidationSplit) {
  const std::string csv = format_csv(load_report(*open_results_reader(file_), "validation"));
  EXPECT_NE(csv.find("\nphi-2,int-mult,0.05,full-vocab,0.4875,\n"), std::string::npos) << csv;
}

TEST_F(Report, CommandLine) {
  const std::string bin = EP_EPRUNNER_BIN;
  if (!fs::exists(bin)) GTEST_SKIP() << "eprunner not built at " << bin;
  const std::string csv = run(bin + " report " + file_.string() + " --format csv");
  EXPECT_EQ(csv, format_csv(load_report(*open_results_reader(file_), "test")));
  const std::string md = run(bin + " report " + file_.string());
  EXPECT_NE(md.find("**97.50**"), std::string::npos) << md;
  const std::string bad = run(bin + " report " + (dir_ / "none.h5").string() + " 2>&1");
  EXPECT_NE(bad.find("does not exist"), std::string::npos) << bad;
}

namespace {

// A split of 10 test examples with the given per-example results.
SplitResult examples(const std::vector<uint8_t>& correct) {
  SplitResult s;
  s.metric = "full-vocab";
  s.n = static_cast<int64_t>(correct.size());
  s.correct = correct;
  s.predicted.assign(correct.size(), 0);
  double right = 0;
  for (uint8_t x : correct) right += x;
  s.accuracy = right / static_cast<double>(correct.size());
  return s;
}

Evaluation evaluated(const std::vector<uint8_t>& test, double validation) {
  Evaluation e;
  e.test = examples(test);
  e.validation = accuracy(validation);
  return e;
}

MethodResult method(const std::string& name, double fraction, int64_t seed, const Evaluation& e) {
  MethodResult m;
  m.method = name;
  m.fraction = fraction;
  m.seed = seed;
  if (name == "laser") {
    m.matrix = "mlp_in";
    m.layers = {1};
  }
  m.eval = e;
  return m;
}

}  // namespace

// The methods table's McNemar columns come from the per-example results of the file
// (read back through the reader), with p-values worked out by hand: 2·Σ_{i<=min(b,c)}
// C(b+c, i) / 2^(b+c).
TEST(ReportMethods, McNemarOfEachChoiceAgainstBaseAndEigenpruning) {
  const fs::path dir = fs::temp_directory_path() / ("ep_report_methods_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<uint8_t> none(10, 0), all(10, 1), two{1, 1, 0, 0, 0, 0, 0, 0, 0, 0},
      five{1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, nine{1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
  CellResult c = cell(0, "tiny", "int-sum", 0.2, {});
  c.base = evaluated(two, 0.2);
  PrunedResult chosen, other;
  chosen.p = 0.05;
  chosen.eval = evaluated(all, 0.9);
  other.p = 0.1;
  other.eval = evaluated(none, 0.1);
  c.pruned = {chosen, other};
  c.methods = {method("highest", 0.05, 0, evaluated(none, 0.3)),
               method("random", 0.05, 1, evaluated(two, 0.4)), method("random", 0.05, 2, evaluated(five, 0.4)),
               method("laser", 0.1, 0, evaluated(nine, 0.5))};
  {
    auto w = open_results_h5(dir / "results.h5", samples::sample_provenance(), true);
    w->write_cell(c);
  }
  const std::string md = format_markdown(load_report(*open_results_reader(dir / "results.h5"), "test"));
  fs::remove_all(dir);
  const std::string table =
      "| model | task | method | chosen on | setting | test | vs base | vs eigenpruning |\n"
      "|---|---|---|---|---|---:|---:|---:|\n"
      "| tiny | int-sum | base | - | - | 20.00 | - | - |\n"
      // b=0, c=8: 2/2^8
      "| tiny | int-sum | eigenpruning | validation | p=0.05 | 100.00 | 0.00781 | - |\n"
      // vs base b=2, c=0: 2/4; vs eigenpruning b=10, c=0: 2/2^10
      "| tiny | int-sum | highest | validation | p=0.05 | 0.00 | 0.5 | 0.00195 |\n"
      // seed 1 is base (p = 1) and seed 2 gains 3 (2/8); vs eigenpruning 2/2^8 and 2/2^5: the largest
      "| tiny | int-sum | random (2 seeds) | validation | p=0.05 | 35.00 | 1 | 0.0625 |\n"
      // vs base b=0, c=7: 2/2^7; vs eigenpruning b=1, c=0: 1
      "| tiny | int-sum | laser | validation | mlp_in.1 rho=0.1 | 90.00 | 0.0156 | 1 |\n";
  EXPECT_NE(md.find("McNemar: exact two-sided p-value on the test examples against base and against eigenpruning "
                    "(random: the largest over its seeds).\n\n" + table),
            std::string::npos)
      << md;
}
