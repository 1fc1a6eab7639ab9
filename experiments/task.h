// A task as text: prompts, the class each example belongs to, and the words (or
// continuations) that stand for the classes. Tokenizing it is a separate step
// (tokenized_task.h), so tasks can be built and checked without a model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ep {

// How an example is judged correct.
enum class Scoring {
  // ref: paper appendix B and its code — the argmax over the full vocabulary of the
  // last position's logits must be the first token of the correct label word.
  FirstToken,
  // ref: EleutherAI lm-evaluation-harness multiple_choice — the choice whose
  // continuation has the largest summed log-likelihood after the prompt wins.
  ChoiceLogLikelihood,
};
std::string_view scoring_name(Scoring scoring);  // "first-token", "choice-loglik"

struct Example {
  std::string source;   // where it came from, for messages: "CB/val.jsonl:12", "int-sum 3 + 4"
  std::string prompt;   // rendered prompt text, without BOS
  int64_t answer = 0;   // index into the task's choices
  // ChoiceLogLikelihood only: the text scored after the prompt for each choice
  // (COPA's differ per example). Empty for FirstToken.
  std::vector<std::string> continuations;
};

struct Task {
  std::string name;         // the task kind, e.g. "cb"
  std::string prompt_set;   // "paper" or "lm-eval"
  Scoring scoring = Scoring::FirstToken;
  // FirstToken only. true: the answer is every token of the choice (INT-SUM's " 46"
  // is one token for GPT-2, three for SmolLM2's digit-by-digit tokenizer); the loss is
  // their summed cross-entropy and an example is right when each of them is the argmax
  // under teacher forcing. false: the first token of a label word stands for it (the
  // paper's SuperGLUE prompts).
  bool whole_answers = false;
  // One per class. FirstToken: the label words (" entails"). ChoiceLogLikelihood:
  // the continuation templates (" True", " {choice1_lc}") — the rendered text is in
  // each Example.
  std::vector<std::string> choices;
  std::vector<Example> examples;
};

// ref: paper section 4 — SuperGLUE's validation file is the test set. The
// validation split here is carved from train, so p can be chosen without the test set.
struct TaskSplits {
  Task train, validation, test;
};

}  // namespace ep
