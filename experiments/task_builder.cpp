#include "experiments/task_builder.h"

#include "core/util/error.h"

namespace ep {

namespace {

// FirstToken scoring compares against one token per class for the whole task, so its
// label words cannot depend on the example.
void check_fixed_choices(const TaskKind& kind, const PromptSet& prompts) {
  for (const std::string& choice : prompts.choices)
    EP_CHECK(template_fields(choice).empty(),
             "task '{}', prompt set '{}': choice \"{}\" uses a field; first-token scoring needs fixed label words",
             kind.name, prompts.name, choice);
}

Example render_example(const PromptSet& prompts, const Record& record) {
  Example ex;
  ex.source = record.source;
  ex.prompt = render_template(prompts.prompt, record.fields);
  ex.answer = record.label;
  if (prompts.scoring == Scoring::ChoiceLogLikelihood)
    for (const std::string& choice : prompts.choices) ex.continuations.push_back(render_template(choice, record.fields));
  return ex;
}

}  // namespace

Task build_task(const TaskKind& kind, const PromptSet& prompts, const std::vector<Record>& records) {
  if (prompts.scoring == Scoring::FirstToken) check_fixed_choices(kind, prompts);
  Task task;
  task.name = kind.name;
  task.prompt_set = prompts.name;
  task.scoring = prompts.scoring;
  task.whole_answers = prompts.whole_answers;
  task.choices = prompts.choices;
  task.examples.reserve(records.size());
  const auto n_choices = static_cast<int64_t>(prompts.choices.size());
  for (const Record& record : records) {
    EP_CHECK(record.label >= 0 && record.label < n_choices,
             "{}: label {} has no choice in task '{}', prompt set '{}' ({} choices)", record.source, record.label,
             kind.name, prompts.name, n_choices);
    task.examples.push_back(render_example(prompts, record));
  }
  return task;
}

}  // namespace ep
