#include "experiments/task_registry.h"

#include "core/util/error.h"
#include "experiments/arithmetic_tasks.h"
#include "experiments/superglue_tasks.h"

namespace ep {

// An explicit list rather than self-registering statics: objects in a static
// library that nothing references are dropped by the linker, registrations included.
const std::vector<TaskKind>& task_kinds() {
  static const std::vector<TaskKind> kinds = {
      int_sum_task_kind(), int_mult_task_kind(), cb_task_kind(), copa_task_kind(), rte_task_kind(),
  };
  return kinds;
}

const TaskKind* lookup_task_kind(std::string_view name) {
  for (const TaskKind& kind : task_kinds())
    if (kind.name == name) return &kind;
  return nullptr;
}

const PromptSet* lookup_prompt_set(const TaskKind& kind, std::string_view name) {
  for (const PromptSet& set : kind.prompt_sets)
    if (set.name == name) return &set;
  return nullptr;
}

std::string task_kind_names() {
  std::string known;
  for (const TaskKind& kind : task_kinds()) known += (known.empty() ? "" : ", ") + kind.name;
  return known;
}

std::string prompt_set_names(const TaskKind& kind) {
  std::string known;
  for (const PromptSet& set : kind.prompt_sets) known += (known.empty() ? "" : ", ") + set.name;
  return known;
}

const TaskKind& find_task_kind(std::string_view name) {
  if (const TaskKind* kind = lookup_task_kind(name)) return *kind;
  EP_FAIL("unknown task '{}'; expected one of: {}", name, task_kind_names());
}

const PromptSet& find_prompt_set(const TaskKind& kind, std::string_view name) {
  if (const PromptSet* set = lookup_prompt_set(kind, name)) return *set;
  EP_FAIL("task '{}' has no prompt set '{}'; expected one of: {}", kind.name, name, prompt_set_names(kind));
}

}  // namespace ep
