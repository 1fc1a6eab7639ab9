// A tiny GPT-2-architecture model with random weights for the experiments tests (and
// their tokenizer and data):
// 2 layers, 4 heads, width 64, the full GPT-2 vocabulary (50257) so the real
// tokenizer's ids fit.
#pragma once

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/model/causal_lm.h"
#include "core/tokenizer/bpe_tokenizer.h"

namespace ep::test {

// GPT-2's tokenizer (examples/gpt2-tokenizer), loaded once per binary.
inline const BpeTokenizer& gpt2_tokenizer() {
  static const BpeTokenizer tok = BpeTokenizer::load(EP_TOKENIZER_DIR);
  return tok;
}

// SuperGLUE-schema fixtures (tests/data/superglue/README.md).
inline const std::string kSuperglueData = std::string(EP_TEST_DATA_DIR) + "/superglue/";

inline ModelConfig tiny_gpt2_config() {
  ModelConfig c;
  c.arch = Arch::GPT2;
  c.model_type = "gpt2";
  c.vocab_size = 50257;
  c.max_positions = 128;
  c.hidden = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.head_dim = 16;
  c.intermediate = 256;
  c.bos_token_id = 50256;
  c.eos_token_id = 50256;
  return c;
}

inline std::unique_ptr<CausalLM> tiny_gpt2(uint64_t seed) {
  return init_causal_lm(tiny_gpt2_config(), seed, LoadOptions{});
}

// The torch tests run with 1 thread whatever the machine (set once per binary): the
// models are tiny, and on a busy machine a second OpenMP thread mostly waits to be
// scheduled (measured here: a 3.3M-float mul_ took 0.5 ms with 1 thread, 13 ms with 2).
class TorchThreads : public ::testing::Environment {
 public:
  void SetUp() override { at::set_num_threads(1); }
};
inline ::testing::Environment* const kTorchThreads = ::testing::AddGlobalTestEnvironment(new TorchThreads);

}  // namespace ep::test
