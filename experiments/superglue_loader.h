// Shared reading of SuperGLUE's official files: `train.jsonl` and `val.jsonl` in the
// task's folder (as in the SuperGLUE zip: CB/, COPA/, RTE/). The validation file is
// the test set (ref: paper appendix B — SuperGLUE's test labels are not public).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "experiments/jsonl.h"
#include "experiments/task_kind.h"

namespace ep {

// Turns one JSON object into a Record (fields + label); errors name record.source.
using SuperglueRecordParser = std::function<Record(const JsonlRecord&)>;

// Reads data_dir/train.jsonl into RecordSet::train and data_dir/val.jsonl into ::test.
RecordSet load_superglue_folder(const std::filesystem::path& data_dir, const SuperglueRecordParser& parse);

// The class index of a label given as one of `names` (the official files) or as an
// integer index (Hugging Face exports). Anything else is an error naming the record,
// the value and the accepted names.
int64_t superglue_label(const JsonlRecord& record, const std::vector<std::string>& names);

}  // namespace ep
