// Token ids of tasks, with the GPT-2 tokenizer in examples/gpt2-tokenizer.
//
// Expected ids were computed by two implementations independent of eprunner, which
// agree on every string here: the npm package gpt-tokenizer 3.4.0 (r50k_base, via
// tests/node/gpt2_reference.cjs) and a Python transcription of openai/gpt-2's
// encoder.py (regex + vocab.json/merges.txt) that also reproduces all 27 cases of
// shared/fixtures/gpt2-bpe-reference.json (HF tokenizers). "2 + 2 =", "12 + 34 =",
// "19 x 19 =", " 4" and " 361" are also in that HF fixture.
#include <gtest/gtest.h>

#include <string>

#include "core/util/error.h"
#include "experiments/load_task.h"
#include "experiments/tokenized_task.h"
#include "tests/experiments/tiny_model.h"

namespace ep {
namespace {

using Ids = std::vector<TokenId>;
constexpr TokenId kEot = 50256;  // <|endoftext|>, GPT-2's BOS

const BpeTokenizer& gpt2() { return test::gpt2_tokenizer(); }

const std::string& kData = test::kSuperglueData;

// The tokenized example whose (untokenized) prompt is `prompt`, from any split.
struct Found {
  TokenizedExample ex;
  Ids choice_ids;
};
Found tokenized_by_prompt(const TaskSpec& spec, const std::string& prompt, const TokenizeOptions& opts = {}) {
  TaskSplits s = load_task(spec);
  for (const Task* t : {&s.train, &s.validation, &s.test})
    for (size_t i = 0; i < t->examples.size(); ++i)
      if (t->examples[i].prompt == prompt) {
        Task one = *t;
        one.examples = {t->examples[i]};
        TokenizedTask tt = tokenize_task(one, gpt2(), opts);
        return {tt.examples[0], tt.choice_ids};
      }
  ADD_FAILURE() << "no example with prompt " << prompt;
  return {};
}

TEST(TokenizedIntSum, PromptIdsWithBosAndOneTokenAnswers) {
  struct Case { const char* prompt; Ids ids; TokenId answer; };
  for (const Case& c : {Case{"2 + 2 =", {17, 1343, 362, 796}, 604},
                        Case{"12 + 34 =", {1065, 1343, 4974, 796}, 6337},
                        Case{"99 + 99 =", {2079, 1343, 7388, 796}, 2757}}) {
    Found f = tokenized_by_prompt(TaskSpec("int-sum"), c.prompt);
    Ids expected = {kEot};
    expected.insert(expected.end(), c.ids.begin(), c.ids.end());
    EXPECT_EQ(f.ex.prompt_ids, expected) << c.prompt;
    EXPECT_EQ(f.ex.answer_id, c.answer) << c.prompt;
    ASSERT_EQ(f.choice_ids.size(), 199u);
    EXPECT_EQ(f.choice_ids[0], 657);    // " 0"
    EXPECT_EQ(f.choice_ids[198], 2757); // " 198"
  }
}

TEST(TokenizedIntSum, BosIsConfigurable) {
  TokenizeOptions no_bos;
  no_bos.prepend_bos = false;
  Found f = tokenized_by_prompt(TaskSpec("int-sum"), "2 + 2 =", no_bos);
  EXPECT_EQ(f.ex.prompt_ids, (Ids{17, 1343, 362, 796}));
}

TEST(TokenizedIntMult, PromptIdsAndAnswers) {
  Found f = tokenized_by_prompt(TaskSpec("int-mult"), "19 x 19 =");
  EXPECT_EQ(f.ex.prompt_ids, (Ids{kEot, 1129, 2124, 678, 796}));
  EXPECT_EQ(f.ex.answer_id, 47744);  // " 361"
  f = tokenized_by_prompt(TaskSpec("int-mult"), "0 x 13 =");
  EXPECT_EQ(f.ex.prompt_ids, (Ids{kEot, 15, 2124, 1511, 796}));
  EXPECT_EQ(f.ex.answer_id, 657);  // " 0"
}

TEST(TokenizedWholeTasks, EveryArithmeticAnswerIsOneTokenAndCandidatesDistinct) {
  for (const char* kind : {"int-sum", "int-mult"}) {
    TaskSplits s = load_task(TaskSpec(kind));
    TokenizedTask t = tokenize_task(s.test, gpt2());
    EXPECT_EQ(t.examples.size(), s.test.examples.size());
    for (size_t i = 0; i < t.examples.size(); ++i)
      EXPECT_EQ(t.examples[i].answer_id, t.choice_ids[static_cast<size_t>(t.examples[i].answer)]);
  }
}

TEST(TokenizedCb, PaperPromptAndLabelTokens) {
  const std::string prompt =
      "Premise: Did you know that the bakery on the corner sells bread after nine?\n\n"
      "Hypothesis: the bakery sells bread after nine\n\n"
      "Does the premise entail, contradict or is neutral to the hypothesis?\n"
      "Answer (entails, contradicts, is neutral): The premise";
  Found f = tokenized_by_prompt(TaskSpec("cb", "paper", kData + "CB"), prompt);
  EXPECT_EQ(f.ex.prompt_ids,
            (Ids{kEot,  24914, 786,   25,  7731, 345,   760,   326,  262,   38164, 319,   262,  5228,
                 16015, 8509,  706,   5193, 30,   198,   198,   49926, 313,  8497,  25,    262,   38164,
                 16015, 8509,  706,   5193, 198,  198,   13921, 262,   18659, 39793, 11,    18372, 393,
                 318,   8500,  284,   262,  14078, 30,    198,   33706, 357,  298,   1768,  11,    40081,
                 11,    318,   8500,  2599, 383,  18659}));
  // " entails", " contradicts", first token of " is neutral" (" is")
  EXPECT_EQ(f.choice_ids, (Ids{35445, 40081, 318}));
  EXPECT_EQ(f.ex.answer_id, 35445);
}

TEST(TokenizedCopa, PaperPromptAndLabelTokens) {
  const std::string prompt =
      "Premise: My phone battery died.\nWhat was the cause of this?\n\n"
      "Alternative 1: I charged it overnight.\nAlternative 2: I forgot to charge it.\n\n"
      "What is the correct alternative?\nThe correct alternative is alternative";
  Found f = tokenized_by_prompt(TaskSpec("copa", "paper", kData + "COPA"), prompt);
  EXPECT_EQ(f.ex.prompt_ids,
            (Ids{kEot, 24914, 786, 25,   2011,  3072, 6555, 3724, 13,   198,  2061, 373,  262,
                 2728, 286,   428, 30,   198,   198,  49788, 352, 25,   314,  5047, 340,  13417,
                 13,   198,   49788, 362, 25,    314,  16453, 284, 3877, 340,  13,   198,  198,
                 2061, 318,   262, 3376, 5559,  30,   198,  464,  3376, 5559, 318,  5559}));
  EXPECT_EQ(f.choice_ids, (Ids{352, 362}));  // " 1", " 2"
  EXPECT_EQ(f.ex.answer_id, 362);
}

TEST(TokenizedRte, PaperPromptWithNonAsciiText) {
  const std::string prompt =
      "Premise: The museum's new wing houses a collection of café posters from Paris.\n\n"
      "Hypothesis: The museum has a new wing.\n\n"
      "Does the premise entail or contradict to the hypothesis?\n"
      "Answer (entails or contradicts): The premise";
  Found f = tokenized_by_prompt(TaskSpec("rte", "paper", kData + "RTE"), prompt);
  EXPECT_EQ(f.ex.prompt_ids,
            (Ids{kEot, 24914, 786,   25,   383,  13257, 338,   649,   8539, 7777, 257,   4947, 286,
                 40304, 19379, 422,  6342, 13,   198,   198,   49926, 313,  8497, 25,    383,  13257,
                 468,  257,   649,   8539, 13,   198,   198,   13921, 262,  18659, 39793, 393,  18372,
                 284,  262,   14078, 30,   198,  33706, 357,   298,   1768, 393,  40081, 2599,  383,
                 18659}));
  EXPECT_EQ(f.choice_ids, (Ids{35445, 40081}));
}

TEST(TokenizedLmEval, CbContinuationsAreTheChoiceTokens) {
  const std::string prompt =
      "Maybe the letter arrived, maybe it didn't.\nQuestion: the letter arrived. True, False, or Neither?\nAnswer:";
  Found f = tokenized_by_prompt(TaskSpec("cb", "lm-eval", kData + "CB"), prompt);
  EXPECT_EQ(f.ex.prompt_ids, (Ids{kEot, 13300, 262, 3850, 5284, 11, 3863, 340, 1422, 470, 13, 198, 24361, 25, 262,
                                  3850, 5284, 13, 6407, 11, 10352, 11, 393, 16126, 30, 198, 33706, 25}));
  EXPECT_EQ(f.ex.continuation_ids, (std::vector<Ids>{{6407}, {10352}, {16126}}));
  EXPECT_EQ(f.ex.answer, 2);
  EXPECT_EQ(f.ex.answer_id, 16126);
  EXPECT_TRUE(f.choice_ids.empty());
}

TEST(TokenizedLmEval, CopaContinuationsAreMultiToken) {
  Found f = tokenized_by_prompt(TaskSpec("copa", "lm-eval", kData + "COPA"), "My phone battery died because");
  EXPECT_EQ(f.ex.prompt_ids, (Ids{kEot, 3666, 3072, 6555, 3724, 780}));
  EXPECT_EQ(f.ex.continuation_ids,
            (std::vector<Ids>{{1312, 5047, 340, 13417, 13}, {1312, 16453, 284, 3877, 340, 13}}));
  EXPECT_EQ(f.ex.answer_id, 1312);
}

Task handmade_task(std::vector<std::string> choices, bool whole_answers) {
  Task t;
  t.name = "handmade";
  t.prompt_set = "test";
  t.whole_answers = whole_answers;
  t.choices = std::move(choices);
  for (int64_t c = 0; c < static_cast<int64_t>(t.choices.size()); ++c)
    t.examples.push_back({"handmade example " + std::to_string(c), "Q:", c, {}});
  return t;
}

TEST(TokenizeErrors, LabelWordsSharingAFirstTokenAreNamed) {
  try {
    tokenize_task(handmade_task({" is neutral", " entails", " is fine"}, false), gpt2());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("label words \" is neutral\" and \" is fine\" both start with token 318"), std::string::npos)
        << msg;
  }
}

// Whole answers keep every token: " 12345" is two GPT-2 tokens ([17031, 2231] by both
// reference implementations); label words sharing a first token are fine then.
TEST(TokenizeWholeAnswers, KeepEveryTokenOfTheAnswer) {
  TokenizedTask t = tokenize_task(handmade_task({" 7", " 12345", " 12"}, true), gpt2());
  EXPECT_EQ(t.examples[1].answer_ids, (Ids{17031, 2231}));
  EXPECT_EQ(t.examples[1].answer_id, 17031);
  EXPECT_EQ(t.examples[0].answer_ids, (Ids{767}));
  EXPECT_EQ(t.choice_answers[1], (Ids{17031, 2231}));
  EXPECT_EQ(t.choice_answers.size(), 3u);
  // The first-token form keeps the first token only.
  TokenizedTask first = tokenize_task(handmade_task({" 7", " 12345"}, false), gpt2());
  EXPECT_EQ(first.examples[1].answer_ids, (Ids{17031}));
}

TEST(TokenizeErrors, WholeAnswersThatEncodeAlikeAreNamed) {
  try {
    tokenize_task(handmade_task({" 7", " 12345", " 7"}, true), gpt2());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("answers \" 7\" and \" 7\" encode to the same tokens [767]"), std::string::npos) << msg;
  }
}

TEST(TokenizeErrors, EmptyLabelWord) {
  EXPECT_THROW(tokenize_task(handmade_task({" yes", ""}, false), gpt2()), Error);
}

}  // namespace
}  // namespace ep
