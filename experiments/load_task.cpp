#include "experiments/load_task.h"

#include <algorithm>

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

// A seeded random subset of at most `limit` records (all when limit is 0 or more
// than there are), kept in source order.
std::vector<Record> subsample(std::vector<Record> records, int64_t limit, uint64_t seed, uint64_t stream) {
  const auto n = static_cast<int64_t>(records.size());
  if (limit <= 0 || limit >= n) return records;
  std::vector<int64_t> keep = seeded_permutation(n, derive_seed(seed, stream));
  keep.resize(static_cast<size_t>(limit));
  std::sort(keep.begin(), keep.end());
  return pick(records, keep);
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
  const SplitOptions& o = spec.split;
  splits.train = build_task(kind, prompts, subsample(pick(records.train, val.kept), o.max_train, o.seed, kSubsampleStream));
  splits.validation = build_task(kind, prompts, subsample(pick(records.train, val.held_out), o.max_validation, o.seed,
                                                          kSubsampleStream + 1));
  splits.test = build_task(kind, prompts, subsample(records.test, o.max_test, o.seed, kSubsampleStream + 2));
  return splits;
}

}  // namespace ep
