// Class-level metrics from predictions, torch-free: mapping predicted answer tokens
// to classes, accuracy, and CB's macro F1 as lm-evaluation-harness reports it.
#pragma once

#include <cstdint>
#include <vector>

namespace ep {

constexpr int64_t kNoClass = -1;  // a predicted token that is no label word's first token

// The class of each predicted token (index into choice_ids), or kNoClass.
// ref: paper appendix B — the model may predict a token outside the label words.
std::vector<int64_t> predicted_classes(const std::vector<int64_t>& predicted_tokens,
                                       const std::vector<int64_t>& choice_ids);

double accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& answers);

// Mean over classes 0..n_classes-1 of the one-vs-rest F1 = 2TP / (2TP + FP + FN),
// 0 for a class never predicted nor present. kNoClass predictions count as wrong.
// ref: lm-evaluation-harness super_glue/cb/aggregate.py cb_multi_fi (sklearn f1_score per class, mean).
double macro_f1(const std::vector<int64_t>& predicted, const std::vector<int64_t>& answers, int64_t n_classes);

}  // namespace ep
