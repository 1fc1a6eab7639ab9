#include "core/prune/evaluate.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "core/prune/batching.h"
#include "core/util/error.h"

namespace ep {

namespace {

using Ids = std::vector<int64_t>;

// The candidate answers as a prefix tree: which tokens may follow a prefix (in the
// order of the first candidate using them, so ties go to the earliest class as with
// numpy's argmax over the class list), and which candidate a whole sequence is.
class Candidates {
 public:
  explicit Candidates(const std::vector<Ids>& choices) {
    for (size_t c = 0; c < choices.size(); ++c) {
      const Ids& seq = choices[c];
      EP_CHECK(!seq.empty(), "candidate answer {} has no tokens", c);
      whole_.emplace(seq, static_cast<int64_t>(c));
      for (size_t j = 0; j < seq.size(); ++j) {
        Ids& next = next_[Ids(seq.begin(), seq.begin() + static_cast<std::ptrdiff_t>(j))];
        if (std::find(next.begin(), next.end(), seq[j]) == next.end()) next.push_back(seq[j]);
      }
    }
  }
  const Ids& next(const Ids& prefix) const { return next_.at(prefix); }
  int64_t index_of(const Ids& seq) const {
    auto it = whole_.find(seq);
    return it == whole_.end() ? -1 : it->second;
  }

 private:
  std::map<Ids, Ids> next_;
  std::map<Ids, int64_t> whole_;  // first candidate with these tokens
};

// The argmax of `logits` [V] over `allowed` tokens (the first on ties).
int64_t restricted_argmax(const double* logits, const Ids& allowed) {
  int64_t best = allowed.front();
  for (int64_t t : allowed)
    if (logits[t] > logits[best]) best = t;
  return best;
}

void append_batch(CausalLM& model, const EvalSet& set, const Candidates& candidates, const std::vector<int64_t>& rows,
                  const EvalOptions& opts, EvalResult& r) {
  const AnswerBatch ab = teacher_forced_batch(set.prompts, set.answers, rows, opts.pad_id, model.device());
  auto logits = model.forward(ab.batch, LogitsScope::last_positions(ab.K)).to(at::kDouble);  // [B, K, V]
  auto loss = answer_token_nll(logits, ab.targets).cpu().contiguous();                      // [B]
  auto argmax = logits.argmax(-1).cpu().contiguous();                                      // [B, K]
  auto host = logits.cpu().contiguous();
  const int64_t K = ab.K, V = host.size(2);
  for (size_t b = 0; b < rows.size(); ++b) {
    const Ids& answer = set.answers[static_cast<size_t>(rows[b])];
    const int64_t start = K - static_cast<int64_t>(answer.size());  // position of answer token 0 in the tail
    const int64_t* am = argmax.data_ptr<int64_t>() + static_cast<int64_t>(b) * K;
    const double* lg = host.data_ptr<double>() + static_cast<int64_t>(b) * K * V;

    size_t wrong = answer.size();
    for (size_t j = 0; j < answer.size() && wrong == answer.size(); ++j)
      if (am[start + static_cast<int64_t>(j)] != answer[j]) wrong = j;
    r.correct.push_back(wrong == answer.size());
    r.predicted.push_back(am[start + static_cast<int64_t>(std::min(wrong, answer.size() - 1))]);

    Ids path;
    bool choice_ok = true;
    for (size_t j = 0; j < answer.size(); ++j) {
      const int64_t t = restricted_argmax(lg + (start + static_cast<int64_t>(j)) * V, candidates.next(path));
      path.push_back(t);
      if (t != answer[j]) {
        choice_ok = false;
        break;
      }
    }
    r.choice_correct.push_back(choice_ok);
    r.choice_predicted.push_back(candidates.index_of(path));
    r.loss.push_back(loss.data_ptr<double>()[b]);
  }
}

}  // namespace

EvalResult evaluate(CausalLM& model, const EvalSet& set, const EvalOptions& opts,
                    const std::vector<int64_t>& rows_in) {
  EP_CHECK(set.prompts.size() == set.answers.size(), "{} prompts but {} answers", set.prompts.size(),
           set.answers.size());
  EP_CHECK(!set.choices.empty(), "the task's candidate answers are empty");
  EP_CHECK(opts.batch_size >= 1, "evaluation batch size must be >= 1, got {}", opts.batch_size);
  std::vector<int64_t> rows = rows_in;
  if (rows.empty()) {
    rows.resize(set.prompts.size());
    std::iota(rows.begin(), rows.end(), int64_t{0});
  }
  const Candidates candidates(set.choices);
  for (int64_t i : rows) {
    EP_CHECK(i >= 0 && static_cast<size_t>(i) < set.answers.size(), "example index {} out of range ({} examples)", i,
             set.answers.size());
    EP_CHECK(candidates.index_of(set.answers[static_cast<size_t>(i)]) >= 0,
             "example {}: its answer is not one of the task's {} candidate answers", i, set.choices.size());
  }
  at::NoGradGuard no_grad;
  EvalResult r;
  for (size_t start = 0; start < rows.size(); start += static_cast<size_t>(opts.batch_size)) {
    const size_t end = std::min(rows.size(), start + static_cast<size_t>(opts.batch_size));
    std::vector<int64_t> chunk(rows.begin() + static_cast<std::ptrdiff_t>(start),
                               rows.begin() + static_cast<std::ptrdiff_t>(end));
    append_batch(model, set, candidates, chunk, opts, r);
  }
  summarize(r);
  return r;
}

void summarize(EvalResult& r) {
  const size_t n = r.loss.size();
  EP_CHECK(r.correct.size() == n && r.choice_correct.size() == n && r.predicted.size() == n &&
               r.choice_predicted.size() == n,
           "per-example results differ in length: {} losses, {} correct, {} choice_correct, {} predicted, {} "
           "choice_predicted",
           n, r.correct.size(), r.choice_correct.size(), r.predicted.size(), r.choice_predicted.size());
  r.n = static_cast<int64_t>(n);
  const double denom = n > 0 ? static_cast<double>(n) : 1.0;
  r.accuracy = static_cast<double>(std::accumulate(r.correct.begin(), r.correct.end(), int64_t{0})) / denom;
  r.choice_accuracy =
      static_cast<double>(std::accumulate(r.choice_correct.begin(), r.choice_correct.end(), int64_t{0})) / denom;
  r.mean_loss = std::accumulate(r.loss.begin(), r.loss.end(), 0.0) / denom;
}

}  // namespace ep
