#include "experiments/arithmetic_tasks.h"

#include <algorithm>
#include <string>

namespace ep {

namespace {

struct ArithmeticSpec {
  const char* name;
  const char* description;
  const char* prompt;   // the paper's template
  int64_t max_operand;  // operands run over 0..max_operand
  int64_t (*apply)(int64_t, int64_t);
};

// The classes are the distinct results in ascending order, so "the answer" is an
// index like any other task's and the candidate set is every result the task has.
std::vector<int64_t> distinct_results(const ArithmeticSpec& spec) {
  std::vector<int64_t> results;
  for (int64_t i = 0; i <= spec.max_operand; ++i)
    for (int64_t j = 0; j <= spec.max_operand; ++j) results.push_back(spec.apply(i, j));
  std::sort(results.begin(), results.end());
  results.erase(std::unique(results.begin(), results.end()), results.end());
  return results;
}

RecordSet all_pairs(const ArithmeticSpec& spec) {
  const std::vector<int64_t> results = distinct_results(spec);
  RecordSet set;  // no test part: ref paper appendix A, a random 80/20 split of all pairs
  for (int64_t i = 0; i <= spec.max_operand; ++i) {
    for (int64_t j = 0; j <= spec.max_operand; ++j) {
      int64_t result = spec.apply(i, j);
      Record r;
      r.fields = {{"i", std::to_string(i)}, {"j", std::to_string(j)}, {"result", std::to_string(result)}};
      r.label = std::lower_bound(results.begin(), results.end(), result) - results.begin();
      r.source = std::string(spec.name) + " (" + std::to_string(i) + ", " + std::to_string(j) + ")";
      set.train.push_back(std::move(r));
    }
  }
  return set;
}

TaskKind arithmetic_kind(const ArithmeticSpec& spec) {
  PromptSet paper;
  paper.name = "paper";
  paper.scoring = Scoring::FirstToken;
  paper.prompt = spec.prompt;
  for (int64_t result : distinct_results(spec)) paper.choices.push_back(" " + std::to_string(result));
  paper.whole_answers = true;

  TaskKind kind;
  kind.name = spec.name;
  kind.description = spec.description;
  kind.load = [spec](const std::filesystem::path&) { return all_pairs(spec); };
  kind.prompt_sets = {paper};
  return kind;
}

}  // namespace

TaskKind int_sum_task_kind() {
  return arithmetic_kind({"int-sum", "INT-SUM: \"{i} + {j} =\" for i, j in 0..99 (10,000 examples)",
                          "{i} + {j} =", 99, [](int64_t a, int64_t b) { return a + b; }});
}

TaskKind int_mult_task_kind() {
  return arithmetic_kind({"int-mult", "INT-MULT: \"{i} x {j} =\" for i, j in 0..19 (400 examples)",
                          "{i} x {j} =", 19, [](int64_t a, int64_t b) { return a * b; }});
}

}  // namespace ep
