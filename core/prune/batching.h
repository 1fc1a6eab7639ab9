// Left-padded batches of prompts, shared by scoring, evaluation and fine-tuning.
//
// Left padding puts every prompt's last token at the last position T-1, which is
// where the answer is predicted and what the per-position statistics are aligned to.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/causal_lm.h"

namespace ep {

// Batch of prompts[rows[0]], prompts[rows[1]], ... left padded with `pad_id` to the
// longest of them:
//   input_ids      [B, T] int64
//   attention_mask [B, T] int64, 0 on pads
//   position_ids   [B, T] int64, (mask.cumsum(-1) - 1).clamp_min(0): the first real
//                  token is position 0 whatever the padding.
// Every chosen prompt must be non-empty.
Batch left_padded_batch(const std::vector<std::vector<int64_t>>& prompts,
                        const std::vector<int64_t>& rows, int64_t pad_id, torch::Device device);

// Targets [B] int64 = values[rows[b]] (e.g. the answer token of each example).
torch::Tensor gather_targets(const std::vector<int64_t>& values, const std::vector<int64_t>& rows,
                             torch::Device device);

// Answers of one or more tokens under teacher forcing (see answer_token_nll): each
// row reads its prompt followed by its answer without the last token, left padded,
// so that the k answer tokens of a row are predicted at its last k positions.
//   batch   as left_padded_batch() of those sequences
//   targets [B, K] int64: answers right-aligned, kNoTarget before a shorter one
//   K       the longest answer among the rows: forward(LogitsScope::last_positions(K))
// A one-token answer adds nothing to the prompt, so one-token tasks get the batches
// (and numbers) they got before answers could be longer. Every answer needs >= 1 token.
struct AnswerBatch {
  Batch batch;
  torch::Tensor targets;
  int64_t K = 1;
};
AnswerBatch teacher_forced_batch(const std::vector<std::vector<int64_t>>& prompts,
                                 const std::vector<std::vector<int64_t>>& answers, const std::vector<int64_t>& rows,
                                 int64_t pad_id, torch::Device device);

// The longest prompt + answer - 1 over all examples: the positions a scoring state needs.
int64_t longest_teacher_forced_input(const std::vector<std::vector<int64_t>>& prompts,
                                     const std::vector<std::vector<int64_t>>& answers);

}  // namespace ep
