// Hugging Face `config.json` for the architectures eprunner runs: `gpt2`, `phi`, and the
// Llama family (`llama`, and `mistral` and `qwen2` where they are the same computation).
// Both are read into one ModelConfig with the architecture-neutral names used
// throughout the project; HF field names appear only in hf_config.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/util/name_table.h"

namespace ep {

// The computation a model runs (model_type names several files of one arch).
enum class Arch { GPT2, Phi, Llama };
inline constexpr Named<Arch> kArchNames[] = {{Arch::GPT2, "gpt2"}, {Arch::Phi, "phi"}, {Arch::Llama, "llama"}};
constexpr const auto& names(Arch) { return kArchNames; }

struct ModelConfig {
  Arch arch = Arch::GPT2;
  std::string model_type;           // as written in the file: "gpt2", "phi", "llama", "mistral", "qwen2"
  int64_t vocab_size = 0;
  int64_t max_positions = 0;        // gpt2: n_positions; phi: max_position_embeddings
  int64_t hidden = 0;               // gpt2: n_embd; phi: hidden_size
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;           // key/value heads: n_heads, or fewer with grouped-query attention (llama)
  int64_t head_dim = 0;             // hidden / n_heads
  int64_t intermediate = 0;         // gpt2: n_inner or 4*n_embd; phi: intermediate_size
  double layer_norm_eps = 1e-5;     // llama: rms_norm_eps (its norms are RMSNorm)
  std::string activation = "gelu_new";
  bool tie_word_embeddings = true;  // gpt2: true unless stated; phi: as stated (Phi-2: false)
  bool attention_bias = false;      // llama: q/k/v (and, model_type llama, o) projections have biases (qwen2: q/k/v always)
  bool mlp_bias = false;            // llama: gate/up/down projections have biases (e.g. an `eprunner export`)
  int64_t sliding_window = 0;       // mistral/qwen2: attention window; 0 = none (longer inputs are refused)
  // Rotary (phi: partial; llama: whole head). Phi-2 keeps these at top level; newer files also (or only)
  // have them in "rope_parameters". Both are accepted; if both exist they must agree.
  double partial_rotary_factor = 1.0;
  double rope_theta = 10000.0;
  int64_t rotary_dim = 0;           // int(head_dim * partial_rotary_factor)
  std::optional<int64_t> bos_token_id, eos_token_id;
  std::string torch_dtype;          // "float32", "float16", "bfloat16" or "" if absent

  // n_kv_heads, or n_heads where a hand-made config left it 0 (no grouped-query attention).
  int64_t kv_heads() const { return n_kv_heads > 0 ? n_kv_heads : n_heads; }
};

// Reads `folder/config.json` (or a path to a .json file). Errors name the file and field.
ModelConfig load_hf_config(const std::filesystem::path& folder_or_file);

// Parses config text; `source` names it in error messages.
ModelConfig parse_hf_config(const std::string& json_text, const std::string& source);

// Writes the config in HF's format for this arch (used for seeded random models and exports).
std::string to_hf_config_json(const ModelConfig& cfg);

}  // namespace ep
