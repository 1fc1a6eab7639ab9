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

// For each row's answer position j, the tokens that may follow answer[:j] (the path
// restricted decoding takes while it agrees with the answer), as an index [B, K, A]
// into the vocabulary, padded with each list's first token (never a new maximum).
// The lists depend on the answers alone, so only [B, K, A] logits leave the device.
torch::Tensor allowed_index(const Candidates& candidates, const std::vector<const Ids*>& answers, int64_t K,
                            std::vector<std::vector<const Ids*>>& lists) {
  size_t A = 1;
  lists.assign(answers.size(), std::vector<const Ids*>(static_cast<size_t>(K), nullptr));
  for (size_t b = 0; b < answers.size(); ++b) {
    const Ids& answer = *answers[b];
    const size_t start = static_cast<size_t>(K) - answer.size();
    for (size_t j = 0; j < answer.size(); ++j) {
      lists[b][start + j] = &candidates.next(Ids(answer.begin(), answer.begin() + static_cast<std::ptrdiff_t>(j)));
      A = std::max(A, lists[b][start + j]->size());
    }
  }
  auto index = at::zeros({static_cast<int64_t>(answers.size()), K, static_cast<int64_t>(A)}, at::kLong);
  auto a = index.accessor<int64_t, 3>();
  for (size_t b = 0; b < lists.size(); ++b)
    for (size_t k = 0; k < lists[b].size(); ++k)
      if (const Ids* l = lists[b][k])
        for (size_t i = 0; i < A; ++i)
          a[static_cast<int64_t>(b)][static_cast<int64_t>(k)][static_cast<int64_t>(i)] = i < l->size() ? (*l)[i] : (*l)[0];
  return index;
}

void append_batch(CausalLM& model, const EvalSet& set, const Candidates& candidates, const std::vector<int64_t>& rows,
                  const EvalOptions& opts, EvalResult& r) {
  const AnswerBatch ab = teacher_forced_batch(set.prompts, set.answers, rows, opts.pad_id, model.device());
  auto logits = model.forward(ab.batch, LogitsScope::last_positions(ab.K)).to(at::kDouble);  // [B, K, V]
  auto loss = answer_token_nll(logits, ab.targets).cpu().contiguous();                      // [B]
  auto argmax = logits.argmax(-1).cpu().contiguous();                                      // [B, K]
  std::vector<const Ids*> answers;
  for (int64_t i : rows) answers.push_back(&set.answers[static_cast<size_t>(i)]);
  std::vector<std::vector<const Ids*>> lists;
  const auto index = allowed_index(candidates, answers, ab.K, lists);
  auto restricted = logits.gather(2, index.to(logits.device())).cpu().contiguous();  // [B, K, A]
  const int64_t K = ab.K, A = restricted.size(2);
  for (size_t b = 0; b < rows.size(); ++b) {
    const Ids& answer = *answers[b];
    const int64_t start = K - static_cast<int64_t>(answer.size());  // position of answer token 0 in the tail
    const int64_t* am = argmax.data_ptr<int64_t>() + static_cast<int64_t>(b) * K;

    size_t wrong = answer.size();
    for (size_t j = 0; j < answer.size() && wrong == answer.size(); ++j)
      if (am[start + static_cast<int64_t>(j)] != answer[j]) wrong = j;
    r.correct.push_back(wrong == answer.size());
    r.predicted.push_back(am[start + static_cast<int64_t>(std::min(wrong, answer.size() - 1))]);

    // Restricted decoding: at each position the best allowed token (the first on ties).
    Ids path;
    bool choice_ok = true;
    for (size_t j = 0; j < answer.size(); ++j) {
      const int64_t k = start + static_cast<int64_t>(j);
      const Ids& allowed = *lists[b][static_cast<size_t>(k)];
      const double* lg = restricted.data_ptr<double>() + (static_cast<int64_t>(b) * K + k) * A;
      const size_t best = static_cast<size_t>(std::max_element(lg, lg + allowed.size()) - lg);
      path.push_back(allowed[best]);
      if (allowed[best] != answer[j]) {
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
