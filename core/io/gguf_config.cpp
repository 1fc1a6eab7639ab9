// GGUF metadata -> ModelConfig. ref: ggml-org/llama.cpp gguf-py/gguf/constants.py (Keys)
// and transformers integrations/ggml.py (GGUF_CONFIG_MAPPING for "llama"), which map the
// same keys to LlamaConfig fields.
#include "core/io/gguf_config.h"

#include <fmt/format.h>

#include "core/util/error.h"

namespace ep {
namespace {

int64_t required_dim(const gguf::GgufFile& f, const std::string& key) {
  EP_CHECK(f.has(key), "{}: GGUF metadata key '{}' is missing; expected a positive integer", f.path().string(), key);
  const int64_t v = f.get_int(key);
  EP_CHECK(v > 0 && v < (int64_t{1} << 31), "{}: GGUF metadata '{}' is {}; expected a positive integer below 2^31",
           f.path().string(), key, v);
  return v;
}

}  // namespace

ModelConfig gguf_model_config(const gguf::GgufFile& f) {
  const std::string file = f.path().string();
  EP_CHECK(f.has("general.architecture"), "{}: GGUF metadata key 'general.architecture' is missing", file);
  const std::string arch = f.get_string("general.architecture");
  EP_CHECK(arch == "llama", "{}: GGUF general.architecture is '{}'; eprunner reads 'llama' GGUF files (Llama, "
           "SmolLM, Mistral)", file, arch);
  const std::string p = arch + ".";
  ModelConfig c;
  c.arch = Arch::Llama;
  c.model_type = "llama";
  c.hidden = required_dim(f, p + "embedding_length");
  c.n_layers = required_dim(f, p + "block_count");
  c.n_heads = required_dim(f, p + "attention.head_count");
  c.n_kv_heads = f.has(p + "attention.head_count_kv") ? required_dim(f, p + "attention.head_count_kv") : c.n_heads;
  c.intermediate = required_dim(f, p + "feed_forward_length");
  c.max_positions = required_dim(f, p + "context_length");
  // The vocabulary: the key when present, else the tokenizer's token list, else the
  // embedding's rows (ref: llama.cpp llama-vocab.cpp n_tokens).
  if (f.has(p + "vocab_size")) {
    c.vocab_size = required_dim(f, p + "vocab_size");
  } else if (f.has("tokenizer.ggml.tokens")) {
    c.vocab_size = static_cast<int64_t>(f.value("tokenizer.ggml.tokens").size());
  } else {
    c.vocab_size = f.tensor("token_embd.weight").shape.at(0);
  }
  c.layer_norm_eps = f.has(p + "attention.layer_norm_rms_epsilon") ? f.get_float(p + "attention.layer_norm_rms_epsilon")
                                                                   : 1e-5;  // ref: llama.cpp's default
  c.rope_theta = f.has(p + "rope.freq_base") ? f.get_float(p + "rope.freq_base") : 10000.0;
  c.activation = "silu";
  c.tie_word_embeddings = !f.contains("output.weight");
  EP_CHECK(c.hidden % c.n_heads == 0, "{}: {}embedding_length {} is not a multiple of attention.head_count {}", file,
           p, c.hidden, c.n_heads);
  EP_CHECK(c.n_kv_heads <= c.n_heads && c.n_heads % c.n_kv_heads == 0,
           "{}: attention.head_count {} is not a multiple of attention.head_count_kv {}", file, c.n_heads, c.n_kv_heads);
  c.head_dim = c.hidden / c.n_heads;
  c.rotary_dim = c.head_dim;
  if (f.has(p + "rope.dimension_count")) {
    EP_CHECK(f.get_int(p + "rope.dimension_count") == c.head_dim,
             "{}: {}rope.dimension_count is {}, but the head size is {}; partial rotary is not supported for llama",
             file, p, f.get_int(p + "rope.dimension_count"), c.head_dim);
  }
  for (const char* key : {"rope.scaling.type", "rope.scaling.factor"}) {
    if (!f.has(p + key)) continue;
    const bool plain = key == std::string("rope.scaling.type") ? f.get_string(p + key) == "none"
                                                                : f.get_float(p + key) == 1.0;
    EP_CHECK(plain, "{}: {}{} asks for rope scaling, which is not supported", file, p, key);
  }
  if (f.has("tokenizer.ggml.bos_token_id")) c.bos_token_id = f.get_int("tokenizer.ggml.bos_token_id");
  if (f.has("tokenizer.ggml.eos_token_id")) c.eos_token_id = f.get_int("tokenizer.ggml.eos_token_id");
  return c;
}

}  // namespace ep
