// The SuperGLUE tasks of the paper, one file each (cb_task.cpp, copa_task.cpp,
// rte_task.cpp). Each has two prompt sets:
//   "paper"   — the paper's templates, scored by the first token of each label word;
//   "lm-eval" — EleutherAI lm-evaluation-harness's templates, scored by the summed
//               log-likelihood of each choice's continuation.
// ref: shared/paper/official-implementation-notes.md (templates copied verbatim).
#pragma once

#include "experiments/task_kind.h"

namespace ep {

TaskKind cb_task_kind();    // CommitmentBank: entailment / contradiction / neutral
TaskKind copa_task_kind();  // Choice of Plausible Alternatives: choice1 / choice2
TaskKind rte_task_kind();   // Recognizing Textual Entailment: entailment / not_entailment

}  // namespace ep
