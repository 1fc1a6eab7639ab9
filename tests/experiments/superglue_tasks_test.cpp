// CB, COPA and RTE from SuperGLUE-schema files (tests/data/superglue): the exact
// prompt text of both prompt sets, answers, splits, and errors on malformed data.
// The expected strings are the templates of official-implementation-notes.md
// (paper) and lm-evaluation-harness super_glue/*/ (lm-eval), filled in by hand.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "core/util/error.h"
#include "experiments/load_task.h"

namespace ep {
namespace {

const std::string kData = std::string(EP_TEST_DATA_DIR) + "/superglue/";

TaskSplits load(const std::string& kind, const std::string& folder, const std::string& prompt_set = "paper") {
  TaskSpec spec(kind, prompt_set, kData + folder);
  return load_task(spec);
}

template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SuperglueCb, PaperPromptsAnswersAndSplits) {
  TaskSplits s = load("cb", "CB");
  ASSERT_EQ(s.train.examples.size(), 6u);
  ASSERT_EQ(s.test.examples.size(), 3u);  // val.jsonl is the test set
  EXPECT_TRUE(s.validation.examples.empty());
  EXPECT_EQ(s.train.choices, (std::vector<std::string>{" entails", " contradicts", " is neutral"}));
  EXPECT_EQ(s.train.examples[0].prompt,
            "Premise: The kettle had been whistling for a while before anyone noticed.\n\n"
            "Hypothesis: The kettle was whistling\n\n"
            "Does the premise entail, contradict or is neutral to the hypothesis?\n"
            "Answer (entails, contradicts, is neutral): The premise");
  EXPECT_EQ(s.train.examples[0].answer, 0);  // entailment
  EXPECT_EQ(s.train.examples[1].answer, 2);  // neutral
  EXPECT_EQ(s.train.examples[3].answer, 1);  // contradiction
  EXPECT_EQ(s.test.examples[2].source, kData + "CB/val.jsonl:3");
}

TEST(SuperglueCb, LmEvalPromptsAndContinuations) {
  TaskSplits s = load("cb", "CB", "lm-eval");
  EXPECT_EQ(s.test.scoring, Scoring::ChoiceLogLikelihood);
  const Example& ex = s.test.examples[1];
  EXPECT_EQ(ex.prompt, "Maybe the letter arrived, maybe it didn't.\nQuestion: the letter arrived. True, False, or Neither?\nAnswer:");
  EXPECT_EQ(ex.continuations, (std::vector<std::string>{" True", " False", " Neither"}));
  EXPECT_EQ(ex.answer, 2);
}

TEST(SuperglueCopa, PaperPrompts) {
  TaskSplits s = load("copa", "COPA");
  ASSERT_EQ(s.train.examples.size(), 6u);
  ASSERT_EQ(s.test.examples.size(), 4u);
  EXPECT_EQ(s.train.choices, (std::vector<std::string>{" 1", " 2"}));
  EXPECT_EQ(s.train.examples[0].prompt,
            "Premise: The glass fell off the table.\nWhat happened as a result?\n\n"
            "Alternative 1: It shattered on the floor.\nAlternative 2: It filled with water.\n\n"
            "What is the correct alternative?\nThe correct alternative is alternative");
  EXPECT_EQ(s.train.examples[1].prompt,
            "Premise: The boy put on his coat.\nWhat was the cause of this?\n\n"
            "Alternative 1: He was hungry.\nAlternative 2: It was cold outside.\n\n"
            "What is the correct alternative?\nThe correct alternative is alternative");
  EXPECT_EQ(s.train.examples[1].answer, 1);
}

TEST(SuperglueCopa, LmEvalDropsPeriodAddsConnectorLowercasesChoices) {
  TaskSplits s = load("copa", "COPA", "lm-eval");
  const Example& cause = s.test.examples[0];
  EXPECT_EQ(cause.prompt, "My phone battery died because");
  EXPECT_EQ(cause.continuations, (std::vector<std::string>{" i charged it overnight.", " i forgot to charge it."}));
  EXPECT_EQ(cause.answer, 1);
  const Example& effect = s.test.examples[2];  // premise has trailing spaces: stripped first
  EXPECT_EQ(effect.prompt, "The road was covered in snow therefore");
  EXPECT_EQ(effect.continuations, (std::vector<std::string>{" cars drove slowly.", " cars drove faster."}));
}

TEST(SuperglueRte, BothPromptSets) {
  TaskSplits paper = load("rte", "RTE");
  ASSERT_EQ(paper.train.examples.size(), 5u);
  EXPECT_EQ(paper.train.choices, (std::vector<std::string>{" entails", " contradicts"}));
  EXPECT_EQ(paper.train.examples[1].prompt,
            "Premise: Mira Patel, who founded the company in 2004, stepped down as chief executive last year.\n\n"
            "Hypothesis: Mira Patel founded the company in 1994.\n\n"
            "Does the premise entail or contradict to the hypothesis?\n"
            "Answer (entails or contradicts): The premise");
  EXPECT_EQ(paper.train.examples[1].answer, 1);  // not_entailment

  TaskSplits lm = load("rte", "RTE", "lm-eval");
  EXPECT_EQ(lm.test.examples[2].prompt,
            "The museum's new wing houses a collection of café posters from Paris.\n"
            "Question: The museum has a new wing. True or False?\nAnswer:");
  EXPECT_EQ(lm.test.examples[2].continuations, (std::vector<std::string>{" True", " False"}));
  EXPECT_EQ(lm.test.examples[2].answer, 0);
}

TEST(SuperglueSplits, ValidationCarvedFromTrainDisjointAndSeeded) {
  TaskSpec spec("copa", "paper", kData + "COPA");
  spec.split.validation_fraction = 0.5;
  TaskSplits a = load_task(spec), b = load_task(spec);
  EXPECT_EQ(a.train.examples.size(), 3u);
  EXPECT_EQ(a.validation.examples.size(), 3u);
  EXPECT_EQ(a.test.examples.size(), 4u);  // the test set never changes
  std::set<std::string> sources;
  for (const Task* t : {&a.train, &a.validation, &a.test})
    for (const Example& ex : t->examples) EXPECT_TRUE(sources.insert(ex.source).second) << ex.source;
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(a.validation.examples[i].source, b.validation.examples[i].source);
  bool any_differs = false;
  for (uint64_t seed = 1; seed < 6 && !any_differs; ++seed) {
    spec.split.seed = seed;
    TaskSplits c = load_task(spec);
    for (size_t i = 0; i < 3; ++i) any_differs |= c.validation.examples[i].source != a.validation.examples[i].source;
  }
  EXPECT_TRUE(any_differs) << "the validation split ignores the seed";
}

TEST(SuperglueErrors, MissingFieldNamesFileLineAndField) {
  std::string msg = error_of([] { load("cb", "malformed/cb-missing-field"); });
  EXPECT_NE(msg.find("cb-missing-field/train.jsonl:2: field 'hypothesis' is missing"), std::string::npos) << msg;
}

TEST(SuperglueErrors, UnknownLabelNamesValueAndAcceptedLabels) {
  std::string msg = error_of([] { load("cb", "malformed/cb-bad-label"); });
  EXPECT_NE(msg.find("cb-bad-label/val.jsonl:3: field 'label' is \"maybe\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"entailment\", \"contradiction\", \"neutral\""), std::string::npos) << msg;
}

TEST(SuperglueErrors, LabelOutOfRange) {
  std::string msg = error_of([] { load("copa", "malformed/copa-label-out-of-range"); });
  EXPECT_NE(msg.find("copa-label-out-of-range/train.jsonl:2: field 'label' is 2, out of range"), std::string::npos)
      << msg;
}

TEST(SuperglueErrors, HugeUnsignedLabelIsNamedAsWritten) {
  const auto dir = std::filesystem::temp_directory_path() / ("ep-cb-label-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kData + "CB/val.jsonl", dir / "val.jsonl");
  std::ofstream(dir / "train.jsonl") << R"({"premise": "p", "hypothesis": "h", "label": 18446744073709551615})" << "\n";
  const std::string msg = error_of([&] { load_task(TaskSpec("cb", "paper", dir)); });
  std::filesystem::remove_all(dir);
  EXPECT_NE(msg.find("field 'label' is 18446744073709551615, out of range"), std::string::npos) << msg;
}

TEST(SuperglueErrors, BadCopaQuestion) {
  std::string msg = error_of([] { load("copa", "malformed/copa-bad-question"); });
  EXPECT_NE(msg.find("copa-bad-question/train.jsonl:1: field 'question' is \"why\"; expected \"cause\" or \"effect\""),
            std::string::npos)
      << msg;
}

TEST(SuperglueErrors, MissingValidationFileAndFolder) {
  std::string msg = error_of([] { load("rte", "malformed/rte-no-val"); });
  EXPECT_NE(msg.find("rte-no-val/val.jsonl: cannot open"), std::string::npos) << msg;
  msg = error_of([] { load("rte", "no-such-folder"); });
  EXPECT_NE(msg.find("no-such-folder: not a folder"), std::string::npos) << msg;
  msg = error_of([] { load_task(TaskSpec("rte")); });
  EXPECT_NE(msg.find("task 'rte' reads files"), std::string::npos) << msg;
}

TEST(SuperglueErrors, ADataFileThatIsAFolderIsNamedSo) {
  const auto dir = std::filesystem::temp_directory_path() / ("ep-cb-folder-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "val.jsonl");
  std::filesystem::copy_file(kData + "CB/train.jsonl", dir / "train.jsonl");
  const std::string msg = error_of([&] { load_task(TaskSpec("cb", "paper", dir)); });
  std::filesystem::remove_all(dir);
  EXPECT_NE(msg.find("val.jsonl: a folder, not a file"), std::string::npos) << msg;
}

}  // namespace
}  // namespace ep
