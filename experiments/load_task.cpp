#include "experiments/load_task.h"

#include "core/util/error.h"
#include "experiments/seeded_shuffle.h"
#include "experiments/splits.h"
#include "experiments/task_builder.h"
#include "experiments/task_registry.h"

namespace ep {

namespace {

std::vector<Record> pick(const std::vector<Record>& records, const std::vector<int64_t>& indices) {
  std::vector<Record> out;
  out.reserve(indices.size());
  for (int64_t i : indices) out.push_back(records[static_cast<size_t>(i)]);
  return out;
}

// Gives the records a test part when the source has none (generated tasks).
void carve_test_if_missing(RecordSet& set, const SplitOptions& opts) {
  if (!set.test.empty()) return;
  IndexSplit s = split_indices(static_cast<int64_t>(set.train.size()), opts.test_fraction,
                               derive_seed(opts.seed, kTestSplitStream));
  set.test = pick(set.train, s.held_out);
  set.train = pick(set.train, s.kept);
}

}  // namespace

TaskSplits load_task(const TaskSpec& spec) {
  const TaskKind& kind = find_task_kind(spec.kind);
  const PromptSet& prompts = find_prompt_set(kind, spec.prompt_set);
  EP_CHECK(!kind.needs_data_dir || !spec.data_dir.empty(),
           "task '{}' reads files: give its data folder (with train.jsonl and val.jsonl)", kind.name);

  RecordSet records = kind.load(spec.data_dir);
  carve_test_if_missing(records, spec.split);
  IndexSplit val = split_indices(static_cast<int64_t>(records.train.size()), spec.split.validation_fraction,
                                 derive_seed(spec.split.seed, kValidationSplitStream));

  TaskSplits splits;
  splits.train = build_task(kind, prompts, pick(records.train, val.kept));
  splits.validation = build_task(kind, prompts, pick(records.train, val.held_out));
  splits.test = build_task(kind, prompts, records.test);
  return splits;
}

}  // namespace ep
