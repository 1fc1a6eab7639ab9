#include "experiments/class_metrics.h"

#include "core/util/error.h"

namespace ep {

namespace {
void check_same_length(const std::vector<int64_t>& predicted, const std::vector<int64_t>& answers) {
  EP_CHECK(predicted.size() == answers.size(), "{} predictions for {} answers", predicted.size(), answers.size());
}
}  // namespace

std::vector<int64_t> predicted_classes(const std::vector<int64_t>& predicted_tokens,
                                       const std::vector<int64_t>& choice_ids) {
  std::vector<int64_t> classes;
  classes.reserve(predicted_tokens.size());
  for (int64_t token : predicted_tokens) {
    int64_t cls = kNoClass;
    for (size_t c = 0; c < choice_ids.size() && cls == kNoClass; ++c)
      if (choice_ids[c] == token) cls = static_cast<int64_t>(c);
    classes.push_back(cls);
  }
  return classes;
}

double accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& answers) {
  check_same_length(predicted, answers);
  if (answers.empty()) return 0.0;
  int64_t correct = 0;
  for (size_t i = 0; i < answers.size(); ++i) correct += predicted[i] == answers[i];
  return static_cast<double>(correct) / static_cast<double>(answers.size());
}

double macro_f1(const std::vector<int64_t>& predicted, const std::vector<int64_t>& answers, int64_t n_classes) {
  check_same_length(predicted, answers);
  EP_CHECK(n_classes >= 1, "macro F1 needs at least one class, got {}", n_classes);
  double sum = 0;
  for (int64_t c = 0; c < n_classes; ++c) {
    int64_t tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < answers.size(); ++i) {
      const bool pred = predicted[i] == c, gold = answers[i] == c;
      tp += pred && gold;
      fp += pred && !gold;
      fn += !pred && gold;
    }
    const int64_t denom = 2 * tp + fp + fn;
    sum += denom ? 2.0 * static_cast<double>(tp) / static_cast<double>(denom) : 0.0;
  }
  return sum / static_cast<double>(n_classes);
}

}  // namespace ep
