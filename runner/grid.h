// The experiment grid: which models, which tasks, how to eigenprune, where results
// go and how ranks are laid out. Read from a TOML file (docs/grid-format.md); every
// run, plan and report starts from one Grid.
//
// Torch-free on purpose: `eprunner plan`, `report` and slurm/ read grids without
// paying for LibTorch. Names of matrices, task kinds etc. are kept as validated
// strings/enums here and mapped to core/experiments types by the cell executor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ep::grid {

// The accepted spellings of each choice. They mirror the names core/ and
// experiments/ use (matrix_kind_name, granularity_name, svd_route_name, TaskKind
// names), so the cell executor maps them with those *_from_name functions;
// tests/runner/grid_names_test.cpp checks they agree.
inline constexpr std::string_view kTaskKinds[] = {"int-sum", "int-mult", "cb", "copa", "rte"};
inline constexpr std::string_view kPromptSets[] = {"paper", "lm-eval"};
// full-vocab: argmax over the whole vocabulary of the last logits must be the
// answer's first token (the paper); choices: argmax over the task's answers only.
inline constexpr std::string_view kMetrics[] = {"full-vocab", "choices"};
inline constexpr std::string_view kMatrixNames[] = {"q", "k", "v", "o", "mlp_in", "mlp_out"};
inline constexpr std::string_view kGranularities[] = {"head", "matrix"};
// How ΔL of one example folds over token positions (core/prune/score.h): "sum" is
// the first-order change of swapping the whole input; "max" is the paper's code.
inline constexpr std::string_view kPositionReductions[] = {"sum", "max"};
// The frozen components' bias (core/prune/freeze.h): "position" = b + D x̄[t] per
// position (the paper's text), "mean" = one x̄ for all positions, "paper_sum" = the
// paper's code (Σ_t D x̄[t] at every position).
inline constexpr std::string_view kBiasModes[] = {"position", "mean", "paper_sum"};
inline constexpr std::string_view kDtypes[] = {"fp32", "bf16", "fp16"};
inline constexpr std::string_view kDevices[] = {"cpu", "cuda"};
inline constexpr std::string_view kSvdRoutes[] = {"auto", "lapack", "gram"};
inline constexpr std::string_view kArchs[] = {"gpt2", "phi", "llama"};

bool task_kind_needs_data(std::string_view kind);  // the SuperGLUE kinds read a folder

// ---- models ----------------------------------------------------------------------

// Shape of a seeded random model (`[models.init]`), for tests and the demo.
struct InitShape {
  std::string arch = "gpt2";    // one of kArchs
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;         // llama only: key/value heads (grouped-query attention); 0 = heads
  int64_t intermediate = 0;     // 0 = 4 * hidden
  int64_t max_positions = 0;
  int64_t vocab = 0;            // 0 = the tokenizer's vocab size
  double partial_rotary_factor = 0.4;  // phi only; ref: Phi-2 config.json
  uint64_t seed = 0;            // the weights' seed (defaults to the grid seed)
};

// Optional fine-tuning of a model on each task's train split before eigenpruning
// (experiments/finetune.h FinetuneOptions). Defaults: ref paper appendix C — Adam,
// lr 0.01, batch 2, one epoch for FT-GPT-2.
struct FineTuneSpec {
  double lr = 0.01;
  int64_t batch_size = 2;
  int64_t epochs = 1;
  double weight_decay = 0.0;
  uint64_t seed = 0;            // batch order; defaults to the grid seed
};

struct ModelSpec {
  std::string name;                                 // unique, used in cell names
  std::optional<std::filesystem::path> checkpoint;  // HF folder (resolved); or...
  std::optional<InitShape> init;                    // ...a seeded random model
  std::filesystem::path tokenizer;  // folder; defaults to the checkpoint folder
  std::optional<FineTuneSpec> finetune;
  int line = 0;                     // where the [[models]] entry starts, for messages
};

// ---- tasks ----------------------------------------------------------------------

// experiments/load_task.h SplitOptions.
struct SplitSpec {
  double test_fraction = 0.2;        // of all records; generated tasks only (SuperGLUE: val.jsonl)
  double validation_fraction = 0.0;  // of the training pool, held out to choose p on
  uint64_t seed = 0;                 // defaults to the grid seed
  // At most this many examples per split, a seeded random subsample (0: all).
  int64_t max_train = 0, max_validation = 0, max_test = 0;
};

struct TaskSpec {
  std::string name;         // unique, used in cell names; defaults to the kind
  std::string kind;         // one of kTaskKinds
  std::optional<std::filesystem::path> data_dir;  // SuperGLUE folder (train.jsonl, val.jsonl)
  std::string prompt_set = "paper";   // one of kPromptSets
  std::string metric = "full-vocab";  // one of kMetrics
  SplitSpec split;
  // Prepend BOS to every prompt. Unset: yes for tokenizer folders (the paper's code
  // does, through TransformerLens), and what the file says (tokenizer.ggml.add_bos_token)
  // for a model's GGUF tokenizer, as llama.cpp does.
  std::optional<bool> bos;
  int line = 0;
};

// ---- eigenpruning ----------------------------------------------------------------

struct EigenpruneSpec {
  std::vector<std::string> matrices = {"k"};  // ref: paper section 4 — key matrices worked best
  std::string granularity = "head";           // ref: the paper's code: per-head SVD
  std::string position_reduction = "sum";     // core/prune/score.h default
  // Partners per example: b pairs with (b - k) mod B for k = 1..pairs; 1 is the
  // paper code's torch.roll(x, 1, dim=0).
  int64_t pairs = 1;
  std::string bias = "position";
  std::vector<double> p;                      // fractions frozen, each in (0, 1), ascending, unique
  int64_t batch_size = 8;                     // scoring batch; >= 2 (an example never pairs with itself)
  int64_t eval_batch_size = 0;                // evaluation batch; 0 = batch_size
  std::string dtype = "fp32";
  std::string device = "cpu";
  std::string svd = "auto";
  bool uses_cuda() const { return device == "cuda"; }
};

// ---- layout ----------------------------------------------------------------------

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
  LayoutSpec layout;
};

// Reads and validates a grid file. Errors (ep::Error) give file:line:column for a
// bad value, an unknown key or a wrong type, and name the table for a missing key.
// Relative paths resolve against the grid file's folder.
Grid load(const std::filesystem::path& file);

// The same from text; `source` is used in messages and its folder resolves paths.
Grid parse(std::string_view text, const std::filesystem::path& source);

// Canonical one-line descriptions of what determines a cell's result (paths as
// resolved, every setting spelled out). Layout and output are left out: results
// do not depend on them. Used for fingerprints and by `eprunner plan`.
std::string describe(const ModelSpec& m);
std::string describe(const TaskSpec& t);
std::string describe(const EigenpruneSpec& e);

}  // namespace ep::grid
