// Where a model's tensors come from (private to core/model): an HF checkpoint
// folder, or a seeded random initialisation. The architecture mappings ask for
// each tensor by its HF name and shape once, in a fixed order, so the same mapping
// code loads a checkpoint and builds a random model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/model/transformer.h"

namespace ep::gguf {
class GgufFile;
}

namespace ep::model {

// How a random model initialises a tensor (ref: HF `_init_weights` of GPT-2 and
// Phi: normal(0, initializer_range = 0.02) matrices and embeddings, LayerNorm 1/0,
// zero biases).
enum class Init { Normal, Ones, Zeros };

// How a 2-D tensor is stored in the file.
enum class Layout {
  OutIn,   // [out, in] (torch.nn.Linear, embeddings)
  InOut,   // [in, out] (GPT-2's Conv1D): transposed once at load to [out, in]
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual bool has(const std::string& name) const = 0;
  // Tensor `name`, which must have exactly `shape` as stored, as a new tensor in the
  // model's dtype and on its device; InOut tensors come back transposed ([out, in]).
  virtual torch::Tensor take(const std::string& name, const std::vector<int64_t>& shape, Init init,
                             Layout layout = Layout::OutIn) = 0;
  // Every tensor of the source must have been taken or end with one of `ignore`
  // (a suffix after a '.', or the whole name); throws naming the first that was not
  // and `arch` (e.g. "gpt2").
  virtual void finish(const std::string& arch, const std::vector<std::string>& ignore) = 0;
};

// Tensors of a checkpoint folder, copied one by one from the memory-mapped files.
std::unique_ptr<WeightSource> checkpoint_source(const std::filesystem::path& folder, const LoadOptions& opts);
// Tensors of a GGUF file, dequantized, for the Llama mapping (gguf_source.cpp).
std::unique_ptr<WeightSource> gguf_source(std::shared_ptr<const gguf::GgufFile> file, const ModelConfig& cfg,
                                          const LoadOptions& opts);
// Random tensors from a CPU generator seeded with `seed` (same seed -> same model on any device).
std::unique_ptr<WeightSource> random_source(uint64_t seed, const LoadOptions& opts);

// Shorthands used by the mappings.
Norm take_norm(WeightSource& src, const std::string& prefix, int64_t dim);  // prefix + "weight"/"bias"
Linear take_linear(WeightSource& src, const std::string& prefix, int64_t out, int64_t in,
                   Layout layout = Layout::OutIn, bool bias = true);

}  // namespace ep::model
