#include "core/prune/batching.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/util/error.h"

namespace ep {

Batch left_padded_batch(const std::vector<std::vector<int64_t>>& prompts,
                        const std::vector<int64_t>& rows, int64_t pad_id, torch::Device device) {
  EP_CHECK(!rows.empty(), "a batch needs at least one prompt");
  size_t t_max = 0;
  for (int64_t r : rows) {
    EP_CHECK(r >= 0 && static_cast<size_t>(r) < prompts.size(), "prompt index {} out of range ({} prompts)",
             r, prompts.size());
    EP_CHECK(!prompts[static_cast<size_t>(r)].empty(), "prompt {} is empty", r);
    t_max = std::max(t_max, prompts[static_cast<size_t>(r)].size());
  }
  const auto B = static_cast<int64_t>(rows.size());
  const auto T = static_cast<int64_t>(t_max);
  auto ids = at::full({B, T}, pad_id, at::kLong);  // [B, T]
  auto mask = at::zeros({B, T}, at::kLong);        // [B, T]
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<size_t>(rows[static_cast<size_t>(b)])];
    const int64_t start = T - static_cast<int64_t>(p.size());
    for (size_t j = 0; j < p.size(); ++j) {
      ids_a[b][start + static_cast<int64_t>(j)] = p[j];
      mask_a[b][start + static_cast<int64_t>(j)] = 1;
    }
  }
  Batch batch;
  batch.position_ids = (mask.cumsum(-1) - 1).clamp_min(0).to(device);
  batch.input_ids = ids.to(device);
  batch.attention_mask = mask.to(device);
  return batch;
}

torch::Tensor gather_targets(const std::vector<int64_t>& values, const std::vector<int64_t>& rows,
                             torch::Device device) {
  auto t = at::empty({static_cast<int64_t>(rows.size())}, at::kLong);
  auto a = t.accessor<int64_t, 1>();
  for (size_t b = 0; b < rows.size(); ++b) {
    EP_CHECK(rows[b] >= 0 && static_cast<size_t>(rows[b]) < values.size(),
             "example index {} out of range ({} values)", rows[b], values.size());
    a[static_cast<int64_t>(b)] = values[static_cast<size_t>(rows[b])];
  }
  return t.to(device);
}

AnswerBatch teacher_forced_batch(const std::vector<std::vector<int64_t>>& prompts,
                                 const std::vector<std::vector<int64_t>>& answers, const std::vector<int64_t>& rows,
                                 int64_t pad_id, torch::Device device) {
  EP_CHECK(prompts.size() == answers.size(), "{} prompts but {} answers", prompts.size(), answers.size());
  std::vector<std::vector<int64_t>> inputs;
  std::vector<int64_t> local;
  size_t K = 1;
  for (int64_t r : rows) {
    EP_CHECK(r >= 0 && static_cast<size_t>(r) < prompts.size(), "example index {} out of range ({} examples)", r,
             prompts.size());
    const auto& answer = answers[static_cast<size_t>(r)];
    EP_CHECK(!answer.empty(), "example {} has an empty answer", r);
    std::vector<int64_t> in = prompts[static_cast<size_t>(r)];
    in.insert(in.end(), answer.begin(), answer.end() - 1);
    local.push_back(static_cast<int64_t>(inputs.size()));
    inputs.push_back(std::move(in));
    K = std::max(K, answer.size());
  }
  AnswerBatch out;
  out.batch = left_padded_batch(inputs, local, pad_id, device);
  out.K = static_cast<int64_t>(K);
  auto targets = at::full({static_cast<int64_t>(rows.size()), out.K}, kNoTarget, at::kLong);  // [B, K]
  auto a = targets.accessor<int64_t, 2>();
  for (size_t b = 0; b < rows.size(); ++b) {
    const auto& answer = answers[static_cast<size_t>(rows[b])];
    const int64_t start = out.K - static_cast<int64_t>(answer.size());
    for (size_t j = 0; j < answer.size(); ++j) a[static_cast<int64_t>(b)][start + static_cast<int64_t>(j)] = answer[j];
  }
  out.targets = targets.to(device);
  return out;
}

int64_t longest_teacher_forced_input(const std::vector<std::vector<int64_t>>& prompts,
                                     const std::vector<std::vector<int64_t>>& answers) {
  EP_CHECK(prompts.size() == answers.size(), "{} prompts but {} answers", prompts.size(), answers.size());
  size_t n = 1;
  for (size_t i = 0; i < prompts.size(); ++i)
    n = std::max(n, prompts[i].size() + std::max<size_t>(answers[i].size(), 1) - 1);
  return static_cast<int64_t>(n);
}

}  // namespace ep
