// INT-SUM and INT-MULT as the paper builds them (appendix A, official code):
// every pair, the exact prompt text, the answer word, the 80/20 split.
#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>
#include <string>

#include "core/util/error.h"
#include "experiments/load_task.h"
#include "experiments/task_registry.h"

namespace ep {
namespace {

// The example whose prompt is `prompt`, searched in every split.
const Example* find_prompt(const TaskSplits& s, const std::string& prompt, const Task** owner = nullptr) {
  for (const Task* t : {&s.train, &s.validation, &s.test})
    for (const Example& ex : t->examples)
      if (ex.prompt == prompt) {
        if (owner) *owner = t;
        return &ex;
      }
  return nullptr;
}

std::set<std::string> prompts_of(const Task& t) {
  std::set<std::string> out;
  for (const Example& ex : t.examples) out.insert(ex.prompt);
  return out;
}

TEST(IntSum, SizesAndSplitAsThePaper) {
  TaskSplits s = load_task(TaskSpec("int-sum"));
  EXPECT_EQ(s.train.examples.size(), 8000u);
  EXPECT_EQ(s.test.examples.size(), 2000u);
  EXPECT_TRUE(s.validation.examples.empty());
  EXPECT_EQ(s.train.name, "int-sum");
  EXPECT_EQ(s.train.prompt_set, "paper");
  EXPECT_EQ(s.train.scoring, Scoring::FirstToken);
  EXPECT_TRUE(s.train.whole_answers);
  EXPECT_EQ(s.train.choices.size(), 199u);  // results 0..198
}

TEST(IntSum, ExactPromptsAndAnswerWords) {
  TaskSplits s = load_task(TaskSpec("int-sum"));
  struct Case { const char* prompt; const char* answer; };
  for (Case c : {Case{"0 + 0 =", " 0"}, Case{"2 + 2 =", " 4"}, Case{"12 + 34 =", " 46"}, Case{"99 + 99 =", " 198"},
                 Case{"7 + 90 =", " 97"}}) {
    const Task* owner = nullptr;
    const Example* ex = find_prompt(s, c.prompt, &owner);
    ASSERT_NE(ex, nullptr) << c.prompt;
    EXPECT_EQ(owner->choices[static_cast<size_t>(ex->answer)], c.answer) << c.prompt;
    EXPECT_TRUE(ex->continuations.empty());
  }
  EXPECT_EQ(find_prompt(s, "100 + 0 ="), nullptr);
}

TEST(IntMult, SizesPromptsAndAnswers) {
  TaskSplits s = load_task(TaskSpec("int-mult"));
  EXPECT_EQ(s.train.examples.size(), 320u);
  EXPECT_EQ(s.test.examples.size(), 80u);
  const Task* owner = nullptr;
  const Example* ex = find_prompt(s, "19 x 19 =", &owner);  // a literal x
  ASSERT_NE(ex, nullptr);
  EXPECT_EQ(owner->choices[static_cast<size_t>(ex->answer)], " 361");
  ex = find_prompt(s, "0 x 13 =", &owner);
  ASSERT_NE(ex, nullptr);
  EXPECT_EQ(owner->choices[static_cast<size_t>(ex->answer)], " 0");
  EXPECT_EQ(find_prompt(s, "20 x 1 ="), nullptr);
}

TEST(ArithmeticSplits, NoExampleInTwoSplits) {
  TaskSpec spec("int-sum");
  spec.split.validation_fraction = 0.25;
  TaskSplits s = load_task(spec);
  EXPECT_EQ(s.train.examples.size(), 6000u);
  EXPECT_EQ(s.validation.examples.size(), 2000u);
  EXPECT_EQ(s.test.examples.size(), 2000u);
  std::set<std::string> all = prompts_of(s.train);
  for (const Task* t : {&s.validation, &s.test})
    for (const Example& ex : t->examples) EXPECT_TRUE(all.insert(ex.prompt).second) << ex.prompt << " twice";
  EXPECT_EQ(all.size(), 10000u);
}

TEST(ArithmeticSplits, DeterministicBySeed) {
  TaskSpec a("int-mult"), b("int-mult"), c("int-mult");
  c.split.seed = 7;
  EXPECT_EQ(prompts_of(load_task(a).test), prompts_of(load_task(b).test));
  EXPECT_NE(prompts_of(load_task(a).test), prompts_of(load_task(c).test));
}

TEST(ArithmeticSplits, ValidationFractionDoesNotMoveTheTestSet) {
  TaskSpec a("int-mult"), b("int-mult");
  b.split.validation_fraction = 0.2;
  TaskSplits sa = load_task(a), sb = load_task(b);
  EXPECT_EQ(prompts_of(sa.test), prompts_of(sb.test));
  EXPECT_EQ(sb.validation.examples.size(), 64u);  // 20% of 320
  EXPECT_EQ(sb.train.examples.size(), 256u);
}

TEST(TaskRegistry, KnowsThePaperTasksAndNamesThemOnError) {
  for (const char* name : {"int-sum", "int-mult", "cb", "copa", "rte"}) EXPECT_EQ(find_task_kind(name).name, name);
  try {
    find_task_kind("int-div");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown task 'int-div'; expected one of: int-sum, int-mult, cb, copa, rte"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(load_task(TaskSpec("int-sum", "lm-eval")), Error);
}

// max_* keep a seeded random part of each split, in source order; the splits
// themselves (what is train, what is test) do not move.
TEST(IntSum, SubsamplesAreSeededSubsetsOfThePapersSplits) {
  TaskSpec full_spec("int-sum");
  full_spec.split.validation_fraction = 0.1;
  TaskSpec spec = full_spec;
  spec.split.max_train = 256;
  spec.split.max_validation = 64;
  spec.split.max_test = 200;
  const TaskSplits full = load_task(full_spec), part = load_task(spec), again = load_task(spec);
  auto sources = [](const Task& t) {
    std::vector<std::string> s;
    for (const auto& ex : t.examples) s.push_back(ex.source);
    return s;
  };
  const std::pair<const Task*, const Task*> pairs[] = {
      {&full.train, &part.train}, {&full.validation, &part.validation}, {&full.test, &part.test}};
  const size_t sizes[] = {256, 64, 200};
  for (size_t k = 0; k < 3; ++k) {
    const auto whole = sources(*pairs[k].first), some = sources(*pairs[k].second);
    ASSERT_EQ(some.size(), sizes[k]);
    // A subsequence of the whole split (source order kept), and not simply its start.
    size_t at = 0;
    for (const auto& s : some) {
      while (at < whole.size() && whole[at] != s) ++at;
      ASSERT_LT(at, whole.size()) << s << " is not in the full split, or out of order";
    }
    EXPECT_NE(std::vector<std::string>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(sizes[k])), some);
  }
  EXPECT_EQ(sources(part.test), sources(again.test));
  // More than there are keeps everything.
  spec.split.max_validation = 100000;
  EXPECT_EQ(sources(load_task(spec).validation), sources(full.validation));
}

}  // namespace
}  // namespace ep
