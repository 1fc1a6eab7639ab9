// What a cell will need on its device, estimated before it runs (core/model/
// memory_estimate.h): `eprunner plan` prints it for every cell, and the executor
// refuses a cell whose least need (scoring one row at a time) exceeds the device's
// free memory, before loading the weights. Torch-free.
#pragma once

#include "core/io/hf_config.h"
#include "core/model/memory_estimate.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "runner/grid.h"
#include "runner/schedule.h"

namespace ep::runner {

// The config the cell's model will have: its checkpoint's (config.json or GGUF
// metadata, no tensor read), or its init shape with the tokenizer's vocabulary.
ModelConfig model_config_of(const grid::ModelSpec& model, const BpeTokenizer& tokenizer);

// The checkpoint and tokenizer paths exist (named with the grid line when not).
void require_model_files(const grid::ModelSpec& model, const std::filesystem::path& grid_file);

struct CellNeeds {
  ModelConfig config;
  int64_t positions = 0;  // T: the longest training prompt + answer - 1, in tokens
  CellMemory memory;
};

// The needs of a cell whose tokenizer and longest scored input (T) are known (the
// executor has built the task): reads the model's config, no weights.
CellNeeds cell_needs(const grid::Grid& grid, const Cell& cell, const BpeTokenizer& tokenizer, int64_t positions);

// The same from nothing (`eprunner plan`): loads the tokenizer and tokenizes the
// training split. Throws what those throw (a missing checkpoint, data folder...).
CellNeeds estimate_cell_needs(const grid::Grid& grid, const Cell& cell);

// "1.25 GiB"
std::string gib(int64_t bytes);

}  // namespace ep::runner
