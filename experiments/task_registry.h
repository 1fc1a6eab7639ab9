// The task kinds eprunner knows, by name. To add one: write a file that returns a
// TaskKind (see cb_task.cpp) and add it to the list in task_registry.cpp.
#pragma once

#include <string_view>
#include <vector>

#include "experiments/task_kind.h"

namespace ep {

const std::vector<TaskKind>& task_kinds();

// Errors list the known names.
const TaskKind& find_task_kind(std::string_view name);
const PromptSet& find_prompt_set(const TaskKind& kind, std::string_view name);

// nullptr when unknown (for parsers that report the position themselves).
const TaskKind* lookup_task_kind(std::string_view name);
const PromptSet* lookup_prompt_set(const TaskKind& kind, std::string_view name);
std::string task_kind_names();                     // "int-sum, int-mult, ..."
std::string prompt_set_names(const TaskKind& kind);  // "paper, lm-eval"

}  // namespace ep
