// How a split's accuracy is measured, and the names the grid and the results file
// use for it. Torch-free.
//   FullVocab:    every answer token is the argmax over the whole vocabulary (the paper).
//   Choices:      the argmax is restricted to the task's candidate answers.
//   ChoiceLoglik: the candidate with the largest summed log-likelihood wins
//                 (lm-evaluation-harness); set by a task's lm-eval prompt set, not
//                 by the grid's `metric`.
#pragma once

#include "core/util/name_table.h"

namespace ep {

enum class Metric { FullVocab, Choices, ChoiceLoglik };
inline constexpr Named<Metric> kMetricNames[] = {
    {Metric::FullVocab, "full-vocab"}, {Metric::Choices, "choices"}, {Metric::ChoiceLoglik, "choice-loglik"}};
constexpr const auto& names(Metric) { return kMetricNames; }

}  // namespace ep
