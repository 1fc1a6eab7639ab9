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
  TokenId answer_id = 0;            // first token of the correct choice (the eigenpruning loss target)
  // ChoiceLogLikelihood only: per choice, the continuation's ids (>= 1 each), split
  // off the encoding of prompt + continuation as lm-eval does.
  std::vector<std::vector<TokenId>> continuation_ids;
};

struct TokenizedTask {
  std::string name;
  std::string prompt_set;
  Scoring scoring = Scoring::FirstToken;
  // FirstToken only: the first token of each label word, all distinct; the paper's
  // accuracy takes the argmax over the full vocabulary, a restricted one over these.
  std::vector<TokenId> choice_ids;
  std::vector<TokenizedExample> examples;
};

// Errors: an answer that must be one token but is not (names the example), label
// words that share a first token (names them), an empty label word or continuation.
TokenizedTask tokenize_task(const Task& task, const BpeTokenizer& tokenizer, const TokenizeOptions& opts = {});

}  // namespace ep
