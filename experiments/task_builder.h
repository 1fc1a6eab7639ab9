// Records + a prompt set -> a Task (rendered prompts, answers, continuations).
#pragma once

#include <vector>

#include "experiments/task_kind.h"

namespace ep {

// Renders every record with the prompt set. Errors name the record (a label with no
// choice, a template field the record lacks) or the prompt set (a FirstToken choice
// that uses a field).
Task build_task(const TaskKind& kind, const PromptSet& prompts, const std::vector<Record>& records);

}  // namespace ep
