#include "core/prune/evaluate.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <numeric>

#include "core/prune/batching.h"
#include "core/util/error.h"

namespace ep {

namespace {
std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.to(at::kCPU, at::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

void append_batch(CausalLM& model, const EvalSet& set, const std::vector<int64_t>& rows,
                  const torch::Tensor& choices, const EvalOptions& opts, EvalResult& r) {
  auto batch = left_padded_batch(set.prompts, rows, opts.pad_id, model.device());
  auto targets = gather_targets(set.answers, rows, model.device());    // [B]
  auto logits = model.forward(batch, LogitsScope::Last).to(at::kDouble);  // [B, V]
  auto loss = -logits.log_softmax(-1).gather(1, targets.unsqueeze(1)).squeeze(1);  // [B]
  auto predicted = logits.argmax(-1);                                   // [B]
  auto in_choices = logits.index_select(1, choices).argmax(-1);         // [B] index into choices
  auto choice_predicted = choices.index_select(0, in_choices);          // [B] token ids
  for (int64_t p : to_vector(predicted)) r.predicted.push_back(p);
  for (int64_t p : to_vector(choice_predicted)) r.choice_predicted.push_back(p);
  auto l = loss.cpu().contiguous();
  r.loss.insert(r.loss.end(), l.data_ptr<double>(), l.data_ptr<double>() + l.numel());
}
}  // namespace

EvalResult evaluate(CausalLM& model, const EvalSet& set, const EvalOptions& opts,
                    const std::vector<int64_t>& rows_in) {
  EP_CHECK(set.prompts.size() == set.answers.size(), "{} prompts but {} answers",
           set.prompts.size(), set.answers.size());
  EP_CHECK(!set.choices.empty(), "the task's candidate answer tokens are empty");
  EP_CHECK(opts.batch_size >= 1, "evaluation batch size must be >= 1, got {}", opts.batch_size);
  std::vector<int64_t> rows = rows_in;
  if (rows.empty()) {
    rows.resize(set.prompts.size());
    std::iota(rows.begin(), rows.end(), int64_t{0});
  }
  at::NoGradGuard no_grad;
  auto choices = at::tensor(set.choices, at::kLong).to(model.device());  // [C]
  EvalResult r;
  std::vector<int64_t> answers;
  for (size_t start = 0; start < rows.size(); start += static_cast<size_t>(opts.batch_size)) {
    const size_t end = std::min(rows.size(), start + static_cast<size_t>(opts.batch_size));
    std::vector<int64_t> chunk(rows.begin() + static_cast<std::ptrdiff_t>(start),
                               rows.begin() + static_cast<std::ptrdiff_t>(end));
    append_batch(model, set, chunk, choices, opts, r);
    for (int64_t i : chunk) answers.push_back(set.answers[static_cast<size_t>(i)]);
  }
  summarize(r, answers);
  return r;
}

void summarize(EvalResult& r, const std::vector<int64_t>& answers) {
  EP_CHECK(r.predicted.size() == answers.size() && r.choice_predicted.size() == answers.size() &&
               r.loss.size() == answers.size(),
           "per-example results ({}) and answers ({}) differ in length", r.predicted.size(),
           answers.size());
  r.n = static_cast<int64_t>(answers.size());
  int64_t hits = 0, choice_hits = 0;
  double loss = 0;
  for (size_t i = 0; i < answers.size(); ++i) {
    hits += r.predicted[i] == answers[i];
    choice_hits += r.choice_predicted[i] == answers[i];
    loss += r.loss[i];
  }
  const double n = r.n > 0 ? static_cast<double>(r.n) : 1.0;
  r.accuracy = static_cast<double>(hits) / n;
  r.choice_accuracy = static_cast<double>(choice_hits) / n;
  r.mean_loss = loss / n;
}

}  // namespace ep
