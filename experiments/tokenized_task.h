// A task as token ids, ready for a model: prompt ids (BOS first when configured),
// the answer token, the candidate answer tokens, and for lm-eval the ids of each
// choice's continuation. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tokenizer/bpe_tokenizer.h"
#include "experiments/task.h"

namespace ep {

struct TokenizeOptions {
  // ref: official code (TransformerLens prepends BOS). Ignored when the tokenizer
  // defines no BOS token.
  bool prepend_bos = true;
};

struct TokenizedExample {
  std::vector<TokenId> prompt_ids;  // [BOS] + prompt tokens
  int64_t answer = 0;               // index into the choices
  TokenId answer_id = 0;            // first token of the correct choice
  // The eigenpruning loss target: the correct choice's tokens (whole answers), or its
  // first token alone; lm-eval: the first token of the correct continuation.
  std::vector<TokenId> answer_ids;
  // ChoiceLogLikelihood only: per choice, the continuation's ids (>= 1 each), split
  // off the encoding of prompt + continuation as lm-eval does.
  std::vector<std::vector<TokenId>> continuation_ids;
};

struct TokenizedTask {
  std::string name;
  std::string prompt_set;
  Scoring scoring = Scoring::FirstToken;
  // Task::whole_answers: the choices are answers (INT-SUM's numbers), not classes.
  bool whole_answers = false;
  // FirstToken only: the first token of each label word (all distinct unless the
  // answers are whole); the paper's accuracy takes the argmax over the full
  // vocabulary, a restricted one over the choices.
  std::vector<TokenId> choice_ids;
  // FirstToken only: what each choice is as an answer (answer_ids of its examples):
  // every token of it for whole answers (all distinct), else its first token.
  std::vector<std::vector<TokenId>> choice_answers;
  std::vector<TokenizedExample> examples;
};

// Errors: label words that share a first token, or whole answers that are equal
// (names them); an empty label word or continuation.
TokenizedTask tokenize_task(const Task& task, const BpeTokenizer& tokenizer, const TokenizeOptions& opts = {});

}  // namespace ep
