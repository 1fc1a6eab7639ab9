// Writing `eprunner export`'s Hugging Face folder (export_model.h): model.safetensors
// with provenance in its __metadata__, config.json, the tokenizer files,
// eprunner_export.json and a README.md model card; built in `<out>.tmp` and renamed
// into place. Also the --test-logits file.
#pragma once

#ifdef EPRUNNER_WITH_MODELS

#include <filesystem>

#include <torch/types.h>

#include "core/io/hf_config.h"
#include "core/model/hf_export.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "runner/export_model.h"
#include "runner/grid.h"
#include "runner/results_file.h"

namespace ep::runner {

// Refuses a target that is a file, or a non-empty folder without `force`.
void check_export_target(const std::filesystem::path& out, bool force);

struct ExportFolder {
  std::filesystem::path out;
  bool force = false;
  const Provenance& run;       // the run that computed the cell
  const CellResult& cell;
  const PrunedResult& pruned;  // the exported intervention: p (LASER: rho), count removed, evaluation
  const grid::Grid& grid;
  int model = 0;               // index into grid.models
  std::filesystem::path results;
  const ExportSummary& summary;
  const ModelConfig& config;   // the loaded model's
  torch::ScalarType dtype;     // what the tensors are in
  const HfTensors& tensors;
};

void write_export_folder(const ExportFolder& f, const BpeTokenizer& tokenizer);

// The test split as evaluated and eprunner's logits at the answer positions.
struct TestLogits {
  torch::Tensor input_ids, attention_mask, position_ids;  // [n, T] int64, left padded
  torch::Tensor targets;                                   // [n, K] int64, right-aligned, -1 before shorter answers
  torch::Tensor logits;                                    // [n, K, V] float32, with the cell's bias
  torch::Tensor logits_exported;                           // the same with the exported bias; undefined when equal
  torch::Tensor logits_base;                               // [n, K, V] the model before pruning
};
void write_test_logits(const std::filesystem::path& file, const TestLogits& t);

}  // namespace ep::runner

#endif  // EPRUNNER_WITH_MODELS
