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

}  // namespace ep
