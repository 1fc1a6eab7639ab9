// Eigenpruning step 5: measure a (pruned) model on a task.
//
// An answer is one token (GPT-2 on the paper's tasks) or several (SmolLM2 spells
// numbers digit by digit). Under teacher forcing the model reads the prompt and the
// answer but its last token, and answer token j is predicted at the position
// before it (see teacher_forced_batch()). Per example:
//   correct:        every answer token is the argmax over the whole vocabulary at
//                   its position (the paper's metric; for one token, argmax ==
//                   answer). Equal to greedy decoding of the answer's length.
//   choice_correct: the same with each argmax restricted to the tokens that continue
//                   some candidate answer from the answer's prefix so far (the
//                   candidates' first tokens for one-token answers: what evaluation
//                   harnesses do; never an out-of-set token). A candidate that is a
//                   prefix of another (" 4" and " 46") is not told apart from it:
//                   without an end token, teacher forcing cannot say where greedy
//                   decoding would stop, so correctness stops at the answer's length.
//   loss:           the answer's summed cross-entropy over the whole vocabulary.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/causal_lm.h"

namespace ep {

struct EvalSet {
  std::vector<std::vector<int64_t>> prompts;  // token ids, no padding
  std::vector<std::vector<int64_t>> answers;  // the answer's token ids per prompt (>= 1 each)
  // The task's candidate answers (index = class for the paper's tasks); every
  // example's answer must be one of them.
  std::vector<std::vector<int64_t>> choices;
};

struct EvalOptions {
  int64_t batch_size = 8;
  int64_t pad_id = 0;  // any id: pads are masked
};

struct EvalResult {
  int64_t n = 0;
  double accuracy = 0;         // fraction correct
  double choice_accuracy = 0;  // fraction choice_correct
  double mean_loss = 0;        // mean over examples of the answer's −log p
  std::vector<uint8_t> correct, choice_correct;  // per example, 0/1
  // The vocabulary argmax at the first answer token predicted wrong; at the last
  // answer token when all are right (then the answer's last token).
  std::vector<int64_t> predicted;
  // Index into the set's choices of the candidate spelled by the answer's prefix and
  // the restricted argmax where it first differs (the answer's own when
  // choice_correct); -1 when that prefix is no whole candidate.
  std::vector<int64_t> choice_predicted;
  std::vector<double> loss;  // per example
};

// Evaluates examples `rows` of the set (all of them when rows is empty), in
// batches of left-padded prompts, in the given order, without gradients.
EvalResult evaluate(CausalLM& model, const EvalSet& set, const EvalOptions& opts,
                    const std::vector<int64_t>& rows = {});

// Recomputes n and the three means from the per-example vectors (e.g. after
// concatenating shards).
void summarize(EvalResult& r);

}  // namespace ep
