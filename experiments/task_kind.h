// What a task kind is made of: a loader that turns data into labelled records, and
// prompt sets (template strings + label words) that turn records into examples.
// Adding a task is one file that returns a TaskKind, plus one line in
// task_registry.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "experiments/prompt_template.h"
#include "experiments/task.h"

namespace ep {

// One labelled record from a data source.
struct Record {
  std::string source;  // "path:line" or a description, for messages
  Fields fields;       // what prompt templates may use, raw and derived
  int64_t label = 0;   // class index, 0..n_classes-1
};

struct RecordSet {
  std::vector<Record> train;  // the pool that train and validation come from
  std::vector<Record> test;   // empty when the source has no test part: one is carved from train
};

struct PromptSet {
  std::string name;     // "paper", "lm-eval"
  Scoring scoring = Scoring::FirstToken;
  std::string prompt;   // template with {field} placeholders
  // One template per class, rendered with the record's fields. FirstToken sets must
  // not use fields (the label word is the same for every example).
  std::vector<std::string> choices;
  bool whole_answers = false;  // see Task::whole_answers
};

struct TaskKind {
  std::string name;          // "int-sum", "cb", ...
  std::string description;   // one line for --help and docs
  // Reads the records; `data_dir` is the task's folder (unused by generated tasks).
  std::function<RecordSet(const std::filesystem::path& data_dir)> load;
  std::vector<PromptSet> prompt_sets;  // the first is the default
  bool needs_data_dir = false;
};

}  // namespace ep
