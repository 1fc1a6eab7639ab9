// A model described by its size alone, for seeded random weights (tests, the demo,
// benchmarks): `[models.init]` in a grid. Torch-free; shape_config turns it into the
// ModelConfig a checkpoint's config.json would give.
#pragma once

#include <cstdint>
#include <optional>

#include "core/io/hf_config.h"

namespace ep {

struct ModelShape {
  Arch arch = Arch::GPT2;
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;         // llama only: key/value heads (grouped-query attention); 0 = heads
  int64_t intermediate = 0;     // 0 = 4 * hidden
  int64_t max_positions = 0;
  int64_t vocab = 0;            // 0 = the tokenizer's vocab size
  double partial_rotary_factor = 0.4;  // phi only; ref: Phi-2 config.json
};

// The architecture's defaults for everything the shape leaves out (ref: the HF
// configs: GPT-2 ties its embeddings, Phi-2 does not, Llama uses silu, RMSNorm eps
// 1e-6 and a whole-head rotary). `tokenizer_vocab` fills vocab = 0.
ModelConfig shape_config(const ModelShape& shape, int64_t tokenizer_vocab, std::optional<int64_t> bos_id,
                         std::optional<int64_t> eos_id);

}  // namespace ep
