#include "experiments/task_metrics.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "core/prune/batching.h"
#include "core/util/error.h"

namespace ep {

EvalSet to_eval_set(const TokenizedTask& task) {
  EvalSet set;
  std::set<TokenId> firsts;
  for (const TokenizedExample& ex : task.examples) {
    set.prompts.push_back(ex.prompt_ids);
    set.answers.push_back(ex.answer_ids);
    for (const auto& cont : ex.continuation_ids) firsts.insert(cont.front());
  }
  set.choices = task.choice_answers;
  if (set.choices.empty())
    for (TokenId t : firsts) set.choices.push_back({t});
  return set;
}

namespace {

// Sums of log p over the continuation tokens of one batch of rows of `seqs`
// (prompt + continuation), where cont_len[r] is the continuation's length.
std::vector<double> batch_logliks(CausalLM& model, const std::vector<std::vector<TokenId>>& seqs,
                                  const std::vector<int64_t>& cont_len, const std::vector<int64_t>& rows,
                                  int64_t pad_id) {
  Batch batch = left_padded_batch(seqs, rows, pad_id, model.device());
  const int64_t T = batch.input_ids.size(1);
  int64_t L = 0;
  for (int64_t r : rows) L = std::max(L, cont_len[static_cast<size_t>(r)]);
  // Left padding puts every continuation at the end: its tokens are the last
  // cont_len positions, predicted by the logits one position earlier.
  auto logits = model.forward(batch, LogitsScope::All);                      // [B, T, V]
  auto logp = logits.narrow(1, T - 1 - L, L).to(at::kDouble).log_softmax(-1);  // [B, L, V]
  auto targets = batch.input_ids.narrow(1, T - L, L);                         // [B, L]
  auto token_logp = logp.gather(2, targets.unsqueeze(2)).squeeze(2);          // [B, L]
  std::vector<int64_t> row_lens;
  for (int64_t r : rows) row_lens.push_back(cont_len[static_cast<size_t>(r)]);
  auto len_t = at::tensor(row_lens, at::kLong).to(model.device()).unsqueeze(1);          // [B, 1]
  auto j = at::arange(L, at::TensorOptions().dtype(at::kLong).device(model.device()));  // [L]
  auto in_cont = j.unsqueeze(0) >= (L - len_t);                                          // [B, L]
  auto sums = (token_logp * in_cont.to(at::kDouble)).sum(1).cpu().contiguous();         // [B]
  return {sums.data_ptr<double>(), sums.data_ptr<double>() + sums.numel()};
}

}  // namespace

std::vector<double> continuation_logliks(CausalLM& model, const std::vector<std::vector<TokenId>>& prompts,
                                         const std::vector<std::vector<TokenId>>& continuations,
                                         const ChoiceEvalOptions& opts) {
  EP_CHECK(prompts.size() == continuations.size(), "{} prompts but {} continuations", prompts.size(),
           continuations.size());
  EP_CHECK(opts.batch_size >= 1, "choice evaluation batch size must be >= 1, got {}", opts.batch_size);
  std::vector<std::vector<TokenId>> seqs(prompts.size());
  std::vector<int64_t> cont_len(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    EP_CHECK(!prompts[i].empty(), "pair {}: the prompt is empty; the first continuation token needs a position "
             "before it (prepend BOS)", i);
    EP_CHECK(!continuations[i].empty(), "pair {}: the continuation is empty", i);
    seqs[i] = prompts[i];
    seqs[i].insert(seqs[i].end(), continuations[i].begin(), continuations[i].end());
    cont_len[i] = static_cast<int64_t>(continuations[i].size());
  }
  at::NoGradGuard no_grad;
  std::vector<double> out;
  out.reserve(seqs.size());
  for (size_t start = 0; start < seqs.size(); start += static_cast<size_t>(opts.batch_size)) {
    const size_t end = std::min(seqs.size(), start + static_cast<size_t>(opts.batch_size));
    std::vector<int64_t> rows(end - start);
    std::iota(rows.begin(), rows.end(), static_cast<int64_t>(start));
    auto sums = batch_logliks(model, seqs, cont_len, rows, opts.pad_id);
    out.insert(out.end(), sums.begin(), sums.end());
  }
  return out;
}

ChoiceEvalResult evaluate_choices(CausalLM& model, const TokenizedTask& task, const ChoiceEvalOptions& opts,
                                  const std::vector<int64_t>& rows_in) {
  EP_CHECK(task.scoring == Scoring::ChoiceLogLikelihood,
           "task '{}', prompt set '{}' is scored by {}; choice log-likelihood needs continuations", task.name,
           task.prompt_set, scoring_name(task.scoring));
  std::vector<int64_t> rows = rows_in;
  if (rows.empty()) {
    rows.resize(task.examples.size());
    std::iota(rows.begin(), rows.end(), int64_t{0});
  }
  // Flatten (example, choice) pairs so batches are full whatever the choice count.
  std::vector<std::vector<TokenId>> prompts, conts;
  for (int64_t r : rows) {
    EP_CHECK(r >= 0 && static_cast<size_t>(r) < task.examples.size(), "example index {} out of range ({} examples)",
             r, task.examples.size());
    const TokenizedExample& ex = task.examples[static_cast<size_t>(r)];
    for (const auto& cont : ex.continuation_ids) {
      prompts.push_back(ex.prompt_ids);
      conts.push_back(cont);
    }
  }
  const std::vector<double> flat = continuation_logliks(model, prompts, conts, opts);

  ChoiceEvalResult result;
  size_t k = 0;
  int64_t correct = 0;
  for (int64_t r : rows) {
    const TokenizedExample& ex = task.examples[static_cast<size_t>(r)];
    std::vector<double> ll(flat.begin() + static_cast<std::ptrdiff_t>(k),
                           flat.begin() + static_cast<std::ptrdiff_t>(k + ex.continuation_ids.size()));
    k += ex.continuation_ids.size();
    const auto best = static_cast<int64_t>(std::max_element(ll.begin(), ll.end()) - ll.begin());
    correct += best == ex.answer;
    result.predicted.push_back(best);
    result.loglik.push_back(std::move(ll));
  }
  result.n = static_cast<int64_t>(rows.size());
  result.accuracy = result.n ? static_cast<double>(correct) / static_cast<double>(result.n) : 0.0;
  return result;
}

}  // namespace ep
