// The experiment grid: which models, which tasks, how to eigenprune, where results
// go and how ranks are laid out. Read from a TOML file (docs/grid-format.md); every
// run, plan and report starts from one Grid.
//
// Torch-free on purpose: `eprunner plan`, `report` and slurm/ read grids without
// paying for LibTorch. Settings are the enums of core/ and experiments/, each with
// its one name table (core/util/name_table.h); task kinds and prompt sets are the
// task registry's names (experiments/task_registry.h), checked when parsed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/hf_config.h"
#include "core/model/load_settings.h"
#include "core/model/matrix_kind.h"
#include "core/model/model_shape.h"
#include "core/prune/settings.h"
#include "experiments/finetune_schedule.h"
#include "experiments/load_task.h"
#include "experiments/metric.h"

namespace ep::grid {


// ---- models ----------------------------------------------------------------------

// A seeded random model (`[models.init]`), for tests and the demo.
struct InitShape : ModelShape {
  uint64_t seed = 0;            // the weights' seed (defaults to the grid seed)
};

// Optional fine-tuning of a model on each task's train split before eigenpruning;
// its seed defaults to the grid seed.
using FineTuneSpec = FinetuneSchedule;

struct ModelSpec {
  std::string name;                                 // unique, used in cell names
  std::optional<std::filesystem::path> checkpoint;  // HF folder (resolved); or...
  std::optional<InitShape> init;                    // ...a seeded random model
  std::filesystem::path tokenizer;  // folder; defaults to the checkpoint folder
  std::optional<FineTuneSpec> finetune;
  int line = 0;                     // where the [[models]] entry starts, for messages
};

// ---- tasks ----------------------------------------------------------------------

// How a task's records split (experiments/load_task.h); the seed defaults to the grid seed.
using SplitSpec = SplitOptions;

struct TaskSpec {
  std::string name;         // unique, used in cell names; defaults to the kind
  std::string kind;         // a task registry name (experiments/task_registry.h)
  std::optional<std::filesystem::path> data_dir;  // SuperGLUE folder (train.jsonl, val.jsonl)
  std::string prompt_set = "paper";   // one of the kind's prompt sets
  Metric metric = Metric::FullVocab;  // FullVocab or Choices (lm-eval prompt sets score by ChoiceLoglik)
  SplitSpec split;
  // Prepend BOS to every prompt. Unset: yes for tokenizer folders (the paper's code
  // does, through TransformerLens), and what the file says (tokenizer.ggml.add_bos_token)
  // for a model's GGUF tokenizer, as llama.cpp does.
  std::optional<bool> bos;
  int line = 0;
};

// ---- eigenpruning ----------------------------------------------------------------

struct EigenpruneSpec {
  std::vector<MatrixKind> matrices = {MatrixKind::K};  // ref: paper section 4 — key matrices worked best
  Granularity granularity = Granularity::Head;         // ref: the paper's code: per-head SVD
  PositionReduce position_reduction = PositionReduce::Sum;  // core/prune/score.h
  // Partners per example: b pairs with (b - k) mod B for k = 1..pairs; 1 is the
  // paper code's torch.roll(x, 1, dim=0).
  int64_t pairs = 1;
  BiasMode bias = BiasMode::PerPosition;
  std::vector<double> p;                      // fractions frozen, each in (0, 1), ascending, unique
  int64_t batch_size = 8;                     // scoring batch; >= 2 (an example never pairs with itself)
  int64_t eval_batch_size = 0;                // evaluation batch; 0 = batch_size
  // Padded tokens per scoring forward + backward (core/prune/score.h micro-batches);
  // 0 = as many as the device's free memory holds (core/model/memory_estimate.h).
  int64_t micro_batch_tokens = 0;
  ComputeDtype dtype = ComputeDtype::F32;
  DeviceKind device = DeviceKind::Cpu;
  SvdRoute svd = SvdRoute::Auto;
  // "official": the paper's code exactly (core/prune/official_recipe.h); it implies
  // position_reduction = max, bias = paper_sum, pairs = 1 and takes q, k, v, mlp_in only.
  Recipe recipe = Recipe::Eprunner;
  bool uses_cuda() const { return device == DeviceKind::Cuda; }
};

// ---- what eigenpruning is compared with (core/prune/methods.h, docs/methods.md) ----

// LASER: each entry of `layers` (one layer, or a set reduced together) for each
// matrix kind and each ρ is one intervention, evaluated like a p; the report picks
// the best on validation (LASER's search). Decomposed per whole matrix.
struct LaserSpec {
  std::vector<MatrixKind> matrices = {MatrixKind::MlpIn};  // ref: LASER's best edits were mostly the MLP input
  std::vector<std::vector<int64_t>> layers;  // empty: every layer on its own (LASER's search)
  std::vector<double> rho;                   // fractions of the rank kept, each in (0, 1), descending
};

// Controls for eigenpruning, at every p of [eigenprune], from the same scoring pass.
struct ControlSpec {
  std::vector<uint64_t> random_seeds;  // one uniform random choice of int(N·p) components per seed
  bool highest = false;                // the int(N·p) highest-scoring components
  bool any() const { return highest || !random_seeds.empty(); }
};

// ---- layout ----------------------------------------------------------------------

inline constexpr int64_t kMaxRanks = 1 << 20;  // ranks_per_cell, and `plan --np`
inline constexpr int64_t kMaxGpusPerNode = 1024;

struct LayoutSpec {
  int ranks_per_cell = 1;   // ranks that work on one cell together (one group)
  int gpus_per_node = 0;    // 0 = every GPU the node shows
};

// ---- the grid --------------------------------------------------------------------

struct Grid {
  std::filesystem::path source;   // the grid file ("" when parsed from text)
  std::string text;               // the file as read, stored in the results file
  uint64_t seed = 42;
  std::filesystem::path output;   // results file (resolved)
  std::vector<ModelSpec> models;
  std::vector<TaskSpec> tasks;
  EigenpruneSpec eigenprune;
  std::optional<LaserSpec> laser;  // [laser]
  ControlSpec controls;            // [controls]
  LayoutSpec layout;
};

// Reads and validates a grid file. Errors (ep::Error) give file:line:column for a
// bad value, an unknown key or a wrong type, and name the table for a missing key.
// Relative paths resolve against the grid file's folder.
Grid load(const std::filesystem::path& file);

// The same from text; `source` is used in messages and its folder resolves paths.
Grid parse(std::string_view text, const std::filesystem::path& source);

// Whether the task's prompts start with BOS for this model: the grid's `bos`, or when
// unset, yes for tokenizer folders (the paper's code, through TransformerLens) and the
// file's tokenizer.ggml.add_bos_token (`tokenizer_add_bos`) for a .gguf tokenizer.
bool prepends_bos(const TaskSpec& task, const ModelSpec& model, bool tokenizer_add_bos);

// Canonical one-line descriptions of what determines a cell's result (paths as
// resolved, every setting spelled out). Layout and output are left out: results
// do not depend on them. Used for fingerprints and by `eprunner plan`.
std::string describe(const ModelSpec& m);
std::string describe(const TaskSpec& t);
std::string describe(const EigenpruneSpec& e);
// LASER's interventions as written: "4", "6+7" (a set reduced together); empty for
// every layer on its own.
std::vector<std::string> layer_set_names(const LaserSpec& laser);
// "" when neither [laser] nor [controls] is given (fingerprints of grids without
// them stay as they were).
std::string describe_comparisons(const Grid& g);

}  // namespace ep::grid
